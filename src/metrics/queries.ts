import { sql } from 'kysely';
import type { Db } from '../db/database';

/**
 * Business metrics from the interaction log (one row per decided ticket) and the KB registry. Shared by
 * `GET /v1/metrics/summary`, `ticketflow report` and the Prometheus gauges. Windows are half-open [from, to).
 */

export interface MetricsWindow {
  from: Date;
  to: Date;
}

export interface IntentBreakdown {
  intent: string;
  tickets: number;
  escalated: number;
  escalationRate: number | null;
  avgConfidence: number | null;
}

export interface MetricsSummary {
  from: string;
  to: string;
  tickets: number;
  escalated: number;
  /** escalated / tickets; null when there are no tickets in the window. */
  escalationRate: number | null;
  escalationRateByIntent: IntentBreakdown[];
  escalationsByReason: Array<{ reason: string; count: number }>;
  avgConfidence: number | null;
  p50LatencyMs: number | null;
  p95LatencyMs: number | null;
  /** Answered by the AI with no human involved / tickets. */
  autonomousResolutionRate: number | null;
  humanResolved: number;
  openEscalations: number;
  totalCostUsd: number;
  costPerTicketUsd: number | null;
  costPerDay: Array<{ day: string; tickets: number; costUsd: number }>;
  /** Tickets as conversations: the honest resolution rate beside the naive one (docs/CONVERSATIONS.md). */
  conversations: ConversationMetrics;
  kbGrowth: {
    documentsAtStart: number;
    documentsAtEnd: number;
    added: number;
    addedFromResolutions: number;
    perDay: Array<{ day: string; added: number; fromResolutions: number; total: number }>;
  };
}

export interface ConversationMetrics {
  /** Every AI reply counted as a resolution (what `autonomousResolutionRate` says): AI-answered / tickets. */
  naiveResolutionRate: number | null;
  /**
   * Resolved by the AI = the conversation closed (window over, or the customer confirmed) with no escalation,
   * no human reply and no negative feedback after an AI answer / tickets.
   */
  honestResolutionRate: number | null;
  resolvedByAi: number;
  confirmedByCustomer: number;
  /** Handed to a human after an AI answer (unhappy, asked for a person, or the AI could not go on). */
  escalatedAfterAi: number;
  /** Tickets a customer reopened after a human's answer. */
  reopened: number;
  /** AI-answered tickets whose conversation has not closed: still in the window, or no window (FOLLOW_UP_WINDOW_MINUTES=0). */
  awaitingOutcome: number;
  /** good / (good + bad) ratings; null without ratings. */
  csat: number | null;
  ratings: number;
  /** Per document: AI answers citing it, and conversations where the customer came back unhappy after it was cited. */
  articles: Array<{ documentId: string; cited: number; unhappy: number; unhappyRate: number | null }>;
}

const rate = (part: number, whole: number): number | null => (whole > 0 ? part / whole : null);
const num = (value: unknown): number | null => (value === null || value === undefined ? null : Number(value));

export function defaultWindow(now = new Date(), days = 7): MetricsWindow {
  return { from: new Date(now.getTime() - days * 86_400_000), to: now };
}

export async function metricsSummary(db: Db, window: MetricsWindow): Promise<MetricsSummary> {
  const { from, to } = window;
  const inWindow = db.selectFrom('interactions').where('timestamp', '>=', from).where('timestamp', '<', to);

  const [totals, byIntent, byReason, perDay, openEscalations, kbStart, kbPerDay] = await Promise.all([
    inWindow
      .select([
        sql<number>`count(*)`.as('tickets'),
        sql<number>`count(*) filter (where escalated)`.as('escalated'),
        sql<number>`count(*) filter (where not escalated and response_source = 'ai')`.as('autonomous'),
        sql<number>`count(*) filter (where escalated and response_source = 'human')`.as('human_resolved'),
        sql<number | null>`avg(confidence)`.as('avg_confidence'),
        sql<number | null>`percentile_cont(0.5) within group (order by latency_ms)`.as('p50'),
        sql<number | null>`percentile_cont(0.95) within group (order by latency_ms)`.as('p95'),
        sql<number>`coalesce(sum(cost_usd), 0)`.as('cost'),
      ])
      .executeTakeFirstOrThrow(),
    inWindow
      .select([
        sql<string>`coalesce(intent, 'unclassified')`.as('intent'),
        sql<number>`count(*)`.as('tickets'),
        sql<number>`count(*) filter (where escalated)`.as('escalated'),
        sql<number | null>`avg(confidence)`.as('avg_confidence'),
      ])
      .groupBy(sql`coalesce(intent, 'unclassified')`)
      .orderBy(sql`count(*)`, 'desc')
      .execute(),
    inWindow
      .select([sql<string>`coalesce(reason, 'unknown')`.as('reason'), sql<number>`count(*)`.as('count')])
      .where('escalated', '=', true)
      .groupBy(sql`coalesce(reason, 'unknown')`)
      .orderBy(sql`count(*)`, 'desc')
      .execute(),
    inWindow
      .select([
        sql<string>`to_char(date_trunc('day', timestamp at time zone 'UTC'), 'YYYY-MM-DD')`.as('day'),
        sql<number>`count(*)`.as('tickets'),
        sql<number>`coalesce(sum(cost_usd), 0)`.as('cost'),
      ])
      .groupBy(sql`1`)
      .orderBy(sql`1`)
      .execute(),
    db
      .selectFrom('escalations')
      .select(sql<number>`count(*)`.as('count'))
      .where('resolved_at', 'is', null)
      .executeTakeFirstOrThrow(),
    db
      .selectFrom('kb_documents')
      .select(sql<number>`count(*)`.as('count'))
      .where('created_at', '<', from)
      .executeTakeFirstOrThrow(),
    db
      .selectFrom('kb_documents')
      .select([
        sql<string>`to_char(date_trunc('day', created_at at time zone 'UTC'), 'YYYY-MM-DD')`.as('day'),
        sql<number>`count(*)`.as('added'),
        sql<number>`count(*) filter (where source = 'resolution')`.as('from_resolutions'),
      ])
      .where('created_at', '>=', from)
      .where('created_at', '<', to)
      .groupBy(sql`1`)
      .orderBy(sql`1`)
      .execute(),
  ]);

  const tickets = Number(totals.tickets);
  const conversations = await conversationMetrics(db, window, tickets, Number(totals.autonomous));
  const escalated = Number(totals.escalated);
  const totalCostUsd = Number(totals.cost);
  let runningTotal = Number(kbStart.count);
  const kbDays = kbPerDay.map((d) => {
    runningTotal += Number(d.added);
    return {
      day: d.day,
      added: Number(d.added),
      fromResolutions: Number(d.from_resolutions),
      total: runningTotal,
    };
  });
  const added = kbDays.reduce((sum, d) => sum + d.added, 0);

  return {
    from: from.toISOString(),
    to: to.toISOString(),
    tickets,
    escalated,
    escalationRate: rate(escalated, tickets),
    escalationRateByIntent: byIntent.map((r) => ({
      intent: r.intent,
      tickets: Number(r.tickets),
      escalated: Number(r.escalated),
      escalationRate: rate(Number(r.escalated), Number(r.tickets)),
      avgConfidence: num(r.avg_confidence),
    })),
    escalationsByReason: byReason.map((r) => ({ reason: r.reason, count: Number(r.count) })),
    avgConfidence: num(totals.avg_confidence),
    p50LatencyMs: num(totals.p50),
    p95LatencyMs: num(totals.p95),
    autonomousResolutionRate: rate(Number(totals.autonomous), tickets),
    humanResolved: Number(totals.human_resolved),
    openEscalations: Number(openEscalations.count),
    totalCostUsd,
    costPerTicketUsd: tickets > 0 ? totalCostUsd / tickets : null,
    costPerDay: perDay.map((d) => ({ day: d.day, tickets: Number(d.tickets), costUsd: Number(d.cost) })),
    conversations,
    kbGrowth: {
      documentsAtStart: Number(kbStart.count),
      documentsAtEnd: runningTotal,
      added,
      addedFromResolutions: kbDays.reduce((sum, d) => sum + d.fromResolutions, 0),
      perDay: kbDays,
    },
  };
}

export interface WeeklyRow {
  /** Monday of the ISO week, YYYY-MM-DD (UTC). */
  week: string;
  tickets: number;
  escalated: number;
  escalationRate: number | null;
  /** Naive: every AI reply counts (AI-answered / tickets). */
  autonomousResolutionRate: number | null;
  /** Honest: conversations the AI resolved (no escalation, no unhappy customer, no human turn) / tickets. */
  honestResolutionRate: number | null;
  avgConfidence: number | null;
  p95LatencyMs: number | null;
  costUsd: number;
  kbAdded: number;
}

/** One row per ISO week in the window, for the weekly report table and its charts. */
export async function weeklyMetrics(db: Db, window: MetricsWindow): Promise<WeeklyRow[]> {
  const weekOf = (column: string) =>
    sql<string>`to_char(date_trunc('week', ${sql.ref(column)} at time zone 'UTC'), 'YYYY-MM-DD')`;
  const [tickets, kb] = await Promise.all([
    db
      .selectFrom('interactions as i')
      .leftJoin('conversations as c', 'c.workflow_id', 'i.workflow_id')
      .select([
        weekOf('i.timestamp').as('week'),
        sql<number>`count(*)`.as('tickets'),
        sql<number>`count(*) filter (where i.escalated)`.as('escalated'),
        sql<number>`count(*) filter (where not i.escalated and i.response_source = 'ai')`.as('autonomous'),
        sql<number>`count(*) filter (where ${isResolvedByAi('c')})`.as('resolved_by_ai'),
        sql<number | null>`avg(i.confidence)`.as('avg_confidence'),
        sql<number | null>`percentile_cont(0.95) within group (order by i.latency_ms)`.as('p95'),
        sql<number>`coalesce(sum(i.cost_usd), 0)`.as('cost'),
      ])
      .where('i.timestamp', '>=', window.from)
      .where('i.timestamp', '<', window.to)
      .groupBy(sql`1`)
      .execute(),
    db
      .selectFrom('kb_documents')
      .select([weekOf('created_at').as('week'), sql<number>`count(*)`.as('added')])
      .where('created_at', '>=', window.from)
      .where('created_at', '<', window.to)
      .groupBy(sql`1`)
      .execute(),
  ]);
  const weeks = new Map<string, WeeklyRow>();
  const blank = (week: string): WeeklyRow => ({
    week,
    tickets: 0,
    escalated: 0,
    escalationRate: null,
    autonomousResolutionRate: null,
    honestResolutionRate: null,
    avgConfidence: null,
    p95LatencyMs: null,
    costUsd: 0,
    kbAdded: 0,
  });
  for (const row of tickets) {
    const count = Number(row.tickets);
    weeks.set(row.week, {
      ...blank(row.week),
      tickets: count,
      escalated: Number(row.escalated),
      escalationRate: rate(Number(row.escalated), count),
      autonomousResolutionRate: rate(Number(row.autonomous), count),
      honestResolutionRate: rate(Number(row.resolved_by_ai), count),
      avgConfidence: num(row.avg_confidence),
      p95LatencyMs: num(row.p95),
      costUsd: Number(row.cost),
    });
  }
  for (const row of kb) {
    const existing = weeks.get(row.week) ?? blank(row.week);
    weeks.set(row.week, { ...existing, kbAdded: Number(row.added) });
  }
  return [...weeks.values()].sort((a, b) => a.week.localeCompare(b.week));
}

/** For Prometheus: everything is computed from Postgres at scrape time (the worker is another process). */
export async function ticketCountsByIntentAndOutcome(
  db: Db,
): Promise<Array<{ intent: string; outcome: string; count: number }>> {
  const rows = await db
    .selectFrom('tickets as t')
    .leftJoin('interactions as i', 'i.workflow_id', 't.workflow_id')
    .select([
      sql<string>`coalesce(i.intent, 'unclassified')`.as('intent'),
      sql<string>`case
        when i.workflow_id is null then 'in_progress'
        when not i.escalated and i.response_source = 'ai' then 'answered_by_ai'
        when i.escalated and i.response_source = 'human' then 'resolved_by_human'
        when i.escalated then 'awaiting_human'
        else 'in_progress' end`.as('outcome'),
      sql<number>`count(*)`.as('count'),
    ])
    .groupBy([sql`1`, sql`2`])
    .execute();
  return rows.map((r) => ({ intent: r.intent, outcome: r.outcome, count: Number(r.count) }));
}

export async function escalationRateSince(db: Db, since: Date | null): Promise<number | null> {
  let query = db
    .selectFrom('interactions')
    .select([
      sql<number>`count(*)`.as('tickets'),
      sql<number>`count(*) filter (where escalated)`.as('escalated'),
    ]);
  if (since) query = query.where('timestamp', '>=', since);
  const row = await query.executeTakeFirstOrThrow();
  return rate(Number(row.escalated), Number(row.tickets));
}

/** Naive and honest resolution rates and CSAT for tickets received since `since` (all time: null). */
export async function resolutionRatesSince(
  db: Db,
  since: Date | null,
): Promise<{ naive: number | null; honest: number | null; csat: number | null }> {
  const window = { from: since ?? new Date(0), to: new Date(Date.now() + 60_000) };
  const totals = await db
    .selectFrom('interactions')
    .select([
      sql<number>`count(*)`.as('tickets'),
      sql<number>`count(*) filter (where not escalated and response_source = 'ai')`.as('autonomous'),
    ])
    .where('timestamp', '>=', window.from)
    .executeTakeFirstOrThrow();
  const metrics = await conversationMetrics(db, window, Number(totals.tickets), Number(totals.autonomous));
  return { naive: metrics.naiveResolutionRate, honest: metrics.honestResolutionRate, csat: metrics.csat };
}

export async function llmUsageByModel(db: Db): Promise<
  Array<{
    model: string;
    inputTokens: number;
    cachedInputTokens: number;
    cacheWriteTokens: number;
    outputTokens: number;
    costUsd: number;
  }>
> {
  const rows = await db
    .selectFrom('ticket_steps')
    .select([
      'model',
      sql<number>`sum(input_tokens)`.as('input'),
      sql<number>`sum(cached_input_tokens)`.as('cached'),
      sql<number>`sum(cache_write_tokens)`.as('cache_write'),
      sql<number>`sum(output_tokens)`.as('output'),
      sql<number>`sum(cost_usd)`.as('cost'),
    ])
    .where('model', 'is not', null)
    .where(sql<boolean>`(input_tokens + output_tokens) > 0 or cost_usd > 0`)
    .groupBy('model')
    .execute();
  return rows.map((r) => ({
    model: r.model ?? 'unknown',
    inputTokens: Number(r.input),
    cachedInputTokens: Number(r.cached),
    cacheWriteTokens: Number(r.cache_write),
    outputTokens: Number(r.output),
    costUsd: Number(r.cost),
  }));
}

/**
 * LLM spend logged since `since`: every step's cost, failed attempts included, by the time its last attempt
 * finished (a step retried across a month boundary counts in the later month). Feeds LLM_MONTHLY_BUDGET_USD.
 */
export async function llmSpendSince(db: Db, since: Date): Promise<number> {
  const row = await db
    .selectFrom('ticket_steps')
    .select(sql<number | null>`sum(cost_usd)`.as('spent'))
    .where('finished_at', '>=', since)
    .where('cost_usd', '>', 0)
    .executeTakeFirst();
  return Number(row?.spent ?? 0);
}

/** Every escalation ever recorded, by reason (open and resolved). */
export async function escalationCountsByReason(db: Db): Promise<Array<{ reason: string; count: number }>> {
  const rows = await db
    .selectFrom('escalations')
    .select(['reason', sql<number>`count(*)`.as('count')])
    .groupBy('reason')
    .execute();
  return rows.map((r) => ({ reason: r.reason, count: Number(r.count) }));
}

/** How many escalations are open, and how many of those are past their SLA. */
export async function escalationQueueCounts(
  db: Db,
  now = new Date(),
): Promise<{ open: number; overdue: number }> {
  const row = await db
    .selectFrom('escalations')
    .select([
      sql<number>`count(*)`.as('open'),
      sql<number>`count(*) filter (where sla_due_at < ${now})`.as('overdue'),
    ])
    .where('resolved_at', 'is', null)
    .executeTakeFirstOrThrow();
  return { open: Number(row.open), overdue: Number(row.overdue) };
}

export async function kbDocumentCounts(db: Db): Promise<Array<{ source: string; count: number }>> {
  const rows = await db
    .selectFrom('kb_documents')
    .select(['source', sql<number>`count(*)`.as('count')])
    .groupBy('source')
    .execute();
  return rows.map((r) => ({ source: r.source, count: Number(r.count) }));
}

/** Completed tickets after a watermark, oldest first: feeds the latency histogram incrementally. */
export async function completedLatenciesAfter(
  db: Db,
  after: { completedAt: string; workflowId: string } | null,
  limit = 5000,
): Promise<Array<{ workflowId: string; completedAt: string; latencyMs: number; replySource: string }>> {
  let query = db
    .selectFrom('interactions')
    .select([
      'workflow_id',
      'latency_ms',
      'response_source',
      sql<string>`to_json(completed_at) #>> '{}'`.as('completed_at_exact'),
    ])
    .where('completed_at', 'is not', null)
    .where('latency_ms', 'is not', null);
  if (after) {
    query = query.where((eb) =>
      eb(
        eb.refTuple('completed_at', 'workflow_id'),
        '>',
        eb.tuple(sql<Date>`${after.completedAt}::timestamptz`, after.workflowId),
      ),
    );
  }
  const rows = await query.orderBy('completed_at').orderBy('workflow_id').limit(limit).execute();
  return rows.map((r) => ({
    workflowId: r.workflow_id,
    completedAt: r.completed_at_exact,
    latencyMs: Number(r.latency_ms),
    replySource: r.response_source ?? 'unknown',
  }));
}

/**
 * A conversation the AI resolved: closed as resolved or confirmed, with no human turn and no escalation after an
 * AI answer (docs/CONVERSATIONS.md). The one definition behind every honest resolution rate.
 */
function isResolvedByAi(alias: string) {
  const c = (column: string) => sql.ref(`${alias}.${column}`);
  return sql<boolean>`${c('closed_at')} is not null and ${c('outcome')} in ('resolved_by_ai', 'confirmed')
    and ${c('human_turns')} = 0 and not ${c('escalated_after_ai')}`;
}

/** The honest resolution rate and what stands behind it, for tickets received in the window. */
export async function conversationMetrics(
  db: Db,
  window: MetricsWindow,
  tickets: number,
  aiAnswered: number,
): Promise<ConversationMetrics> {
  const { from, to } = window;
  const inWindow = (alias: string) =>
    sql<boolean>`exists (select 1 from interactions i where i.workflow_id = ${sql.ref(`${alias}.workflow_id`)}
      and i.timestamp >= ${from} and i.timestamp < ${to})`;
  const [counts, ratings, unhappy, cited] = await Promise.all([
    db
      .selectFrom('conversations as c')
      .select([
        sql<number>`count(*) filter (where ${isResolvedByAi('c')})`.as('resolved_by_ai'),
        sql<number>`count(*) filter (where c.outcome = 'confirmed' and c.human_turns = 0 and not c.escalated_after_ai)`.as(
          'confirmed',
        ),
        sql<number>`count(*) filter (where c.escalated_after_ai)`.as('escalated_after_ai'),
        sql<number>`count(*) filter (where c.reopened > 0)`.as('reopened'),
        sql<number>`count(*) filter (where c.ai_turns > 0 and (c.closed_at is not null or c.escalated_after_ai))`.as(
          'ai_settled',
        ),
      ])
      .where(inWindow('c'))
      .executeTakeFirstOrThrow(),
    db
      .selectFrom('ticket_feedback as f')
      .select([
        sql<number>`count(*) filter (where f.rating = 'good')`.as('good'),
        sql<number>`count(*)`.as('all'),
      ])
      .where(inWindow('f'))
      .executeTakeFirstOrThrow(),
    db
      .selectFrom(
        sql<{
          workflow_id: string;
          document_id: string;
        }>`(select c.workflow_id, d.document_id from conversations c,
          jsonb_array_elements_text(c.unhappy_document_ids) as d(document_id))`.as('u'),
      )
      .select(['u.document_id', sql<number>`count(distinct u.workflow_id)`.as('unhappy')])
      .where(inWindow('u'))
      .groupBy('u.document_id')
      .execute(),
    db
      .selectFrom('drafts as d')
      .innerJoin('ticket_passages as tp', (join) =>
        join
          .onRef('tp.workflow_id', '=', 'd.workflow_id')
          .on(sql<boolean>`jsonb_exists(d.cited_passage_ids, tp.passage_id)`),
      )
      .select(['tp.document_id', sql<number>`count(distinct d.workflow_id)`.as('cited')])
      .where('d.kind', '=', 'answer')
      .where(inWindow('d'))
      .groupBy('tp.document_id')
      .execute(),
  ]);
  const unhappyBy = new Map(unhappy.map((u) => [u.document_id, Number(u.unhappy)]));
  const articles = cited
    .map((c) => {
      const unhappyCount = unhappyBy.get(c.document_id) ?? 0;
      return {
        documentId: c.document_id,
        cited: Number(c.cited),
        unhappy: unhappyCount,
        unhappyRate: rate(unhappyCount, Number(c.cited)),
      };
    })
    .sort((a, b) => b.unhappy - a.unhappy || b.cited - a.cited);
  const resolvedByAi = Number(counts.resolved_by_ai);
  return {
    naiveResolutionRate: rate(aiAnswered, tickets),
    honestResolutionRate: rate(resolvedByAi, tickets),
    resolvedByAi,
    confirmedByCustomer: Number(counts.confirmed),
    escalatedAfterAi: Number(counts.escalated_after_ai),
    reopened: Number(counts.reopened),
    awaitingOutcome: Math.max(0, aiAnswered - Number(counts.ai_settled)),
    csat: rate(Number(ratings.good), Number(ratings.all)),
    ratings: Number(ratings.all),
    articles,
  };
}
