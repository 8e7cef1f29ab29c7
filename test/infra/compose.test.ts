import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { z } from 'zod';
import { configSchema, loadConfig } from '../../src/config';
import { SEARCH_ATTRIBUTE_DEFINITIONS } from '../../src/temporal/search-attributes';

const repoRoot = path.resolve(__dirname, '..', '..');

const healthcheckSchema = z.object({ test: z.array(z.string()).min(2) });
const serviceSchema = z.object({
  image: z.string().optional(),
  build: z.unknown().optional(),
  command: z.union([z.string(), z.array(z.string())]).optional(),
  environment: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()]).nullable()).optional(),
  ports: z.array(z.string()).optional(),
  healthcheck: healthcheckSchema.optional(),
  depends_on: z.record(z.string(), z.object({ condition: z.string() })).optional(),
  volumes: z.array(z.string()).optional(),
});
const composeSchema = z.object({
  services: z.record(z.string(), serviceSchema),
  volumes: z.record(z.string(), z.unknown().nullable()).optional(),
});

const compose = composeSchema.parse(
  parse(fs.readFileSync(path.join(repoRoot, 'docker-compose.yml'), 'utf8')),
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

const APP_SERVICES = ['api', 'worker'];

describe('docker-compose.yml', () => {
  it('defines the full production stack', () => {
    expect(Object.keys(compose.services).sort()).toEqual(
      ['api', 'postgres', 'qdrant', 'temporal', 'temporal-setup', 'temporal-ui', 'worker'].sort(),
    );
  });

  it('publishes the API, the Temporal frontend and the Temporal UI', () => {
    expect(service('api').ports).toContain('3000:3000');
    expect(service('temporal').ports).toContain('7233:7233');
    expect(service('temporal-ui').ports).toContain('8080:8080');
  });

  it('gives every long-running service a health check, and waits on health where it depends', () => {
    for (const [name, definition] of Object.entries(compose.services)) {
      if (name === 'temporal-setup') continue; // one-shot job
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

  it('publishes the API on the port the API listens on', () => {
    const config = loadConfig(resolvedEnvironment('api', {}));
    expect(service('api').ports).toContain(`${config.API_PORT}:${config.API_PORT}`);
  });

  it('registers exactly the search attributes the workflows use', () => {
    const script = [service('temporal-setup').command ?? []].flat().join('\n');
    const registered = Object.fromEntries(
      [...script.matchAll(/\b([A-Z][A-Za-z]+):(Keyword|Bool|Text|Int|Double|Datetime|KeywordList)\b/g)].map(
        (m) => [m[1], m[2]],
      ),
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
