import type { Client } from '@temporalio/client';
import { type FakeAnthropic } from '../support/fake-anthropic';
import {
  createDedicatedTemporal,
  sleep,
  spawnWorker,
  waitUntil,
  type DedicatedTemporal,
} from '../support/processes';
import { createTestDatabase, uniqueSuffix } from '../support/stack';
import {
  answerableTicket,
  configFrom,
  logOutcome,
  startFaultRig,
  submitBatch,
  type FaultRig,
} from './harness';
import { checkBookkeeping, waitForAllFinished } from '../support/bookkeeping';

/**
 * The Temporal server itself goes down mid-batch (SIGTERM, as an orchestrator stops it) and comes back on the
 * same SQLite file. A private dev server on its own ports is used, never the shared one. Workflow state lives
 * in Temporal, so every ticket must pick up where it was and finish, exactly once.
 */

const TICKETS = 12;
const DOWNTIME_MS = 10_000;

let temporal: DedicatedTemporal | undefined;
let rig: FaultRig | undefined;
let fake: FakeAnthropic;
let client: Client | undefined;
let database: Awaited<ReturnType<typeof createTestDatabase>> | undefined;
let env: Record<string, string>;

beforeAll(async () => {
  temporal = await createDedicatedTemporal();
  database = await createTestDatabase(configFrom({}).DATABASE_URL);
  rig = await startFaultRig({
    name: 'temporal',
    database,
    latencies: { classifyLatencyMs: 500, answerLatencyMs: 1000 },
    env: {
      TEMPORAL_ADDRESS: temporal.address,
      LLM_RETRY_INITIAL_INTERVAL_MS: '300',
      LLM_RETRY_MAX_INTERVAL_MS: '2000',
    },
  });
  ({ fake, client, env } = rig);
}, 150_000);

afterAll(async () => {
  await rig?.close();
  await database?.drop();
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
