import type { Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import type { FakeAnthropic } from '../support/fake-anthropic';
import { freePort, spawnWorker, waitUntil, type ManagedProcess } from '../support/processes';
import { createTestDatabase, uniqueSuffix } from '../support/stack';
import {
  answerableTicket,
  checkBookkeeping,
  configFrom,
  logOutcome,
  startFaultRig,
  submitBatch,
  waitForAllFinished,
  type FaultRig,
} from './harness';

/**
 * A rolling update or scale-down sends the worker SIGTERM while LLM answers are in flight. The worker must stop
 * taking tasks, let those activities finish within WORKER_SHUTDOWN_GRACE_MS, and exit 0; a second worker takes
 * the rest. No activity may have needed a retry: attempt 1 everywhere, one LLM call per step.
 * (Before graceful shutdown was configured, the grace time was the SDK's 0: SIGTERM cancelled the answers in
 * flight and they ran again on the next worker, attempt 2.)
 */

const TICKETS = 4;
const EventType = temporal.api.enums.v1.EventType;

let rig: FaultRig | undefined;
let fake: FakeAnthropic;
let client: Client | undefined;
let database: Awaited<ReturnType<typeof createTestDatabase>> | undefined;
let env: Record<string, string>;
let workflowIds: string[] = [];

beforeAll(async () => {
  database = await createTestDatabase(configFrom({}).DATABASE_URL);
  rig = await startFaultRig({
    name: 'drain',
    database,
    // Answers take 4 s: a SIGTERM right after one arrives always finds it in flight.
    latencies: { classifyLatencyMs: 300, answerLatencyMs: 4000 },
    env: { LLM_TIMEOUT_MS: '20000', WORKER_SHUTDOWN_GRACE_MS: '30000' },
  });
  ({ fake, client, env, started: workflowIds } = rig);
}, 150_000);

afterAll(async () => {
  await rig?.close();
  await database?.drop();
}, 60_000);

test('SIGTERM mid-ticket drains the worker: in-flight answers finish, it exits 0, and nothing is retried', async () => {
  const config = configFrom(env);
  const healthPort = await freePort();
  const first: ManagedProcess = await spawnWorker(
    { ...env, WORKER_HEALTH_PORT: String(healthPort) },
    'worker-1',
  );
  const tag = uniqueSuffix();
  workflowIds.push(
    ...(await submitBatch(
      client!,
      config,
      Array.from({ length: TICKETS }, (_, i) => answerableTicket(i, tag)),
    )),
  );

  await waitUntil(
    'an answer request in flight',
    async () => fake.requests.some((r) => r.kind === 'answer'),
    90_000,
    20,
  );
  const signalledAt = Date.now();
  const inFlightAtSignal = fake.requests.filter((r) => r.kind === 'answer').length;
  const stopping = first.stop('SIGTERM', 60_000);
  // While it drains, the worker reports itself not ready (its state is no longer RUNNING).
  const draining = await waitUntil(
    'not ready while draining',
    async () => {
      const response = await fetch(`http://127.0.0.1:${healthPort}/readyz`);
      return response.status === 503 ? ((await response.json()) as { failed: string[] }) : undefined;
    },
    3_000,
    100,
  );
  expect(draining.failed).toEqual(['worker']);
  const exit = await stopping;
  expect({ exit, output: exit.code === 0 ? 'ok' : first.tail() }).toEqual({
    exit: { code: 0, signal: null },
    output: 'ok',
  });
  expect(first.output()).toMatch(/shutting down: no new tasks/);
  expect(first.output()).toMatch(/worker drained; exiting/);
  // The worker waited for the answer (4 s), not for the whole grace time (30 s).
  expect(Date.now() - signalledAt).toBeLessThan(25_000);

  const second = await spawnWorker(env, 'worker-2');
  const finished = await waitForAllFinished(client!, workflowIds, 120_000);
  const report = await checkBookkeeping(database!.db, finished);
  expect(report.answered).toHaveLength(TICKETS);

  // Attempt 1 everywhere, and no failed, timed-out or cancelled activity or workflow task in any history.
  const firstIdentity = `${first.pid}@`;
  let completedByDrainingWorker = 0;
  for (const workflowId of workflowIds) {
    const history = await client!.workflow.getHandle(workflowId).fetchHistory();
    const events = history.events ?? [];
    const attempts = events
      .filter((e) => e.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED)
      .map((e) => e.activityTaskStartedEventAttributes?.attempt);
    expect({ workflowId, attempts }).toEqual({ workflowId, attempts: attempts.map(() => 1) });
    const trouble = events
      .filter((e) =>
        [
          EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED,
          EventType.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT,
          EventType.EVENT_TYPE_ACTIVITY_TASK_CANCELED,
          EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED,
        ].includes(e.eventType ?? EventType.EVENT_TYPE_UNSPECIFIED),
      )
      .map((e) => EventType[e.eventType ?? 0]);
    expect({ workflowId, trouble }).toEqual({ workflowId, trouble: [] });
    // An activity the first worker had started before SIGTERM and completed after it: drained, not abandoned.
    for (const completed of events.filter(
      (e) => e.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED,
    )) {
      const startedId = completed.activityTaskCompletedEventAttributes?.startedEventId;
      const started = events.find((e) => e.eventId?.toString() === startedId?.toString());
      const completedAt = Number(completed.eventTime?.seconds?.toString() ?? 0) * 1000;
      if (
        started?.activityTaskStartedEventAttributes?.identity?.startsWith(firstIdentity) &&
        completedAt >= signalledAt - 1000
      )
        completedByDrainingWorker++;
    }
  }
  expect(completedByDrainingWorker).toBeGreaterThanOrEqual(inFlightAtSignal > 0 ? 1 : 0);
  expect(completedByDrainingWorker).toBeGreaterThan(0);

  const retried = await database!.db
    .selectFrom('ticket_steps')
    .select(['workflow_id', 'step', 'attempts'])
    .where('workflow_id', 'in', workflowIds)
    .where('attempts', '>', 1)
    .execute();
  expect(retried).toEqual([]);
  // One classify and one answer per ticket: no LLM call was repeated.
  expect(fake.requests.filter((r) => r.kind === 'classify')).toHaveLength(TICKETS);
  expect(fake.requests.filter((r) => r.kind === 'answer')).toHaveLength(TICKETS);

  logOutcome('worker-sigterm-drain', TICKETS, report, { inFlightAtSignal, completedByDrainingWorker });
  await second.stop();
}, 240_000);
