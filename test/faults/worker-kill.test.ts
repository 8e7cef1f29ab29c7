import type { Client } from '@temporalio/client';
import { type FakeAnthropic } from '../support/fake-anthropic';
import { spawnWorker, waitUntil, type ManagedProcess } from '../support/processes';
import { createTestDatabase, uniqueSuffix } from '../support/stack';
import {
  answerableTicket,
  configFrom,
  logOutcome,
  startFaultRig,
  startWebhookReceiver,
  submitBatch,
  type FaultRig,
} from './harness';
import { checkBookkeeping, waitForAllFinished } from '../support/bookkeeping';

/**
 * The worker process dies with SIGKILL (no shutdown, no goodbye to Temporal) three times, each time while the
 * fake Anthropic server holds an LLM request back, so every kill lands in the middle of an activity. Temporal times
 * the lost attempts out and retries them on the restarted worker; the idempotent activities must leave
 * exactly one of everything.
 */

const TICKETS = 15;
const KILLS = 3;

let rig: FaultRig | undefined;
let fake: FakeAnthropic;
let client: Client | undefined;
let database: Awaited<ReturnType<typeof createTestDatabase>> | undefined;
let receiver: Awaited<ReturnType<typeof startWebhookReceiver>> | undefined;
let env: Record<string, string>;
let workflowIds: string[] = [];

beforeAll(async () => {
  receiver = await startWebhookReceiver();
  database = await createTestDatabase(configFrom({}).DATABASE_URL);
  rig = await startFaultRig({
    name: 'kill',
    database,
    // Answers take long enough that a kill right after a request arrives always finds it in flight.
    latencies: { classifyLatencyMs: 600, answerLatencyMs: 1000 },
    env: {
      // LLM start-to-close is 2 × LLM_TIMEOUT_MS + 10 s = 13 s: how long a killed LLM attempt stays "running".
      LLM_TIMEOUT_MS: '1500',
      LLM_RETRY_INITIAL_INTERVAL_MS: '300',
      LLM_RETRY_MAX_INTERVAL_MS: '2000',
      OUTBOUND_WEBHOOK_URL: receiver.url,
    },
  });
  ({ fake, client, env, started: workflowIds } = rig);
}, 150_000);

afterAll(async () => {
  await rig?.close();
  await receiver?.close();
  await database?.drop();
}, 60_000);

test(`${TICKETS} tickets survive ${KILLS} SIGKILLs of the worker mid-activity: all answered, exactly once`, async () => {
  const config = configFrom(env);
  let worker: ManagedProcess = await spawnWorker(env, 'worker-1');
  const tag = uniqueSuffix();
  workflowIds.push(
    ...(await submitBatch(
      client!,
      config,
      Array.from({ length: TICKETS }, (_, i) => answerableTicket(i, tag)),
    )),
  );

  // Each kill lands while the fake holds an LLM request the worker sent: its activity is mid-flight.
  const killedMidRequest: boolean[] = [];
  for (let kill = 1; kill <= KILLS; kill++) {
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    fake.enqueue({ kind: 'smart', until: released });
    const held = await waitUntil(
      `an LLM request held before kill ${kill}`,
      async () => fake.requests.find((r) => r.held),
      90_000,
      20,
    );
    const openAtKill = held.respondedAt === undefined && held.abandonedAt === undefined;
    const exit = await worker.kill();
    expect(exit.signal).toBe('SIGKILL');
    // The killed worker's connection went down with it, with the request still unanswered.
    await waitUntil(`the held request abandoned by kill ${kill}`, async () => held.abandonedAt, 10_000, 20);
    killedMidRequest.push(openAtKill);
    release(); // the answer goes to a dead connection; Temporal retries the activity on the next worker
    worker = await spawnWorker(env, `worker-${kill + 1}`);
  }
  expect(killedMidRequest).toEqual(Array.from({ length: KILLS }, () => true));

  const finished = await waitForAllFinished(client!, workflowIds, 150_000);
  const report = await checkBookkeeping(database!.db, finished);
  // Nothing about a crash justifies a human: every ticket is answered by the AI.
  expect(report.escalated).toEqual([]);
  expect(report.answered).toHaveLength(TICKETS);

  // The kills really interrupted activities: some LLM step needed more than one attempt,
  // and the fake saw more LLM calls than a clean run makes (one classify + one answer per ticket).
  const retried = await database!.db
    .selectFrom('ticket_steps')
    .select(['workflow_id', 'step', 'attempts'])
    .where('workflow_id', 'in', workflowIds)
    .where('attempts', '>', 1)
    .execute();
  expect(retried.length).toBeGreaterThan(0);
  const llmCalls = fake.requests.filter((r) => r.kind === 'classify' || r.kind === 'answer').length;
  expect(llmCalls).toBeGreaterThan(2 * TICKETS);

  // The ticketing system may see a reply delivered more than once (at-least-once), but always with the same
  // event id and body, so deduping by X-Ticketflow-Event-Id yields exactly one reply per ticket.
  const outbox = await database!.db
    .selectFrom('outbox')
    .select(['workflow_id', 'body'])
    .where('workflow_id', 'in', workflowIds)
    .execute();
  for (const workflowId of workflowIds) {
    const replies = receiver!.deliveries.filter((d) => d.type === 'reply' && d.workflowId === workflowId);
    expect(replies.length).toBeGreaterThanOrEqual(1);
    expect(new Set(replies.map((d) => d.eventId)).size).toBe(1);
    expect(new Set(replies.map((d) => d.body))).toEqual(
      new Set([outbox.find((o) => o.workflow_id === workflowId)!.body]),
    );
  }
  expect(receiver!.deliveries.filter((d) => d.type !== 'reply')).toEqual([]);

  logOutcome('worker-sigkill', TICKETS, report, {
    kills: KILLS,
    retriedSteps: retried.length,
    llmCalls,
    webhookDeliveries: receiver!.deliveries.length,
  });
  await worker.stop();
}, 175_000);
