import {
  ActivityFailure,
  ApplicationFailure,
  condition,
  log,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
  type ActivityOptions,
  type LocalActivityOptions,
} from '@temporalio/workflow';
import type { TicketActivities } from '../activities';
import {
  resolutionSignalSchema,
  type Classification,
  type EscalationReason,
  type PassageRef,
  type ResolutionSignal,
  type TicketStage as Stage,
} from '../src/domain/ticket';
import {
  EscalationReason as EscalationReasonKey,
  TicketEscalated,
  TicketIntent,
  TicketStage,
  TicketUrgency,
} from '../src/temporal/search-attributes';
import {
  DEFAULT_POLICY,
  resolveSignal,
  resolveUpdate,
  statusQuery,
  type ResolveResult,
  type TicketOutcome,
  type TicketPolicy,
  type TicketStatus,
  type TicketWorkflowInput,
} from './definitions';

/** Failure types that mean "retrying will not help"; Temporal stops retrying at once. */
const NON_RETRYABLE_LLM = [
  'bad_request',
  'authentication_failed',
  'permission_denied',
  'not_found',
  'invalid_model_output',
];

/** Bookkeeping writes (Postgres, outbox, webhooks): retried without limit, so an outage delays a ticket, never drops it. */
const BOOKKEEPING: ActivityOptions & LocalActivityOptions = {
  startToCloseTimeout: '30s',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '1m' },
};

type BookkeepingActivities = Pick<
  TicketActivities,
  'recordTicket' | 'escalateTicket' | 'notifyOverdue' | 'recordResolution' | 'deliverReply' | 'recordOutcome'
>;

/**
 * Runs started by this code do their bookkeeping as local activities: short idempotent writes that the worker
 * runs inside the workflow task, saving the server a schedule/dispatch/complete round trip per write (about
 * twice the throughput, bench/README.md). Runs started before keep regular activities (their histories say so).
 */
const LOCAL_BOOKKEEPING_PATCH = 'local-bookkeeping';
/** Runs started before this existed escalated every low-confidence ticket; they replay that way. */
const RESOLUTION_MATCH_PATCH = 'resolution-match-overrides-low-confidence';

function activityProxies(policy: TicketPolicy, localBookkeeping: boolean) {
  // No maximumAttempts: the activities count failed LLM calls themselves (policy.llmRetry.maximumAttempts) and
  // then fail non-retryably with `llm_unavailable`, so attempts lost to a Postgres outage or a killed worker do
  // not use up the LLM's budget.
  const llmRetry = {
    initialInterval: policy.llmRetry.initialIntervalMs,
    backoffCoefficient: 2,
    maximumInterval: policy.llmRetry.maximumIntervalMs,
    nonRetryableErrorTypes: [...NON_RETRYABLE_LLM, 'llm_unavailable'],
  };
  // The provider's own HTTP timeout fires first; start-to-close only guards against a stuck worker.
  const llmTimeout = policy.llmTimeoutMs * 2 + 10_000;
  return {
    llm: proxyActivities<Pick<TicketActivities, 'classifyTicket' | 'generateAnswer'>>({
      startToCloseTimeout: llmTimeout,
      retry: llmRetry,
    }),
    retrieval: proxyActivities<Pick<TicketActivities, 'retrievePassages'>>({
      startToCloseTimeout: '30s',
      // Unlimited here: the activity itself gives up (non-retryable `retrieval_unavailable`) once the vector store
      // has failed its budget, while Postgres errors keep retrying.
      retry: {
        initialInterval: '1s',
        backoffCoefficient: 2,
        maximumInterval: '10s',
        nonRetryableErrorTypes: ['retrieval_unavailable'],
      },
    }),
    bookkeeping: localBookkeeping
      ? proxyLocalActivities<BookkeepingActivities>(BOOKKEEPING)
      : proxyActivities<BookkeepingActivities>(BOOKKEEPING),
    learning: proxyActivities<Pick<TicketActivities, 'indexResolution'>>({
      startToCloseTimeout: '2m',
      heartbeatTimeout: '30s',
      retry: { initialInterval: '2s', backoffCoefficient: 2, maximumInterval: '2m' },
    }),
  };
}

/** A spend limit (the API's or LLM_MONTHLY_BUDGET_USD) has its own reason; every other LLM failure is an outage. */
function llmFailureReason(failureType: string | undefined): EscalationReason {
  return failureType === 'llm_budget_exhausted' ? 'llm_budget_exhausted' : 'llm_unavailable';
}

type Settled<T> = { ok: true; value: T } | { ok: false; failureType?: string; message: string };

async function settle<T>(promise: Promise<T>): Promise<Settled<T>> {
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
    throw err; // not an activity failure: a bug or cancellation; let Temporal surface it
  }
}

/**
 * One support ticket, from intake to a reply. Pure orchestration: every read and write happens in activities,
 * texts stay in Postgres (the workflow holds ids, scores and categorical results), and time comes from Temporal.
 */
export async function ticketWorkflow(input: TicketWorkflowInput): Promise<TicketOutcome> {
  const policy: TicketPolicy = { ...DEFAULT_POLICY, ...input.policy };
  const { workflowId } = workflowInfo();
  const acts = activityProxies(policy, patched(LOCAL_BOOKKEEPING_PATCH));
  const now = () => new Date().toISOString(); // deterministic inside a workflow

  const status: TicketStatus = {
    workflowId,
    externalId: input.ticket.externalId,
    stage: 'received',
    awaitingHuman: false,
    citedPassageIds: [],
    overdue: false,
    timestamps: { received: input.receivedAt },
    ignoredResolutions: 0,
  };
  let resolution: ResolutionSignal | undefined;

  const setStage = (stage: Stage) => {
    status.stage = stage;
    upsertSearchAttributes([{ key: TicketStage, value: stage }]);
  };

  /** Shared by the signal and the update: only the first valid resolution of an escalated ticket counts. */
  const checkResolution = (candidate: unknown): ResolveResult => {
    if (!resolutionSignalSchema.safeParse(candidate).success) return { accepted: false, reason: 'invalid' };
    if (resolution !== undefined || status.stage === 'resolved')
      return { accepted: false, reason: 'already_resolved' };
    if (!status.awaitingHuman) return { accepted: false, reason: 'not_awaiting_human' };
    return { accepted: true };
  };
  const acceptResolution = (candidate: ResolutionSignal) => {
    resolution = resolutionSignalSchema.parse(candidate);
  };

  setHandler(statusQuery, () => status);
  setHandler(resolveSignal, (candidate) => {
    const verdict = checkResolution(candidate);
    if (verdict.accepted) acceptResolution(candidate);
    else {
      status.ignoredResolutions += 1;
      log.warn('Resolution ignored', { workflowId, reason: verdict.reason });
    }
  });
  setHandler(
    resolveUpdate,
    (candidate) => {
      acceptResolution(candidate);
      return { accepted: true } as const;
    },
    {
      // Rejected updates never reach history; the caller gets the reason (the API turns it into a 409).
      validator: (candidate) => {
        const verdict = checkResolution(candidate);
        if (!verdict.accepted) throw ApplicationFailure.nonRetryable(verdict.reason, 'ResolutionRejected');
      },
    },
  );

  await acts.bookkeeping.recordTicket({ workflowId, ticket: input.ticket, receivedAt: input.receivedAt });

  // ── Triage: classification and retrieval do not depend on each other, so run them together. ──
  setStage('triaging');
  const [classified, retrieved] = await Promise.all([
    settle(acts.llm.classifyTicket({ workflowId, maxLlmFailures: policy.llmRetry.maximumAttempts })),
    settle(acts.retrieval.retrievePassages({ workflowId })),
  ]);
  let classification: Classification | undefined;
  if (classified.ok) {
    classification = classified.value.classification;
    status.classification = classification;
    status.requestedHuman = classified.value.requestedHuman;
    status.timestamps.classified = now();
    upsertSearchAttributes([
      { key: TicketIntent, value: classification.intent },
      { key: TicketUrgency, value: classification.urgency },
    ]);
  }
  const passages: PassageRef[] = retrieved.ok ? retrieved.value : [];
  if (retrieved.ok) status.timestamps.retrieved = now();

  // ── Gates: decide everything we can before paying for generation. ──
  let reason: EscalationReason | undefined;
  if (!classified.ok) reason = llmFailureReason(classified.failureType);
  else if (classified.value.requestedHuman) reason = 'customer_requested_human';
  else if (classification!.urgency === 'critical') reason = 'critical_urgency';
  else if (classification!.confidence < policy.confidenceThreshold) {
    // The learning loop: a close match with an answer a human gave before outweighs an unsure classifier.
    const humanAnswer = passages.find(
      (p) => p.source === 'resolution' && p.score >= policy.resolutionMatchScore,
    );
    if (humanAnswer && patched(RESOLUTION_MATCH_PATCH))
      status.answeredFromResolution = humanAnswer.documentId;
    else reason = 'low_classifier_confidence';
  } else if (!retrieved.ok) reason = 'retrieval_unavailable';
  else if (!passages.some((p) => p.score >= policy.minRetrievalScore)) reason = 'no_grounded_context';

  if (!reason) {
    setStage('generating');
    const generated = await settle(
      acts.llm.generateAnswer({
        workflowId,
        minScore: policy.minRetrievalScore,
        maxLlmFailures: policy.llmRetry.maximumAttempts,
      }),
    );
    status.timestamps.generated = now();
    if (!generated.ok) {
      reason =
        generated.failureType === 'invalid_model_output'
          ? 'agent_uncertainty'
          : llmFailureReason(generated.failureType);
    } else if (generated.value.kind === 'cannot_answer') {
      reason = 'agent_uncertainty';
    } else {
      status.citedPassageIds = generated.value.citedPassageIds;
      setStage('delivering');
      await acts.bookkeeping.deliverReply({ workflowId, source: 'ai' });
      status.replySource = 'ai';
      status.timestamps.replied = now();
      setStage('answered');
      upsertSearchAttributes([{ key: TicketEscalated, value: false }]);
      await acts.bookkeeping.recordOutcome({
        workflowId,
        escalated: false,
        replySource: 'ai',
        answeredFromResolution: status.answeredFromResolution,
      });
      return { workflowId, escalated: false, replySource: 'ai', citedPassageIds: status.citedPassageIds };
    }
  }

  // ── Escalation: from here on only a human's answer goes to the customer. ──
  const slaDueAt = new Date(Date.now() + policy.slaMinutes[classification?.urgency ?? 'high'] * 60_000);
  status.escalationReason = reason;
  status.slaDueAt = slaDueAt.toISOString();
  await acts.bookkeeping.escalateTicket({ workflowId, reason, slaDueAt: status.slaDueAt });
  await acts.bookkeeping.recordOutcome({ workflowId, escalated: true, reason });
  // Only now, with the escalation record written, does the ticket show as awaiting a human.
  status.timestamps.escalated = now();
  status.awaitingHuman = true;
  setStage('escalated');
  upsertSearchAttributes([
    { key: TicketEscalated, value: true },
    { key: EscalationReasonKey, value: reason },
  ]);

  const resolvedInTime = await condition(
    () => resolution !== undefined,
    Math.max(0, slaDueAt.getTime() - Date.now()),
  );
  if (!resolvedInTime) {
    status.overdue = true;
    await acts.bookkeeping.notifyOverdue({ workflowId });
    await condition(() => resolution !== undefined);
  }
  const accepted = resolution!;
  status.awaitingHuman = false;

  await acts.bookkeeping.recordResolution({ workflowId, resolution: accepted });
  if (accepted.addToKnowledgeBase !== false) await acts.learning.indexResolution({ workflowId });
  await acts.bookkeeping.deliverReply({ workflowId, source: 'human' });
  status.replySource = 'human';
  status.timestamps.replied = now();
  status.timestamps.resolved = now();
  setStage('resolved');
  await acts.bookkeeping.recordOutcome({ workflowId, escalated: true, reason, replySource: 'human' });
  return { workflowId, escalated: true, escalationReason: reason, replySource: 'human', citedPassageIds: [] };
}
