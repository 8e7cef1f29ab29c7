import type { ClassifyOutcome, GenerateOutcome } from '../activities';
import type { EscalationReason, PassageRef } from '../src/domain/ticket';
import { judgeAnswerability } from '../src/kb/answerability';
import type { Settled } from './activity-options';
import type { TicketPolicy } from './definitions';

/**
 * The decisions of a ticket's path, as pure functions of what the steps returned: no I/O, no Temporal APIs,
 * so every row is unit-tested (test/workflow/route.test.ts) and the workflow reads as the process.
 */

/** What retrieval found for the ticket: the evidence that the knowledge base answers it. */
export interface Evidence {
  /** Best first; ids and scores only (texts stay in Postgres). */
  passages: PassageRef[];
}

export type Escalate = { kind: 'escalate'; reason: EscalationReason };

export type Route =
  /** `documentId`: the one document the answer must come from (set by the answerability gate). */
  | { kind: 'answer'; documentId?: string }
  /** Low classifier confidence, but a human already answered this question: answer from that resolution. */
  | { kind: 'answer_from_resolution'; documentId: string }
  | Escalate;

export type RoutePolicy = Pick<
  TicketPolicy,
  'confidenceThreshold' | 'minRetrievalScore' | 'resolutionMatchScore' | 'answerMinScore' | 'answerMinMargin'
>;

const escalate = (reason: EscalationReason): Escalate => ({ kind: 'escalate', reason });

/** The steps that can fail for good, and what their failure types mean for the ticket. */
export type FailingStep = 'classify' | 'retrieve' | 'generate';

const FAILURE_REASONS: Record<
  FailingStep,
  { byType: Record<string, EscalationReason>; otherwise: EscalationReason }
> = {
  // A spend limit (the API's, or LLM_MONTHLY_BUDGET_USD) is not an outage: it says so, for operators and metrics.
  classify: { byType: { llm_budget_exhausted: 'llm_budget_exhausted' }, otherwise: 'llm_unavailable' },
  retrieve: { byType: {}, otherwise: 'retrieval_unavailable' },
  // The model's output stayed invalid after repair: it could not produce an answer, not an outage.
  generate: {
    byType: { invalid_model_output: 'agent_uncertainty', llm_budget_exhausted: 'llm_budget_exhausted' },
    otherwise: 'llm_unavailable',
  },
};

/** The one place that maps a step's failure type to an escalation reason. */
export function reasonForFailure(step: FailingStep, failureType: string | undefined): EscalationReason {
  const reasons = FAILURE_REASONS[step];
  return (failureType !== undefined ? reasons.byType[failureType] : undefined) ?? reasons.otherwise;
}

/** The first gates of every version: a failed classifier, a customer asking for a human, critical urgency. */
function humanFirst(classified: Settled<ClassifyOutcome>): Escalate | undefined {
  if (!classified.ok) return escalate(reasonForFailure('classify', classified.failureType));
  const { classification, requestedHuman } = classified.value;
  if (requestedHuman) return escalate('customer_requested_human');
  if (classification.urgency === 'critical') return escalate('critical_urgency');
  return undefined;
}

/**
 * The gates, in order, before any generation spend: a failed classifier, a customer asking for a human,
 * critical urgency, low confidence (unless a human resolution matches closely), failed retrieval, nothing
 * relevant enough in the knowledge base.
 */
export function route(
  classified: Settled<ClassifyOutcome>,
  retrieved: Settled<Evidence>,
  policy: RoutePolicy,
): Route {
  const handOver = humanFirst(classified);
  if (handOver) return handOver;
  const { classification } = (classified as Extract<typeof classified, { ok: true }>).value;
  if (classification.confidence < policy.confidenceThreshold) {
    // The learning loop: a close match with an answer a human gave before outweighs an unsure classifier.
    const humanAnswer = retrieved.ok
      ? retrieved.value.passages.find(
          (p) => p.source === 'resolution' && p.score >= policy.resolutionMatchScore,
        )
      : undefined;
    return humanAnswer
      ? { kind: 'answer_from_resolution', documentId: humanAnswer.documentId }
      : escalate('low_classifier_confidence');
  }
  if (!retrieved.ok) return escalate(reasonForFailure('retrieve', retrieved.failureType));
  if (!groundsAnAnswer(retrieved, policy)) return escalate('no_grounded_context');
  return { kind: 'answer' };
}

/**
 * Retrieval's own gate: something in the knowledge base is relevant enough to answer from. Known before the
 * classifier returns, so speculative generation may start on it; route() still decides whether the draft is sent.
 */
export function groundsAnAnswer(
  retrieved: Settled<Evidence>,
  policy: Pick<RoutePolicy, 'minRetrievalScore'>,
): boolean {
  return retrieved.ok && retrieved.value.passages.some((p) => p.score >= policy.minRetrievalScore);
}

/**
 * What a speculative draft may be written from, known from retrieval alone: with the answerability gate, the one
 * document that answers (the same one routeByAnswerability picks from the same evidence); before it, any passage
 * above the minimum score. Undefined when retrieval cannot ground an answer, so nothing is drafted.
 */
export function draftSource(
  retrieved: Settled<Evidence>,
  policy: Pick<RoutePolicy, 'minRetrievalScore' | 'answerMinScore' | 'answerMinMargin'>,
  gatedOnAnswerability: boolean,
): { documentId?: string } | undefined {
  if (!retrieved.ok || !groundsAnAnswer(retrieved, policy)) return undefined;
  if (!gatedOnAnswerability) return {};
  const verdict = judgeAnswerability(retrieved.value.passages, {
    minScore: policy.answerMinScore,
    minMargin: policy.answerMinMargin,
  });
  return verdict.answerable && verdict.best ? { documentId: verdict.best.documentId } : undefined;
}

/**
 * The gates of runs started since `answerability-gate`: a failed classifier, a customer asking for a human,
 * critical urgency, failed retrieval, nothing relevant, then the question the old confidence gate only guessed
 * at: does one document of the knowledge base answer this, clearly better than the runner-up? The classifier's
 * confidence no longer gates (its example sentences say nothing about another business's knowledge base).
 * A human resolution is a document like any other: it answers only when it wins by the same margin.
 */
export function routeByAnswerability(
  classified: Settled<ClassifyOutcome>,
  retrieved: Settled<Evidence>,
  policy: RoutePolicy,
): Route {
  const handOver = humanFirst(classified);
  if (handOver) return handOver;
  if (!retrieved.ok) return escalate(reasonForFailure('retrieve', retrieved.failureType));
  const { passages } = retrieved.value;
  if (!passages.some((p) => p.score >= policy.minRetrievalScore)) return escalate('no_grounded_context');
  const verdict = judgeAnswerability(passages, {
    minScore: policy.answerMinScore,
    minMargin: policy.answerMinMargin,
  });
  if (!verdict.answerable || !verdict.best) return escalate('not_answerable');
  return verdict.best.source === 'resolution'
    ? { kind: 'answer_from_resolution', documentId: verdict.best.documentId }
    : { kind: 'answer', documentId: verdict.best.documentId };
}

/** After generation: send the draft, or hand the ticket to a human. */
export function judgeDraft(
  generated: Settled<GenerateOutcome>,
): { kind: 'deliver'; citedPassageIds: string[] } | Escalate {
  if (!generated.ok) return escalate(reasonForFailure('generate', generated.failureType));
  if (generated.value.kind === 'cannot_answer') return escalate('agent_uncertainty');
  return { kind: 'deliver', citedPassageIds: generated.value.citedPassageIds };
}
