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
import { resolveTicket } from '../../src/tickets';
import { TicketStage } from '../../src/temporal/search-attributes';
import {
  checkBookkeeping,
  finishedNow,
  reasonCounts,
  stuckActivity,
  waitForAllFinished,
} from '../support/bookkeeping';
import { waitUntil } from '../support/processes';

/**
 * The vector database (PGlite + pgvector with a data directory, on a fixed port) goes away and comes back on
 * the same address with the same data. While it is gone, tickets escalate with `retrieval_unavailable` once
 * retrieval's retries are spent; a short blip is ridden out by the retries; afterwards service is normal. A
 * human's answer given while it is gone reaches the customer at once; learning it waits for the store.
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

test('vector store down while a human resolves: the customer gets the reply at once, indexing completes when the store is back', async () => {
  const [workflowId] = await submitBatch(client!, configFrom(env), [
    {
      externalId: `fault-resolve-${uniqueSuffix()}`,
      subject: '',
      body: 'I would like to talk to a human about renewing our contract, please.',
      customer: {},
      channel: 'api',
    },
  ]);
  started.push(workflowId!);
  const [escalated] = await waitForAllFinished(client!, [workflowId!], 60_000);
  expect(escalated!.state).toBe('escalated');

  await vectorDb!.stop();
  const answer = 'Your account manager will call you today about the renewal.';
  const outcome = await resolveTicket({ temporal: client! }, workflowId!.slice('ticket-'.length), {
    agentId: 'agent-kim',
    answer,
    addToKnowledgeBase: true,
  });
  expect(outcome.accepted).toBe(true);

  // The reply is delivered while the store is still down...
  const reply = await waitUntil(
    'the human reply in the outbox',
    async () =>
      database!.db
        .selectFrom('outbox')
        .select(['source', 'body', 'delivered_at'])
        .where('workflow_id', '=', workflowId!)
        .where('delivered_at', 'is not', null)
        .executeTakeFirst(),
    30_000,
    200,
  );
  expect(reply).toMatchObject({ source: 'human', body: answer });
  // ...while learning it keeps failing and is retried.
  const indexing = await waitUntil(
    'indexResolution retried',
    () => stuckActivity(client!, workflowId!, 2),
    60_000,
    500,
  );
  expect(indexing.activity).toBe('indexResolution');
  const description = await client!.workflow.getHandle(workflowId!).describe();
  expect(description.status.name).toBe('RUNNING');
  expect(description.typedSearchAttributes.get(TicketStage)).toBe('resolved');
  const unlearned = await database!.db
    .selectFrom('resolutions')
    .select('kb_outcome')
    .where('workflow_id', '=', workflowId!)
    .executeTakeFirstOrThrow();
  expect(unlearned.kb_outcome).toBeNull();

  await vectorDb!.start();
  await client!.workflow.getHandle(workflowId!).result();
  const report = await checkBookkeeping(database!.db, await finishedNow(client!, [workflowId!]));
  expect(report.resolved).toEqual([{ workflowId, reason: 'customer_requested_human' }]);
  const learned = await database!.db
    .selectFrom('resolutions')
    .select(['kb_outcome', 'kb_document_id'])
    .where('workflow_id', '=', workflowId!)
    .executeTakeFirstOrThrow();
  expect(learned).toEqual({ kb_outcome: 'indexed', kb_document_id: `resolution-${workflowId}` });
  const document = await database!.db
    .selectFrom('kb_documents')
    .select(['source', 'chunk_count'])
    .where('id', '=', `resolution-${workflowId}`)
    .executeTakeFirstOrThrow();
  expect(document.source).toBe('resolution');
  expect(document.chunk_count).toBeGreaterThan(0);
  expect(worker!.running).toBe(true);
}, 150_000);
