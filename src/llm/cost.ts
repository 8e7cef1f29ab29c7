import { z } from 'zod';
import type { TokenUsage } from '../domain/ticket';

/**
 * Token prices in USD per million tokens. `cachedInput` is a prompt-cache read (hit), `cacheWrite` a 5-minute
 * cache write and `cacheWrite1h` a 1-hour one (default: twice `input`); `input` is the base rate for uncached
 * input tokens. `usInferenceMultiplier` applies to every rate when `usage.inference_geo` is "us"; `longContext`
 * replaces every rate of a request whose prompt (input + cache reads + cache writes) is above its threshold.
 */
export interface ModelPrice {
  input: number;
  cachedInput: number;
  cacheWrite: number;
  output: number;
  cacheWrite1h?: number;
  usInferenceMultiplier?: number;
  longContext?: LongContextPrice;
}

export interface LongContextPrice {
  thresholdTokens: number;
  input: number;
  cachedInput: number;
  cacheWrite: number;
  output: number;
  cacheWrite1h?: number;
}

export type PriceTable = Readonly<Record<string, ModelPrice>>;

/** US-only inference (`inference_geo: "us"`) costs 1.1x on Claude 4.6 and every later model ("Data residency"). */
const US = { usInferenceMultiplier: 1.1 };

/**
 * Defaults from Anthropic's price list (platform.claude.com "Pricing" and each model's page, read 2026-11).
 * Sonnet 5.5's cache read is $0.10 (0.05x input) since its 2026-10-07 cut, Opus 5.5's $0.20 (0.05x) and
 * Fable 5.1's $0.25 (0.025x). Fable 5.2's rates are from its launch listings ($8 / $40). Haiku 5.5 bills a request
 * whose prompt exceeds 100,000 tokens at its long-context rates. Override with LLM_PRICES.
 */
export const DEFAULT_PRICES: PriceTable = {
  'claude-haiku-4-5': { input: 1, cachedInput: 0.1, cacheWrite: 1.25, cacheWrite1h: 2, output: 5 },
  'claude-sonnet-4-5': { input: 3, cachedInput: 0.3, cacheWrite: 3.75, cacheWrite1h: 6, output: 15 },
  'claude-opus-4-5': { input: 5, cachedInput: 0.5, cacheWrite: 6.25, cacheWrite1h: 10, output: 25 },
  'claude-sonnet-4-6': { input: 3, cachedInput: 0.3, cacheWrite: 3.75, cacheWrite1h: 6, output: 15, ...US },
  'claude-opus-4-6': { input: 5, cachedInput: 0.5, cacheWrite: 6.25, cacheWrite1h: 10, output: 25, ...US },
  'claude-opus-4-7': { input: 5, cachedInput: 0.5, cacheWrite: 6.25, cacheWrite1h: 10, output: 25, ...US },
  'claude-opus-4-8': { input: 5, cachedInput: 0.5, cacheWrite: 6.25, cacheWrite1h: 10, output: 25, ...US },
  'claude-sonnet-5': { input: 2, cachedInput: 0.2, cacheWrite: 2.5, cacheWrite1h: 4, output: 10, ...US },
  'claude-opus-5': { input: 5, cachedInput: 0.5, cacheWrite: 6.25, cacheWrite1h: 10, output: 25, ...US },
  'claude-haiku-5-5': {
    input: 0.1,
    cachedInput: 0.01,
    cacheWrite: 0.125,
    cacheWrite1h: 0.2,
    output: 0.5,
    ...US,
    longContext: {
      thresholdTokens: 100_000,
      input: 0.5,
      cachedInput: 0.05,
      cacheWrite: 0.625,
      cacheWrite1h: 1,
      output: 2.5,
    },
  },
  'claude-sonnet-5-5': { input: 2, cachedInput: 0.1, cacheWrite: 2.5, cacheWrite1h: 4, output: 10, ...US },
  'claude-opus-5-5': { input: 4, cachedInput: 0.2, cacheWrite: 5, cacheWrite1h: 8, output: 20, ...US },
  'claude-fable-5': { input: 10, cachedInput: 1, cacheWrite: 12.5, cacheWrite1h: 20, output: 50, ...US },
  'claude-fable-5-1': { input: 10, cachedInput: 0.25, cacheWrite: 12.5, cacheWrite1h: 20, output: 50, ...US },
  'claude-fable-5-2': { input: 8, cachedInput: 0.2, cacheWrite: 10, cacheWrite1h: 16, output: 40, ...US },
  local: { input: 0, cachedInput: 0, cacheWrite: 0, output: 0 },
};

const nonNegative = z.number().finite().min(0);
const rates = {
  input: nonNegative,
  cachedInput: nonNegative,
  cacheWrite: nonNegative,
  output: nonNegative,
  cacheWrite1h: nonNegative.optional(),
};
const modelPriceSchema = z
  .object({
    ...rates,
    usInferenceMultiplier: z.number().finite().min(1).optional(),
    longContext: z
      .object({ thresholdTokens: z.number().int().positive(), ...rates })
      .strict()
      .optional(),
  })
  .strict();
const overridesSchema = z.record(z.string().min(1), modelPriceSchema.partial().strict());

export class PriceTableError extends Error {
  constructor(message: string) {
    super(`LLM_PRICES: ${message}`);
    this.name = 'PriceTableError';
  }
}

/**
 * Merge a JSON override (the LLM_PRICES setting) over the defaults. A known model may override single
 * fields; a model without a default must give at least input, cachedInput, cacheWrite and output.
 */
export function buildPriceTable(overridesJson?: string, base: PriceTable = DEFAULT_PRICES): PriceTable {
  if (!overridesJson || overridesJson.trim() === '') return base;
  let raw: unknown;
  try {
    raw = JSON.parse(overridesJson);
  } catch (error) {
    throw new PriceTableError(`not valid JSON (${(error as Error).message})`);
  }
  const parsed = overridesSchema.safeParse(raw);
  if (!parsed.success) {
    throw new PriceTableError(
      `expected {"<model>": {"input": n, "cachedInput": n, "cacheWrite": n, "output": n}}: ` +
        parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'} ${i.message}`).join('; '),
    );
  }
  const merged: Record<string, ModelPrice> = { ...base };
  for (const [model, partial] of Object.entries(parsed.data)) {
    const complete = modelPriceSchema.safeParse({ ...resolvePrice(model, base), ...partial });
    if (!complete.success) {
      throw new PriceTableError(
        `model "${model}" has no default price, so all of input, cachedInput, cacheWrite and output are required`,
      );
    }
    merged[model] = complete.data;
  }
  return merged;
}

/** Exact id first, then the alias without a snapshot date (`claude-haiku-4-5-20251001` → `claude-haiku-4-5`). */
export function resolvePrice(model: string, table: PriceTable = DEFAULT_PRICES): ModelPrice | undefined {
  return table[model] ?? table[model.replace(/-\d{8}$/, '')];
}

export type BillableUsage = Pick<
  TokenUsage,
  'model' | 'inputTokens' | 'cachedInputTokens' | 'cacheWriteTokens' | 'outputTokens'
> & {
  /** Of `cacheWriteTokens`, those written with the 1-hour TTL (`usage.cache_creation.ephemeral_1h_input_tokens`). */
  cacheWrite1hTokens?: number;
  /** `usage.inference_geo`: "us" is US-only inference, billed at the model's multiplier. */
  inferenceGeo?: string | null;
  /** `usage.service_tier`: "batch" is billed at half price; "priority" draws on a prepaid commitment at list rates. */
  serviceTier?: string | null;
};

/** Batch requests cost half of every rate ("Batch processing"). */
const BATCH_DISCOUNT = 0.5;

/**
 * USD cost of one call. `inputTokens` is the uncached input the API reports (`input_tokens`), which
 * excludes cache reads and writes, so the counts are disjoint and each is billed at its own rate.
 * Unknown models cost 0 (see `resolvePrice`); callers that care check `resolvePrice` first.
 */
export function costOf(usage: BillableUsage, table: PriceTable = DEFAULT_PRICES): number {
  const price = resolvePrice(usage.model, table);
  if (!price) return 0;
  const prompt = usage.inputTokens + usage.cachedInputTokens + usage.cacheWriteTokens;
  const rate = price.longContext && prompt > price.longContext.thresholdTokens ? price.longContext : price;
  const write1h = Math.min(usage.cacheWrite1hTokens ?? 0, usage.cacheWriteTokens);
  const microDollars =
    usage.inputTokens * rate.input +
    usage.cachedInputTokens * rate.cachedInput +
    (usage.cacheWriteTokens - write1h) * rate.cacheWrite +
    write1h * (rate.cacheWrite1h ?? rate.input * 2) +
    usage.outputTokens * rate.output;
  const geo = usage.inferenceGeo === 'us' ? (price.usInferenceMultiplier ?? 1) : 1;
  const tier = usage.serviceTier === 'batch' ? BATCH_DISCOUNT : 1;
  // Round to a nano-dollar so sums of many calls stay free of float noise.
  return Math.round(microDollars * geo * tier * 1000) / 1e9;
}

/** Add two usages of the same call (e.g. a repair round trip); latency adds up too. */
export function addUsage(a: TokenUsage, b: TokenUsage): TokenUsage {
  return {
    model: b.model,
    inputTokens: a.inputTokens + b.inputTokens,
    cachedInputTokens: a.cachedInputTokens + b.cachedInputTokens,
    cacheWriteTokens: a.cacheWriteTokens + b.cacheWriteTokens,
    outputTokens: a.outputTokens + b.outputTokens,
    costUsd: Math.round((a.costUsd + b.costUsd) * 1e9) / 1e9,
    latencyMs: a.latencyMs + b.latencyMs,
  };
}

export function zeroUsage(model: string, latencyMs = 0): TokenUsage {
  return {
    model,
    inputTokens: 0,
    cachedInputTokens: 0,
    cacheWriteTokens: 0,
    outputTokens: 0,
    costUsd: 0,
    latencyMs,
  };
}
