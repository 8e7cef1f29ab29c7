import { DEFAULT_INTENTS } from '../../src/config';
import type { Passage } from '../../src/domain/ticket';
import { AnthropicProvider, type AnthropicProviderOptions } from '../../src/llm/anthropic';
import { ANSWER_TOOL_NAME, CLASSIFY_TOOL_NAME } from '../../src/llm/structured-output';
import { LlmError } from '../../src/llm/types';
import { apiKeyOf, startFakeAnthropic, type FakeAnthropic } from '../support/fake-anthropic';

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

let fake: FakeAnthropic;

function provider(overrides: Partial<AnthropicProviderOptions> = {}): AnthropicProvider {
  return new AnthropicProvider({
    apiKey: 'test-key',
    baseURL: fake.url,
    models: { classify: 'claude-haiku-4-5', answer: 'claude-sonnet-4-6' },
    maxTokens: 512,
    timeoutMs: 5000,
    intents: DEFAULT_INTENTS,
    ...overrides,
  });
}

async function expectLlmError(promise: Promise<unknown>): Promise<LlmError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(LlmError);
    return error as LlmError;
  }
  throw new Error('expected the call to fail with an LlmError');
}

beforeAll(async () => {
  fake = await startFakeAnthropic();
});

afterEach(() => fake.reset());

afterAll(async () => {
  await fake.close();
});

describe('AnthropicProvider.classify', () => {
  it('forces the classification tool, caches the system prompt and returns a validated classification', async () => {
    const { classification, usage } = await provider().classify(TICKET);

    expect(classification).toMatchObject({ intent: 'billing', language: 'en' });
    expect(classification.confidence).toBeGreaterThan(0);
    expect(fake.requests).toHaveLength(1);
    const request = fake.requests[0]!;
    expect(apiKeyOf(request.headers)).toBe('test-key');
    expect(request.body.model).toBe('claude-haiku-4-5');
    expect(request.body.tool_choice).toMatchObject({ type: 'tool', name: CLASSIFY_TOOL_NAME });
    expect(request.body.tools?.map((t) => t.name)).toEqual([CLASSIFY_TOOL_NAME]);
    const schema = request.body.tools?.[0]?.input_schema as { properties: { intent: { enum: string[] } } };
    expect(schema.properties.intent.enum).toEqual([...DEFAULT_INTENTS]);
    expect(Array.isArray(request.body.system)).toBe(true);
    const system = request.body.system as Array<{ text: string; cache_control?: { type: string } }>;
    expect(system[system.length - 1]!.cache_control).toEqual({ type: 'ephemeral' });
    expect(JSON.stringify(request.body.messages)).toContain('charged twice');
    expect(usage.model).toBe('claude-haiku-4-5');
    expect(usage.outputTokens).toBeGreaterThan(0);
  });

  it('writes the prompt cache on the first call and reads it on the second', async () => {
    const llm = provider();
    const first = await llm.classify(TICKET);
    const second = await llm.classify({ subject: 'Other ticket', body: 'The export fails with an error.' });

    expect(first.usage.cacheWriteTokens).toBeGreaterThan(0);
    expect(first.usage.cachedInputTokens).toBe(0);
    expect(second.usage.cacheWriteTokens).toBe(0);
    expect(second.usage.cachedInputTokens).toBe(first.usage.cacheWriteTokens);
    // Identical system blocks across tickets are what makes the cache hit possible.
    expect(JSON.stringify(fake.requests[1]!.body.system)).toBe(JSON.stringify(fake.requests[0]!.body.system));
  });

  it('prices each call from the token counts (hand-computed: Haiku 4.5 at $1 / $0.10 / $1.25 / $5 per MTok)', async () => {
    fake.setScript([
      {
        kind: 'success',
        toolInput: {
          intent: 'billing',
          urgency: 'medium',
          confidence: 0.9,
          summary: 'Double charge',
          sentiment: 'neutral',
          language: 'en',
        },
        usage: {
          input_tokens: 1000,
          cache_read_input_tokens: 5000,
          cache_creation_input_tokens: 3000,
          output_tokens: 200,
        },
      },
    ]);
    const { usage } = await provider().classify(TICKET);
    expect(usage).toMatchObject({
      inputTokens: 1000,
      cachedInputTokens: 5000,
      cacheWriteTokens: 3000,
      outputTokens: 200,
    });
    // 1000×1 + 5000×0.10 + 3000×1.25 + 200×5 = 6250 micro-dollars
    expect(usage.costUsd).toBeCloseTo(0.00625, 12);
  });

  it('accepts JSON in a fenced text block as a fallback without a repair round trip', async () => {
    fake.setScript([{ kind: 'fenced_json' }]);
    const { classification } = await provider().classify(TICKET);
    expect(classification.intent).toBe('billing');
    expect(fake.requests).toHaveLength(1);
  });

  it('repairs malformed tool input once, sending the validation error back, and adds up the usage', async () => {
    fake.setScript([
      {
        kind: 'success',
        toolInput: {
          intent: 'shipping',
          urgency: 'soon',
          confidence: 2,
          summary: '',
          sentiment: 'neutral',
          language: 'English',
        },
        usage: {
          input_tokens: 300,
          output_tokens: 40,
          cache_creation_input_tokens: 1000,
          cache_read_input_tokens: 0,
        },
      },
      {
        kind: 'success',
        toolInput: {
          intent: 'billing',
          urgency: 'medium',
          confidence: 0.85,
          summary: 'Double charge',
          sentiment: 'neutral',
          language: 'en',
        },
        usage: {
          input_tokens: 420,
          output_tokens: 45,
          cache_creation_input_tokens: 0,
          cache_read_input_tokens: 1000,
        },
      },
    ]);
    const { classification, usage } = await provider().classify(TICKET);

    expect(classification.intent).toBe('billing');
    expect(fake.requests).toHaveLength(2);
    const firstToolUse = fake.requests[1]!.body.messages[1]!;
    expect(firstToolUse.role).toBe('assistant');
    const toolUseBlock = (firstToolUse.content as Array<Record<string, unknown>>).find(
      (b) => b.type === 'tool_use',
    )!;
    const repair = fake.requests[1]!.body.messages[2]!;
    expect(repair.role).toBe('user');
    const toolResult = (repair.content as Array<Record<string, unknown>>)[0]!;
    expect(toolResult).toMatchObject({ type: 'tool_result', tool_use_id: toolUseBlock.id, is_error: true });
    expect(String(toolResult.content)).toMatch(/intent/);
    expect(String(toolResult.content)).toMatch(/confidence/);

    expect(usage).toMatchObject({
      inputTokens: 720,
      outputTokens: 85,
      cacheWriteTokens: 1000,
      cachedInputTokens: 1000,
    });
    // (720×1 + 1000×0.10 + 1000×1.25 + 85×5) = 2495 micro-dollars
    expect(usage.costUsd).toBeCloseTo(0.002495, 12);
  });

  it('fails with invalid_model_output (non-retryable) when the repair is malformed too, keeping the usage', async () => {
    fake.setScript([{ kind: 'malformed' }, { kind: 'malformed' }]);
    const error = await expectLlmError(provider().classify(TICKET));
    expect(error.type).toBe('invalid_model_output');
    expect(error.retryable).toBe(false);
    expect(error.usage?.inputTokens).toBeGreaterThan(0);
    expect(fake.requests).toHaveLength(2);
  });

  it('treats a refusal as invalid output without a repair attempt', async () => {
    fake.setScript([{ kind: 'success', text: 'I cannot help with that.', stopReason: 'refusal' }]);
    const error = await expectLlmError(provider().classify(TICKET));
    expect(error.type).toBe('invalid_model_output');
    expect(fake.requests).toHaveLength(1);
  });

  it('falls back to tool_choice auto for a model that rejects forced tool use, and remembers it', async () => {
    fake.setScript([
      { kind: 'error', status: 400, message: 'tool_choice: forced tool use is not supported for this model' },
    ]);
    const llm = provider();
    const { classification } = await llm.classify(TICKET);
    await llm.classify(TICKET);

    expect(classification.intent).toBe('billing');
    expect(fake.requests.map((r) => r.body.tool_choice?.type)).toEqual(['tool', 'auto', 'auto']);
  });
});

describe('AnthropicProvider.answer', () => {
  it('gives passages with ids, forces the answer tool and returns the cited reply', async () => {
    const { answer, usage } = await provider().answer(TICKET, PASSAGES);

    expect(answer).toEqual({
      kind: 'answer',
      reply: expect.stringContaining('Refunds'),
      citedPassageIds: ['kb-refunds-1'],
    });
    const request = fake.requests[0]!;
    expect(request.body.model).toBe('claude-sonnet-4-6');
    expect(request.body.tool_choice).toMatchObject({ type: 'tool', name: ANSWER_TOOL_NAME });
    const prompt = JSON.stringify(request.body.messages);
    expect(prompt).toContain('<passage id=\\"kb-refunds-1\\"');
    expect(prompt).toContain('<passage id=\\"kb-billing-2\\"');
    const system = request.body.system as Array<{ cache_control?: { type: string } }>;
    expect(system[system.length - 1]!.cache_control).toEqual({ type: 'ephemeral' });
    expect(usage.model).toBe('claude-sonnet-4-6');
  });

  it('returns a structured "cannot answer" with the model\'s reason', async () => {
    fake.setScript([
      {
        kind: 'success',
        toolInput: { status: 'cannot_answer', reason: 'The passages do not cover refunds for gift cards.' },
      },
    ]);
    const { answer } = await provider().answer(TICKET, PASSAGES);
    expect(answer).toEqual({
      kind: 'cannot_answer',
      reason: 'The passages do not cover refunds for gift cards.',
    });
  });

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
    const repair = fake.requests[1]!.body.messages[2]!.content as Array<Record<string, unknown>>;
    expect(String(repair[0]!.content)).toContain('kb-invented-9');
  });

  it('rejects an answer without citations, twice, as invalid_model_output', async () => {
    const uncited = {
      kind: 'success' as const,
      toolInput: { status: 'answer', reply: 'Sure, done.', cited_passage_ids: [] },
    };
    fake.setScript([uncited, uncited]);
    const error = await expectLlmError(provider().answer(TICKET, PASSAGES));
    expect(error.type).toBe('invalid_model_output');
  });

  it('prices answers at the answer model (hand-computed: Sonnet 4.5 at $3 / $0.30 / $3.75 / $15 per MTok)', async () => {
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
    const { usage } = await provider().answer(TICKET, PASSAGES);
    // 2000×3 + 4000×0.30 + 300×15 = 11700 micro-dollars
    expect(usage.costUsd).toBeCloseTo(0.0117, 12);
  });

  it('does not call the API when there are no passages', async () => {
    const { answer, usage } = await provider().answer(TICKET, []);
    expect(answer.kind).toBe('cannot_answer');
    expect(usage.costUsd).toBe(0);
    expect(fake.requests).toHaveLength(0);
  });
});

describe('AnthropicProvider error mapping (the SDK never retries: Temporal does)', () => {
  const cases: Array<{ status: number; type: LlmError['type']; retryable: boolean }> = [
    { status: 529, type: 'overloaded', retryable: true },
    { status: 500, type: 'server_error', retryable: true },
    { status: 503, type: 'server_error', retryable: true },
    { status: 400, type: 'bad_request', retryable: false },
    { status: 401, type: 'authentication_failed', retryable: false },
    { status: 403, type: 'permission_denied', retryable: false },
    { status: 404, type: 'not_found', retryable: false },
  ];

  it.each(cases)('HTTP $status → $type', async ({ status, type, retryable }) => {
    fake.setScript([{ kind: 'error', status }]);
    const error = await expectLlmError(provider().classify(TICKET));
    expect(error.type).toBe(type);
    expect(error.retryable).toBe(retryable);
    expect(error.status).toBe(status);
    expect(fake.requests).toHaveLength(1);
  });

  it('HTTP 429 with retry-after (seconds) → rate_limited with retryAfterMs', async () => {
    fake.setScript([{ kind: 'error', status: 429, retryAfter: 7 }]);
    const error = await expectLlmError(provider().classify(TICKET));
    expect(error).toMatchObject({ type: 'rate_limited', retryAfterMs: 7000, status: 429 });
    expect(error.retryable).toBe(true);
    expect(fake.requests).toHaveLength(1);
  });

  it('retry-after-ms wins over retry-after', async () => {
    fake.setScript([{ kind: 'error', status: 529, retryAfter: 30, retryAfterMs: 1500 }]);
    const error = await expectLlmError(provider().classify(TICKET));
    expect(error).toMatchObject({ type: 'overloaded', retryAfterMs: 1500 });
  });

  it('a dropped connection → network_error (retryable)', async () => {
    fake.setScript([{ kind: 'drop' }]);
    const error = await expectLlmError(provider().classify(TICKET));
    expect(error.type).toBe('network_error');
    expect(error.retryable).toBe(true);
    expect(fake.requests).toHaveLength(1);
  });

  it('an unreachable server → network_error', async () => {
    const closed = await startFakeAnthropic();
    const url = closed.url;
    await closed.close();
    const error = await expectLlmError(provider({ baseURL: url }).classify(TICKET));
    expect(error.type).toBe('network_error');
  });

  it('a server that never answers → timeout (retryable) after timeoutMs', async () => {
    fake.setScript([{ kind: 'hang' }]);
    const error = await expectLlmError(provider({ timeoutMs: 300 }).classify(TICKET));
    expect(error.type).toBe('timeout');
    expect(error.retryable).toBe(true);
  });

  it('an error during the repair attempt keeps the usage of the first attempt', async () => {
    fake.setScript([{ kind: 'malformed' }, { kind: 'error', status: 529 }]);
    const error = await expectLlmError(provider().classify(TICKET));
    expect(error.type).toBe('overloaded');
    expect(error.usage?.outputTokens).toBeGreaterThan(0);
  });
});
