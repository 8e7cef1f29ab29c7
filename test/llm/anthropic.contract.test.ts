import Anthropic from '@anthropic-ai/sdk';
import { DEFAULT_INTENTS, loadConfig } from '../../src/config';
import { classificationSchema, type Passage } from '../../src/domain/ticket';
import { AnthropicProvider, type AnthropicProviderOptions } from '../../src/llm/anthropic';
import { buildPriceTable } from '../../src/llm/cost';
import { llmErrorOf } from '../support/llm-errors';
import { startFakeAnthropic, type FakeAnthropic } from '../support/fake-anthropic';

/**
 * What ticketflow relies on from the Anthropic Messages API, checked always against the wire-level stand-in every
 * other suite uses (started here with a fixed key and model list, as the real API has), and against the real API
 * when ANTHROPIC_CONTRACT=1 and ANTHROPIC_API_KEY are set (about a dozen small calls, a few cents). The same cases
 * run on both: the stand-in passing them is what lets the rest trust it, and the real API passing them is what
 * checks the capability table (src/llm/models.ts) where ticketflow depends on it: each way of asking for a
 * structured result, with thinking on and off, and the refusals the table steers around.
 */

interface Target {
  baseURL: string;
  apiKey: string;
}

const config = loadConfig({});
const MODELS = { classify: config.ANTHROPIC_CLASSIFY_MODEL, answer: config.ANTHROPIC_ANSWER_MODEL };
/** A model that always thinks (it cannot be turned off): the thinking-on case. */
const THINKING_MODEL = 'claude-opus-5-5';
/** Allows forced tool use once thinking is disabled. */
const FORCED_TOOL_MODEL = 'claude-haiku-5-5';

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
    const provider = (overrides: Partial<AnthropicProviderOptions> = {}) =>
      new AnthropicProvider({
        apiKey: target().apiKey,
        baseURL: target().baseURL,
        models: MODELS,
        maxTokens: config.LLM_MAX_TOKENS,
        timeoutMs: 60_000,
        intents: DEFAULT_INTENTS,
        prices: buildPriceTable(config.LLM_PRICES),
        effort: { classify: config.ANTHROPIC_CLASSIFY_EFFORT },
        ...overrides,
      });
    const raw = () => new Anthropic({ apiKey: target().apiKey, baseURL: target().baseURL, maxRetries: 0 });

    async function apiStatus(params: Anthropic.Messages.MessageCreateParamsNonStreaming): Promise<number> {
      return raw()
        .messages.create(params)
        .then(
          () => 200,
          (error: unknown) => (error instanceof Anthropic.APIError ? (error.status ?? 0) : -1),
        );
    }

    const expectClassified = async (llm: AnthropicProvider) => {
      const { classification, usage } = await llm.classify(TICKET);
      expect(classificationSchema(DEFAULT_INTENTS).parse(classification)).toEqual(classification);
      expect(classification.intent).toBe('billing');
      expect(usage.inputTokens + usage.cachedInputTokens + usage.cacheWriteTokens).toBeGreaterThan(0);
      expect(usage.outputTokens).toBeGreaterThan(0);
      expect(usage.costUsd).toBeGreaterThan(0);
    };

    const expectAnswered = async (llm: AnthropicProvider) => {
      const { answer, usage } = await llm.answer(TICKET, PASSAGES);
      expect(answer.kind).toBe('answer');
      if (answer.kind !== 'answer') return;
      expect(answer.reply.length).toBeGreaterThan(20);
      expect(answer.citedPassageIds.length).toBeGreaterThan(0);
      for (const id of answer.citedPassageIds) expect(PASSAGES.map((p) => p.id)).toContain(id);
      expect(usage.outputTokens).toBeGreaterThan(0);
    };

    test('classify on the default model: JSON outputs, thinking off, a valid classification with usage and price', async () => {
      await expectClassified(provider());
    }, 90_000);

    test('answer on the default model: the reply cites only passage ids it was given', async () => {
      await expectAnswered(provider());
    }, 90_000);

    test(`answer with thinking on (${THINKING_MODEL}, which always thinks): JSON outputs still validate`, async () => {
      await expectAnswered(provider({ models: { classify: MODELS.classify, answer: THINKING_MODEL } }));
    }, 120_000);

    test(`classify through forced tool use (${FORCED_TOOL_MODEL} with thinking disabled)`, async () => {
      await expectClassified(
        provider({
          models: { classify: FORCED_TOOL_MODEL, answer: FORCED_TOOL_MODEL },
          structuredOutput: 'forced_tool',
        }),
      );
    }, 90_000);

    test('answer through tool_choice auto with thinking on (default answer model asked to think)', async () => {
      await expectAnswered(provider({ structuredOutput: 'auto_tool', answerThinking: true }));
    }, 120_000);

    test(`forced tool use while ${FORCED_TOOL_MODEL} thinks (its default) is a 400: why the table turns thinking off first`, async () => {
      const status = await apiStatus({
        model: FORCED_TOOL_MODEL,
        max_tokens: 64,
        messages: [{ role: 'user', content: 'Say hi with the tool.' }],
        tools: [{ name: 'say', input_schema: { type: 'object', properties: { text: { type: 'string' } } } }],
        tool_choice: { type: 'tool', name: 'say' },
      });
      expect(status).toBe(400);
    }, 90_000);

    test(`thinking "disabled" on ${MODELS.answer} is a 400: why the table sends between_tools there`, async () => {
      const status = await apiStatus({
        model: MODELS.answer,
        max_tokens: 64,
        thinking: { type: 'disabled' },
        messages: [{ role: 'user', content: 'Say hi.' }],
      });
      expect(status).toBe(400);
    }, 90_000);

    test('a wrong API key is authentication_failed, not retryable', async () => {
      const error = await llmErrorOf(
        new AnthropicProvider({
          apiKey: 'sk-ant-api03-not-a-real-key',
          baseURL: target().baseURL,
          models: MODELS,
          maxTokens: 256,
          timeoutMs: 60_000,
          intents: DEFAULT_INTENTS,
        }).classify(TICKET),
      );
      expect({ type: error.type, retryable: error.retryable, status: error.status }).toEqual({
        type: 'authentication_failed',
        retryable: false,
        status: 401,
      });
    }, 90_000);

    test('a model that does not exist is not_found, not retryable', async () => {
      const warn = jest.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
      try {
        const error = await llmErrorOf(
          provider({ models: { ...MODELS, classify: 'claude-no-such-model-0' } }).classify(TICKET),
        );
        expect({ type: error.type, retryable: error.retryable, status: error.status }).toEqual({
          type: 'not_found',
          retryable: false,
          status: 404,
        });
      } finally {
        warn.mockRestore();
      }
    }, 90_000);
  });
}

const FAKE_KEY = 'sk-ant-contract-fake';
let fake: FakeAnthropic | undefined;

beforeAll(async () => {
  fake = await startFakeAnthropic({
    apiKeys: [FAKE_KEY],
    models: [MODELS.classify, MODELS.answer, THINKING_MODEL, FORCED_TOOL_MODEL],
  });
});
afterAll(async () => {
  expect(fake?.scriptErrors).toEqual([]);
  await fake?.close();
});

contract('Anthropic contract: the wire-level stand-in (test/support/fake-anthropic.ts)', () => ({
  baseURL: fake!.url,
  apiKey: FAKE_KEY,
}));

const REAL_KEY = process.env.ANTHROPIC_CONTRACT === '1' ? process.env.ANTHROPIC_API_KEY : undefined;
const realTitle = REAL_KEY
  ? `Anthropic contract: the real API at ${process.env.ANTHROPIC_BASE_URL ?? 'https://api.anthropic.com'}`
  : 'Anthropic contract: the real API — SKIPPED: api.anthropic.com cannot be reached from this machine; set ANTHROPIC_CONTRACT=1 and ANTHROPIC_API_KEY to run it';

(REAL_KEY ? describe : describe.skip)(realTitle, () => {
  contract('models from config', () => ({
    baseURL: process.env.ANTHROPIC_BASE_URL ?? 'https://api.anthropic.com',
    apiKey: REAL_KEY!,
  }));
});
