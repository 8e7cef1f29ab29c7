import { patched } from '@temporalio/workflow';
import type { Route } from './route';

/**
 * Workflow changes that running tickets must not see (docs/WORKFLOW_CHANGES.md). Each patch id is asked at the
 * point where the code changed: runs that passed that point under older code replay their old branch.
 */

/**
 * Runs started since then do their bookkeeping as local activities: short idempotent writes that the worker
 * runs inside the workflow task, saving the server a schedule/dispatch/complete round trip per write (about
 * twice the throughput, bench/README.md). Runs started before keep regular activities (their histories say so).
 */
export const usesLocalBookkeeping = () => patched('local-bookkeeping');

/**
 * Runs started since then, with `policy.localTriage` (the offline provider), triage (classify ‖ retrieve) with
 * local activities: the worker runs them inside the workflow task, so triage costs the server no activity
 * dispatch and no extra workflow task (bench/README.md). Generation stays a regular activity. Runs started
 * before keep regular triage activities (their histories say so).
 */
export const usesLocalTriage = () => patched('local-triage');

/**
 * Runs started before the learning override escalated every low-confidence ticket, even with a matching human
 * resolution; they replay that way.
 */
export function routeForThisRun(decision: Route): Route {
  if (decision.kind === 'answer_from_resolution' && !patched('resolution-match-overrides-low-confidence'))
    return { kind: 'escalate', reason: 'low_classifier_confidence' };
  return decision;
}

/**
 * Runs resolved since then deliver the human's reply first and index it into the knowledge base after, so a
 * vector-store outage no longer holds the customer's answer back. Runs that resolved before indexed first.
 */
export const deliversBeforeLearning = () => patched('deliver-before-learning');

/**
 * Runs started since then keep the conversation (workflows/conversation.ts): follow-up messages and feedback
 * as updates, a follow-up window after each reply, reopen to the human queue. Asked once at the start of a
 * run; runs started before finish exactly as they did (they register no conversation handlers).
 */
export const keepsConversations = () => patched('conversation-follow-ups');

/**
 * Runs started since then are gated on whether the knowledge base answers the question (one document clearly
 * better than the runner-up: `routeByAnswerability`), not on the classifier's confidence, and are answered from
 * that document only. Runs started before replay the confidence gate.
 */
export const gatesOnAnswerability = () => patched('answerability-gate');
