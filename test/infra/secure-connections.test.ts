import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { loadConfig } from '../../src/config';
import { pgConnection } from '../../src/db/tls';
import { connectTemporal } from '../../src/temporal/client';
import { connectNativeTemporal } from '../../workers/main';
import { httpRequest } from '../api/helpers';
import {
  createDedicatedPostgres,
  freePort,
  makeTempDir,
  runToExit,
  spawnApi,
  spawnWorker,
  stopAllProcesses,
  waitUntil,
  type DedicatedPostgres,
} from '../support/processes';
import { startQdrantStandin, type QdrantStandin } from '../support/qdrant-standin';
import { uniqueSuffix } from '../support/stack';
import { createTestPki, startTemporalTlsFront, type TestPki, type TlsFront } from '../support/tls';

/**
 * ticketflow against infrastructure that demands TLS, as a Temporal cluster, Temporal Cloud, managed Postgres
 * and a Qdrant cluster do: a throwaway CA, Temporal behind TLS with mTLS (worker) or an API key (API), Postgres
 * with ssl=on refusing plaintext, Qdrant over https with an API key. Every secret and certificate reaches the
 * processes as a `*_FILE`. Then the failures an operator meets, each as one line naming the setting.
 *
 * `temporal server start-dev` (CLI 1.5.1) has no TLS options, so Temporal's TLS listener is played by a TLS
 * terminating gRPC front (test/support/tls.ts) in front of the suite's dev server.
 */

const TEMPORAL_API_KEY = `tk_${uniqueSuffix()}_temporal_cloud_style_key`;
const QDRANT_API_KEY = `qk_${uniqueSuffix()}`;
const ADMIN_KEY = 'tf_secure_connections_admin_key_0123456789';

let pki: TestPki;
let secrets: string;
let mtlsFront: TlsFront;
let keyFront: TlsFront;
let postgres: DedicatedPostgres;
let qdrant: QdrantStandin;
let databaseUrl: string;
const suiteConfig = loadConfig();

function secretFile(name: string, content: string): string {
  const file = path.join(secrets, name);
  fs.writeFileSync(file, `${content}\n`, { mode: 0o600 });
  return file;
}

beforeAll(async () => {
  pki = createTestPki();
  secrets = makeTempDir('secrets');
  [mtlsFront, keyFront] = await Promise.all([
    startTemporalTlsFront({
      target: suiteConfig.TEMPORAL_ADDRESS,
      ...pki.temporalServer,
      clientCaFile: pki.caFile,
    }),
    startTemporalTlsFront({
      target: suiteConfig.TEMPORAL_ADDRESS,
      ...pki.temporalServer,
      apiKey: TEMPORAL_API_KEY,
    }),
  ]);
  postgres = await createDedicatedPostgres({ ssl: { ...pki.localServer, required: true } });
  const admin = new pg.Client(
    pgConnection(`${postgres.adminUrl}?sslmode=verify-full`, fs.readFileSync(pki.caFile, 'utf8')),
  );
  await admin.connect();
  await admin.query('CREATE DATABASE ticketflow');
  await admin.end();
  databaseUrl = `${postgres.urlFor('ticketflow')}?sslmode=verify-full`;
  qdrant = await startQdrantStandin({ apiKey: QDRANT_API_KEY, tls: pki.localServer });
}, 120_000);

afterAll(async () => {
  await stopAllProcesses();
  await Promise.allSettled([mtlsFront?.close(), keyFront?.close(), qdrant?.close(), postgres?.destroy()]);
  pki?.remove();
  if (secrets) fs.rmSync(secrets, { recursive: true, force: true });
}, 60_000);

/** What the worker and the API share: the TLS Postgres, Qdrant over https with its key, a private task queue. */
function sharedEnv(taskQueue: string, collection: string): Record<string, string> {
  return {
    DATABASE_URL: databaseUrl,
    DATABASE_SSL_CA_FILE: pki.caFile,
    VECTOR_STORE: 'qdrant',
    QDRANT_URL: qdrant.url,
    QDRANT_API_KEY_FILE: secretFile('qdrant-api-key', QDRANT_API_KEY),
    // Node's own way to trust a private CA for https clients (the Qdrant client brings its own HTTP agent).
    NODE_EXTRA_CA_CERTS: pki.caFile,
    KB_COLLECTION: collection,
    TEMPORAL_TASK_QUEUE: taskQueue,
    TEMPORAL_TLS_CA_FILE: pki.caFile,
    // The frontend's certificate names temporal.test only; the fronts listen on 127.0.0.1.
    TEMPORAL_TLS_SERVER_NAME: 'temporal.test',
    LLM_PROVIDER: 'local',
  };
}

test('a worker (mTLS) and the API (API key) connect over TLS to Temporal, Postgres and Qdrant, and handle a ticket', async () => {
  const shared = sharedEnv(`tls-${uniqueSuffix()}`, `kb_tls_${uniqueSuffix()}`);
  const healthPort = await freePort();
  const worker = await spawnWorker({
    ...shared,
    TEMPORAL_ADDRESS: mtlsFront.address,
    TEMPORAL_TLS_CERT_FILE: pki.client.certFile,
    TEMPORAL_TLS_KEY_FILE: pki.client.keyFile,
    WORKER_HEALTH_PORT: String(healthPort),
  });
  const { url } = await spawnApi({
    ...shared,
    TEMPORAL_ADDRESS: keyFront.address,
    TEMPORAL_API_KEY_FILE: secretFile('temporal-api-key', TEMPORAL_API_KEY),
    ADMIN_API_KEY_FILE: secretFile('admin-api-key', ADMIN_KEY),
  });
  expect(worker.output()).toMatch(
    /"temporal":"127\.0\.0\.1:\d+ \(TLS: private CA, client certificate, server name temporal\.test\)"/,
  );

  const ready = await httpRequest(url, 'GET', '/readyz');
  expect({ status: ready.status, body: ready.body }).toEqual({
    status: 200,
    body: expect.objectContaining({ status: 'ready', failed: [] }),
  });
  const workerReady = await httpRequest(`http://127.0.0.1:${healthPort}`, 'GET', '/readyz');
  expect({ status: workerReady.status, body: workerReady.body }).toEqual({
    status: 200,
    body: expect.objectContaining({ status: 'ready', failed: [] }),
  });

  // The worker embeds and writes an article into Qdrant over https with its key. `Prefer: wait=60` because the
  // default wait (KB_INGEST_WAIT_MS, 3 s) can pass on a busy CI machine while the worker warms its model: a 202.
  const article = await httpRequest(url, 'PUT', '/v1/kb/documents/csv-export', {
    key: ADMIN_KEY,
    headers: { prefer: 'wait=60' },
    json: {
      title: 'Exporting your data to CSV',
      body: '# Exporting your data to CSV\n\nOpen Settings, then Data, and click Export all projects to CSV. The download link arrives by email within ten minutes.',
    },
  });
  expect(article.status).toBe(201);
  const searchesBefore = qdrant.requests.length;

  const ticketId = `tls-${uniqueSuffix()}`;
  const submitted = await httpRequest(url, 'POST', '/v1/tickets', {
    key: ADMIN_KEY,
    json: {
      externalId: ticketId,
      subject: 'Exporting data',
      body: 'How do I export all of my project data to CSV?',
      customer: { email: 'someone@example.com' },
    },
  });
  expect(submitted.status).toBe(202);
  const detail = await waitUntil(
    'the ticket settled',
    async () => {
      const response = await httpRequest(url, 'GET', `/v1/tickets/${ticketId}`, { key: ADMIN_KEY });
      const body = response.body as { stage?: string; escalation?: { reason: string } | null };
      return body.stage === 'escalated' || body.stage === 'answered' ? body : undefined;
    },
    120_000,
    500,
  );
  // Answered, or escalated on policy (e.g. the offline classifier's confidence), never for want of a dependency.
  expect(['retrieval_unavailable', 'llm_unavailable']).not.toContain(detail.escalation?.reason);
  // The worker searched Qdrant (over https, with its key) for this ticket.
  expect(
    qdrant.requests
      .slice(searchesBefore)
      .some((r) => r.method === 'POST' && /\/points\/(search|query)$/.test(r.path)),
  ).toBe(true);

  expect(mtlsFront.forwardedCalls).toBeGreaterThan(0);
  expect({ forwarded: keyFront.forwardedCalls > 0, refused: keyFront.refusedCalls }).toEqual({
    forwarded: true,
    refused: 0,
  });
  expect(qdrant.unauthorized).toBe(0);

  // Postgres really ran encrypted: it refuses plaintext, and the app's sessions show up in pg_stat_ssl.
  const plaintext = new pg.Client({ connectionString: postgres.urlFor('ticketflow') });
  await expect(plaintext.connect()).rejects.toThrow(/no encryption/);
  const admin = new pg.Client(
    pgConnection(`${postgres.adminUrl}?sslmode=verify-full`, fs.readFileSync(pki.caFile, 'utf8')),
  );
  await admin.connect();
  const sessions = await admin.query<{ encrypted: number }>(
    `SELECT count(*)::int AS encrypted FROM pg_stat_ssl JOIN pg_stat_activity USING (pid) WHERE ssl AND datname = 'ticketflow'`,
  );
  await admin.end();
  expect(sessions.rows[0]!.encrypted).toBeGreaterThan(0);
}, 300_000);

test("the worker's health endpoint follows its connection to Temporal", async () => {
  const front = await startTemporalTlsFront({ target: suiteConfig.TEMPORAL_ADDRESS, ...pki.temporalServer });
  const port = Number(front.address.split(':')[1]);
  const healthPort = await freePort();
  const worker = await spawnWorker({
    ...sharedEnv(`tls-health-${uniqueSuffix()}`, `kb_tls_health_${uniqueSuffix()}`),
    TEMPORAL_ADDRESS: front.address,
    WORKER_HEALTH_PORT: String(healthPort),
  });
  const health = `http://127.0.0.1:${healthPort}`;
  const readiness = async () => {
    const response = await httpRequest(health, 'GET', '/readyz');
    return { status: response.status, failed: (response.body as { failed: string[] }).failed };
  };
  expect(await readiness()).toEqual({ status: 200, failed: [] });
  const metrics = await httpRequest(health, 'GET', '/metrics');
  expect(metrics.text).toMatch(/^ticketflow_task_queue_backlog\{task_type="workflow"\} \d+$/m);
  expect(metrics.text).toMatch(
    /^ticketflow_task_queue_backlog_age_seconds\{task_type="activity"\} [\d.e+-]+$/m,
  );
  expect(metrics.text).toMatch(/^ticketflow_worker_temporal_up 1$/m);

  // Temporal goes away: not ready (the process stays alive: restarting it would not bring Temporal back).
  await front.close();
  await waitUntil('not ready', async () => (await readiness()).status === 503, 30_000, 500);
  expect(await readiness()).toEqual({ status: 503, failed: ['temporal'] });
  expect((await httpRequest(health, 'GET', '/healthz')).status).toBe(200);

  // And back: ready again on the same connection, without a restart.
  const back = await startTemporalTlsFront({
    target: suiteConfig.TEMPORAL_ADDRESS,
    ...pki.temporalServer,
    port,
  });
  try {
    await waitUntil('ready again', async () => (await readiness()).status === 200, 60_000, 500);
    expect(worker.running).toBe(true);
  } finally {
    await worker.stop();
    await back.close();
  }
}, 180_000);

describe('refused with one clear line naming the setting', () => {
  const lastLine = (output: string) => output.trim().split('\n').pop() ?? '';

  test('a worker given the wrong CA for Temporal', async () => {
    const result = await runToExit('workers/main.ts', {
      ...sharedEnv('tls-wrong-ca', 'kb_tls_wrong'),
      TEMPORAL_ADDRESS: mtlsFront.address,
      TEMPORAL_TLS_CA_FILE: pki.wrongCaFile,
      TEMPORAL_TLS_CERT_FILE: pki.client.certFile,
      TEMPORAL_TLS_KEY_FILE: pki.client.keyFile,
    });
    expect(result.code).toBe(1);
    expect(lastLine(result.output)).toMatch(
      /^cannot connect to Temporal at 127\.0\.0\.1:\d+ over TLS: the server's certificate is not signed by TEMPORAL_TLS_CA \(SELF_SIGNED_CERT_IN_CHAIN\)$/,
    );
  }, 90_000);

  test('the API given the wrong CA for Postgres', async () => {
    const result = await runToExit('src/api/main.ts', {
      ...sharedEnv('tls-wrong-pg-ca', 'kb_tls_wrong'),
      DATABASE_SSL_CA_FILE: pki.wrongCaFile,
      TEMPORAL_ADDRESS: keyFront.address,
      TEMPORAL_API_KEY: TEMPORAL_API_KEY,
    });
    expect(result.code).toBe(1);
    expect(lastLine(result.output)).toMatch(
      /^cannot connect to the database at 127\.0\.0\.1:\d+ \(DATABASE_URL\): the server's certificate is not signed by DATABASE_SSL_CA \((UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN)\)$/,
    );
  }, 90_000);

  test('a missing or non-certificate file stops the process at start, exit code 2', async () => {
    const missing = await runToExit('workers/main.ts', {
      TEMPORAL_TLS_CA_FILE: path.join(secrets, 'no-such-ca.pem'),
    });
    expect(missing.code).toBe(2);
    expect(missing.output.trim().split('\n')).toEqual([
      `ticketflow: invalid configuration: TEMPORAL_TLS_CA_FILE: cannot read ${path.join(secrets, 'no-such-ca.pem')} (ENOENT)`,
    ]);
    const notACertificate = secretFile('not-a-cert.pem', 'hello');
    const wrong = await runToExit('src/api/main.ts', { DATABASE_SSL_CA_FILE: notACertificate });
    expect(wrong.code).toBe(2);
    expect(wrong.output.trim().split('\n')).toEqual([
      `ticketflow: invalid configuration: DATABASE_SSL_CA_FILE: ${notACertificate}: expected a PEM certificate (-----BEGIN CERTIFICATE-----)`,
    ]);
  }, 90_000);

  // The rest in-process, on the worker's connection (Rust core) and the API's client (grpc-js).
  const base = () => ({ TEMPORAL_TLS_CA_FILE: pki.caFile, TEMPORAL_TLS_SERVER_NAME: 'temporal.test' });
  const cases: Array<[string, () => Record<string, string>, RegExp]> = [
    [
      'mTLS without a client certificate',
      () => ({ ...base(), TEMPORAL_ADDRESS: mtlsFront.address }),
      /the server requires a client certificate; set TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY/,
    ],
    [
      'a certificate for another name and no TEMPORAL_TLS_SERVER_NAME',
      () => ({ TEMPORAL_TLS_CA_FILE: pki.caFile, TEMPORAL_ADDRESS: keyFront.address, TEMPORAL_API_KEY }),
      /the server's certificate does not name 127\.0\.0\.1; set TEMPORAL_TLS_SERVER_NAME/,
    ],
    [
      'a wrong API key',
      () => ({ ...base(), TEMPORAL_ADDRESS: keyFront.address, TEMPORAL_API_KEY: 'not-the-key' }),
      /the TLS handshake succeeded, but .*\(check TEMPORAL_API_KEY\)$/,
    ],
    [
      'plaintext against a TLS port',
      () => ({ TEMPORAL_ADDRESS: keyFront.address }),
      /the server expects TLS; set TEMPORAL_TLS=true/,
    ],
    [
      'TLS against a plaintext port',
      () => ({ ...base(), TEMPORAL_ADDRESS: suiteConfig.TEMPORAL_ADDRESS }),
      /the server did not answer TLS; is 127\.0\.0\.1:\d+ a plaintext port\?/,
    ],
  ];
  test.each(cases)(
    '%s',
    async (_name, env, expected) => {
      const config = loadConfig(env());
      await expect(connectNativeTemporal(config)).rejects.toThrow(expected);
      await expect(connectTemporal(config, { connectTimeoutMs: 3_000 })).rejects.toThrow(expected);
    },
    60_000,
  );
});
