import type { Answer, Classification, Passage, TokenUsage } from '../domain/ticket';
import type { ArticleDraft, ArticleDraftRequest } from './article-draft';

export interface TicketForLlm {
  subject: string;
  body: string;
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
  | 'invalid_model_output';

export const NON_RETRYABLE_LLM_ERRORS: readonly LlmErrorType[] = [
  'bad_request',
  'authentication_failed',
  'permission_denied',
  'not_found',
  'invalid_model_output',
];

export class LlmError extends Error {
  constructor(
    public readonly type: LlmErrorType,
    message: string,
    public readonly retryAfterMs?: number,
    public readonly status?: number,
    /** Tokens already spent before the failure (e.g. both rounds of a failed repair), for cost accounting. */
    public readonly usage?: TokenUsage,
  ) {
    super(message);
    this.name = 'LlmError';
  }

  get retryable(): boolean {
    return !NON_RETRYABLE_LLM_ERRORS.includes(this.type);
  }
}

export function isLlmError(error: unknown): error is LlmError {
  return error instanceof LlmError;
}
