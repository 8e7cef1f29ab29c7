import type { TokenUsage } from '../../src/domain/ticket';
import {
  addUsage,
  buildPriceTable,
  costOf,
  DEFAULT_PRICES,
  PriceTableError,
  resolvePrice,
} from '../../src/llm/cost';

describe('costOf', () => {
  it('bills the four disjoint token counts at their own rates (hand-computed)', () => {
    // Sonnet 4.5: 1200×3 + 800×0.30 + 2048×3.75 + 350×15 = 3600 + 240 + 7680 + 5250 = 16770 micro-dollars
    const usage = {
      model: 'claude-sonnet-4-5',
      inputTokens: 1200,
      cachedInputTokens: 800,
      cacheWriteTokens: 2048,
      outputTokens: 350,
    };
    expect(costOf(usage)).toBeCloseTo(0.01677, 12);
  });

  it('prices dated snapshot ids like their alias', () => {
    expect(resolvePrice('claude-haiku-4-5-20251001')).toEqual(DEFAULT_PRICES['claude-haiku-4-5']);
    const usage = {
      model: 'claude-haiku-4-5-20251001',
      inputTokens: 1_000_000,
      cachedInputTokens: 0,
      cacheWriteTokens: 0,
      outputTokens: 0,
    };
    expect(costOf(usage)).toBe(1);
  });

  it('prices US-only inference at the model multiplier (1.1x from Claude 4.6 on, none before) and batch at half', () => {
    const counts = { inputTokens: 1_000_000, cachedInputTokens: 0, cacheWriteTokens: 0, outputTokens: 0 };
    expect(costOf({ model: 'claude-sonnet-5-5', ...counts, inferenceGeo: 'us' })).toBeCloseTo(2.2, 12);
    expect(costOf({ model: 'claude-sonnet-5-5', ...counts, inferenceGeo: 'global' })).toBe(2);
    expect(costOf({ model: 'claude-haiku-4-5', ...counts, inferenceGeo: 'us' })).toBe(1);
    expect(costOf({ model: 'claude-sonnet-5-5', ...counts, serviceTier: 'batch' })).toBe(1);
    expect(costOf({ model: 'claude-sonnet-5-5', ...counts, serviceTier: 'priority' })).toBe(2);
  });

  it('switches every rate of Haiku 5.5 to its long-context prices above 100,000 prompt tokens, cache included', () => {
    const at = (input: number, cached: number) =>
      costOf({
        model: 'claude-haiku-5-5',
        inputTokens: input,
        cachedInputTokens: cached,
        cacheWriteTokens: 0,
        outputTokens: 1000,
      });
    // 50000×0.10 + 50000×0.01 + 1000×0.50 = 6000 micro-dollars
    expect(at(50_000, 50_000)).toBeCloseTo(0.006, 12);
    // 50000×0.50 + 50001×0.05 + 1000×2.50 = 30000.05 micro-dollars
    expect(at(50_000, 50_001)).toBeCloseTo(0.03000005, 12);
  });

  it('costs 0 for an unknown model, and 0 for the local provider', () => {
    const counts = { inputTokens: 10, cachedInputTokens: 0, cacheWriteTokens: 0, outputTokens: 10 };
    expect(costOf({ model: 'mystery-model', ...counts })).toBe(0);
    expect(costOf({ model: 'local', ...counts })).toBe(0);
  });
});

describe('buildPriceTable (LLM_PRICES)', () => {
  it('returns the defaults when unset', () => {
    expect(buildPriceTable(undefined)).toBe(DEFAULT_PRICES);
    expect(buildPriceTable('  ')).toBe(DEFAULT_PRICES);
  });

  it('merges single fields over a known model and adds complete new models', () => {
    const table = buildPriceTable(
      JSON.stringify({
        'claude-haiku-4-5': { output: 4 },
        'my-proxy-model': { input: 2, cachedInput: 0.2, cacheWrite: 2.5, output: 8 },
      }),
    );
    expect(table['claude-haiku-4-5']).toEqual({
      input: 1,
      cachedInput: 0.1,
      cacheWrite: 1.25,
      cacheWrite1h: 2,
      output: 4,
    });
    const usage = {
      model: 'my-proxy-model',
      inputTokens: 500,
      cachedInputTokens: 0,
      cacheWriteTokens: 0,
      outputTokens: 250,
    };
    // 500×2 + 250×8 = 3000 micro-dollars
    expect(costOf(usage, table)).toBeCloseTo(0.003, 12);
  });

  it('rejects invalid JSON, unknown fields, negative prices and incomplete new models', () => {
    expect(() => buildPriceTable('{not json')).toThrow(PriceTableError);
    expect(() => buildPriceTable('{"claude-haiku-4-5": {"inptu": 1}}')).toThrow(/inptu/);
    expect(() => buildPriceTable('{"claude-haiku-4-5": {"input": -1}}')).toThrow(PriceTableError);
    expect(() => buildPriceTable('{"new-model": {"input": 1}}')).toThrow(/new-model/);
    expect(() => buildPriceTable('{"claude-haiku-4-5": {"usInferenceMultiplier": 0.5}}')).toThrow(
      PriceTableError,
    );
  });
});

describe('addUsage', () => {
  it('sums tokens, cost and latency', () => {
    const a: TokenUsage = {
      model: 'm',
      inputTokens: 1,
      cachedInputTokens: 2,
      cacheWriteTokens: 3,
      outputTokens: 4,
      costUsd: 0.1,
      latencyMs: 10,
    };
    const b: TokenUsage = {
      model: 'm',
      inputTokens: 10,
      cachedInputTokens: 20,
      cacheWriteTokens: 30,
      outputTokens: 40,
      costUsd: 0.2,
      latencyMs: 5,
    };
    expect(addUsage(a, b)).toEqual({
      model: 'm',
      inputTokens: 11,
      cachedInputTokens: 22,
      cacheWriteTokens: 33,
      outputTokens: 44,
      costUsd: 0.3,
      latencyMs: 15,
    });
  });
});
