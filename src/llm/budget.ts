import type { Passage, TokenUsage } from '../domain/ticket';
import type { ArticleDraftRequest } from './article-draft';
import {
  LlmError,
  type AnswerResult,
  type ArticleDraftResult,
  type ClassifyResult,
  type LlmProvider,
  type TicketForLlm,
} from './types';

/**
 * The spend guard around the Anthropic provider. With a monthly budget it stops calling the model once the
 * month's logged spend (every LLM step in `ticket_steps`, failed attempts included) reaches the budget: calls then
 * fail at once with `llm_budget_exhausted`, which escalates the ticket without a failed API call, or, when an
 * over-budget provider is given (LLM_OVER_BUDGET=local), are answered by it. The same fallback takes over when
 * the API itself reports a spend limit.
 */
export interface SpendGuardOptions {
  /** USD per calendar month (UTC); undefined: no budget of our own, only the API's limits. */
  monthlyBudgetUsd?: number;
  /** Logged LLM spend in USD since `since` (src/metrics/queries.ts llmSpendSince). */
  spendSince: (since: Date) => Promise<number>;
  /** Answers instead of escalating once a budget is exhausted. */
  overBudget?: LlmProvider;
  /** How long a read of the logged spend is trusted; calls made meanwhile are added to it. */
  refreshMs?: number;
  now?: () => Date;
  /** Told once per month, process and source, when a budget is first found exhausted. */
  onExhausted?: (info: BudgetExhausted) => void;
}

export interface BudgetExhausted {
  /** Our LLM_MONTHLY_BUDGET_USD, or a spend limit the API reported. */
  source: 'monthly_budget' | 'api_spend_limit';
  month: string;
  message: string;
  /** What happens to calls now. */
  action: 'escalate' | 'fallback';
}

export function monthStart(now: Date): Date {
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1));
}

export class SpendGuardedProvider implements LlmProvider {
  readonly name: LlmProvider['name'];
  private read?: { month: string; at: number; spentUsd: number };
  /** Spend of calls made through this guard since the last read (the read does not see them yet). */
  private sinceRead = 0;
  private reading?: Promise<number>;
  private readonly told = new Set<string>();

  constructor(
    private readonly inner: LlmProvider,
    private readonly options: SpendGuardOptions,
  ) {
    this.name = inner.name;
  }

  classify(ticket: TicketForLlm): Promise<ClassifyResult> {
    return this.guarded((provider) => provider.classify(ticket));
  }

  answer(ticket: TicketForLlm, passages: Passage[]): Promise<AnswerResult> {
    return this.guarded((provider) => provider.answer(ticket, passages));
  }

  draftArticle(request: ArticleDraftRequest): Promise<ArticleDraftResult> {
    return this.guarded((provider) => provider.draftArticle(request));
  }

  /** The month's spend as far as this process knows it: the last read of the log plus its own calls since. */
  async monthSpendUsd(): Promise<number> {
    const now = this.now();
    const month = monthKey(now);
    const fresh =
      this.read &&
      this.read.month === month &&
      now.getTime() - this.read.at < (this.options.refreshMs ?? 5000);
    if (!fresh) {
      this.reading ??= this.options
        .spendSince(monthStart(now))
        .then((spentUsd) => {
          this.read = { month, at: now.getTime(), spentUsd };
          this.sinceRead = 0;
          return spentUsd;
        })
        .finally(() => {
          this.reading = undefined;
        });
      await this.reading;
    }
    return (this.read?.spentUsd ?? 0) + this.sinceRead;
  }

  private async guarded<R extends { usage: TokenUsage }>(
    call: (provider: LlmProvider) => Promise<R>,
  ): Promise<R> {
    const budget = this.options.monthlyBudgetUsd;
    if (budget !== undefined) {
      const spentUsd = await this.monthSpendUsd();
      if (spentUsd >= budget) {
        const message =
          `LLM_MONTHLY_BUDGET_USD reached: $${spentUsd.toFixed(4)} logged this month against a budget of ` +
          `$${budget}; no call was made`;
        this.tellOnce('monthly_budget', message);
        if (this.options.overBudget) return call(this.options.overBudget);
        throw new LlmError('llm_budget_exhausted', message);
      }
    }
    try {
      const result = await call(this.inner);
      this.sinceRead += result.usage.costUsd;
      return result;
    } catch (error) {
      if (error instanceof LlmError) {
        this.sinceRead += error.usage?.costUsd ?? 0;
        if (error.type === 'llm_budget_exhausted') {
          this.tellOnce('api_spend_limit', error.message);
          if (this.options.overBudget) return call(this.options.overBudget);
        }
      }
      throw error;
    }
  }

  private tellOnce(source: BudgetExhausted['source'], message: string): void {
    const month = monthKey(this.now());
    if (this.told.has(`${source}|${month}`)) return;
    this.told.add(`${source}|${month}`);
    const action = this.options.overBudget ? 'fallback' : 'escalate';
    this.options.onExhausted?.({ source, month, message, action });
  }

  private now(): Date {
    return this.options.now?.() ?? new Date();
  }
}

function monthKey(date: Date): string {
  return date.toISOString().slice(0, 7);
}
