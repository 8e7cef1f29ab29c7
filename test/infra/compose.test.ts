import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import { z } from 'zod';
import { configSchema, loadConfig } from '../../src/config';
import { requireEncryptionInProduction } from '../../src/security/codec';
import { SEARCH_ATTRIBUTE_DEFINITIONS } from '../../src/temporal/search-attributes';

const repoRoot = path.resolve(__dirname, '..', '..');

const healthcheckSchema = z.object({ test: z.array(z.string()).min(2) });
const serviceSchema = z.object({
  image: z.string().optional(),
  build: z.unknown().optional(),
  command: z.union([z.string(), z.array(z.string())]).optional(),
  environment: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()]).nullable()).optional(),
  entrypoint: z.array(z.string()).optional(),
  restart: z.string().optional(),
  ports: z.array(z.string()).optional(),
  healthcheck: healthcheckSchema.optional(),
  depends_on: z.record(z.string(), z.object({ condition: z.string() })).optional(),
  volumes: z.array(z.string()).optional(),
});
const composeSchema = z.object({
  services: z.record(z.string(), serviceSchema),
  volumes: z.record(z.string(), z.unknown().nullable()).optional(),
});

// Compose resolves YAML merge keys (`<<: *ticketflow-env`), so this parse does too.
const compose = composeSchema.parse(
  parse(fs.readFileSync(path.join(repoRoot, 'docker-compose.yml'), 'utf8'), { merge: true }),
);
const service = (name: string) => {
  const found = compose.services[name];
  if (!found) throw new Error(`docker-compose.yml has no service ${name}`);
  return found;
};

/** Compose-style interpolation: ${VAR}, ${VAR:-default}, ${VAR-default}, and $$ for a literal $. */
function interpolate(value: string, env: Record<string, string>): string {
  return value
    .replace(
      /\$\{([A-Z0-9_]+)(?:(:?-)([^}]*))?\}/g,
      (_, name: string, operator: string | undefined, fallback: string) => {
        const given = env[name];
        if (operator === ':-') return given ? given : fallback;
        if (operator === '-') return given ?? fallback;
        return given ?? '';
      },
    )
    .replaceAll('$$', '$');
}

function resolvedEnvironment(name: string, hostEnv: Record<string, string>): Record<string, string> {
  const resolved: Record<string, string> = {};
  for (const [key, value] of Object.entries(service(name).environment ?? {})) {
    resolved[key] = value === null ? '' : interpolate(String(value), hostEnv);
  }
  return resolved;
}

const APP_SERVICES = ['api', 'worker', 'migrate'];
/** Services that run once and exit (compose waits for service_completed_successfully). */
const ONE_SHOTS = ['temporal-schema', 'temporal-setup', 'migrate'];
const script = (name: string) => [service(name).command ?? []].flat().join('\n');

describe('docker-compose.yml', () => {
  it('defines the full production stack', () => {
    expect(Object.keys(compose.services).sort()).toEqual(
      [
        'api',
        'migrate',
        'postgres',
        'qdrant',
        'temporal',
        'temporal-schema',
        'temporal-setup',
        'temporal-ui',
        'worker',
      ].sort(),
    );
  });

  it('publishes the API, the Temporal frontend and the Temporal UI', () => {
    expect(service('api').ports).toContain('3000:3000');
    expect(service('temporal').ports).toContain('7233:7233');
    expect(service('temporal-ui').ports).toContain('8080:8080');
  });

  it('gives every long-running service a health check, and waits on health where it depends', () => {
    for (const [name, definition] of Object.entries(compose.services)) {
      if (ONE_SHOTS.includes(name)) {
        expect({ name, restart: definition.restart }).toEqual({ name, restart: 'no' });
        continue;
      }
      expect({ name, healthcheck: Boolean(definition.healthcheck) }).toEqual({ name, healthcheck: true });
    }
    for (const [name, definition] of Object.entries(compose.services)) {
      for (const [dependency, { condition }] of Object.entries(definition.depends_on ?? {})) {
        expect(compose.services[dependency]).toBeDefined();
        if (condition === 'service_healthy') {
          expect({
            name,
            dependency,
            healthcheck: Boolean(compose.services[dependency]?.healthcheck),
          }).toEqual({
            name,
            dependency,
            healthcheck: true,
          });
        }
      }
    }
  });

  it('pins every third-party image to a version', () => {
    for (const [name, definition] of Object.entries(compose.services)) {
      if (definition.build) continue;
      expect({ name, image: definition.image }).toEqual({
        name,
        image: expect.stringMatching(/^[^:]+:(?!latest$)[\w.-]+$/),
      });
    }
  });

  it.each(APP_SERVICES)('%s: every environment variable is one ticketflow reads', (name) => {
    const known = new Set(Object.keys(configSchema.shape));
    const unknown = Object.keys(service(name).environment ?? {}).filter((key) => !known.has(key));
    expect(unknown).toEqual([]);
  });

  it.each(APP_SERVICES)(
    '%s: the environment is a valid configuration, with and without secrets set',
    (name) => {
      const bare = loadConfig(resolvedEnvironment(name, {}));
      expect(bare.NODE_ENV).toBe('production');
      const withSecrets = loadConfig(
        resolvedEnvironment(name, {
          ANTHROPIC_API_KEY: 'sk-ant-test',
          ADMIN_API_KEY: 'a-sufficiently-long-admin-key',
          POSTGRES_PASSWORD: 's3cret',
          VECTOR_STORE: 'pgvector',
          OUTBOUND_WEBHOOK_URL: 'https://hooks.example.com/ticketflow',
          OUTBOUND_WEBHOOK_SECRET: 'webhook-secret',
        }),
      );
      expect(withSecrets.ANTHROPIC_API_KEY).toBe('sk-ant-test');
      expect(withSecrets.DATABASE_URL).toBe('postgres://ticketflow:s3cret@postgres:5432/ticketflow');
      expect(withSecrets.VECTOR_STORE).toBe('pgvector');
    },
  );

  it.each(APP_SERVICES)('%s: points at the services of this file', (name) => {
    const config = loadConfig(resolvedEnvironment(name, {}));
    expect(compose.services[new URL(config.DATABASE_URL).hostname]).toBeDefined();
    expect(compose.services[config.TEMPORAL_ADDRESS.split(':')[0] ?? '']).toBeDefined();
    expect(config.QDRANT_URL && compose.services[new URL(config.QDRANT_URL).hostname]).toBeDefined();
    // The API binds inside its container on the port the file publishes.
    expect(config.API_HOST).toBe('0.0.0.0');
  });

  it.each(['api', 'worker'])(
    '%s: refuses to start without a payload key unless unencrypted payloads are allowed explicitly',
    (name) => {
      const bare = loadConfig(resolvedEnvironment(name, {}));
      expect(() => requireEncryptionInProduction(bare)).toThrow(/PAYLOAD_ENCRYPTION_KEYS.*ALLOW_UNENCRYPTED/);
      const key = `k1:${Buffer.alloc(32, 7).toString('base64')}`;
      const keyed = loadConfig(resolvedEnvironment(name, { PAYLOAD_ENCRYPTION_KEYS: key }));
      expect(() => requireEncryptionInProduction(keyed)).not.toThrow();
      const optedOut = loadConfig(resolvedEnvironment(name, { ALLOW_UNENCRYPTED_PAYLOADS: 'true' }));
      expect(() => requireEncryptionInProduction(optedOut)).not.toThrow();
    },
  );

  it('publishes the API on the port the API listens on', () => {
    const config = loadConfig(resolvedEnvironment('api', {}));
    expect(service('api').ports).toContain(`${config.API_PORT}:${config.API_PORT}`);
  });

  it('runs Temporal on the supported images, server and admin tools of one version (no auto-setup)', () => {
    const images = Object.values(compose.services).map((s) => s.image ?? '');
    expect(images.filter((image) => image.includes('auto-setup'))).toEqual([]);
    const server = /^temporalio\/server:(\d+\.\d+\.\d+)$/.exec(service('temporal').image ?? '');
    expect(server).not.toBeNull();
    for (const oneShot of ['temporal-schema', 'temporal-setup'])
      expect(service(oneShot).image).toMatch(
        new RegExp(`^temporalio/admin-tools:${server![1]!.replace(/\./g, '\\.')}-`),
      );
    // The server starts only on a schema the admin tools have brought to its version.
    expect(service('temporal').depends_on?.['temporal-schema']).toEqual({
      condition: 'service_completed_successfully',
    });
  });

  it("sets up both of Temporal's databases with the admin tools' versioned schemas", () => {
    const setup = script('temporal-schema');
    expect(setup).toMatch(/for db in temporal temporal_visibility; do/);
    expect(setup).toMatch(/temporal-sql-tool --plugin postgres12/);
    expect(setup).toMatch(/update-schema -d \/etc\/temporal\/schema\/postgresql\/v12\/\$\$schema\/versioned/);
  });

  it('gives the server an explicit dynamic config file that exists and parses', () => {
    const target = service('temporal').environment?.DYNAMIC_CONFIG_FILE_PATH;
    expect(target).toBe('config/dynamicconfig/ticketflow.yaml');
    const mount = (service('temporal').volumes ?? []).find((v) => v.includes(`/etc/temporal/${target}`));
    expect(mount).toBeDefined();
    const local = path.join(repoRoot, mount!.split(':')[0]!);
    const dynamicConfig = z
      .record(
        z.string(),
        z.array(z.object({ value: z.unknown(), constraints: z.record(z.string(), z.unknown()) })),
      )
      .parse(parse(fs.readFileSync(local, 'utf8')));
    expect(Object.keys(dynamicConfig).length).toBeGreaterThan(0);
  });

  it("registers the app's namespace in the one-shot setup, which the app waits for", () => {
    const config = loadConfig(resolvedEnvironment('worker', {}));
    expect(service('temporal-setup').environment?.NAMESPACE).toBe(config.TEMPORAL_NAMESPACE);
    expect(script('temporal-setup')).toMatch(/temporal operator namespace create -n "\$\$NAMESPACE"/);
    for (const name of ['api', 'worker'])
      expect(service(name).depends_on?.['temporal-setup']).toEqual({
        condition: 'service_completed_successfully',
      });
  });

  it('migrates once before the API and the worker start, which then do not migrate themselves', () => {
    expect(script('migrate')).toContain('db\nmigrate');
    for (const name of ['api', 'worker']) {
      expect(service(name).depends_on?.migrate).toEqual({ condition: 'service_completed_successfully' });
      expect(loadConfig(resolvedEnvironment(name, {})).MIGRATE_ON_START).toBe(false);
    }
  });

  it('the one-shot Temporal scripts are idempotent: a second `compose up` changes nothing (stub tools)', () => {
    // Compose turns $$ into $; the scripts then run under sh with stand-ins for the admin tools that keep state
    // in files, as the real ones keep it in Postgres.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tf-compose-oneshot-'));
    try {
      const stub = (name: string, body: string) => {
        fs.writeFileSync(path.join(dir, name), `#!/bin/sh\n${body}\n`, { mode: 0o755 });
      };
      stub(
        'temporal-sql-tool',
        `echo "sql $*" >> "$STATE/calls"
db=$(echo "$*" | sed -n 's/.*--db \\([a-z_]*\\).*/\\1/p')
case "$*" in
  *" create"*) [ -e "$STATE/db-$db" ] && exit 1; touch "$STATE/db-$db" ;;
esac`,
      );
      stub(
        'temporal',
        `echo "temporal $*" >> "$STATE/calls"
case "$*" in
  "operator cluster health") exit 0 ;;
  "operator namespace describe"*) [ -e "$STATE/namespace" ] ;;
  "operator namespace create"*) touch "$STATE/namespace" ;;
  "operator search-attribute list"*) cat "$STATE/attributes" 2>/dev/null; exit 0 ;;
  "operator search-attribute create"*) echo "$*" | sed -n 's/.*--name \\([A-Za-z]*\\).*/\\1/p' >> "$STATE/attributes" ;;
esac`,
      );
      const run = (name: string) => {
        fs.rmSync(path.join(dir, 'calls'), { force: true });
        const result = spawnSync('/bin/sh', ['-c', script(name).replaceAll('$$', '$')], {
          env: { PATH: `${dir}:${process.env.PATH}`, STATE: dir, ...resolvedEnvironment(name, {}) },
          encoding: 'utf8',
        });
        expect({ name, status: result.status, stderr: result.stderr }).toEqual({
          name,
          status: 0,
          stderr: '',
        });
        return fs.readFileSync(path.join(dir, 'calls'), 'utf8').trim().split('\n');
      };
      const first = [...run('temporal-schema'), ...run('temporal-setup')];
      expect(first.filter((c) => / setup-schema /.test(c))).toHaveLength(2);
      expect(first.filter((c) => / update-schema /.test(c))).toHaveLength(2);
      expect(first.filter((c) => /namespace create -n default/.test(c))).toHaveLength(1);
      expect(first.filter((c) => /search-attribute create/.test(c))).toHaveLength(
        Object.keys(SEARCH_ATTRIBUTE_DEFINITIONS).length,
      );
      const second = [...run('temporal-schema'), ...run('temporal-setup')];
      expect(second.filter((c) => / setup-schema |namespace create|search-attribute create/.test(c))).toEqual(
        [],
      );
      // New schema versions still apply on every run.
      expect(second.filter((c) => / update-schema /.test(c))).toHaveLength(2);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('registers exactly the search attributes the workflows use', () => {
    const registered = Object.fromEntries(
      [
        ...script('temporal-setup').matchAll(
          /\b([A-Z][A-Za-z]+):(Keyword|Bool|Text|Int|Double|Datetime|KeywordList)\b/g,
        ),
      ].map((m) => [m[1], m[2]]),
    );
    expect(registered).toEqual(SEARCH_ATTRIBUTE_DEFINITIONS);
  });

  it('runs the api and worker from entry points the image contains', () => {
    const dockerfile = fs.readFileSync(path.join(repoRoot, 'Dockerfile'), 'utf8');
    const runtimeStage = dockerfile.slice(dockerfile.lastIndexOf('FROM '));
    for (const name of APP_SERVICES) {
      const command = [service(name).command ?? []].flat();
      const entry = command.find((part) => part.endsWith('.ts'));
      expect({ name, entry }).toEqual({ name, entry: expect.stringMatching(/\.ts$/) });
      expect({ entry, exists: fs.existsSync(path.join(repoRoot, entry ?? '')) }).toEqual({
        entry,
        exists: true,
      });
      expect(runtimeStage).toContain(`COPY ${entry?.split('/')[0]} ./${entry?.split('/')[0]}`);
      if (name !== 'migrate')
        expect(service(name).healthcheck?.test.join(' ')).toContain(`scripts/healthcheck.mjs ${name}`);
    }
  });
});

describe('Dockerfile', () => {
  const dockerfile = fs.readFileSync(path.join(repoRoot, 'Dockerfile'), 'utf8');

  it('is a multi-stage build on node:20-slim that installs the model at build time', () => {
    expect(dockerfile).toMatch(/^ARG NODE_IMAGE=node:20-slim$/m);
    expect(dockerfile.match(/^FROM \$\{NODE_IMAGE\} AS \w+$/gm)?.length).toBeGreaterThanOrEqual(3);
    expect(dockerfile).toMatch(/^RUN node scripts\/setup\.mjs model$/m);
    expect(dockerfile).toMatch(/^RUN npm ci --omit=dev/m);
  });

  it('prebuilds the workflow bundle from the code it ships, and workers load it from WORKFLOW_BUNDLE_DIR', () => {
    const runtimeStage = dockerfile.slice(dockerfile.lastIndexOf('FROM '));
    const build = /^RUN node --import tsx workers\/bundle\.ts (\S+)$/m.exec(runtimeStage);
    const env = /^ENV WORKFLOW_BUNDLE_DIR=(\S+)$/m.exec(runtimeStage);
    expect({ build: build?.[1], env: env?.[1] }).toEqual({
      build: '/app/dist/workflows',
      env: '/app/dist/workflows',
    });
    expect(runtimeStage.indexOf('COPY workflows ./workflows')).toBeLessThan(build!.index);
  });

  it('never runs the final image as root', () => {
    const runtimeStage = dockerfile.slice(dockerfile.lastIndexOf('FROM '));
    expect(runtimeStage).toMatch(/^USER node$/m);
  });
});
