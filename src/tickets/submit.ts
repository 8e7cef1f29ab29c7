import type { TicketInput } from '../domain/ticket';
import { startTicket, type StartTicketResult } from '../temporal/client';
import type { TicketDeps } from './deps';

/**
 * Start a ticket's workflow once per external id (a repeat finds the existing one: `created` false).
 * `submittedBy` (an API key id, `cli`, `zendesk-webhook`) decides who may read it back with an intake key.
 */
export async function submitTicket(
  deps: Pick<TicketDeps, 'config' | 'temporal'>,
  input: TicketInput,
  options: { submittedBy?: string } = {},
): Promise<StartTicketResult & { ticketId: string }> {
  const result = await startTicket(deps.temporal, deps.config, input, { submittedBy: options.submittedBy });
  return { ticketId: input.externalId, ...result };
}
