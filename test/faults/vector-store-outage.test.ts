import type { Client } from '@temporalio/client';
import { startFakeAnthropic, type FakeAnthropic } from '../support/fake-anthropic';
import {
  createPgliteProcess,
  sleep,
  spawnWorker,
  stopAllProcesses,
  type ManagedProcess,
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
  reasonCounts,
  submitBatch,
  terminateRunning,
  waitForAllFinished,
} from './harness';

/**
 * The vector database (PGlite + pgvector with a data directory, on a fixed port) goes away and comes back on
 * the same address with the same data. While it is gone, tickets escalate with `retrieval_unavailable` once
 * retrieval's retries are spent; a short blip is ridden out by the retries; afterwards service is normal.
 */

let fake: FakeAnthropic;
let client: Client | undefined;
let database: Awaited<ReturnType<typeof createTestDatabase>> | undefined;
let vectorDb: PgliteProcess | undefined;
let worker: ManagedProcess | undefined;
let env: Record<string, string>;
const started: string[] = [];

beforeAll(async () => {
  fake = await startFakeAnthropic({ classifyLatencyMs: 100, answerLatencyMs: 200 });
  database = await createTestDatabase(configFrom({}).DATABASE_URL);
  vectorDb = await createPgliteProcess();
  const tag = uniqueSuffix();
  env = faultEnv({
    DATABASE_URL: database.url,
    VECTOR_DATABASE_URL: vectorDb.url,
    KB_COLLECTION: `kb_fault_vec_${tag}`,
    TEMPORAL_TASK_QUEUE: `fault-vec-${tag}`,
    LLM_PROVIDER: 'anthropic',
    ANTHROPIC_API_KEY: 'sk-ant-fault-test',
    ANTHROPIC_BASE_URL: fake.url,
    LLM_TIMEOUT_MS: '2000',
  });
  await ingestFixtureKb(database.db, vectorDb.url, env.KB_COLLECTION!);
  client = await connectClient(configFrom(env));
  worker = await spawnWorker(env);
}, 150_000);

afterAll(async () => {
  await stopAllProcesses();
  if (client) {
    await terminateRunning(client, started);
    await client.connection.close();
  }
  await fake?.close();
  await database?.drop();
  await vectorDb?.destroy();
}, 60_000);

async function batch(count: number): Promise<string[]> {
  const tag = uniqueSuffix();
  const ids = await submitBatch(
    client!,
    configFrom(env),
    Array.from({ length: count }, (_, i) => answerableTicket(i, tag)),
  );
  started.push(...ids);
  return ids;
}

test('vector store down: tickets escalate with retrieval_unavailable; back on the same port: answered again', async () => {
  // Healthy baseline.
  const before = await checkBookkeeping(
    database!.db,
    await waitForAllFinished(client!, await batch(4), 60_000),
  );
  expect(before.answered).toHaveLength(4);

  await vectorDb!.stop();
  const down = await batch(6);
  const duringOutage = await checkBookkeeping(database!.db, await waitForAllFinished(client!, down, 90_000));
  expect(duringOutage.answered).toEqual([]);
  expect(reasonCounts(duringOutage)).toEqual({ retrieval_unavailable: down.length });
  // The human gets what is known: the classification is in the escalation record, the passages are not.
  const escalations = await database!.db
    .selectFrom('escalations')
    .selectAll()
    .where('workflow_id', 'in', down)
    .execute();
  for (const escalation of escalations) {
    expect(escalation.classification).toMatchObject({ intent: expect.any(String) });
    expect(escalation.passages).toEqual([]);
  }
  const failedSteps = await database!.db
    .selectFrom('ticket_steps')
    .select(['status', 'attempts'])
    .where('workflow_id', 'in', down)
    .where('step', '=', 'retrieve')
    .execute();
  expect(failedSteps).toHaveLength(down.length);
  expect(failedSteps.every((s) => s.status === 'failed' && s.attempts === 5)).toBe(true);
  logOutcome('vector-store-down', down.length, duringOutage);

  await vectorDb!.start();
  const after = await checkBookkeeping(
    database!.db,
    await waitForAllFinished(client!, await batch(6), 90_000),
  );
  expect(after.answered).toHaveLength(6);
  logOutcome('vector-store-back', 6, after);
  expect(worker!.running).toBe(true);
}, 175_000);

test('a short vector-store blip is ridden out by retrieval retries: every ticket is answered', async () => {
  await vectorDb!.stop();
  const ids = await batch(6);
  // Retrieval retries at about 1, 2, 4 and 8 s: back within the budget.
  await sleep(3_000);
  await vectorDb!.start();
  const report = await checkBookkeeping(database!.db, await waitForAllFinished(client!, ids, 90_000));
  expect(report.escalated).toEqual([]);
  expect(report.answered).toHaveLength(ids.length);
  const retried = await database!.db
    .selectFrom('ticket_steps')
    .select('attempts')
    .where('workflow_id', 'in', ids)
    .where('step', '=', 'retrieve')
    .execute();
  expect(retried.some((s) => s.attempts > 1)).toBe(true);
  logOutcome('vector-store-blip', ids.length, report);
}, 120_000);
