import { createApiMetrics } from '../../src/metrics/prometheus';
import { statusQuery } from '../../workflows/definitions';
import type { FakeAnthropic } from '../support/fake-anthropic';
import { eventually, startClaudeTestStack, type TestStack } from '../support/stack';

/**
 * The spend guard through the real workflow: a spend limit, the API's or LLM_MONTHLY_BUDGET_USD, escalates the
 * ticket at once with its own reason (not after a round of retries as `llm_unavailable`), and /metrics shows it.
 * The budget here is smaller than one classification costs, so the second ticket crosses it.
 */

/** USD; one Haiku 5.5 classification through the stand-in costs about four times this. */
const BUDGET = 0.00001;
const REFUND_TICKET =
  'I paid for the annual plan two weeks ago and want my money back. How do I request a refund?';

let fake: FakeAnthropic;
let stack: TestStack;

beforeAll(async () => {
  ({ fake, stack } = await startClaudeTestStack({ LLM_MONTHLY_BUDGET_USD: String(BUDGET) }));
});

afterAll(async () => {
  await stack?.close();
  await fake?.close();
});

beforeEach(() => fake.reset());

async function escalated(body: string) {
  const handle = await stack.submit({ body });
  const status = await eventually(async () => {
    const s = await handle.query(statusQuery);
    return s.stage === 'escalated' ? s : undefined;
  });
  const steps = await stack.db
    .selectFrom('ticket_steps')
    .selectAll()
    .where('workflow_id', '=', handle.workflowId)
    .execute();
  const escalations = await stack.db
    .selectFrom('escalations')
    .selectAll()
    .where('workflow_id', '=', handle.workflowId)
    .execute();
  await handle.terminate('test cleanup');
  return { status, steps, escalations, step: (name: string) => steps.find((s) => s.step === name) };
}

test('a spend-limit 429 escalates the ticket once, with llm_budget_exhausted, after exactly one call', async () => {
  fake.setScript([{ kind: 'spend_limit' }]);
  const { status, escalations, step } = await escalated(REFUND_TICKET);

  expect(status.escalationReason).toBe('llm_budget_exhausted');
  expect(fake.requests).toHaveLength(1);
  expect(fake.requests[0]!.kind).toBe('classify');
  expect(escalations).toHaveLength(1);
  expect(escalations[0]!.reason).toBe('llm_budget_exhausted');
  // Not retried: one attempt, one failure, logged with the reason.
  expect(step('classify')).toMatchObject({ status: 'failed', attempts: 1, failures: 1 });
  expect(step('classify')!.detail).toMatchObject({ error: 'llm_budget_exhausted' });
  expect(step('generate')).toBeUndefined();
});

test('the classification that crosses LLM_MONTHLY_BUDGET_USD is the last call: generation is refused without one', async () => {
  const { status, step } = await escalated(REFUND_TICKET);

  expect(status.escalationReason).toBe('llm_budget_exhausted');
  expect(fake.requests.map((r) => r.kind)).toEqual(['classify']);
  expect(Number(step('classify')!.cost_usd)).toBeGreaterThan(BUDGET);
  expect(step('generate')).toMatchObject({ status: 'failed', attempts: 1, cost_usd: 0 });
  expect(step('generate')!.detail).toMatchObject({ error: 'llm_budget_exhausted' });
});

test('once over the budget a ticket escalates without any call to the model', async () => {
  const { status, step } = await escalated(REFUND_TICKET);

  expect(status.escalationReason).toBe('llm_budget_exhausted');
  expect(fake.requests).toHaveLength(0);
  expect(step('classify')).toMatchObject({ status: 'failed', attempts: 1, cost_usd: 0 });
});

test('/metrics shows the escalations by reason, the month’s spend and the budget', async () => {
  const metrics = createApiMetrics(stack.db, { defaultMetrics: false, llmMonthlyBudgetUsd: BUDGET });
  const text = await metrics.registry.metrics();
  expect(text).toContain('ticketflow_escalations{reason="llm_budget_exhausted"} 3');
  expect(text).toContain(`ticketflow_llm_monthly_budget_usd ${BUDGET}`);
  const spend = Number(/^ticketflow_llm_spend_month_usd (\S+)$/m.exec(text)?.[1]);
  expect(spend).toBeGreaterThan(BUDGET);
});
