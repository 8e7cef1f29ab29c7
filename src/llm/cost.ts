import { z } from 'zod';
import type { TokenUsage } from '../domain/ticket';

/**
 * Token prices in USD per million tokens. `cachedInput` is a prompt-cache read (hit), `cacheWrite` a
 * 5-minute cache write; `input` is the base rate for uncached input tokens.
 */
export interface ModelPrice {
  input: number;
  cachedInput: number;
  cacheWrite: number;
  output: number;
}

export type PriceTable = Readonly<Record<string, ModelPrice>>;

/**
 * Defaults from Anthropic's published price list (platform.claude.com "Pricing"; cache reads and 5-minute
 * writes per model). Long-context surcharges (e.g. Sonnet 4.5 above 200k input tokens, Haiku 5.5 above
 * 100k) are not modelled: ticket prompts are far below those sizes. Override with LLM_PRICES.
 */
export const DEFAULT_PRICES: PriceTable = {
  'claude-haiku-4-5': { input: 1, cachedInput: 0.1, cacheWrite: 1.25, output: 5 },
  'claude-sonnet-4-5': { input: 3, cachedInput: 0.3, cacheWrite: 3.75, output: 15 },
  'claude-sonnet-4-6': { input: 3, cachedInput: 0.3, cacheWrite: 3.75, output: 15 },
  'claude-opus-4-5': { input: 5, cachedInput: 0.5, cacheWrite: 6.25, output: 25 },
  'claude-opus-4-6': { input: 5, cachedInput: 0.5, cacheWrite: 6.25, output: 25 },
  'claude-opus-4-7': { input: 5, cachedInput: 0.5, cacheWrite: 6.25, output: 25 },
  'claude-opus-4-8': { input: 5, cachedInput: 0.5, cacheWrite: 6.25, output: 25 },
  'claude-sonnet-5': { input: 2, cachedInput: 0.2, cacheWrite: 2.5, output: 10 },
  'claude-sonnet-5-5': { input: 2, cachedInput: 0.1, cacheWrite: 2.5, output: 10 },
  'claude-haiku-5-5': { input: 0.1, cachedInput: 0.01, cacheWrite: 0.125, output: 0.5 },
  'claude-opus-5': { input: 5, cachedInput: 0.5, cacheWrite: 6.25, output: 25 },
  local: { input: 0, cachedInput: 0, cacheWrite: 0, output: 0 },
};

const nonNegative = z.number().finite().min(0);
const overridesSchema = z.record(
  z.string().min(1),
  z
    .object({ input: nonNegative, cachedInput: nonNegative, cacheWrite: nonNegative, output: nonNegative })
    .partial()
    .strict(),
);

export class PriceTableError extends Error {
  constructor(message: string) {
    super(`LLM_PRICES: ${message}`);
    this.name = 'PriceTableError';
  }
}

/**
 * Merge a JSON override (the LLM_PRICES setting) over the defaults. A known model may override single
 * fields; a model without a default must give all four.
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
    const candidate = { ...resolvePrice(model, base), ...partial };
    const complete = z
      .object({ input: nonNegative, cachedInput: nonNegative, cacheWrite: nonNegative, output: nonNegative })
      .safeParse(candidate);
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
>;

/**
 * USD cost of one call. `inputTokens` is the uncached input the API reports (`input_tokens`), which
 * excludes cache reads and writes, so the four counts are disjoint and each is billed at its own rate.
 * Unknown models cost 0 (see `resolvePrice`); callers that care check `resolvePrice` first.
 */
export function costOf(usage: BillableUsage, table: PriceTable = DEFAULT_PRICES): number {
  const price = resolvePrice(usage.model, table);
  if (!price) return 0;
  const microDollars =
    usage.inputTokens * price.input +
    usage.cachedInputTokens * price.cachedInput +
    usage.cacheWriteTokens * price.cacheWrite +
    usage.outputTokens * price.output;
  // Round to a nano-dollar so sums of many calls stay free of float noise.
  return Math.round(microDollars * 1000) / 1e9;
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
