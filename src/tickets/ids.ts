import { roleAllows, type ApiPrincipal } from '../auth/api-keys';
import { SCOPED_TICKET_ID } from '../domain/ticket';

/**
 * Idempotency is scoped to the submitting intake key: its tickets are stored as `<keyId>:<externalId>`, so two
 * clients using the same external id get two tickets, and a POST never tells one client that another used an id
 * (GET hides other clients' tickets with 404 too). Keys that may read every ticket (agent, admin), the CLI and the
 * Zendesk webhook keep the external id as it is: they can see all tickets anyway.
 */
export function submitsInOwnScope(principal: ApiPrincipal): boolean {
  return !roleAllows(principal.role, 'tickets:read');
}

export function scopedTicketId(keyId: string, externalId: string): string {
  return `${keyId}:${externalId}`;
}

/**
 * The ticket ids a reader's `id` may name, most likely first: an intake key may give its own external id (its
 * scoped id is meant), or a bare id for a ticket it submitted before ids were scoped.
 */
export function ticketIdsForReader(reader: ApiPrincipal, id: string): string[] {
  if (!submitsInOwnScope(reader) || SCOPED_TICKET_ID.test(id)) return [id];
  return [scopedTicketId(reader.keyId, id), id];
}
