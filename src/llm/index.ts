import { resolveLlmProvider, type Config } from '../config';
import type { Embedder } from '../kb/types';
import { AnthropicProvider } from './anthropic';
import { buildPriceTable } from './cost';
import { LocalProvider } from './local';
import type { LlmProvider } from './types';

export * from './types';
export { AnthropicProvider, toLlmError, retryAfterMs, type AnthropicProviderOptions } from './anthropic';
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
}

/** The provider LLM_PROVIDER asks for: `auto` means Anthropic when ANTHROPIC_API_KEY is set, else local. */
export function createLlmProvider(config: Config, deps: LlmProviderDeps): LlmProvider {
  const kind = resolveLlmProvider(config);
  if (kind === 'anthropic') {
    if (!config.ANTHROPIC_API_KEY) {
      throw new Error(
        'LLM_PROVIDER=anthropic needs ANTHROPIC_API_KEY (or set LLM_PROVIDER=local to run offline).',
      );
    }
    return new AnthropicProvider({
      apiKey: config.ANTHROPIC_API_KEY,
      baseURL: config.ANTHROPIC_BASE_URL,
      models: { classify: config.ANTHROPIC_CLASSIFY_MODEL, answer: config.ANTHROPIC_ANSWER_MODEL },
      maxTokens: config.LLM_MAX_TOKENS,
      timeoutMs: config.LLM_TIMEOUT_MS,
      intents: config.INTENTS,
      prices: buildPriceTable(config.LLM_PRICES),
    });
  }
  return new LocalProvider({
    embedder: deps.embedder,
    intents: config.INTENTS,
    examplesPath: deps.intentExamplesPath,
  });
}
