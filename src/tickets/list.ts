import { sql } from 'kysely';
import { z } from 'zod';
import type { TicketStage } from '../domain/ticket';
import { iso, type TicketDeps } from './deps';
import { InvalidCursorError } from './errors';

export interface TicketSummary {
  ticketId: string;
  workflowId: string;
  stage: string;
  channel: string;
  subject: string;
  createdAt: string;
  intent: string | null;
  urgency: string | null;
  confidence: number | null;
  /** null while the outcome is not decided yet. */
  escalated: boolean | null;
  escalationReason: string | null;
  replySource: string | null;
  latencyMs: number | null;
  costUsd: number | null;
}

export interface TicketFilters {
  stage?: TicketStage;
  intent?: string;
  escalated?: boolean;
  limit: number;
  /** `nextCursor` of the previous page. */
  cursor?: string;
}

interface Cursor {
  createdAt: string;
  workflowId: string;
}

function encodeCursor(cursor: Cursor): string {
  return Buffer.from(JSON.stringify([cursor.createdAt, cursor.workflowId]), 'utf8').toString('base64url');
}

/** Postgres' JSON rendering of a timestamptz, which is what cursors carry (e.g. 2026-01-02T03:04:05.123456+00:00). */
const CURSOR_TIME =
  /^(\d{4})-(\d{2})-(\d{2})T([01]\d|2[0-3]):[0-5]\d:[0-5]\d(?:\.\d{1,6})?(?:Z|[+-](?:0\d|1[0-4]):[0-5]\d)$/;
const CURSOR_WORKFLOW_ID = /^[A-Za-z0-9._:@-]{1,200}$/;

/** A real calendar date Postgres accepts: V8's Date.parse takes "0" or 2026-02-31, Postgres answers those with an error. */
function isCursorTime(value: string): boolean {
  const match = CURSOR_TIME.exec(value);
  if (!match) return false;
  const [year, month, day] = [Number(match[1]), Number(match[2]), Number(match[3])];
  const date = new Date(Date.UTC(year, month - 1, day));
  return year >= 1 && date.getUTCMonth() === month - 1 && date.getUTCDate() === day;
}

function decodeCursor(raw: string): Cursor {
  try {
    const parsed = z
      .tuple([z.string().refine(isCursorTime), z.string().regex(CURSOR_WORKFLOW_ID)])
      .parse(JSON.parse(Buffer.from(raw, 'base64url').toString('utf8')));
    return { createdAt: parsed[0], workflowId: parsed[1] };
  } catch {
    throw new InvalidCursorError();
  }
}

/** Tickets, newest first, a page at a time (keyset pagination on received time and workflow id). */
export async function listTickets(
  deps: Pick<TicketDeps, 'db'>,
  filters: TicketFilters,
): Promise<{ items: TicketSummary[]; nextCursor: string | null }> {
  const { stage, intent, escalated, limit, cursor } = filters;
  let query = deps.db
    .selectFrom('tickets as t')
    .leftJoin('interactions as i', 'i.workflow_id', 't.workflow_id')
    // The escalation row is written when the hand-off happens; the interaction row only when the outcome is
    // logged a step later. Reading both keeps a just-escalated ticket escalated in the list as in its detail.
    .leftJoin('escalations as e', 'e.workflow_id', 't.workflow_id')
    .select([
      't.workflow_id',
      't.external_id',
      't.stage',
      't.channel',
      't.subject',
      't.created_at',
      'i.intent',
      'i.urgency',
      'i.confidence',
      sql<boolean | null>`case when e.workflow_id is not null then true else i.escalated end`.as('escalated'),
      sql<string | null>`coalesce(i.reason, e.reason)`.as('reason'),
      'i.response_source',
      'i.latency_ms',
      'i.cost_usd',
      sql<string>`to_json(t.created_at) #>> '{}'`.as('created_at_exact'),
    ]);
  if (stage) query = query.where('t.stage', '=', stage);
  if (intent) query = query.where('i.intent', '=', intent);
  if (escalated === true)
    query = query.where((eb) => eb.or([eb('e.workflow_id', 'is not', null), eb('i.escalated', '=', true)]));
  if (escalated === false) query = query.where('e.workflow_id', 'is', null).where('i.escalated', '=', false);
  if (cursor) {
    const after = decodeCursor(cursor);
    query = query.where((eb) =>
      eb(
        eb.refTuple('t.created_at', 't.workflow_id'),
        '<',
        eb.tuple(sql<Date>`${after.createdAt}::timestamptz`, after.workflowId),
      ),
    );
  }
  const rows = await query
    .orderBy('t.created_at', 'desc')
    .orderBy('t.workflow_id', 'desc')
    .limit(limit + 1)
    .execute();
  const page = rows.slice(0, limit);
  const last = page[page.length - 1];
  return {
    items: page.map((r) => ({
      ticketId: r.external_id,
      workflowId: r.workflow_id,
      stage: r.stage,
      channel: r.channel,
      subject: r.subject,
      createdAt: iso(r.created_at)!,
      intent: r.intent,
      urgency: r.urgency,
      confidence: r.confidence === null ? null : Number(r.confidence),
      escalated: r.escalated,
      escalationReason: r.reason,
      replySource: r.response_source,
      latencyMs: r.latency_ms,
      costUsd: r.cost_usd === null ? null : Number(r.cost_usd),
    })),
    nextCursor:
      rows.length > limit && last
        ? encodeCursor({ createdAt: last.created_at_exact, workflowId: last.workflow_id })
        : null,
  };
}
