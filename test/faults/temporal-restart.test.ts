import type { Client } from '@temporalio/client';
import { startFakeAnthropic, type FakeAnthropic } from '../support/fake-anthropic';
import {
  createDedicatedTemporal,
  createPgliteProcess,
  sleep,
  spawnWorker,
  stopAllProcesses,
  waitUntil,
  type DedicatedTemporal,
  type PgliteProcess,
} from '../support/processes';
import { createTestDatabase, uniqueSuffix } from '../support/stack';
import {
  answerableTicket,
  checkBookkeeping,
  configFrom,
  connectClient,
  faultEnv,
  ingestFixtureKb,
  logOutcome,
  submitBatch,
  waitForAllFinished,
} from './harness';

/**
 * The Temporal server itself goes down mid-batch (SIGTERM, as an orchestrator stops it) and comes back on the
 * same SQLite file. A private dev server on its own ports is used, never the shared one. Workflow state lives
 * in Temporal, so every ticket must pick up where it was and finish, exactly once.
 */

const TICKETS = 12;
const DOWNTIME_MS = 10_000;

let temporal: DedicatedTemporal | undefined;
let fake: FakeAnthropic;
let client: Client | undefined;
let database: Awaited<ReturnType<typeof createTestDatabase>> | undefined;
let vectorDb: PgliteProcess | undefined;
let env: Record<string, string>;

beforeAll(async () => {
  temporal = await createDedicatedTemporal();
  fake = await startFakeAnthropic({ classifyLatencyMs: 500, answerLatencyMs: 1000 });
  database = await createTestDatabase(configFrom({}).DATABASE_URL);
  vectorDb = await createPgliteProcess();
  const tag = uniqueSuffix();
  env = faultEnv({
    TEMPORAL_ADDRESS: temporal.address,
    DATABASE_URL: database.url,
    VECTOR_DATABASE_URL: vectorDb.url,
    KB_COLLECTION: `kb_fault_temporal_${tag}`,
    TEMPORAL_TASK_QUEUE: `fault-temporal-${tag}`,
    LLM_PROVIDER: 'anthropic',
    ANTHROPIC_API_KEY: 'sk-ant-fault-test',
    ANTHROPIC_BASE_URL: fake.url,
    LLM_TIMEOUT_MS: '2000',
    LLM_RETRY_INITIAL_INTERVAL_MS: '300',
    LLM_RETRY_MAX_INTERVAL_MS: '2000',
  });
  await ingestFixtureKb(database.db, vectorDb.url, env.KB_COLLECTION!);
  client = await connectClient(configFrom(env));
}, 150_000);

afterAll(async () => {
  await stopAllProcesses();
  await client?.connection.close().catch(() => undefined);
  await fake?.close();
  await database?.drop();
  await vectorDb?.destroy();
  await temporal?.destroy();
}, 60_000);

test('Temporal stopped mid-batch and restarted on its SQLite file: every ticket finishes exactly once', async () => {
  const config = configFrom(env);
  let worker = await spawnWorker(env, 'worker');
  const tag = uniqueSuffix();
  const workflowIds = await submitBatch(
    client!,
    config,
    Array.from({ length: TICKETS }, (_, i) => answerableTicket(i, tag)),
  );

  // Mid-batch: some tickets are in their LLM calls, none is finished yet.
  await waitUntil('LLM calls under way', async () => fake.requests.length >= 4, 60_000, 50);
  await temporal!.stop();
  expect(temporal!.running()).toBe(false);
  const requestsWhenStopped = fake.requests.length;
  await sleep(DOWNTIME_MS);
  await temporal!.start();

  // The worker should wait for the server rather than exit. If it died, restart it (a supervisor would) so the
  // run still shows whether the tickets recover; the crash fails the test at the end.
  const crash = worker.running ? undefined : worker.tail(25);
  if (crash) worker = await spawnWorker(env, 'worker-restarted');

  const finished = await waitForAllFinished(client!, workflowIds, 150_000);
  const report = await checkBookkeeping(database!.db, finished);
  expect(report.escalated).toEqual([]);
  expect(report.answered).toHaveLength(TICKETS);
  // The outage really was mid-batch: work continued after the restart.
  expect(fake.requests.length).toBeGreaterThan(requestsWhenStopped);
  logOutcome('temporal-restart', TICKETS, report, { downtimeMs: DOWNTIME_MS, workerCrashed: Boolean(crash) });
  await worker.stop();
  expect({ workerSurvivedRestart: crash === undefined, crash }).toEqual({
    workerSurvivedRestart: true,
    crash: undefined,
  });
}, 175_000);
