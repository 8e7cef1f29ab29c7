/**
 * The tickets service: what the API, the inbox and the CLI can do with tickets, over Temporal (start, resolve,
 * live status) and Postgres (what the activities recorded). Each caller maps the errors to its own medium.
 */
export type { TicketDeps } from './deps';
export * from './errors';
export { submitTicket } from './submit';
export { submitsInOwnScope, ticketIdsForReader } from './ids';
export { getTicketDetail, liveStage, OutcomeWatcher, type LiveStage, type TicketDetail } from './detail';
export { listTickets, type TicketFilters, type TicketSummary } from './list';
export { listOpenEscalations, queueCounts, type OpenEscalation, type QueueFilters } from './queue';
export {
  resolveTicket,
  RESOLUTION_REFUSALS,
  type ResolutionOutcome,
  type ResolutionRefusal,
} from './resolve';
export {
  sendCustomerFeedback,
  sendCustomerMessage,
  CONVERSATION_REFUSALS,
  type ConversationRefusal,
  type ConversationUpdateOutcome,
} from './conversation';
export type { ThreadMessage, TicketConversation } from './thread';
