import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../src/config';
import { getEmbedder } from '../../src/kb/embedder';
import { createLlmProvider } from '../../src/llm';
import { startFakeAnthropic, type FakeAnthropic } from '../support/fake-anthropic';
import { DEFAULT_EMBEDDING_MODEL } from '../../src/kb/models';

const embedder = getEmbedder(DEFAULT_EMBEDDING_MODEL, process.env.MODELS_DIR ?? 'models');
let fake: FakeAnthropic;

beforeAll(async () => {
  fake = await startFakeAnthropic();
});
afterAll(async () => {
  await fake.close();
});

describe('createLlmProvider', () => {
  it('is local without an API key (LLM_PROVIDER=auto)', () => {
    expect(createLlmProvider(loadConfig({}), { embedder }).name).toBe('local');
  });

  it('is Anthropic with a key, configured from the environment end to end', async () => {
    const config = loadConfig({
      ANTHROPIC_API_KEY: 'sk-test',
      ANTHROPIC_BASE_URL: fake.url,
      ANTHROPIC_CLASSIFY_MODEL: 'claude-haiku-4-5-20251001',
      LLM_MAX_TOKENS: '300',
      INTENTS: 'billing,shipping,other',
      LLM_PRICES: '{"claude-haiku-4-5": {"input": 2}}',
    });
    const llm = createLlmProvider(config, { embedder });
    expect(llm.name).toBe('anthropic');
    const { classification, usage } = await llm.classify({
      subject: 'Refund',
      body: 'Please refund my last payment',
    });
    expect(classification.intent).toBe('billing');
    const request = fake.requests[0]!;
    expect(request.body.model).toBe('claude-haiku-4-5-20251001');
    expect(request.body.max_tokens).toBe(300);
    // Haiku 4.5 takes JSON outputs, so the intents travel in the output schema.
    expect(
      (request.body.output_config?.format?.schema as { properties: { intent: { enum: string[] } } })
        .properties.intent.enum,
    ).toEqual(['billing', 'shipping', 'other']);
    // The override doubles the input price: input×2 + cache write×1.25 + output×5 (per million).
    const expected = (usage.inputTokens * 2 + usage.cacheWriteTokens * 1.25 + usage.outputTokens * 5) / 1e6;
    expect(usage.costUsd).toBeCloseTo(expected, 12);
  });

  it('is local when asked for explicitly, even with a key', () => {
    const config = loadConfig({ LLM_PROVIDER: 'local', ANTHROPIC_API_KEY: 'sk-test' });
    expect(createLlmProvider(config, { embedder }).name).toBe('local');
  });

  it('explains a missing key when Anthropic is forced', () => {
    expect(() => createLlmProvider(loadConfig({ LLM_PROVIDER: 'anthropic' }), { embedder })).toThrow(
      /ANTHROPIC_API_KEY/,
    );
  });

  it('classifies offline with the intents and examples of INTENT_EXAMPLES_PATH', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'intent-examples-'));
    const file = path.join(dir, 'examples.json');
    fs.writeFileSync(
      file,
      JSON.stringify({
        intents: {
          lost_luggage: ['My suitcase did not arrive', 'The airline lost my bag', 'Where is my luggage?'],
          book_hotel: ['I need a hotel room in Paris', 'Book me a hotel for two nights', 'Reserve a room'],
        },
      }),
    );
    const config = loadConfig({ INTENTS: 'lost_luggage,book_hotel', INTENT_EXAMPLES_PATH: file });
    const llm = createLlmProvider(config, { embedder });
    const { classification } = await llm.classify({
      subject: '',
      body: 'My bag never showed up at the carousel',
    });
    expect(classification.intent).toBe('lost_luggage');
    // Without the file the built-in examples have none of these intents: refused at construction.
    expect(() => createLlmProvider(loadConfig({ INTENTS: 'lost_luggage,book_hotel' }), { embedder })).toThrow(
      /no example utterances/,
    );
  });

  it('rejects a malformed LLM_PRICES at construction', () => {
    const config = loadConfig({ ANTHROPIC_API_KEY: 'sk-test', LLM_PRICES: '{oops' });
    expect(() => createLlmProvider(config, { embedder })).toThrow(/LLM_PRICES/);
  });
});
