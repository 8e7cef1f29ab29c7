import { answerActivities } from './answer';
import { conversationActivities } from './conversation';
import type { ActivityDeps } from './deps';
import { escalationActivities } from './escalation';
import { kbIngestionActivities } from './kb-ingestion';
import { learningActivities } from './learning';
import { logActivities } from './log';
import { ticketRecord } from './ticket-record';
import { triageActivities } from './triage';

export type { ActivityDeps } from './deps';
export type { KbIngestionActivities } from './kb-ingestion';
export type { ClassifyOutcome } from './triage';
export type { DeliveredReply, GenerateOutcome } from './answer';
export type { FollowUpAnswer } from './conversation';
export { RETRIEVAL_MAX_ATTEMPTS } from './triage';

/**
 * Every activity of the ticket workflow, one file per step: the log (ticket row, interaction row), triage
 * (classify, retrieve), answer (generate, deliver), escalation (escalate, overdue, resolution) and learning
 * (index a resolution). They share one `ticketRecord`: the ticket's text, its stage (one writer), the step log
 * and the ticketing-system webhook.
 */
export function createActivities(deps: ActivityDeps) {
  const record = ticketRecord(deps);
  return {
    ...logActivities(deps, record),
    ...triageActivities(deps, record),
    ...answerActivities(deps, record),
    ...escalationActivities(deps, record),
    ...learningActivities(deps, record),
    ...conversationActivities(deps, record),
    // Not a ticket step: the kb-ingestion workflow's, registered on the same worker (it has the embedder).
    ...kbIngestionActivities(deps),
  };
}

export type TicketActivities = ReturnType<typeof createActivities>;
