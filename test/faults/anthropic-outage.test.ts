import type { Client } from '@temporalio/client';
import { type FakeAnthropic, type FakeStep, type RecordedRequest } from '../support/fake-anthropic';
import { spawnWorker, type ManagedProcess } from '../support/processes';
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
 * The Anthropic API misbehaving, on the wire (the fake speaks the Messages API): rate limits with retry-after,
 * bursts of 529 overloaded, responses that never come, dropped connections. Transient trouble must end in
 * every ticket answered once; a permanent outage must end in `llm_unavailable` escalations, and service must
 * resume once the API does.
 */

let rig: FaultRig | undefined;
let fake: FakeAnthropic;
let client: Client | undefined;
let database: Awaited<ReturnType<typeof createTestDatabase>> | undefined;
let worker: ManagedProcess | undefined;
let env: Record<string, string>;
let started: string[] = [];

beforeAll(async () => {
  database = await createTestDatabase(configFrom({}).DATABASE_URL);
  rig = await startFaultRig({
    name: 'llm',
    database,
    latencies: { classifyLatencyMs: 100, answerLatencyMs: 200 },
    env: {
      // A hung response is abandoned after 1.5 s (the SDK timeout) and retried by Temporal.
      LLM_TIMEOUT_MS: '1500',
      LLM_RETRY_INITIAL_INTERVAL_MS: '200',
      LLM_RETRY_MAX_INTERVAL_MS: '1500',
      LLM_RETRY_MAX_ATTEMPTS: '12',
    },
  });
  ({ fake, client, env, started } = rig);
  worker = await spawnWorker(env);
}, 150_000);

afterAll(async () => {
  await rig?.close();
  await database?.drop();
}, 60_000);

/** The `(ref <tag>-<n>)` marker each batch ticket carries, read back from the prompt the fake received. */
function ticketRef(request: RecordedRequest): string | undefined {
  const messages = JSON.stringify(request.body.messages);
  return /\(ref ([a-z0-9]+-\d+)\)/.exec(messages)?.[1];
}

test('429 with retry-after, a burst of 529, hanging and dropped responses, then recovery: all answered once', async () => {
  fake.reset();
  const trouble: FakeStep[] = [
    ...Array.from(
      { length: 3 },
      (): FakeStep => ({ kind: 'error', status: 429, type: 'rate_limit_error', retryAfter: 1 }),
    ),
    ...Array.from({ length: 6 }, (): FakeStep => ({ kind: 'error', status: 529, type: 'overloaded_error' })),
    { kind: 'hang' },
    { kind: 'hang' },
    { kind: 'hang' },
    { kind: 'drop' },
    { kind: 'error', status: 500, type: 'api_error' },
  ];
  fake.setScript(trouble);
  const tag = uniqueSuffix();
  const tickets = Array.from({ length: 12 }, (_, i) => answerableTicket(i, tag));
  const ids = await submitBatch(client!, configFrom(env), tickets);
  started.push(...ids);

  const finished = await waitForAllFinished(client!, ids, 120_000);
  const report = await checkBookkeeping(database!.db, finished);
  expect(report.escalated).toEqual([]);
  expect(report.answered).toHaveLength(tickets.length);

  // Every fault was actually served, and each ticket still made exactly one successful call of each kind.
  expect(fake.pendingSteps()).toBe(0);
  const served = (kind: FakeStep['kind']) => fake.requests.filter((r) => r.handledBy === kind).length;
  expect({ errors: served('error'), hangs: served('hang'), drops: served('drop') }).toEqual({
    errors: 10,
    hangs: 3,
    drops: 1,
  });
  const successes = fake.requests.filter((r) => r.handledBy === 'smart');
  for (let i = 0; i < tickets.length; i++) {
    const mine = successes.filter((r) => ticketRef(r) === `${tag}-${i}`);
    expect({ ticket: i, kinds: mine.map((r) => r.kind).sort() }).toEqual({
      ticket: i,
      kinds: ['answer', 'classify'],
    });
  }
  // Every failed call was retried for the same ticket. Steps are served in arrival order, so the first three
  // error responses were the 429s: their `retry-after: 1` was honoured (the retry came a second later or more).
  const rateLimited = fake.requests.filter((r) => r.handledBy === 'error').slice(0, 3);
  for (const failed of fake.requests.filter((r) => r.handledBy !== 'smart')) {
    const retry = fake.requests.find(
      (r) =>
        r.receivedAt >= failed.receivedAt &&
        r !== failed &&
        r.kind === failed.kind &&
        ticketRef(r) === ticketRef(failed),
    );
    expect({ failed: failed.handledBy, retried: retry !== undefined }).toEqual({
      failed: failed.handledBy,
      retried: true,
    });
    if (rateLimited.includes(failed))
      expect(retry!.receivedAt - failed.receivedAt).toBeGreaterThanOrEqual(950);
  }
  logOutcome('anthropic-transient', tickets.length, report, {
    llmRequests: fake.requests.length,
    faultsServed: 14,
  });
}, 170_000);

test('a permanent outage escalates every ticket with llm_unavailable, and service resumes when the API does', async () => {
  fake.reset();
  // Down for good: overloaded, internal errors and dropped connections, far more than any retry budget.
  fake.setScript(
    Array.from(
      { length: 300 },
      (_, i): FakeStep =>
        i % 3 === 0
          ? { kind: 'error', status: 529 }
          : i % 3 === 1
            ? { kind: 'error', status: 500 }
            : { kind: 'drop' },
    ),
  );
  const outageConfig = configFrom({ ...env, LLM_RETRY_MAX_ATTEMPTS: '3' });
  const tag = uniqueSuffix();
  const down = await submitBatch(
    client!,
    outageConfig,
    Array.from({ length: 8 }, (_, i) => answerableTicket(i, tag)),
  );
  started.push(...down);
  const finished = await waitForAllFinished(client!, down, 120_000);
  const report = await checkBookkeeping(database!.db, finished);
  expect(report.answered).toEqual([]);
  expect(reasonCounts(report)).toEqual({ llm_unavailable: down.length });
  // The retry budget was spent, not exceeded: three classification attempts per ticket, no answer attempted.
  for (let i = 0; i < down.length; i++) {
    const mine = fake.requests.filter((r) => ticketRef(r) === `${tag}-${i}`);
    expect({ ticket: i, kinds: mine.map((r) => r.kind) }).toEqual({
      ticket: i,
      kinds: ['classify', 'classify', 'classify'],
    });
  }
  // The activity counted those failures itself (Temporal's retry policy has no attempt limit).
  const steps = await database!.db
    .selectFrom('ticket_steps')
    .select(['status', 'failures'])
    .where('workflow_id', 'in', down)
    .where('step', '=', 'classify')
    .execute();
  expect(steps).toEqual(down.map(() => ({ status: 'failed', failures: 3 })));
  logOutcome('anthropic-permanent-outage', down.length, report);

  // The API comes back: new tickets are answered normally by the same worker.
  fake.setScript([]);
  const recoveredTag = uniqueSuffix();
  const up = await submitBatch(
    client!,
    configFrom(env),
    Array.from({ length: 6 }, (_, i) => answerableTicket(i, recoveredTag)),
  );
  started.push(...up);
  const recovered = await checkBookkeeping(database!.db, await waitForAllFinished(client!, up, 90_000));
  expect(recovered.answered).toHaveLength(up.length);
  expect(worker!.running).toBe(true);
  logOutcome('anthropic-recovered', up.length, recovered);
}, 170_000);
