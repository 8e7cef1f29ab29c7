import type { TicketInput } from '../domain/ticket';
import { startTicket, type StartTicketResult } from '../temporal/client';
import type { TicketDeps } from './deps';
import { scopedTicketId } from './ids';

/**
 * Start a ticket's workflow once per external id (a repeat finds the existing one: `created` false).
 * `submittedBy` (an API key id, `cli`, `zendesk-webhook`) decides who may read it back with an intake key;
 * with `ownScope` the external id is the submitter's alone (src/tickets/ids.ts) and the ticket id says so.
 */
export async function submitTicket(
  deps: Pick<TicketDeps, 'config' | 'temporal'>,
  input: TicketInput,
  options: { submittedBy?: string; ownScope?: boolean } = {},
): Promise<StartTicketResult & { ticketId: string }> {
  const { submittedBy, ownScope = false } = options;
  if (ownScope && !submittedBy) throw new Error('a scoped submission needs the submitter');
  const ticket =
    ownScope && submittedBy ? { ...input, externalId: scopedTicketId(submittedBy, input.externalId) } : input;
  const result = await startTicket(deps.temporal, deps.config, ticket, { submittedBy });
  return { ticketId: ticket.externalId, ...result };
}
