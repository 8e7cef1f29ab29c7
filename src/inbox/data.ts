import { sql } from 'kysely';
import type { Db } from '../db/database';
import { listOpenEscalations, type OpenEscalation } from '../tickets';

/**
 * The inbox's own reads from Postgres (page extras, metrics charts). Tickets, the queue and resolutions come
 * from the tickets service; writes go through the workflow, never here.
 */

export const AGE_FILTERS = {
  lt1h: { label: 'Under 1 hour', minMs: 0, maxMs: 3_600_000 },
  '1to4h': { label: '1–4 hours', minMs: 3_600_000, maxMs: 4 * 3_600_000 },
  '4to24h': { label: '4–24 hours', minMs: 4 * 3_600_000, maxMs: 24 * 3_600_000 },
  gt24h: { label: 'Over 1 day', minMs: 24 * 3_600_000, maxMs: undefined },
} as const;
export type AgeFilter = keyof typeof AGE_FILTERS;

export interface QueueFilters {
  intent?: string;
  reason?: string;
  age?: AgeFilter;
}

export interface QueueItem {
  ticketId: string;
  workflowId: string;
  subject: string;
  snippet: string;
  customerName: string | null;
  customerEmail: string | null;
  channel: string;
  intent: string | null;
  urgency: string | null;
  confidence: number | null;
  reason: string;
  receivedAt: string;
  escalatedAt: string;
  slaDueAt: string;
  overdue: boolean;
}

/** How many escalations the queue page lists at most. */
const QUEUE_LIMIT = 200;
const SNIPPET_CHARS = 180;

export function snippetOf(subject: string, body: string): string {
  const text = body.replace(/\s+/g, ' ').trim();
  const withoutSubject = subject && text.startsWith(subject) ? text.slice(subject.length).trim() : text;
  return withoutSubject.length > SNIPPET_CHARS
    ? `${withoutSubject.slice(0, SNIPPET_CHARS - 1)}…`
    : withoutSubject;
}

/** The queue page's rows: the tickets service's open escalations under the page's filters. */
export async function listQueue(db: Db, filters: QueueFilters, now = new Date()): Promise<QueueItem[]> {
  const bucket = filters.age ? AGE_FILTERS[filters.age] : undefined;
  const open = await listOpenEscalations(
    { db },
    {
      intent: filters.intent,
      reason: filters.reason,
      age: bucket && { minMs: bucket.minMs, maxMs: bucket.maxMs },
      limit: QUEUE_LIMIT,
      now,
    },
  );
  return open.map(toQueueItem);
}

/** An open escalation (from the tickets service) as a row of the queue page. */
export function toQueueItem(escalation: OpenEscalation): QueueItem {
  return {
    ticketId: escalation.ticketId,
    workflowId: escalation.workflowId,
    subject: escalation.subject,
    snippet: snippetOf(escalation.subject, escalation.body),
    customerName: escalation.customer.name ?? null,
    customerEmail: escalation.customer.email ?? null,
    channel: escalation.channel,
    intent: escalation.classification?.intent ?? null,
    urgency: escalation.classification?.urgency ?? null,
    confidence: escalation.classification?.confidence ?? null,
    reason: escalation.reason,
    receivedAt: escalation.receivedAt,
    escalatedAt: escalation.createdAt,
    slaDueAt: escalation.slaDueAt,
    overdue: escalation.overdue,
  };
}

export interface TicketExtras {
  body: string;
  passages: Array<{
    rank: number;
    documentId: string;
    title: string;
    headingPath: string[];
    source: string;
    score: number;
    text: string;
  }>;
  draft: { kind: string; reply: string | null; reason: string | null } | null;
  escalationDraft: string | null;
}

/** What the ticket page shows beyond the API's ticket detail: the customer's text, the passages, the draft. */
export async function loadTicketExtras(db: Db, workflowId: string): Promise<TicketExtras | undefined> {
  const [ticket, passages, draft, escalation] = await Promise.all([
    db.selectFrom('tickets').select(['body']).where('workflow_id', '=', workflowId).executeTakeFirst(),
    db
      .selectFrom('ticket_passages')
      .selectAll()
      .where('workflow_id', '=', workflowId)
      .orderBy('rank')
      .execute(),
    db
      .selectFrom('drafts')
      .select(['kind', 'reply', 'reason'])
      .where('workflow_id', '=', workflowId)
      .executeTakeFirst(),
    db.selectFrom('escalations').select(['draft']).where('workflow_id', '=', workflowId).executeTakeFirst(),
  ]);
  if (!ticket) return undefined;
  return {
    body: ticket.body,
    passages: passages.map((p) => ({
      rank: p.rank,
      documentId: p.document_id,
      title: p.title,
      headingPath: Array.isArray(p.heading_path) ? p.heading_path : [],
      source: p.source,
      score: Number(p.score),
      text: p.text,
    })),
    draft: draft ? { kind: draft.kind, reply: draft.reply, reason: draft.reason } : null,
    escalationDraft: escalation?.draft ?? null,
  };
}

/** Small, cheap state for the ticket page's poll: did someone else resolve it meanwhile? */
export async function ticketState(
  db: Db,
  workflowId: string,
): Promise<{ stage: string; resolvedAt: string | null; resolvedBy: string | null } | undefined> {
  const row = await db
    .selectFrom('tickets as t')
    .leftJoin('escalations as e', 'e.workflow_id', 't.workflow_id')
    .select(['t.stage', 'e.resolved_at', 'e.resolved_by'])
    .where('t.workflow_id', '=', workflowId)
    .executeTakeFirst();
  if (!row) return undefined;
  return {
    stage: row.stage,
    resolvedAt: row.resolved_at ? new Date(row.resolved_at).toISOString() : null,
    resolvedBy: row.resolved_by,
  };
}

export interface LearnedResolution {
  documentId: string;
  title: string;
  intents: string[];
  chunks: number;
  createdAt: string;
  ticketId: string | null;
  agentId: string | null;
}

/** Knowledge-base documents learned from human resolutions since `since`, newest first. */
export async function resolutionsAddedSince(db: Db, since: Date): Promise<LearnedResolution[]> {
  const rows = await db
    .selectFrom('kb_documents as d')
    .leftJoin('tickets as t', 't.workflow_id', 'd.ticket_id')
    .leftJoin('resolutions as r', 'r.workflow_id', 'd.ticket_id')
    .select(['d.id', 'd.title', 'd.intents', 'd.chunk_count', 'd.created_at', 't.external_id', 'r.agent_id'])
    .where('d.source', '=', 'resolution')
    .where('d.created_at', '>=', since)
    .orderBy('d.created_at', 'desc')
    .limit(200)
    .execute();
  return rows.map((row) => ({
    documentId: row.id,
    title: row.title,
    intents: Array.isArray(row.intents) ? row.intents : [],
    chunks: row.chunk_count,
    createdAt: new Date(row.created_at).toISOString(),
    ticketId: row.external_id,
    agentId: row.agent_id,
  }));
}

export async function kbDocumentTotals(db: Db): Promise<{ kb: number; resolution: number }> {
  const rows = await db
    .selectFrom('kb_documents')
    .select(['source', sql<string>`count(*)`.as('count')])
    .groupBy('source')
    .execute();
  const count = (source: string) => Number(rows.find((r) => r.source === source)?.count ?? 0);
  return { kb: count('kb'), resolution: count('resolution') };
}

export interface DailyRow {
  day: string;
  tickets: number;
  escalated: number;
  autonomous: number;
  p95LatencyMs: number | null;
  costUsd: number;
}

/** Per-day (UTC) series from the interaction log for the metrics charts; days without tickets are absent. */
export async function dailySeries(
  db: Db,
  window: { from: Date; to: Date },
): Promise<{
  days: DailyRow[];
  byIntent: Array<{ day: string; intent: string; tickets: number; escalated: number }>;
}> {
  const day = sql<string>`to_char(date_trunc('day', timestamp at time zone 'UTC'), 'YYYY-MM-DD')`;
  const inWindow = db
    .selectFrom('interactions')
    .where('timestamp', '>=', window.from)
    .where('timestamp', '<', window.to);
  const [days, byIntent] = await Promise.all([
    inWindow
      .select([
        day.as('day'),
        sql<string>`count(*)`.as('tickets'),
        sql<string>`count(*) filter (where escalated)`.as('escalated'),
        sql<string>`count(*) filter (where not escalated and response_source = 'ai')`.as('autonomous'),
        sql<string | null>`percentile_cont(0.95) within group (order by latency_ms)`.as('p95'),
        sql<string>`coalesce(sum(cost_usd), 0)`.as('cost'),
      ])
      .groupBy(sql`1`)
      .orderBy(sql`1`)
      .execute(),
    inWindow
      .select([
        day.as('day'),
        sql<string>`coalesce(intent, 'unclassified')`.as('intent'),
        sql<string>`count(*)`.as('tickets'),
        sql<string>`count(*) filter (where escalated)`.as('escalated'),
      ])
      .groupBy([sql`1`, sql`2`])
      .orderBy(sql`1`)
      .execute(),
  ]);
  return {
    days: days.map((d) => ({
      day: d.day,
      tickets: Number(d.tickets),
      escalated: Number(d.escalated),
      autonomous: Number(d.autonomous),
      p95LatencyMs: d.p95 === null ? null : Number(d.p95),
      costUsd: Number(d.cost),
    })),
    byIntent: byIntent.map((r) => ({
      day: r.day,
      intent: r.intent,
      tickets: Number(r.tickets),
      escalated: Number(r.escalated),
    })),
  };
}

/** Every UTC day from `from` to `to` inclusive, YYYY-MM-DD, so charts have an even time axis. */
export function daysBetween(from: Date, to: Date): string[] {
  const days: string[] = [];
  const cursor = new Date(Date.UTC(from.getUTCFullYear(), from.getUTCMonth(), from.getUTCDate()));
  const end = Date.UTC(to.getUTCFullYear(), to.getUTCMonth(), to.getUTCDate());
  while (cursor.getTime() <= end && days.length < 400) {
    days.push(cursor.toISOString().slice(0, 10));
    cursor.setUTCDate(cursor.getUTCDate() + 1);
  }
  return days;
}

/** Documents that existed before `before`, for the starting point of the KB growth chart. */
export async function kbCountsBefore(db: Db, before: Date): Promise<{ total: number; resolution: number }> {
  const row = await db
    .selectFrom('kb_documents')
    .select([
      sql<string>`count(*)`.as('total'),
      sql<string>`count(*) filter (where source = 'resolution')`.as('resolution'),
    ])
    .where('created_at', '<', before)
    .executeTakeFirstOrThrow();
  return { total: Number(row.total), resolution: Number(row.resolution) };
}
