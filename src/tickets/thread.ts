import type { Db } from '../db/database';
import { iso } from './deps';

export interface ThreadCitation {
  passageId: string;
  documentId: string;
  title: string;
  score: number;
}

export interface ThreadMessage {
  /** `initial` for the ticket itself, `reply` for the first reply, else the stored id (`ai-2`, `human-3`, the customer's). */
  messageId: string;
  author: 'customer' | 'ai' | 'human';
  /** The reply turn: 0 for the ticket, 1 for the first reply; a customer message carries the turn it followed. */
  turn: number;
  body: string;
  at: string;
  deliveredAt: string | null;
  /** AI replies: the knowledge-base passages the reply cites. */
  citations: ThreadCitation[];
}

export interface TicketConversation {
  thread: ThreadMessage[];
  feedback: Array<{ rating: 'good' | 'bad'; comment: string | null; turn: number; at: string }>;
  /** How the conversation ended; null for tickets that closed at their first reply (or before conversations). */
  conversation: {
    outcome: string | null;
    aiTurns: number;
    humanTurns: number;
    reopened: number;
    escalatedAfterAi: boolean;
    closedAt: string | null;
  } | null;
}

/**
 * The ticket as a thread: the customer's first message, the first reply (from the outbox, with the passages
 * the AI cited), then every follow-up and reply after it (ticket_messages), with the feedback and outcome.
 */
export async function loadConversation(
  db: Db,
  workflowId: string,
  ticket: { body: string; created_at: Date | string } | undefined,
): Promise<TicketConversation> {
  const [reply, draft, passages, messages, feedback, conversation] = await Promise.all([
    db
      .selectFrom('outbox')
      .select(['source', 'body', 'created_at', 'delivered_at'])
      .where('workflow_id', '=', workflowId)
      .where('kind', '=', 'reply')
      .executeTakeFirst(),
    db
      .selectFrom('drafts')
      .select('cited_passage_ids')
      .where('workflow_id', '=', workflowId)
      .executeTakeFirst(),
    db
      .selectFrom('ticket_passages')
      .select(['passage_id', 'document_id', 'title', 'score'])
      .where('workflow_id', '=', workflowId)
      .execute(),
    db
      .selectFrom('ticket_messages')
      .selectAll()
      .where('workflow_id', '=', workflowId)
      .orderBy('id')
      .execute(),
    db
      .selectFrom('ticket_feedback')
      .selectAll()
      .where('workflow_id', '=', workflowId)
      .orderBy('id')
      .execute(),
    db.selectFrom('conversations').selectAll().where('workflow_id', '=', workflowId).executeTakeFirst(),
  ]);
  const thread: ThreadMessage[] = [];
  if (ticket) {
    const at = iso(ticket.created_at)!;
    thread.push({
      messageId: 'initial',
      author: 'customer',
      turn: 0,
      body: ticket.body,
      at,
      deliveredAt: null,
      citations: [],
    });
  }
  if (reply) {
    const cited = reply.source === 'ai' ? (draft?.cited_passage_ids ?? []) : [];
    thread.push({
      messageId: 'reply',
      author: reply.source === 'human' ? 'human' : 'ai',
      turn: 1,
      body: reply.body,
      at: iso(reply.delivered_at ?? reply.created_at)!,
      deliveredAt: iso(reply.delivered_at),
      citations: passages
        .filter((p) => cited.includes(p.passage_id))
        .map((p) => ({
          passageId: p.passage_id,
          documentId: p.document_id,
          title: p.title,
          score: Number(p.score),
        })),
    });
  }
  for (const m of messages) {
    thread.push({
      messageId: m.message_id,
      author: m.author,
      turn: m.turn,
      body: m.body,
      at: iso(m.created_at)!,
      deliveredAt: iso(m.delivered_at),
      citations: m.cited_passages,
    });
  }
  // Follow-ups that arrived while the first turn was still running come after its reply by time.
  thread.sort((a, b) => a.turn - b.turn || a.at.localeCompare(b.at));
  return {
    thread,
    feedback: feedback.map((f) => ({
      rating: f.rating,
      comment: f.comment,
      turn: f.turn,
      at: iso(f.created_at)!,
    })),
    conversation: conversation
      ? {
          outcome: conversation.outcome,
          aiTurns: conversation.ai_turns,
          humanTurns: conversation.human_turns,
          reopened: conversation.reopened,
          escalatedAfterAi: conversation.escalated_after_ai,
          closedAt: iso(conversation.closed_at),
        }
      : null,
  };
}
