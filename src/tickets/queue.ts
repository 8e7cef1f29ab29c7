import { sql } from 'kysely';
import { z } from 'zod';
import { parseStoredClassification, type StoredClassification } from '../domain/classification';
import { escalationQueueCounts } from '../metrics/queries';
import type { TicketDeps } from './deps';

/** An escalated ticket waiting for a human: everything they need to answer it. */
export interface OpenEscalation {
  ticketId: string;
  workflowId: string;
  subject: string;
  /** The ticket text as the customer wrote it. */
  body: string;
  customer: { id?: string; email?: string; name?: string };
  channel: string;
  classification: StoredClassification | null;
  /** What retrieval found, best first. */
  passages: Array<{
    passageId: string;
    documentId: string;
    title: string;
    source: string;
    score: number;
    text: string;
  }>;
  /** The AI draft, if one was written before escalating. */
  draft: string | null;
  /** Why the draft was not sent (it failed the grounding check); null if it passed or there is none. */
  draftWithheld: string | null;
  reason: string;
  receivedAt: string;
  /** When it was escalated. */
  createdAt: string;
  ageSeconds: number;
  slaDueAt: string;
  overdue: boolean;
}

export interface QueueFilters {
  limit?: number;
  reason?: string;
  intent?: string;
  /** true: only past their SLA; false: only within it. */
  overdue?: boolean;
  /** Only tickets received between `minMs` and `maxMs` ago. */
  age?: { minMs: number; maxMs?: number };
  now?: Date;
}

const storedPassage = z.object({
  passage_id: z.string(),
  document_id: z.string(),
  title: z.string(),
  source: z.string(),
  score: z.coerce.number(),
  text: z.string(),
});

/**
 * The open queue (unresolved escalations), most pressing first: SLA due time, then urgency (critical first),
 * then arrival. The one queue the API, the inbox and the CLI show.
 */
export async function listOpenEscalations(
  deps: Pick<TicketDeps, 'db'>,
  filters: QueueFilters = {},
): Promise<OpenEscalation[]> {
  const now = filters.now ?? new Date();
  let query = deps.db
    .selectFrom('escalations as e')
    .innerJoin('tickets as t', 't.workflow_id', 'e.workflow_id')
    .select([
      'e.workflow_id',
      'e.reason',
      'e.classification',
      'e.passages',
      'e.draft',
      'e.draft_withheld_reason',
      'e.created_at',
      'e.sla_due_at',
      't.external_id',
      't.subject',
      't.body',
      't.customer',
      't.channel',
      't.created_at as received_at',
    ])
    .where('e.resolved_at', 'is', null);
  if (filters.reason) query = query.where('e.reason', '=', filters.reason);
  if (filters.intent) query = query.where(sql<string>`e.classification->>'intent'`, '=', filters.intent);
  if (filters.overdue === true) query = query.where('e.sla_due_at', '<', now);
  if (filters.overdue === false) query = query.where('e.sla_due_at', '>=', now);
  if (filters.age) {
    query = query.where('t.created_at', '<=', new Date(now.getTime() - filters.age.minMs));
    if (filters.age.maxMs !== undefined)
      query = query.where('t.created_at', '>', new Date(now.getTime() - filters.age.maxMs));
  }
  const rows = await query
    .orderBy('e.sla_due_at', 'asc')
    .orderBy(
      sql`case e.classification->>'urgency' when 'critical' then 0 when 'high' then 1 when 'medium' then 2 when 'low' then 3 else 4 end`,
    )
    .orderBy('t.created_at', 'asc')
    .orderBy('e.workflow_id')
    .limit(filters.limit ?? 50)
    .execute();

  return rows.map((row) => {
    const passages = z.array(storedPassage).safeParse(row.passages);
    const createdAt = new Date(row.created_at);
    const slaDueAt = new Date(row.sla_due_at);
    return {
      ticketId: row.external_id,
      workflowId: row.workflow_id,
      subject: row.subject,
      body: row.body,
      customer: row.customer ?? {},
      channel: row.channel,
      classification: parseStoredClassification(row.classification),
      passages: passages.success
        ? passages.data.map((p) => ({
            passageId: p.passage_id,
            documentId: p.document_id,
            title: p.title,
            source: p.source,
            score: p.score,
            text: p.text,
          }))
        : [],
      draft: row.draft,
      draftWithheld: row.draft_withheld_reason,
      reason: row.reason,
      receivedAt: new Date(row.received_at).toISOString(),
      createdAt: createdAt.toISOString(),
      ageSeconds: Math.max(0, Math.floor((now.getTime() - createdAt.getTime()) / 1000)),
      slaDueAt: slaDueAt.toISOString(),
      overdue: slaDueAt.getTime() < now.getTime(),
    };
  });
}

/** How many escalations are open, and how many of those are past their SLA (the same count /metrics exports). */
export async function queueCounts(
  deps: Pick<TicketDeps, 'db'>,
  now = new Date(),
): Promise<{ open: number; overdue: number }> {
  return escalationQueueCounts(deps.db, now);
}
