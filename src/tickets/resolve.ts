import { ApplicationFailure, WorkflowNotFoundError, WorkflowUpdateFailedError } from '@temporalio/client';
import { z } from 'zod';
import { resolveUpdate } from '../../workflows/definitions';
import type { TicketDeps } from './deps';
import { describeTicketRun, updateWithDeadline } from './run';

/** An update waits for a worker to run the validator and handler. */
const UPDATE_TIMEOUT_MS = 30_000;

export const RESOLUTION_REFUSALS = [
  'not_found',
  'finished',
  'not_awaiting_human',
  'already_resolved',
  'invalid',
] as const;
export type ResolutionRefusal = (typeof RESOLUTION_REFUSALS)[number];

export type ResolutionOutcome =
  | { accepted: true; workflowId: string; agentId: string; addToKnowledgeBase: boolean }
  | { accepted: false; workflowId: string; reason: ResolutionRefusal };

/**
 * Send a human's answer through the workflow's `resolveWithResult` update, so the caller learns at once whether
 * it was taken. A refusal is an outcome (who got there first, or why not), not an error.
 */
export async function resolveTicket(
  deps: Pick<TicketDeps, 'temporal'>,
  ticketId: string,
  resolution: { agentId: string; answer: string; addToKnowledgeBase: boolean },
  timeoutMs = UPDATE_TIMEOUT_MS,
): Promise<ResolutionOutcome> {
  const { workflowId, handle, description } = await describeTicketRun(deps, ticketId);
  if (!description) return { accepted: false, workflowId, reason: 'not_found' };
  if (description.status.name !== 'RUNNING') return { accepted: false, workflowId, reason: 'finished' };
  try {
    const result = await updateWithDeadline(deps, timeoutMs, 'resolution', () =>
      handle.executeUpdate(resolveUpdate, { args: [resolution] }),
    );
    if (!result.accepted) return { accepted: false, workflowId, reason: result.reason };
    return { accepted: true, workflowId, ...resolution };
  } catch (err) {
    if (err instanceof WorkflowUpdateFailedError && err.cause instanceof ApplicationFailure) {
      const reason = z
        .enum(['not_awaiting_human', 'already_resolved', 'invalid'])
        .safeParse(err.cause.message);
      if (reason.success) return { accepted: false, workflowId, reason: reason.data };
    }
    // Finished between describe and update.
    if (err instanceof WorkflowNotFoundError) return { accepted: false, workflowId, reason: 'finished' };
    throw err;
  }
}
