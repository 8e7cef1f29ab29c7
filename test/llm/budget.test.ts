import { DEFAULT_INTENTS } from '../../src/config';
import { getEmbedder } from '../../src/kb/embedder';
import { AnthropicProvider } from '../../src/llm/anthropic';
import {
  monthStart,
  SpendGuardedProvider,
  type BudgetExhausted,
  type SpendGuardOptions,
} from '../../src/llm/budget';
import { LocalProvider } from '../../src/llm/local';
import { llmErrorOf } from '../support/llm-errors';
import { startFakeAnthropic, type FakeAnthropic } from '../support/fake-anthropic';
import { DEFAULT_EMBEDDING_MODEL } from '../../src/kb/models';

/**
 * The spend guard around the real Anthropic provider, talking to the wire-level stand-in: with a monthly budget
 * it stops calling the model once the logged spend reaches it (escalating, or answering with the local provider),
 * and an API spend limit gets the same treatment. The "log" is a function here; the workflow test reads the real
 * one (ticket_steps) through src/metrics/queries.ts.
 */

const TICKET = { subject: 'Refund', body: 'I was charged twice, please refund one payment.' };
const embedder = getEmbedder(DEFAULT_EMBEDDING_MODEL, process.env.MODELS_DIR ?? 'models');

let fake: FakeAnthropic;
beforeAll(async () => {
  fake = await startFakeAnthropic();
});
afterEach(() => fake.reset());
afterAll(async () => {
  await fake.close();
});

const anthropic = () =>
  new AnthropicProvider({
    apiKey: 'k',
    baseURL: fake.url,
    models: { classify: 'claude-haiku-5-5', answer: 'claude-sonnet-5-5' },
    maxTokens: 512,
    timeoutMs: 5000,
    intents: DEFAULT_INTENTS,
  });

/** A spend log that answers `logged` and remembers what it was asked. */
function ledger(logged: number) {
  const asked: Date[] = [];
  return {
    asked,
    spendSince: async (since: Date) => {
      asked.push(since);
      return logged;
    },
  };
}

function guard(options: Partial<SpendGuardOptions> & Pick<SpendGuardOptions, 'spendSince'>) {
  const told: BudgetExhausted[] = [];
  const llm = new SpendGuardedProvider(anthropic(), { onExhausted: (info) => told.push(info), ...options });
  return { llm, told };
}

test('under the budget it calls the model and counts what the calls cost', async () => {
  const log = ledger(0.5);
  const { llm, told } = guard({ monthlyBudgetUsd: 1, spendSince: log.spendSince });
  const { usage } = await llm.classify(TICKET);
  expect(fake.requests).toHaveLength(1);
  expect(await llm.monthSpendUsd()).toBeCloseTo(0.5 + usage.costUsd, 12);
  expect(told).toEqual([]);
});

test('once the month’s logged spend reaches the budget: llm_budget_exhausted at once, no call, the operator told once', async () => {
  const log = ledger(1);
  const { llm, told } = guard({ monthlyBudgetUsd: 1, spendSince: log.spendSince });
  for (let i = 0; i < 3; i++) {
    const error = await llmErrorOf(i % 2 ? llm.answer(TICKET, []) : llm.classify(TICKET));
    expect(error.type).toBe('llm_budget_exhausted');
    expect(error.retryable).toBe(false);
    expect(error.message).toMatch(/budget of \$1.*no call was made/);
  }
  expect(fake.requests).toHaveLength(0);
  expect(told).toEqual([expect.objectContaining({ source: 'monthly_budget', action: 'escalate' })]);
  // The log was read once, for the calendar month (UTC).
  expect(log.asked).toEqual([monthStart(new Date())]);
});

test('the calls of this process count at once, before the log shows them: the call that crosses the budget is the last', async () => {
  const { llm } = guard({ monthlyBudgetUsd: 0.000001, spendSince: ledger(0).spendSince, refreshMs: 60_000 });
  await llm.classify(TICKET); // $0.00003 or so: over the budget now
  expect((await llmErrorOf(llm.classify(TICKET))).type).toBe('llm_budget_exhausted');
  expect(fake.requests).toHaveLength(1);
});

test('a new month starts from what the log says for it', async () => {
  let now = new Date('2026-11-30T23:59:00Z');
  const spend: Record<string, number> = { '2026-11-01T00:00:00.000Z': 5, '2026-12-01T00:00:00.000Z': 0 };
  const { llm, told } = guard({
    monthlyBudgetUsd: 5,
    spendSince: async (since) => spend[since.toISOString()] ?? NaN,
    now: () => now,
  });
  expect((await llmErrorOf(llm.classify(TICKET))).type).toBe('llm_budget_exhausted');
  now = new Date('2026-12-01T00:00:01Z');
  await llm.classify(TICKET);
  expect(fake.requests).toHaveLength(1);
  expect(told.map((t) => t.month)).toEqual(['2026-11']);
});

describe('LLM_OVER_BUDGET=local', () => {
  const local = new LocalProvider({ embedder, intents: DEFAULT_INTENTS });
  beforeAll(async () => {
    await local.classify(TICKET); // loads the embedding model before the clock matters
  }, 120_000);

  test('over the budget the local provider answers instead, and nothing reaches the API', async () => {
    const { llm, told } = guard({ monthlyBudgetUsd: 1, spendSince: ledger(2).spendSince, overBudget: local });
    const { classification, usage } = await llm.classify(TICKET);
    expect(classification.intent).toBe('billing');
    expect(usage).toMatchObject({ model: 'local', costUsd: 0 });
    expect(fake.requests).toHaveLength(0);
    expect(told).toEqual([expect.objectContaining({ action: 'fallback' })]);
  });

  test('an API spend limit (429 enforced_spend_limit_reached) is answered locally too, after that one call', async () => {
    fake.setScript([{ kind: 'spend_limit' }]);
    const { llm, told } = guard({ spendSince: ledger(0).spendSince, overBudget: local });
    const { classification, usage } = await llm.classify(TICKET);
    expect(classification.intent).toBe('billing');
    expect(usage.model).toBe('local');
    expect(fake.requests).toHaveLength(1);
    expect(told).toEqual([expect.objectContaining({ source: 'api_spend_limit', action: 'fallback' })]);
  });
});

test('without a fallback an API spend limit stays llm_budget_exhausted (the ticket escalates)', async () => {
  fake.setScript([{ kind: 'spend_limit' }]);
  const { llm, told } = guard({ spendSince: ledger(0).spendSince });
  expect((await llmErrorOf(llm.classify(TICKET))).type).toBe('llm_budget_exhausted');
  expect(told).toEqual([expect.objectContaining({ source: 'api_spend_limit', action: 'escalate' })]);
});
