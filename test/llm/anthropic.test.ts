import { DEFAULT_INTENTS } from '../../src/config';
import type { Passage } from '../../src/domain/ticket';
import { AnthropicProvider, type AnthropicProviderOptions } from '../../src/llm/anthropic';
import { ANSWER_TOOL_NAME, CLASSIFY_TOOL_NAME } from '../../src/llm/structured-output';
import type { LlmError } from '../../src/llm/types';
import { apiKeyOf, startFakeAnthropic, type FakeAnthropic, type FakeStep } from '../support/fake-anthropic';
import { llmErrorOf } from '../support/llm-errors';

const TICKET = {
  subject: 'Charged twice',
  body: 'I was charged twice for my subscription this month. Please refund one payment.',
};

function passage(id: string, text: string, documentId = `doc-${id}`): Passage {
  return {
    id,
    documentId,
    title: `Title ${id}`,
    headingPath: [],
    text,
    score: 0.8,
    source: 'kb',
    intents: [],
  };
}

const PASSAGES = [
  passage(
    'kb-refunds-1',
    'Refunds for duplicate charges are issued within 5 business days. Open Billing and click Request refund.',
  ),
  passage('kb-billing-2', 'Invoices are available under Settings, Billing.'),
];

const VALID_CLASSIFICATION = {
  intent: 'billing',
  urgency: 'medium',
  confidence: 0.85,
  summary: 'Double charge',
  sentiment: 'neutral',
  language: 'en',
};

let fake: FakeAnthropic;

function provider(overrides: Partial<AnthropicProviderOptions> = {}): AnthropicProvider {
  return new AnthropicProvider({
    apiKey: 'test-key',
    baseURL: fake.url,
    models: { classify: 'claude-haiku-5-5', answer: 'claude-sonnet-5-5' },
    maxTokens: 512,
    timeoutMs: 5000,
    intents: DEFAULT_INTENTS,
    ...overrides,
  });
}

beforeAll(async () => {
  fake = await startFakeAnthropic();
});

afterEach(() => {
  // A scripted reply the real API could not give is a broken test, whatever the assertions said.
  expect(fake.scriptErrors).toEqual([]);
  fake.reset();
});

afterAll(async () => {
  await fake.close();
});

/**
 * The same behaviour through every way of asking for a structured result, with the model thinking or not: each
 * case is what the capability table picks (or an operator forces) for real model ids, and the stand-in refuses
 * whatever the real API would (thinking with forced tool use, `disabled` on Sonnet 5.5, forced tool use on
 * Opus 5.5...).
 */
interface PathCase {
  name: string;
  options: Partial<AnthropicProviderOptions>;
  path: 'json_schema' | 'forced_tool' | 'auto_tool';
  thinking: boolean;
}

const CASES: PathCase[] = [
  {
    name: 'JSON outputs, thinking off (the defaults: Haiku 5.5 disabled, Sonnet 5.5 between_tools)',
    options: {},
    path: 'json_schema',
    thinking: false,
  },
  {
    name: 'JSON outputs, thinking on (Opus 5.5, which cannot turn it off)',
    options: { models: { classify: 'claude-opus-5-5', answer: 'claude-opus-5-5' } },
    path: 'json_schema',
    thinking: true,
  },
  {
    name: 'forced tool use, thinking off (Haiku 5.5 and Sonnet 5 with thinking disabled)',
    options: {
      models: { classify: 'claude-haiku-5-5', answer: 'claude-sonnet-5' },
      structuredOutput: 'forced_tool',
    },
    path: 'forced_tool',
    thinking: false,
  },
  {
    name: 'tool_choice auto, thinking on (Opus 5.5)',
    options: {
      models: { classify: 'claude-opus-5-5', answer: 'claude-opus-5-5' },
      structuredOutput: 'auto_tool',
    },
    path: 'auto_tool',
    thinking: true,
  },
  {
    name: 'tool_choice auto, thinking off (Haiku 5.5, Sonnet 5.5 between_tools)',
    options: { structuredOutput: 'auto_tool' },
    path: 'auto_tool',
    thinking: false,
  },
];

describe.each(CASES)('$name', ({ options, path, thinking }) => {
  const toolChoice = { forced_tool: 'tool', auto_tool: 'auto', json_schema: undefined }[path];

  it('classifies: the request asks the way the model supports, the reply validates', async () => {
    const { classification, usage } = await provider(options).classify(TICKET);

    expect(classification).toMatchObject({ intent: 'billing', language: 'en' });
    expect(fake.requests).toHaveLength(1);
    const request = fake.requests[0]!;
    expect(apiKeyOf(request.headers)).toBe('test-key');
    expect(request.structured).toBe(path);
    expect(request.thinking).toBe(thinking);
    expect(request.kind).toBe('classify');
    expect(request.body.tool_choice?.type).toBe(toolChoice);
    if (path === 'json_schema') {
      expect(request.body.tools).toBeUndefined();
      const schema = request.body.output_config?.format?.schema as {
        properties: { intent: { enum: string[] } };
      };
      expect(schema.properties.intent.enum).toEqual([...DEFAULT_INTENTS]);
    } else {
      expect(request.body.tools?.map((t) => t.name)).toEqual([CLASSIFY_TOOL_NAME]);
    }
    const system = request.body.system as Array<{ cache_control?: { type: string } }>;
    expect(system[system.length - 1]!.cache_control).toEqual({ type: 'ephemeral' });
    expect(usage.outputTokens).toBeGreaterThan(0);
    expect(usage.costUsd).toBeGreaterThan(0);
  });

  it('answers from the passages, citing one it was given', async () => {
    const { answer } = await provider(options).answer(TICKET, PASSAGES);
    expect(answer).toEqual({
      kind: 'answer',
      reply: expect.stringContaining('Refunds'),
      citedPassageIds: ['kb-refunds-1'],
    });
    const request = fake.requests[0]!;
    expect(request.structured).toBe(path);
    expect(request.thinking).toBe(thinking);
    if (path !== 'json_schema') expect(request.body.tools?.map((t) => t.name)).toEqual([ANSWER_TOOL_NAME]);
    const prompt = JSON.stringify(request.body.messages);
    expect(prompt).toContain('<passage id=\\"kb-refunds-1\\"');
  });

  it('repairs an invalid result once, sending the error back (with any thinking block unchanged), and adds up usage', async () => {
    fake.setScript([{ kind: 'malformed' }]);
    const { classification, usage } = await provider(options).classify(TICKET);

    expect(classification.intent).toBe('billing');
    expect(fake.requests).toHaveLength(2);
    const [first, second] = fake.requests;
    const repairTurn = second!.body.messages[2]!;
    expect(repairTurn.role).toBe('user');
    expect(JSON.stringify(repairTurn.content)).toMatch(/confidence|intent/);
    const echoed = second!.body.messages[1]!.content as Array<{ type: string }>;
    // The stand-in refuses a thinking block it did not issue, so the repair passing proves it was echoed as is.
    expect(echoed.some((block) => block.type === 'thinking')).toBe(thinking);
    expect(first!.body.max_tokens).toBe(second!.body.max_tokens);
    expect(usage.inputTokens).toBeGreaterThan(0);
    expect(usage.outputTokens).toBeGreaterThan(0);
  });

  it('fails with invalid_model_output (non-retryable) when the repair is invalid too, keeping both calls’ usage', async () => {
    fake.setScript([{ kind: 'malformed' }, { kind: 'malformed' }]);
    const error = await llmErrorOf(provider(options).classify(TICKET));
    expect(error.type).toBe('invalid_model_output');
    expect(error.retryable).toBe(false);
    expect(fake.requests).toHaveLength(2);
    expect(error.usage?.outputTokens).toBeGreaterThan(0);
    expect(error.usage?.costUsd).toBeGreaterThan(0);
  });

  it('treats a refusal as invalid output without a repair, and keeps its billed tokens', async () => {
    fake.setScript([{ kind: 'refusal', category: 'general_harms' }]);
    const error = await llmErrorOf(provider(options).answer(TICKET, PASSAGES));
    expect(error.type).toBe('invalid_model_output');
    expect(error.message).toMatch(/refused.*general_harms/);
    expect(fake.requests).toHaveLength(1);
    expect(error.usage?.inputTokens).toBeGreaterThan(0);
    expect(error.usage?.costUsd).toBeGreaterThan(0);
  });
});

describe('tool_choice auto: the model may answer in words', () => {
  it('repairs a reply in prose (no tool call, no JSON) once', async () => {
    fake.setScript([{ kind: 'prose' }]);
    const { answer } = await provider({ structuredOutput: 'auto_tool' }).answer(TICKET, PASSAGES);
    expect(answer.kind).toBe('answer');
    expect(fake.requests).toHaveLength(2);
    expect(String(fake.requests[1]!.body.messages[2]!.content)).toMatch(
      /no call of the record_support_answer tool/,
    );
  });

  it('accepts JSON in a fenced text block without a repair round trip', async () => {
    fake.setScript([{ kind: 'fenced_json' }]);
    const { classification } = await provider({ structuredOutput: 'auto_tool' }).classify(TICKET);
    expect(classification.intent).toBe('billing');
    expect(fake.requests).toHaveLength(1);
  });
});

describe('max_tokens (thinking counts against it)', () => {
  it('asks again with twice the budget when a thinking reply was cut off, instead of resending the same max_tokens', async () => {
    const tight = await startFakeAnthropic({ thinkingTokens: 1500 });
    try {
      const llm = new AnthropicProvider({
        apiKey: 'k',
        baseURL: tight.url,
        models: { classify: 'claude-haiku-5-5', answer: 'claude-opus-5-5' },
        maxTokens: 300, // Opus 5.5 thinks: 300 + 3 × 300 headroom = 1200 < 1500 thinking tokens
        timeoutMs: 5000,
        intents: DEFAULT_INTENTS,
      });
      const { answer, usage } = await llm.answer(TICKET, PASSAGES);
      expect(answer.kind).toBe('answer');
      expect(tight.requests.map((r) => r.body.max_tokens)).toEqual([1200, 2400]);
      // The same question again, not a conversation about a truncated reply.
      expect(tight.requests[1]!.body.messages).toEqual(tight.requests[0]!.body.messages);
      expect(usage.outputTokens).toBeGreaterThan(1200 + 1500);
    } finally {
      await tight.close();
    }
  });
});

describe('when the API refuses the path the table chose', () => {
  it('falls back from JSON outputs to forced tool use, remembers it, and bills nothing for the refusal', async () => {
    const strict = await startFakeAnthropic({
      modelFacts: { 'claude-haiku-5-5': { structuredOutputs: false } },
    });
    const warn = jest.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    try {
      const llm = provider({ baseURL: strict.url });
      const first = await llm.classify(TICKET);
      await llm.classify(TICKET);
      expect(first.classification.intent).toBe('billing');
      expect(strict.requests.map((r) => [r.structured, r.handledBy])).toEqual([
        ['json_schema', 'rejected'],
        ['forced_tool', 'smart'],
        ['forced_tool', 'smart'],
      ]);
      expect(warn).toHaveBeenCalledWith(expect.stringMatching(/refused json_schema.*forced_tool/));
    } finally {
      warn.mockRestore();
      await strict.close();
    }
  });

  it('falls back from forced tool use to auto when a model refuses it after all', async () => {
    const strict = await startFakeAnthropic({
      modelFacts: { 'claude-haiku-5-5': { forcedToolChoice: false } },
    });
    const warn = jest.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    try {
      const { classification } = await provider({
        baseURL: strict.url,
        structuredOutput: 'forced_tool',
        models: { classify: 'claude-haiku-5-5', answer: 'claude-sonnet-5' },
      }).classify(TICKET);
      expect(classification.intent).toBe('billing');
      expect(strict.requests.map((r) => r.structured)).toEqual(['forced_tool', 'auto_tool']);
    } finally {
      warn.mockRestore();
      await strict.close();
    }
  });

  it('refuses at construction an override the model cannot do', () => {
    expect(() => provider({ structuredOutput: 'forced_tool' })).toThrow(
      /claude-sonnet-5-5: cannot use forced_tool/,
    );
  });
});

describe('prompt caching and billed input', () => {
  it('caches nothing below the model’s minimum prefix (our prompts are short), like the API', async () => {
    const llm = provider();
    const first = await llm.classify(TICKET);
    const second = await llm.classify(TICKET);
    expect(
      first.usage.cacheWriteTokens + second.usage.cachedInputTokens + second.usage.cacheWriteTokens,
    ).toBe(0);
  });

  it('writes the cache on the first call and reads it on the second when the prefix is long enough', async () => {
    const eager = await startFakeAnthropic({ minCacheTokens: 0 });
    try {
      const llm = provider({ baseURL: eager.url });
      const first = await llm.classify(TICKET);
      const second = await llm.classify({ subject: 'Other ticket', body: 'The export fails with an error.' });
      expect(first.usage.cacheWriteTokens).toBeGreaterThan(0);
      expect(second.usage.cacheWriteTokens).toBe(0);
      expect(second.usage.cachedInputTokens).toBe(first.usage.cacheWriteTokens);
      expect(JSON.stringify(eager.requests[1]!.body.system)).toBe(
        JSON.stringify(eager.requests[0]!.body.system),
      );
    } finally {
      await eager.close();
    }
  });

  it('bills the tool-use system prompt on the tool paths (313 tokens forced, 346 auto) and none with JSON outputs', async () => {
    const forced = await provider({
      structuredOutput: 'forced_tool',
      models: { classify: 'claude-haiku-5-5', answer: 'claude-sonnet-5' },
    }).classify(TICKET);
    const auto = await provider({ structuredOutput: 'auto_tool' }).classify(TICKET);
    // Identical requests but for tool_choice: the difference is the two prompts' sizes.
    expect(auto.usage.inputTokens - forced.usage.inputTokens).toBe(346 - 313);
    expect(forced.usage.inputTokens).toBeGreaterThan(313);
  });
});

describe('cost (hand-computed from the price list)', () => {
  const usage = (u: Record<string, unknown>): FakeStep[] => [
    { kind: 'success', toolInput: VALID_CLASSIFICATION, usage: u as never },
  ];

  it('Haiku 5.5 at $0.10 / $0.01 / $0.125 / $0.50 per MTok', async () => {
    fake.setScript(
      usage({
        input_tokens: 1000,
        cache_read_input_tokens: 5000,
        cache_creation_input_tokens: 3000,
        output_tokens: 200,
      }),
    );
    const { usage: u } = await provider().classify(TICKET);
    expect(u).toMatchObject({
      inputTokens: 1000,
      cachedInputTokens: 5000,
      cacheWriteTokens: 3000,
      outputTokens: 200,
    });
    // 1000×0.10 + 5000×0.01 + 3000×0.125 + 200×0.50 = 100 + 50 + 375 + 100 = 625 micro-dollars
    expect(u.costUsd).toBeCloseTo(0.000625, 12);
  });

  it('US-only inference (usage.inference_geo "us") at 1.1x, batch at half price, 1-hour cache writes at 2x input', async () => {
    fake.setScript([
      ...usage({
        input_tokens: 10_000,
        output_tokens: 1000,
        cache_read_input_tokens: 0,
        cache_creation_input_tokens: 0,
        inference_geo: 'us',
      }),
      ...usage({
        input_tokens: 10_000,
        output_tokens: 1000,
        cache_read_input_tokens: 0,
        cache_creation_input_tokens: 0,
        service_tier: 'batch',
      }),
      ...usage({
        input_tokens: 0,
        output_tokens: 0,
        cache_read_input_tokens: 0,
        cache_creation_input_tokens: 4000,
        cache_creation: { ephemeral_5m_input_tokens: 1000, ephemeral_1h_input_tokens: 3000 },
      }),
    ]);
    const llm = provider();
    // 10000×0.10 + 1000×0.50 = 1500 micro-dollars, ×1.1 and ×0.5
    expect((await llm.classify(TICKET)).usage.costUsd).toBeCloseTo(0.00165, 12);
    expect((await llm.classify(TICKET)).usage.costUsd).toBeCloseTo(0.00075, 12);
    // 1000×0.125 + 3000×0.20 = 725 micro-dollars
    expect((await llm.classify(TICKET)).usage.costUsd).toBeCloseTo(0.000725, 12);
  });

  it('Haiku 5.5 prompts over 100,000 tokens at its long-context rates ($0.50 / $2.50)', async () => {
    fake.setScript(
      usage({
        input_tokens: 120_000,
        output_tokens: 1000,
        cache_read_input_tokens: 0,
        cache_creation_input_tokens: 0,
      }),
    );
    // 120000×0.50 + 1000×2.50 = 62500 micro-dollars
    expect((await provider().classify(TICKET)).usage.costUsd).toBeCloseTo(0.0625, 12);
  });

  it('Sonnet 5.5 answers at $2 / $0.10 / $2.50 / $10', async () => {
    fake.setScript([
      {
        kind: 'success',
        toolInput: { status: 'answer', reply: 'Refunds take 5 days.', cited_passage_ids: ['kb-refunds-1'] },
        usage: {
          input_tokens: 2000,
          cache_read_input_tokens: 4000,
          cache_creation_input_tokens: 0,
          output_tokens: 300,
        },
      },
    ]);
    const { usage: u } = await provider().answer(TICKET, PASSAGES);
    // 2000×2 + 4000×0.10 + 300×10 = 7400 micro-dollars
    expect(u.costUsd).toBeCloseTo(0.0074, 12);
    expect(u.model).toBe('claude-sonnet-5-5');
  });

  it('does not call the API when there are no passages', async () => {
    const { answer, usage: u } = await provider().answer(TICKET, []);
    expect(answer.kind).toBe('cannot_answer');
    expect(u.costUsd).toBe(0);
    expect(fake.requests).toHaveLength(0);
  });
});

describe('answer validation', () => {
  it('treats a citation of a passage it was not given as invalid output and repairs it', async () => {
    fake.setScript([
      {
        kind: 'success',
        toolInput: { status: 'answer', reply: 'Refunds take 5 days.', cited_passage_ids: ['kb-invented-9'] },
      },
      {
        kind: 'success',
        toolInput: { status: 'answer', reply: 'Refunds take 5 days.', cited_passage_ids: ['kb-refunds-1'] },
      },
    ]);
    const { answer } = await provider().answer(TICKET, PASSAGES);
    expect(answer).toEqual({
      kind: 'answer',
      reply: 'Refunds take 5 days.',
      citedPassageIds: ['kb-refunds-1'],
    });
    expect(String(fake.requests[1]!.body.messages[2]!.content)).toContain('kb-invented-9');
  });

  it('returns a structured "cannot answer" with the model\'s reason', async () => {
    fake.setScript([
      {
        kind: 'success',
        toolInput: { status: 'cannot_answer', reason: 'The passages do not cover gift cards.' },
      },
    ]);
    const { answer } = await provider().answer(TICKET, PASSAGES);
    expect(answer).toEqual({ kind: 'cannot_answer', reason: 'The passages do not cover gift cards.' });
  });
});

describe('error mapping (the SDK never retries: Temporal does)', () => {
  const cases: Array<{ status: number; type: LlmError['type']; retryable: boolean }> = [
    { status: 529, type: 'overloaded', retryable: true },
    { status: 500, type: 'server_error', retryable: true },
    { status: 503, type: 'server_error', retryable: true },
    { status: 504, type: 'timeout', retryable: true },
    { status: 400, type: 'bad_request', retryable: false },
    { status: 401, type: 'authentication_failed', retryable: false },
    { status: 403, type: 'permission_denied', retryable: false },
    { status: 404, type: 'not_found', retryable: false },
  ];

  it.each(cases)('HTTP $status → $type', async ({ status, type, retryable }) => {
    fake.setScript([{ kind: 'error', status }]);
    const error = await llmErrorOf(provider().classify(TICKET));
    expect(error.type).toBe(type);
    expect(error.retryable).toBe(retryable);
    expect(error.status).toBe(status);
    expect(fake.requests).toHaveLength(1);
  });

  it('a spend-limit 429 (error_code enforced_spend_limit_reached) → llm_budget_exhausted, not retryable', async () => {
    fake.setScript([{ kind: 'spend_limit' }]);
    const error = await llmErrorOf(provider().classify(TICKET));
    expect(error).toMatchObject({ type: 'llm_budget_exhausted', status: 429 });
    expect(error.retryable).toBe(false);
    expect(error.message).toMatch(/enforced_spend_limit_reached/);
  });

  it.each(['contract_spend_limit_reached', 'linked_organization_spend_limit_reached'])(
    'error_code %s → llm_budget_exhausted',
    async (errorCode) => {
      fake.setScript([{ kind: 'spend_limit', errorCode }]);
      expect((await llmErrorOf(provider().classify(TICKET))).type).toBe('llm_budget_exhausted');
    },
  );

  it('a spend limit set in the Console (a 400 with no error code) → llm_budget_exhausted', async () => {
    fake.setScript([
      {
        kind: 'error',
        status: 400,
        message:
          'You have reached your specified API usage limits. You will regain access on 2026-12-01 at 00:00 UTC.',
      },
    ]);
    expect((await llmErrorOf(provider().classify(TICKET))).type).toBe('llm_budget_exhausted');
  });

  it('an ordinary 429 with retry-after (seconds) → rate_limited with retryAfterMs, retryable', async () => {
    fake.setScript([{ kind: 'error', status: 429, retryAfter: 7 }]);
    const error = await llmErrorOf(provider().classify(TICKET));
    expect(error).toMatchObject({ type: 'rate_limited', retryAfterMs: 7000, status: 429 });
    expect(error.retryable).toBe(true);
  });

  it('retry-after-ms wins over retry-after', async () => {
    fake.setScript([{ kind: 'error', status: 529, retryAfter: 30, retryAfterMs: 1500 }]);
    expect(await llmErrorOf(provider().classify(TICKET))).toMatchObject({
      type: 'overloaded',
      retryAfterMs: 1500,
    });
  });

  it('x-should-retry: false makes an otherwise retryable error final', async () => {
    fake.setScript([{ kind: 'error', status: 529, shouldRetry: false }]);
    const error = await llmErrorOf(provider().classify(TICKET));
    expect(error.type).toBe('overloaded');
    expect(error.retryable).toBe(false);
  });

  it('a dropped connection → network_error (retryable)', async () => {
    fake.setScript([{ kind: 'drop' }]);
    const error = await llmErrorOf(provider().classify(TICKET));
    expect(error.type).toBe('network_error');
    expect(error.retryable).toBe(true);
  });

  it('an unreachable server → network_error', async () => {
    const closed = await startFakeAnthropic();
    const url = closed.url;
    await closed.close();
    expect((await llmErrorOf(provider({ baseURL: url }).classify(TICKET))).type).toBe('network_error');
  });

  it('a server that never answers → timeout (retryable) after timeoutMs', async () => {
    fake.setScript([{ kind: 'hang' }]);
    const error = await llmErrorOf(provider({ timeoutMs: 300 }).classify(TICKET));
    expect(error.type).toBe('timeout');
    expect(error.retryable).toBe(true);
  });

  it('a body that stalls after the headers → timeout, not a bare AbortError', async () => {
    fake.setScript([{ kind: 'stall_body' }]);
    const error = await llmErrorOf(provider({ timeoutMs: 300 }).classify(TICKET));
    expect(error.type).toBe('timeout');
    expect(error.retryable).toBe(true);
  });

  it('an error during the repair keeps the usage of the first call', async () => {
    fake.setScript([{ kind: 'malformed' }, { kind: 'error', status: 529 }]);
    const error = await llmErrorOf(provider().classify(TICKET));
    expect(error.type).toBe('overloaded');
    expect(error.usage?.outputTokens).toBeGreaterThan(0);
  });

  it('a repair that times out keeps the usage of the first call', async () => {
    fake.setScript([{ kind: 'malformed' }, { kind: 'stall_body' }]);
    const error = await llmErrorOf(provider({ timeoutMs: 300 }).classify(TICKET));
    expect(error.type).toBe('timeout');
    expect(error.usage?.costUsd).toBeGreaterThan(0);
  });
});
