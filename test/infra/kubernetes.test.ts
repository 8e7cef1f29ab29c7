import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { z } from 'zod';
import { configSchema, FILE_SETTINGS, loadConfig, type Config } from '../../src/config';
import { requireEncryptionInProduction } from '../../src/security/codec';
import { temporalTlsEnabled } from '../../src/temporal/connection';
import { WORKER_METRICS } from '../../workers/health';

/**
 * deploy/k8s validated offline (no cluster here): every file parses, every overlay renders with kustomize (the
 * binary scripts/test.mjs installs), and the rendered objects are checked the way a reviewer would: settings
 * against the config schema (and loaded with stand-in secret files), secrets only by reference, probes on the
 * ports the processes listen on, shutdown grace inside the pod's termination grace, resource requests, PDBs
 * and the autoscaler pointing at what exists, a migration Job running `ticketflow db migrate`.
 */

const repoRoot = path.resolve(__dirname, '..', '..');
const k8sRoot = path.join(repoRoot, 'deploy', 'k8s');
const TARGETS = ['base', 'overlays/temporal-cloud', 'overlays/self-hosted'] as const;
/** Environment variables the containers may set that are Node's, not ticketflow's. */
const RUNTIME_VARIABLES = new Set(['NODE_EXTRA_CA_CERTS', 'NODE_OPTIONS']);

const envVarSchema = z.object({
  name: z.string(),
  value: z.string().optional(),
  valueFrom: z.unknown().optional(),
});
const probeSchema = z.object({
  httpGet: z.object({ path: z.string(), port: z.union([z.string(), z.number()]) }),
  periodSeconds: z.number().optional(),
  failureThreshold: z.number().optional(),
});
const containerSchema = z.object({
  name: z.string(),
  image: z.string(),
  command: z.array(z.string()),
  ports: z.array(z.object({ name: z.string(), containerPort: z.number() })).optional(),
  envFrom: z.array(z.object({ configMapRef: z.object({ name: z.string() }) })).optional(),
  env: z.array(envVarSchema).optional(),
  volumeMounts: z.array(z.object({ name: z.string(), mountPath: z.string() })).optional(),
  resources: z.object({
    requests: z.object({ cpu: z.string(), memory: z.string() }),
    limits: z.object({ memory: z.string() }),
  }),
  startupProbe: probeSchema.optional(),
  readinessProbe: probeSchema.optional(),
  livenessProbe: probeSchema.optional(),
  lifecycle: z.object({ preStop: z.object({ exec: z.object({ command: z.array(z.string()) }) }) }).optional(),
});
const volumeSchema = z.object({
  name: z.string(),
  secret: z
    .object({
      secretName: z.string(),
      items: z.array(z.object({ key: z.string(), path: z.string() })).optional(),
    })
    .optional(),
});
const podTemplateSchema = z.object({
  metadata: z.object({ labels: z.record(z.string(), z.string()) }),
  spec: z.object({
    containers: z.array(containerSchema),
    volumes: z.array(volumeSchema).optional(),
    terminationGracePeriodSeconds: z.number().optional(),
  }),
});
const objectSchema = z.object({
  apiVersion: z.string(),
  kind: z.string(),
  metadata: z.object({ name: z.string() }),
});
const workloadSchema = objectSchema.extend({ spec: z.object({ template: podTemplateSchema }) });
type Workload = z.infer<typeof workloadSchema>;
type Container = z.infer<typeof containerSchema>;

function kustomizeBinary(): string {
  const binary = process.env.KUSTOMIZE_PATH;
  if (!binary) {
    throw new Error(
      `kustomize is not available${process.env.KUSTOMIZE_UNAVAILABLE ? `: ${process.env.KUSTOMIZE_UNAVAILABLE}` : ''} ` +
        '(scripts/test.mjs installs it; `npm run setup -- kustomize`, or set KUSTOMIZE_PATH)',
    );
  }
  return binary;
}

function render(target: string): Array<z.infer<typeof objectSchema> & Record<string, unknown>> {
  const output = execFileSync(kustomizeBinary(), ['build', path.join(k8sRoot, target)], { encoding: 'utf8' });
  return parseAllDocuments(output).map((doc) => {
    expect(doc.errors).toEqual([]);
    return objectSchema.passthrough().parse(doc.toJS());
  });
}

function yamlFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return yamlFiles(full);
    return /\.ya?ml$/.test(entry.name) ? [full] : [];
  });
}

/** Plausible content for a setting read from a mounted file, so the schema can check the rest. */
const keyPem = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  .privateKey.export({ type: 'pkcs8', format: 'pem' })
  .toString();
const certPem = fs.readFileSync(path.join(repoRoot, 'test', 'fixtures', 'tls', 'example-ca.pem'), 'utf8');
function standInSecret(setting: string): string {
  if (setting.endsWith('DATABASE_URL'))
    return 'postgres://ticketflow:pw@db.example.internal:5432/ticketflow?sslmode=verify-full';
  if (setting.endsWith('_CA') || setting === 'TEMPORAL_TLS_CERT') return certPem;
  if (setting === 'TEMPORAL_TLS_KEY') return keyPem;
  if (setting === 'PAYLOAD_ENCRYPTION_KEYS') return `k1:${randomBytes(32).toString('base64')}`;
  return `stand-in-${setting.toLowerCase()}-${'x'.repeat(32)}`;
}

interface ResolvedContainer {
  workload: Workload;
  container: Container;
  env: Record<string, string>;
  config: Config;
}

const secretsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tf-k8s-secrets-'));
afterAll(() => fs.rmSync(secretsDir, { recursive: true, force: true }));

/**
 * The container's environment as the kubelet would build it (ConfigMap, then env), with every *_FILE path
 * checked against the Secret volumes mounted there and replaced by a local stand-in file, then loaded.
 */
function resolve(
  objects: ReturnType<typeof render>,
  workload: Workload,
  container: Container,
): ResolvedContainer {
  const env: Record<string, string> = {};
  for (const source of container.envFrom ?? []) {
    const configMap = objects.find(
      (o) => o.kind === 'ConfigMap' && o.metadata.name === source.configMapRef.name,
    );
    expect({ configMap: source.configMapRef.name, found: Boolean(configMap) }).toEqual({
      configMap: source.configMapRef.name,
      found: true,
    });
    Object.assign(env, z.object({ data: z.record(z.string(), z.string()) }).parse(configMap).data);
  }
  for (const variable of container.env ?? []) {
    expect({ variable: variable.name, valueFrom: variable.valueFrom }).toEqual({
      variable: variable.name,
      valueFrom: undefined,
    });
    env[variable.name] = variable.value ?? '';
  }
  const local: Record<string, string> = { ...env };
  for (const setting of FILE_SETTINGS) {
    const file = env[`${setting}_FILE`];
    if (!file) continue;
    const mount = (container.volumeMounts ?? []).find((m) => file.startsWith(`${m.mountPath}/`));
    const volume = workload.spec.template.spec.volumes?.find((v) => v.name === mount?.name);
    expect({ setting, file, fromSecret: Boolean(volume?.secret) }).toEqual({
      setting,
      file,
      fromSecret: true,
    });
    const fileName = file.slice(mount!.mountPath.length + 1);
    if (volume?.secret?.items)
      expect({ file, projected: volume.secret.items.some((i) => i.path === fileName) }).toEqual({
        file,
        projected: true,
      });
    const standIn = path.join(secretsDir, `${workload.metadata.name}-${setting}`);
    fs.writeFileSync(standIn, standInSecret(setting));
    local[`${setting}_FILE`] = standIn;
  }
  return { workload, container, env, config: loadConfig(local) };
}

function workloads(objects: ReturnType<typeof render>): Workload[] {
  return objects
    .filter((o) => o.kind === 'Deployment' || o.kind === 'Job')
    .map((o) => workloadSchema.parse(o));
}

function find(objects: ReturnType<typeof render>, kind: string, name: string) {
  const found = objects.find((o) => o.kind === kind && o.metadata.name === name);
  if (!found) throw new Error(`no ${kind} ${name} in the rendered manifests`);
  return found;
}

test('every YAML file under deploy/k8s parses', () => {
  const files = yamlFiles(k8sRoot);
  expect(files.length).toBeGreaterThan(8);
  for (const file of files) {
    const docs = parseAllDocuments(fs.readFileSync(file, 'utf8'));
    expect({
      file: path.relative(repoRoot, file),
      errors: docs.flatMap((d) => d.errors.map(String)),
    }).toEqual({
      file: path.relative(repoRoot, file),
      errors: [],
    });
  }
});

describe.each(TARGETS)('%s', (target) => {
  let objects: ReturnType<typeof render>;
  let resolved: ResolvedContainer[];
  const container = (workload: string) => {
    const found = resolved.find((r) => r.workload.metadata.name === workload);
    if (!found) throw new Error(`no workload ${workload}`);
    return found;
  };

  beforeAll(() => {
    objects = render(target);
    resolved = workloads(objects).flatMap((w) =>
      w.spec.template.spec.containers.map((c) => resolve(objects, w, c)),
    );
  });

  it('renders the API and worker Deployments, the migration Job, a Service, PDBs, and (overlays) the autoscaler', () => {
    const names = objects.map((o) => `${o.kind}/${o.metadata.name.replace(/-[a-z0-9]{10}$/, '')}`).sort();
    expect(names).toEqual(
      [
        'ConfigMap/ticketflow-config',
        'Deployment/ticketflow-api',
        'Deployment/ticketflow-worker',
        'Job/ticketflow-migrate',
        'PodDisruptionBudget/ticketflow-api',
        'PodDisruptionBudget/ticketflow-worker',
        'Service/ticketflow-api',
        'ServiceAccount/ticketflow',
        ...(target === 'base' ? [] : ['HorizontalPodAutoscaler/ticketflow-worker']),
      ].sort(),
    );
  });

  it('refers to Secrets and never carries one', () => {
    expect(objects.filter((o) => o.kind === 'Secret')).toEqual([]);
    const referenced = new Set(
      workloads(objects).flatMap((w) =>
        (w.spec.template.spec.volumes ?? []).map((v) => v.secret?.secretName),
      ),
    );
    expect(referenced.has('ticketflow-secrets')).toBe(true);
  });

  it('sets only variables ticketflow (or Node) reads, and each container gets a valid configuration', () => {
    const known = new Set(Object.keys(configSchema.shape));
    for (const { workload, env } of resolved) {
      const unknown = Object.keys(env).filter((name) => !known.has(name) && !RUNTIME_VARIABLES.has(name));
      expect({ workload: workload.metadata.name, unknown }).toEqual({
        workload: workload.metadata.name,
        unknown: [],
      });
    }
    for (const { config } of resolved) {
      expect(config.NODE_ENV).toBe('production');
      expect(config.MIGRATE_ON_START).toBe(false);
    }
    // Overlays reach Temporal over TLS (an API key or mTLS); base assumes an in-cluster plaintext frontend.
    expect(temporalTlsEnabled(container('ticketflow-worker').config)).toBe(target !== 'base');
    expect(temporalTlsEnabled(container('ticketflow-api').config)).toBe(target !== 'base');
    // Production refuses clear payloads: the processes that talk to Temporal get the key from the Secret.
    for (const name of ['ticketflow-worker', 'ticketflow-api']) {
      const { config } = container(name);
      expect(config.ALLOW_UNENCRYPTED_PAYLOADS).toBe(false);
      expect(() => requireEncryptionInProduction(config)).not.toThrow();
    }
  });

  it('probes the ports the processes listen on; the worker is ready only when Temporal answers it', () => {
    const api = container('ticketflow-api');
    const worker = container('ticketflow-worker');
    const portOf = (c: Container, name: string | number) =>
      typeof name === 'number' ? name : c.ports?.find((p) => p.name === name)?.containerPort;
    expect(api.config.API_HOST).toBe('0.0.0.0');
    expect(worker.config.WORKER_HEALTH_HOST).toBe('0.0.0.0');
    for (const [process, port] of [
      [api, api.config.API_PORT],
      [worker, worker.config.WORKER_HEALTH_PORT],
    ] as const) {
      for (const probe of ['startupProbe', 'readinessProbe', 'livenessProbe'] as const) {
        const spec = process.container[probe];
        expect({ probe, port: spec && portOf(process.container, spec.httpGet.port) }).toEqual({
          probe,
          port,
        });
      }
    }
    expect(worker.container.readinessProbe?.httpGet.path).toBe('/readyz');
    expect(worker.container.livenessProbe?.httpGet.path).toBe('/healthz');
    expect(api.container.livenessProbe?.httpGet.path).toBe('/healthz');
  });

  it('gives in-flight work time to finish inside the pod termination grace period', () => {
    const worker = container('ticketflow-worker');
    const workerGraceMs = (worker.workload.spec.template.spec.terminationGracePeriodSeconds ?? 30) * 1000;
    // The SDK's force time is the grace time + 5 s (workers/main.ts); the process must be gone before SIGKILL.
    expect(worker.config.WORKER_SHUTDOWN_GRACE_MS + 5_000).toBeLessThan(workerGraceMs);
    expect(worker.config.WORKER_SHUTDOWN_GRACE_MS).toBeGreaterThan(worker.config.LLM_TIMEOUT_MS);
    const api = container('ticketflow-api');
    const apiGraceMs = (api.workload.spec.template.spec.terminationGracePeriodSeconds ?? 30) * 1000;
    const preStopMs = Number(api.container.lifecycle?.preStop.exec.command.at(-1) ?? 0) * 1000;
    expect(preStopMs).toBeGreaterThan(0);
    expect(preStopMs + api.config.API_SHUTDOWN_GRACE_MS).toBeLessThan(apiGraceMs);
  });

  it('requests resources for every container and pins every image', () => {
    for (const { workload, container: c } of resolved) {
      expect({ workload: workload.metadata.name, image: c.image }).toEqual({
        workload: workload.metadata.name,
        image: expect.stringMatching(/^[^:]+:(?!latest$)[\w.-]+$/),
      });
    }
  });

  it('runs entry points the image contains, and the Job migrates', () => {
    const dockerfile = fs.readFileSync(path.join(repoRoot, 'Dockerfile'), 'utf8');
    const runtimeStage = dockerfile.slice(dockerfile.lastIndexOf('FROM '));
    for (const { container: c } of resolved) {
      const entry = c.command.find((part) => part.endsWith('.ts'))!;
      expect({ entry, exists: fs.existsSync(path.join(repoRoot, entry)) }).toEqual({ entry, exists: true });
      expect(runtimeStage).toContain(`COPY ${entry.split('/')[0]} ./${entry.split('/')[0]}`);
    }
    expect(container('ticketflow-migrate').container.command.slice(-3)).toEqual([
      'src/cli/main.ts',
      'db',
      'migrate',
    ]);
  });

  it('has a PodDisruptionBudget selecting exactly each Deployment', () => {
    const deployments = workloads(objects).filter((w) => w.kind === 'Deployment');
    for (const name of ['ticketflow-api', 'ticketflow-worker']) {
      const pdb = z
        .object({ spec: z.object({ selector: z.object({ matchLabels: z.record(z.string(), z.string()) }) }) })
        .parse(find(objects, 'PodDisruptionBudget', name));
      const selects = deployments.filter((d) =>
        Object.entries(pdb.spec.selector.matchLabels).every(
          ([k, v]) => d.spec.template.metadata.labels[k] === v,
        ),
      );
      expect(selects.map((d) => d.metadata.name)).toEqual([name]);
    }
  });

  if (target !== 'base') {
    it('autoscales the worker Deployment on the backlog metric the worker exports', () => {
      const hpa = z
        .object({
          spec: z.object({
            scaleTargetRef: z.object({ apiVersion: z.string(), kind: z.string(), name: z.string() }),
            minReplicas: z.number(),
            maxReplicas: z.number(),
            metrics: z.array(
              z.object({
                type: z.literal('External'),
                external: z.object({
                  metric: z.object({
                    name: z.string(),
                    selector: z.object({ matchLabels: z.record(z.string(), z.string()) }),
                  }),
                }),
              }),
            ),
          }),
        })
        .parse(find(objects, 'HorizontalPodAutoscaler', 'ticketflow-worker'));
      expect(hpa.spec.scaleTargetRef).toEqual({
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        name: 'ticketflow-worker',
      });
      expect(hpa.spec.minReplicas).toBeGreaterThanOrEqual(1);
      expect(hpa.spec.maxReplicas).toBeGreaterThan(hpa.spec.minReplicas);
      for (const metric of hpa.spec.metrics) {
        expect(metric.external.metric.name).toBe(WORKER_METRICS.backlog);
        expect(['workflow', 'activity']).toContain(metric.external.metric.selector.matchLabels.task_type);
      }
    });
  }
});
