import { resolveLlmProvider, type Config } from '../config';
import type { Db } from '../db/database';
import type { Embedder } from '../kb/types';
import type { Logger } from '../logger';
import { llmSpendSince } from '../metrics/queries';
import { AnthropicProvider, type AnthropicProviderOptions } from './anthropic';
import { SpendGuardedProvider } from './budget';
import { buildPriceTable } from './cost';
import { LocalProvider } from './local';
import type { LlmProvider } from './types';

export * from './types';
export {
  AnthropicProvider,
  toLlmError,
  retryAfterMs,
  SPEND_LIMIT_ERROR_CODES,
  type AnthropicProviderOptions,
} from './anthropic';
export { SpendGuardedProvider, monthStart, type SpendGuardOptions, type BudgetExhausted } from './budget';
export {
  MODEL_FACTS,
  modelFacts,
  planCall,
  type CallPlan,
  type ModelFacts,
  type StructuredPath,
} from './models';
export {
  LocalProvider,
  DEFAULT_LOCAL_TUNING,
  type LocalProviderOptions,
  type LocalProviderTuning,
} from './local';
export { detectCriticalSignals, detectHumanRequest, CRITICAL_SIGNALS, type CriticalSignal } from './signals';
export {
  costOf,
  addUsage,
  zeroUsage,
  buildPriceTable,
  resolvePrice,
  DEFAULT_PRICES,
  type ModelPrice,
  type PriceTable,
} from './cost';
export { analyseSentiment, detectLanguage, summarise, toOneLine } from './text';

export interface LlmProviderDeps {
  embedder: Embedder;
  /** Custom labelled examples for the local provider (JSON, see src/llm/intent-examples.ts). */
  intentExamplesPath?: string;
  /** The step log: with it the Anthropic provider is spend-guarded (LLM_MONTHLY_BUDGET_USD, LLM_OVER_BUDGET). */
  db?: Db;
  logger?: Logger;
}

/** The Anthropic provider's settings from config, all but where it connects (the benchmark points it elsewhere). */
export function anthropicOptions(config: Config): Omit<AnthropicProviderOptions, 'apiKey' | 'baseURL'> {
  return {
    models: { classify: config.ANTHROPIC_CLASSIFY_MODEL, answer: config.ANTHROPIC_ANSWER_MODEL },
    maxTokens: config.LLM_MAX_TOKENS,
    timeoutMs: config.LLM_TIMEOUT_MS,
    intents: config.INTENTS,
    prices: buildPriceTable(config.LLM_PRICES),
    answerThinking: config.ANTHROPIC_ANSWER_THINKING,
    effort: { classify: config.ANTHROPIC_CLASSIFY_EFFORT, answer: config.ANTHROPIC_ANSWER_EFFORT },
    structuredOutput: config.ANTHROPIC_STRUCTURED_OUTPUT,
  };
}

/**
 * The provider LLM_PROVIDER asks for: `auto` means Anthropic when ANTHROPIC_API_KEY is set, else local. Given the
 * database, Anthropic is wrapped in the spend guard.
 */
export function createLlmProvider(config: Config, deps: LlmProviderDeps): LlmProvider {
  const local = () =>
    new LocalProvider({
      embedder: deps.embedder,
      intents: config.INTENTS,
      examplesPath: deps.intentExamplesPath ?? config.INTENT_EXAMPLES_PATH,
    });
  if (resolveLlmProvider(config) === 'local') return local();
  if (!config.ANTHROPIC_API_KEY) {
    throw new Error(
      'LLM_PROVIDER=anthropic needs ANTHROPIC_API_KEY (or set LLM_PROVIDER=local to run offline).',
    );
  }
  const anthropic = new AnthropicProvider({
    apiKey: config.ANTHROPIC_API_KEY,
    baseURL: config.ANTHROPIC_BASE_URL,
    ...anthropicOptions(config),
  });
  const db = deps.db;
  if (!db) return anthropic;
  return new SpendGuardedProvider(anthropic, {
    monthlyBudgetUsd: config.LLM_MONTHLY_BUDGET_USD,
    spendSince: (since) => llmSpendSince(db, since),
    overBudget: config.LLM_OVER_BUDGET === 'local' ? local() : undefined,
    onExhausted: (info) =>
      deps.logger?.error(
        { budget: info.source, month: info.month, action: info.action },
        `LLM budget exhausted: ${info.message}. ${
          info.action === 'fallback'
            ? 'Tickets are answered by the local provider until it resets or is raised.'
            : 'Tickets escalate with llm_budget_exhausted until it resets or is raised.'
        }`,
      ),
  });
}
