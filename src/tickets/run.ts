import {
  WorkflowNotFoundError,
  WorkflowUpdateRPCTimeoutOrCancelledError,
  type WorkflowExecutionDescription,
  type WorkflowHandle,
} from '@temporalio/client';
import { workflowIdFor } from '../domain/ticket';
import type { TicketDeps } from './deps';
import { TicketServiceUnavailableError } from './errors';

/** A ticket's workflow handle and its description (undefined: Temporal has no such workflow). */
export async function describeTicketRun(
  deps: Pick<TicketDeps, 'temporal'>,
  ticketId: string,
): Promise<{ workflowId: string; handle: WorkflowHandle; description?: WorkflowExecutionDescription }> {
  const workflowId = workflowIdFor(ticketId);
  const handle = deps.temporal.workflow.getHandle(workflowId);
  try {
    return { workflowId, handle, description: await handle.describe() };
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return { workflowId, handle };
    throw err;
  }
}

/** Run a workflow update with a deadline; no worker taking it in time is the service being unavailable. */
export async function updateWithDeadline<T>(
  deps: Pick<TicketDeps, 'temporal'>,
  timeoutMs: number,
  what: string,
  update: () => Promise<T>,
): Promise<T> {
  try {
    return await deps.temporal.withDeadline(Date.now() + timeoutMs, update);
  } catch (err) {
    if (err instanceof WorkflowUpdateRPCTimeoutOrCancelledError)
      throw new TicketServiceUnavailableError('worker', `No worker took the ${what} in time; retry shortly.`);
    throw err;
  }
}
