import type { Answer, Classification, Passage, TokenUsage } from '../domain/ticket';
import type { ArticleDraft, ArticleDraftRequest } from './article-draft';

export interface TicketForLlm {
  subject: string;
  /** What to answer: the ticket, or in a conversation the customer's latest message. */
  body: string;
  /**
   * In a conversation: the earlier messages (oldest summarised by a count), as context. Providers that
   * prompt a model show it; the offline provider answers `body` alone.
   */
  thread?: string;
}

export interface ClassifyResult {
  classification: Classification;
  usage: TokenUsage;
}

export interface AnswerResult {
  answer: Answer;
  usage: TokenUsage;
}

export interface ArticleDraftResult {
  draft: ArticleDraft;
  usage: TokenUsage;
}

/** One small interface over the language model; chosen by LLM_PROVIDER (anthropic | local). */
export interface LlmProvider {
  readonly name: 'anthropic' | 'local';
  classify(ticket: TicketForLlm): Promise<ClassifyResult>;
  answer(ticket: TicketForLlm, passages: Passage[]): Promise<AnswerResult>;
  /** A knowledge-base article from human agents' answers only (the knowledge-gap report's suggestions). */
  draftArticle(request: ArticleDraftRequest): Promise<ArticleDraftResult>;
}

/**
 * Failure types the activities turn into Temporal ApplicationFailures. Retryable ones carry an optional
 * delay from `retry-after`; non-retryable ones stop Temporal's retries at once.
 */
export type LlmErrorType =
  | 'rate_limited'
  | 'overloaded'
  | 'server_error'
  | 'network_error'
  | 'timeout'
  | 'bad_request'
  | 'authentication_failed'
  | 'permission_denied'
  | 'not_found'
  | 'invalid_model_output'
  /**
   * A spend limit is reached: the API's (`error.details.error_code` `enforced_spend_limit_reached` and kin, or a
   * spend limit set in the Console) or ticketflow's own LLM_MONTHLY_BUDGET_USD. Retrying cannot help until the
   * limit resets or is raised; the ticket escalates with the reason of the same name.
   */
  | 'llm_budget_exhausted';

export const NON_RETRYABLE_LLM_ERRORS: readonly LlmErrorType[] = [
  'bad_request',
  'authentication_failed',
  'permission_denied',
  'not_found',
  'invalid_model_output',
  'llm_budget_exhausted',
];

export interface LlmErrorOptions {
  /** From `retry-after-ms` / `retry-after`. */
  retryAfterMs?: number;
  status?: number;
  /** Tokens already spent before the failure (e.g. both rounds of a failed repair), for cost accounting. */
  usage?: TokenUsage;
  /** The server's `x-should-retry` header, when it said: it overrides the type's default. */
  retryable?: boolean;
}

export class LlmError extends Error {
  readonly retryAfterMs?: number;
  readonly status?: number;
  readonly usage?: TokenUsage;
  private readonly retryableOverride?: boolean;

  constructor(
    public readonly type: LlmErrorType,
    message: string,
    options: LlmErrorOptions = {},
  ) {
    super(message);
    this.name = 'LlmError';
    this.retryAfterMs = options.retryAfterMs;
    this.status = options.status;
    this.usage = options.usage;
    this.retryableOverride = options.retryable;
  }

  get retryable(): boolean {
    if (NON_RETRYABLE_LLM_ERRORS.includes(this.type)) return false;
    return this.retryableOverride ?? true;
  }

  /** The same error with `usage` (tokens already paid for) added to whatever it carried. */
  withUsage(usage: TokenUsage | undefined, add: (a: TokenUsage, b: TokenUsage) => TokenUsage): LlmError {
    if (!usage) return this;
    return new LlmError(this.type, this.message, {
      retryAfterMs: this.retryAfterMs,
      status: this.status,
      usage: this.usage ? add(usage, this.usage) : usage,
      retryable: this.retryableOverride,
    });
  }
}

export function isLlmError(error: unknown): error is LlmError {
  return error instanceof LlmError;
}
