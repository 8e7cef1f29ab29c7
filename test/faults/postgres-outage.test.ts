import type { Client } from '@temporalio/client';
import pg from 'pg';
import pino from 'pino';
import type { FastifyInstance } from 'fastify';
import { createDb, migrateToLatest, type Db } from '../../src/db/database';
import { buildServer } from '../../src/server';
import path from 'node:path';
import { type FakeAnthropic } from '../support/fake-anthropic';
import {
  createDedicatedPostgres,
  ManagedProcess,
  sleep,
  spawnWorker,
  waitUntil,
  type DedicatedPostgres,
} from '../support/processes';
import { uniqueSuffix } from '../support/stack';
import { httpRequest } from '../api/helpers';
import {
  answerableTicket,
  configFrom,
  logOutcome,
  startFaultRig,
  submitBatch,
  type FaultRig,
} from './harness';
import { checkBookkeeping, reasonCounts, waitForAllFinished } from '../support/bookkeeping';

/**
 * Postgres (the interaction log, outbox, claim-check rows) goes away for ~20 s while a batch is in flight and
 * more tickets arrive, then comes back. A private cluster on its own port is stopped, never the shared one.
 * Bookkeeping activities retry without limit, so the outage delays tickets but must not lose or duplicate any.
 */

const BEFORE_OUTAGE = 8;
const DURING_OUTAGE = 6;
const OUTAGE_MS = 20_000;

let postgres: DedicatedPostgres | undefined;
let db: Db | undefined;
let rig: FaultRig | undefined;
let fake: FakeAnthropic;
let client: Client | undefined;
let env: Record<string, string>;
let workflowIds: string[] = [];
let apiToClose: { close: () => Promise<void> } | undefined;

beforeAll(async () => {
  postgres = await createDedicatedPostgres();
  const admin = new pg.Client({ connectionString: postgres.adminUrl });
  await admin.connect();
  await admin.query('CREATE DATABASE ticketflow');
  await admin.end();
  db = createDb(postgres.urlFor('ticketflow'), 3);
  await migrateToLatest(db);
  rig = await startFaultRig({
    name: 'pg',
    database: { url: postgres.urlFor('ticketflow'), db },
    latencies: { classifyLatencyMs: 300, answerLatencyMs: 600 },
    env: {
      // The default LLM budget (5 failed calls): Postgres errors during the outage must not spend it.
      LLM_RETRY_INITIAL_INTERVAL_MS: '500',
      LLM_RETRY_MAX_INTERVAL_MS: '4000',
    },
  });
  ({ fake, client, env, started: workflowIds } = rig);
}, 150_000);

afterAll(async () => {
  await apiToClose?.close();
  await rig?.close();
  await db?.destroy().catch(() => undefined);
  await postgres?.destroy();
}, 60_000);

/**
 * The API process (in this process), on its own pool to the same Postgres. It authenticates with the bootstrap
 * key from its environment (ADMIN_API_KEY): keys created with `keys create` live in Postgres and cannot be
 * checked while it is down.
 */
const INTAKE_KEY = 'tf_fault_postgres_outage_bootstrap_key_0123';
async function startApi(): Promise<{ url: string; close: () => Promise<void> }> {
  const config = configFrom({ ...env, ADMIN_API_KEY: INTAKE_KEY });
  const apiDb = createDb(config.DATABASE_URL, 2);
  const app: FastifyInstance = await buildServer(
    { config, db: apiDb, temporal: client!, logger: pino({ level: 'silent' }) },
    { defaultMetrics: false, docsUi: false },
  );
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  return {
    url,
    close: async () => {
      await app.close();
      await apiDb.destroy().catch(() => undefined);
    },
  };
}

test('a pooled connection that Postgres shuts down mid-transaction fails the query, not the process', async () => {
  // What an activity does in retrievePassages / recordResolution: a kysely transaction between two statements.
  const holder = new ManagedProcess(
    process.execPath,
    ['--import', 'tsx', path.join(__dirname, 'pool-child.ts')],
    {
      name: 'pool-child',
      env: { ...process.env, DATABASE_URL: postgres!.urlFor('ticketflow') },
      stdin: true,
    },
  );
  await holder.waitForOutput(/IN_TRANSACTION/, 30_000);
  await postgres!.stop();
  await sleep(1000); // the server's "terminating connection" message has reached the idle, checked-out client
  await postgres!.start();
  holder.writeLine('continue');
  await holder.waitForOutput(/QUERY_(FAILED|OK)/, 15_000).catch(() => undefined);
  holder.writeLine('continue');
  await holder.waitForOutput(/SURVIVED/, 15_000).catch(() => undefined);
  await holder.stop('SIGTERM', 5_000);
  // A dead connection must surface as a failed query (the activity retries); it must not kill the worker.
  expect(holder.output()).toMatch(/QUERY_FAILED[\s\S]*SURVIVED/);
}, 60_000);

test('Postgres stopped for 20 s under load, then started: every ticket finishes, nothing duplicated', async () => {
  const config = configFrom(env);
  const api = await startApi();
  apiToClose = api;
  let worker = await spawnWorker(env, 'worker');
  const tag = uniqueSuffix();
  const tickets = Array.from({ length: BEFORE_OUTAGE + DURING_OUTAGE }, (_, i) => answerableTicket(i, tag));

  workflowIds.push(...(await submitBatch(client!, config, tickets.slice(0, BEFORE_OUTAGE))));
  // Under load: LLM calls for the first tickets are under way when the database disappears.
  await waitUntil('first LLM calls', async () => fake.requests.length >= 3, 60_000, 50);
  await postgres!.stop();
  const outageStarted = Date.now();
  expect(postgres!.running()).toBe(false);
  // Intake does not need Postgres: more tickets arrive through the API during the outage, and are accepted.
  for (const ticket of tickets.slice(BEFORE_OUTAGE)) {
    const response = await httpRequest(api.url, 'POST', '/v1/tickets', { key: INTAKE_KEY, json: ticket });
    expect({ status: response.status, body: response.body }).toEqual({
      status: 202,
      body: { ticketId: ticket.externalId, workflowId: `ticket-${ticket.externalId}`, created: true },
    });
    workflowIds.push(response.body.workflowId);
  }
  await sleep(OUTAGE_MS - (Date.now() - outageStarted));
  await postgres!.start();

  // The worker should ride out the outage. If it died, note how, and restart it as a supervisor would, so the
  // rest of the run still shows whether tickets recover; the crash fails the test at the end.
  const crash = worker.running ? undefined : worker.tail(25);
  if (crash) worker = await spawnWorker(env, 'worker-restarted');

  const finished = await waitForAllFinished(client!, workflowIds, 120_000);
  // Reconnect the test's own pool (its connections died with the server).
  await db!.destroy();
  db = createDb(postgres!.urlFor('ticketflow'), 3);
  const report = await checkBookkeeping(db, finished);
  // An outage of our own database is not the customer's fault and spends no LLM or vector-store budget:
  // every ticket (all answerable) is answered once Postgres is back, none escalated.
  expect(reasonCounts(report)).toEqual({});
  expect(report.answered).toHaveLength(workflowIds.length);
  logOutcome('postgres-outage', workflowIds.length, report, {
    outageMs: OUTAGE_MS,
    workerCrashed: Boolean(crash),
  });
  await worker.stop();
  expect({ workerSurvivedOutage: crash === undefined, crash }).toEqual({
    workerSurvivedOutage: true,
    crash: undefined,
  });
}, 175_000);
