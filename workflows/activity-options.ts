import {
  ActivityFailure,
  ApplicationFailure,
  proxyActivities,
  proxyLocalActivities,
  TimeoutFailure,
  type ActivityOptions,
  type LocalActivityOptions,
} from '@temporalio/workflow';
import type { TicketActivities } from '../activities';
import type { TicketPolicy } from './definitions';

/** Failure types that mean "retrying will not help"; Temporal stops retrying at once. */
export const NON_RETRYABLE_LLM_FAILURES = [
  'bad_request',
  'authentication_failed',
  'permission_denied',
  'not_found',
  'invalid_model_output',
  // Thrown by the activity itself once the step's own failure budget is spent.
  'llm_unavailable',
  // A spend limit: retrying cannot succeed until it resets (the provider marks it non-retryable too).
  'llm_budget_exhausted',
];

/** Bookkeeping writes (Postgres, outbox, webhooks): retried without limit, so an outage delays a ticket, never drops it. */
const BOOKKEEPING: ActivityOptions & LocalActivityOptions = {
  startToCloseTimeout: '30s',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '1m' },
};

type BookkeepingActivities = Pick<
  TicketActivities,
  | 'recordTicket'
  | 'escalateTicket'
  | 'notifyOverdue'
  | 'recordResolution'
  | 'deliverReply'
  | 'recordOutcome'
  | 'recordCustomerMessage'
  | 'recordFeedback'
  | 'recordHumanReply'
  | 'deliverMessage'
  | 'handToHuman'
  | 'closeConversation'
>;

/**
 * The activities as the workflow calls them, grouped by how they are retried. `local`: which groups run as local
 * activities in this run (patches `local-bookkeeping` and `local-triage`, see workflows/patches.ts).
 */
export function ticketActivities(policy: TicketPolicy, local: { bookkeeping: boolean; triage: boolean }) {
  // No maximumAttempts: the activities count failed LLM calls themselves (policy.llmRetry.maximumAttempts) and
  // then fail non-retryably with `llm_unavailable`, so attempts lost to a Postgres outage or a killed worker do
  // not use up the LLM's budget.
  const llmRetry = {
    initialInterval: policy.llmRetry.initialIntervalMs,
    backoffCoefficient: 2,
    maximumInterval: policy.llmRetry.maximumIntervalMs,
    nonRetryableErrorTypes: NON_RETRYABLE_LLM_FAILURES,
  };
  // The provider's own HTTP timeout fires first; start-to-close only guards against a stuck worker.
  const llmTimeout = policy.llmTimeoutMs * 2 + 10_000;
  const classifyOptions: ActivityOptions & LocalActivityOptions = {
    startToCloseTimeout: llmTimeout,
    retry: llmRetry,
  };
  const retrieveOptions: ActivityOptions & LocalActivityOptions = {
    startToCloseTimeout: '30s',
    // Unlimited here: the activity itself gives up (non-retryable `retrieval_unavailable`) once the vector store
    // has failed its budget, while Postgres errors keep retrying.
    retry: {
      initialInterval: '1s',
      backoffCoefficient: 2,
      maximumInterval: '10s',
      nonRetryableErrorTypes: ['retrieval_unavailable'],
    },
  };
  return {
    llm: proxyActivities<Pick<TicketActivities, 'generateAnswer' | 'answerFollowUp'>>({
      startToCloseTimeout: llmTimeout,
      retry: llmRetry,
    }),
    // Same timeouts and retries either way; a local activity that outlasts the workflow task timeout keeps its
    // task alive (the SDK heartbeats it), and retries with longer backoff wait on a durable timer.
    classify: local.triage
      ? proxyLocalActivities<Pick<TicketActivities, 'classifyTicket'>>(classifyOptions)
      : proxyActivities<Pick<TicketActivities, 'classifyTicket'>>(classifyOptions),
    retrieval: local.triage
      ? proxyLocalActivities<Pick<TicketActivities, 'retrievePassages'>>(retrieveOptions)
      : proxyActivities<Pick<TicketActivities, 'retrievePassages'>>(retrieveOptions),
    bookkeeping: local.bookkeeping
      ? proxyLocalActivities<BookkeepingActivities>(BOOKKEEPING)
      : proxyActivities<BookkeepingActivities>(BOOKKEEPING),
    learning: proxyActivities<Pick<TicketActivities, 'indexResolution'>>({
      startToCloseTimeout: '2m',
      heartbeatTimeout: '30s',
      retry: { initialInterval: '2s', backoffCoefficient: 2, maximumInterval: '2m' },
    }),
  };
}

/** A step's result, or why it failed for good (its failure type decides the escalation reason: see route.ts). */
export type Settled<T> = { ok: true; value: T } | { ok: false; failureType?: string; message: string };

/** Wait for a step that may fail for good; any other error (a bug, a cancellation) is Temporal's to surface. */
export async function settle<T>(promise: Promise<T>): Promise<Settled<T>> {
  try {
    return { ok: true, value: await promise };
  } catch (err) {
    if (err instanceof ActivityFailure) {
      const cause = err.cause;
      return {
        ok: false,
        failureType: cause instanceof ApplicationFailure ? (cause.type ?? undefined) : undefined,
        message: cause?.message ?? err.message,
      };
    }
    // A local activity's failure reaches the workflow unwrapped (test/workflow/ticket-workflow.local.test.ts).
    if (err instanceof ApplicationFailure || err instanceof TimeoutFailure)
      return {
        ok: false,
        failureType: err instanceof ApplicationFailure ? (err.type ?? undefined) : undefined,
        message: err.message,
      };
    throw err;
  }
}
