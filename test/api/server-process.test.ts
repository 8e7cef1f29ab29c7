import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import path from 'node:path';
import pg from 'pg';
import { createDatabase, dropDatabase } from '../support/databases';
import { loadConfig } from '../../src/config';
import { uniqueSuffix } from '../support/stack';
import { httpRequest, vectorDatabaseForTests } from './helpers';

/**
 * `src/api/main.ts` as the real process: it migrates a brand-new database, connects, listens, serves the
 * interactive docs UI (which in-process jest tests cannot load), and exits cleanly on SIGTERM.
 */

const ROOT = path.resolve(__dirname, '..', '..');

let child: ChildProcessWithoutNullStreams | undefined;
let stopVectorDb: (() => Promise<void>) | undefined;
let databaseName: string | undefined;
const baseConfig = loadConfig();

afterAll(async () => {
  if (child && child.exitCode === null) child.kill('SIGKILL');
  await stopVectorDb?.();
  if (databaseName) {
    await dropDatabase(baseConfig.DATABASE_URL, databaseName);
  }
});

test('migrates, listens, serves /docs and the OpenAPI JSON, and shuts down gracefully on SIGTERM', async () => {
  databaseName = `tf_api_${uniqueSuffix()}`;
  const databaseUrl = new URL(await createDatabase(baseConfig.DATABASE_URL, databaseName));
  const vectorDb = await vectorDatabaseForTests();
  stopVectorDb = vectorDb.stop;

  const started = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src', 'api', 'main.ts')], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH,
      DATABASE_URL: databaseUrl.toString(),
      VECTOR_STORE: 'pgvector',
      VECTOR_DATABASE_URL: vectorDb.url,
      KB_COLLECTION: `kb_proc_${uniqueSuffix()}`,
      TEMPORAL_ADDRESS: baseConfig.TEMPORAL_ADDRESS,
      API_HOST: '127.0.0.1',
      API_PORT: '0',
      LOG_LEVEL: 'info',
    },
  });
  child = started;
  let stderr = '';
  started.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    let stdout = '';
    const timer = setTimeout(
      () => reject(new Error(`API did not start within 90 s:\n${stdout}\n${stderr}`)),
      90_000,
    );
    started.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      for (const line of stdout.split('\n')) {
        if (!line.startsWith('{')) continue;
        const entry = JSON.parse(line) as { msg?: string; url?: string };
        if (entry.msg === 'ticketflow API listening' && entry.url) {
          clearTimeout(timer);
          resolve(entry.url);
        }
      }
    });
    started.on('exit', (code) => reject(new Error(`API exited with ${code}:\n${stderr}`)));
  });

  // The API ran the migrations on the empty database.
  const check = new pg.Client({ connectionString: databaseUrl.toString() });
  await check.connect();
  const tables = await check.query(
    `select table_name from information_schema.tables where table_schema = 'public'`,
  );
  await check.end();
  expect(tables.rows.map((r: { table_name: string }) => r.table_name)).toEqual(
    expect.arrayContaining(['tickets', 'interactions', 'escalations', 'api_keys', 'kb_documents']),
  );

  const docs = await fetch(`${url}/docs`);
  expect(docs.status).toBe(200);
  expect(docs.headers.get('content-type')).toMatch(/text\/html/);
  expect(await docs.text()).toMatch(/swagger/i);

  const spec = await httpRequest(url, 'GET', '/docs/json');
  expect(spec.status).toBe(200);
  expect(spec.body.openapi).toMatch(/^3\./);
  expect(Object.keys(spec.body.paths)).toEqual(
    expect.arrayContaining(['/v1/tickets', '/v1/escalations', '/v1/kb/search']),
  );
  // The UI's own routes are not API endpoints.
  expect(Object.keys(spec.body.paths).some((p) => p.startsWith('/docs'))).toBe(false);

  expect((await httpRequest(url, 'GET', '/healthz')).status).toBe(200);
  const ready = await httpRequest(url, 'GET', '/readyz');
  expect(ready.body.checks.postgres.ok).toBe(true);
  expect(ready.body.checks.temporal.ok).toBe(true);

  const exitCode = await new Promise<number | null>((resolve) => {
    started.on('exit', (code) => resolve(code));
    started.kill('SIGTERM');
  });
  expect(exitCode).toBe(0);
}, 300_000);
