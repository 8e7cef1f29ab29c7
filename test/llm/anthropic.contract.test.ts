import { DEFAULT_INTENTS, loadConfig } from '../../src/config';
import { classificationSchema, type Passage } from '../../src/domain/ticket';
import { AnthropicProvider } from '../../src/llm/anthropic';
import { buildPriceTable } from '../../src/llm/cost';
import { LlmError } from '../../src/llm/types';
import { startFakeAnthropic, type FakeAnthropic } from '../support/fake-anthropic';

/**
 * What ticketflow relies on from the Anthropic Messages API, checked through AnthropicProvider: always against
 * the wire-level stand-in every other suite uses (started here with a fixed key and model list, as the real
 * API has), and against the real API when ANTHROPIC_CONTRACT=1 and ANTHROPIC_API_KEY are set (a handful of
 * small calls: it costs a few cents). The stand-in passing the same suite is what lets the rest trust it.
 */

interface Target {
  baseURL: string;
  apiKey: string;
  models: { classify: string; answer: string };
}

const config = loadConfig({});
const MODELS = { classify: config.ANTHROPIC_CLASSIFY_MODEL, answer: config.ANTHROPIC_ANSWER_MODEL };

const TICKET = {
  subject: 'Charged twice',
  body: 'I was charged twice for my Pro subscription this month. How do I get the duplicate payment refunded?',
};

const PASSAGES: Passage[] = [
  {
    id: 'kb-refunds-1',
    documentId: 'refunds',
    title: 'Refunds',
    headingPath: ['Duplicate charges'],
    text: 'Duplicate charges are refunded in full. Open Settings, Billing, select the payment and click Request refund. The money is back on your card within 5 business days.',
    score: 0.82,
    source: 'kb',
    intents: ['billing'],
  },
  {
    id: 'kb-invoices-2',
    documentId: 'invoices',
    title: 'Invoices',
    headingPath: [],
    text: 'Invoices are available as PDF under Settings, Billing, Invoices.',
    score: 0.51,
    source: 'kb',
    intents: ['billing'],
  },
];

function contract(describeTitle: string, target: () => Target) {
  describe(describeTitle, () => {
    const provider = (overrides: Partial<Target> = {}) => {
      const t = { ...target(), ...overrides };
      return new AnthropicProvider({
        apiKey: t.apiKey,
        baseURL: t.baseURL,
        models: t.models,
        maxTokens: config.LLM_MAX_TOKENS,
        timeoutMs: 60_000,
        intents: DEFAULT_INTENTS,
        prices: buildPriceTable(config.LLM_PRICES),
      });
    };

    async function llmError(promise: Promise<unknown>): Promise<LlmError> {
      const error = await promise.then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(LlmError);
      return error as LlmError;
    }

    test('classify: the forced tool call yields a classification that validates, with usage and a price', async () => {
      const { classification, usage } = await provider().classify(TICKET);
      expect(classificationSchema(DEFAULT_INTENTS).parse(classification)).toEqual(classification);
      expect(classification.intent).toBe('billing');
      expect(usage.model).toMatch(/^claude-/);
      expect(usage.inputTokens + usage.cachedInputTokens + usage.cacheWriteTokens).toBeGreaterThan(0);
      expect(usage.outputTokens).toBeGreaterThan(0);
      expect(usage.costUsd).toBeGreaterThan(0);
    }, 90_000);

    test('answer: the reply cites only passage ids it was given', async () => {
      const { answer, usage } = await provider().answer(TICKET, PASSAGES);
      expect(answer.kind).toBe('answer');
      if (answer.kind !== 'answer') return;
      expect(answer.reply.length).toBeGreaterThan(20);
      expect(answer.citedPassageIds.length).toBeGreaterThan(0);
      for (const id of answer.citedPassageIds) expect(PASSAGES.map((p) => p.id)).toContain(id);
      expect(usage.outputTokens).toBeGreaterThan(0);
    }, 90_000);

    test('a wrong API key is authentication_failed, not retryable', async () => {
      const error = await llmError(provider({ apiKey: 'sk-ant-api03-not-a-real-key' }).classify(TICKET));
      expect({ type: error.type, retryable: error.retryable, status: error.status }).toEqual({
        type: 'authentication_failed',
        retryable: false,
        status: 401,
      });
    }, 90_000);

    test('a model that does not exist is not_found, not retryable', async () => {
      const error = await llmError(
        provider({ models: { ...target().models, classify: 'claude-no-such-model-0' } }).classify(TICKET),
      );
      expect({ type: error.type, retryable: error.retryable, status: error.status }).toEqual({
        type: 'not_found',
        retryable: false,
        status: 404,
      });
    }, 90_000);
  });
}

const FAKE_KEY = 'sk-ant-contract-fake';
let fake: FakeAnthropic | undefined;

beforeAll(async () => {
  fake = await startFakeAnthropic({ apiKeys: [FAKE_KEY], models: [MODELS.classify, MODELS.answer] });
});
afterAll(async () => {
  await fake?.close();
});

contract('Anthropic contract: the wire-level stand-in (test/support/fake-anthropic.ts)', () => ({
  baseURL: fake!.url,
  apiKey: FAKE_KEY,
  models: MODELS,
}));

const REAL_KEY = process.env.ANTHROPIC_CONTRACT === '1' ? process.env.ANTHROPIC_API_KEY : undefined;
const realTitle = REAL_KEY
  ? `Anthropic contract: the real API at ${process.env.ANTHROPIC_BASE_URL ?? 'https://api.anthropic.com'}`
  : 'Anthropic contract: the real API — SKIPPED: api.anthropic.com cannot be reached from this machine; set ANTHROPIC_CONTRACT=1 and ANTHROPIC_API_KEY to run it';

(REAL_KEY ? describe : describe.skip)(realTitle, () => {
  contract('models from config', () => ({
    baseURL: process.env.ANTHROPIC_BASE_URL ?? 'https://api.anthropic.com',
    apiKey: REAL_KEY!,
    models: MODELS,
  }));
});
