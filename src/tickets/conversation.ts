import {
  ApplicationFailure,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  type WorkflowExecutionDescription,
  type WorkflowHandle,
} from '@temporalio/client';
import { roleAllows, type ApiPrincipal } from '../auth/api-keys';
import {
  customerFeedbackUpdate,
  customerMessageUpdate,
  type ConversationPhase,
  type CustomerFeedback,
  type CustomerMessage,
} from '../../workflows/definitions';
import type { TicketDeps } from './deps';
import { describeTicketRun, updateWithDeadline } from './run';

const UPDATE_TIMEOUT_MS = 30_000;

/** Why a message or rating was not taken (the API answers 409 with it, 404 for `not_found`). */
export const CONVERSATION_REFUSALS = [
  'not_found',
  /** The conversation has ended (window over, confirmed, or the run finished). */
  'closed',
  /** A ticket started before conversations existed: it takes no follow-ups. */
  'not_conversational',
  /** Feedback before any reply. */
  'nothing_to_rate',
  'invalid',
] as const;
export type ConversationRefusal = (typeof CONVERSATION_REFUSALS)[number];

export type ConversationUpdateOutcome =
  | { accepted: true; workflowId: string; duplicate: boolean; turn: number; phase: ConversationPhase }
  | { accepted: false; workflowId: string; reason: ConversationRefusal };

/** Intake keys may write only to tickets they submitted (anything else reads as not found); agents not at all. */
function maySend(sender: ApiPrincipal, description: WorkflowExecutionDescription): boolean {
  return roleAllows(sender.role, 'tickets:read') || description.memo?.submittedBy === sender.keyId;
}

async function sendUpdate(
  deps: Pick<TicketDeps, 'temporal'>,
  ticketId: string,
  sender: ApiPrincipal,
  what: string,
  send: (handle: WorkflowHandle) => Promise<{
    duplicate: boolean;
    turn: number;
    phase: ConversationPhase;
  }>,
): Promise<ConversationUpdateOutcome> {
  const { workflowId, handle, description } = await describeTicketRun(deps, ticketId);
  if (!description || !maySend(sender, description))
    return { accepted: false, workflowId, reason: 'not_found' };
  if (description.status.name !== 'RUNNING') return { accepted: false, workflowId, reason: 'closed' };
  try {
    const result = await updateWithDeadline(deps, UPDATE_TIMEOUT_MS, what, () => send(handle));
    return { accepted: true, workflowId, ...result };
  } catch (err) {
    if (err instanceof WorkflowUpdateFailedError && err.cause instanceof ApplicationFailure) {
      const reason = CONVERSATION_REFUSALS.find((r) => r === err.cause?.message);
      if (reason) return { accepted: false, workflowId, reason };
      // Runs started before conversations register no such update.
      if (/no registered handler/i.test(err.cause.message))
        return { accepted: false, workflowId, reason: 'not_conversational' };
    }
    if (err instanceof WorkflowNotFoundError) return { accepted: false, workflowId, reason: 'closed' };
    throw err;
  }
}

/**
 * A customer's follow-up, through the workflow's `customerMessage` update. Idempotent by messageId: the
 * update id is derived from it (Temporal dedupes within a run) and the workflow remembers ids across runs.
 */
export function sendCustomerMessage(
  deps: Pick<TicketDeps, 'temporal'>,
  ticketId: string,
  sender: ApiPrincipal,
  message: CustomerMessage,
): Promise<ConversationUpdateOutcome> {
  const updateId = `message:${message.messageId}`;
  return sendUpdate(deps, ticketId, sender, 'message', (handle) =>
    handle.executeUpdate(customerMessageUpdate, { args: [message], updateId }),
  );
}

/** A rating of the latest reply, through the `customerFeedback` update (idempotent by feedbackId). */
export function sendCustomerFeedback(
  deps: Pick<TicketDeps, 'temporal'>,
  ticketId: string,
  sender: ApiPrincipal,
  feedback: CustomerFeedback,
): Promise<ConversationUpdateOutcome> {
  const updateId = `feedback:${feedback.feedbackId}`;
  return sendUpdate(deps, ticketId, sender, 'feedback', (handle) =>
    handle.executeUpdate(customerFeedbackUpdate, { args: [feedback], updateId }),
  );
}
