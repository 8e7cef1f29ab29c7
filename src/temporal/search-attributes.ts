import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/**
 * Custom search attributes operators filter on in the Temporal UI. They are NOT encrypted by the payload
 * codec, so they carry only categorical values — never ticket text or customer data.
 */
export const TicketIntent = defineSearchAttributeKey('TicketIntent', SearchAttributeType.KEYWORD);
export const TicketUrgency = defineSearchAttributeKey('TicketUrgency', SearchAttributeType.KEYWORD);
export const TicketEscalated = defineSearchAttributeKey('TicketEscalated', SearchAttributeType.BOOL);
export const EscalationReason = defineSearchAttributeKey('EscalationReason', SearchAttributeType.KEYWORD);
export const TicketStage = defineSearchAttributeKey('TicketStage', SearchAttributeType.KEYWORD);

/** Name → type, in the CLI's spelling, for `temporal server start-dev --search-attribute` and operator commands. */
export const SEARCH_ATTRIBUTE_DEFINITIONS: Record<string, 'Keyword' | 'Bool'> = {
  TicketIntent: 'Keyword',
  TicketUrgency: 'Keyword',
  TicketEscalated: 'Bool',
  EscalationReason: 'Keyword',
  TicketStage: 'Keyword',
};
