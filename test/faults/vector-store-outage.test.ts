import type { Client } from '@temporalio/client';
import { sleep, spawnWorker, type ManagedProcess, type PgliteProcess } from '../support/processes';
import { createTestDatabase, uniqueSuffix } from '../support/stack';
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
 * The vector database (PGlite + pgvector with a data directory, on a fixed port) goes away and comes back on
 * the same address with the same data. While it is gone, tickets escalate with `retrieval_unavailable` once
 * retrieval's retries are spent; a short blip is ridden out by the retries; afterwards service is normal.
 */

let rig: FaultRig | undefined;
let client: Client | undefined;
let database: Awaited<ReturnType<typeof createTestDatabase>> | undefined;
let vectorDb: PgliteProcess | undefined;
let worker: ManagedProcess | undefined;
let env: Record<string, string>;
let started: string[] = [];

beforeAll(async () => {
  database = await createTestDatabase(configFrom({}).DATABASE_URL);
  rig = await startFaultRig({
    name: 'vec',
    database,
    latencies: { classifyLatencyMs: 100, answerLatencyMs: 200 },
  });
  ({ client, env, started, vectorDb } = rig);
  worker = await spawnWorker(env);
}, 150_000);

afterAll(async () => {
  await rig?.close();
  await database?.drop();
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
