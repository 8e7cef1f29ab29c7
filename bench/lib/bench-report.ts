import type { MixKind } from './mix';
import { markdownTable, ms, pct, times, usd } from './markdown';
import { llmTimeMs, orchestrationOverheadMs, overheadBeyondWorkMs, type TicketTiming } from './overhead';
import { ratio, round, share, summarize, type Summary } from './stats';

/** Per-run aggregation and the Markdown summary of `npm run bench`. */

export interface TokenCounts {
  input: number;
  cachedInput: number;
  cacheWrite: number;
  output: number;
  costUsd: number;
}

export interface RunRow {
  kind: MixKind;
  timing: TicketTiming;
  generated: boolean;
  escalated: boolean;
  reason: string | null;
  tokens: TokenCounts;
  /** Timestamps relative to any common origin (performance.now()), for the wall-clock window. */
  startedAt: number;
  finishedAt: number;
}

export interface RunSummary {
  system: 'ticketflow' | 'baseline';
  tickets: number;
  concurrency: number;
  wallSeconds: number;
  throughputPerSecond: number;
  endToEndMs: Summary;
  llmMs: Summary;
  retrieveMs: Summary;
  orchestrationOverheadMs: Summary;
  overheadBeyondWorkMs: Summary;
  /** Mean overhead as a share of mean end-to-end time. */
  overheadShareOfEndToEnd: number | null;
  generationCalls: number;
  generationShare: number | null;
  escalated: number;
  escalationReasons: Record<string, number>;
  tokensPerTicket: TokenCounts & { total: number };
  costTotalUsd: number;
  costPer1000TicketsUsd: number;
  byKind: Record<
    string,
    { tickets: number; generationShare: number | null; endToEndP50Ms: number; costPerTicketUsd: number }
  >;
}

export function summarizeRun(
  system: RunSummary['system'],
  rows: readonly RunRow[],
  concurrency: number,
): RunSummary {
  const parallelTriage = system === 'ticketflow';
  const wallMs = Math.max(...rows.map((r) => r.finishedAt)) - Math.min(...rows.map((r) => r.startedAt));
  const e2e = rows.map((r) => r.timing.endToEndMs);
  const overhead = rows.map((r) => orchestrationOverheadMs(r.timing));
  const sum = (pick: (t: TokenCounts) => number) => rows.reduce((total, r) => total + pick(r.tokens), 0);
  const tokens: TokenCounts = {
    input: sum((t) => t.input),
    cachedInput: sum((t) => t.cachedInput),
    cacheWrite: sum((t) => t.cacheWrite),
    output: sum((t) => t.output),
    costUsd: sum((t) => t.costUsd),
  };
  const n = rows.length;
  const reasons: Record<string, number> = {};
  for (const row of rows)
    if (row.escalated) reasons[row.reason ?? 'unknown'] = (reasons[row.reason ?? 'unknown'] ?? 0) + 1;
  const byKind: RunSummary['byKind'] = {};
  for (const kind of [...new Set(rows.map((r) => r.kind))].sort()) {
    const subset = rows.filter((r) => r.kind === kind);
    byKind[kind] = {
      tickets: subset.length,
      generationShare: share(subset.filter((r) => r.generated).length, subset.length),
      endToEndP50Ms: summarize(subset.map((r) => r.timing.endToEndMs)).p50,
      costPerTicketUsd: round(subset.reduce((total, r) => total + r.tokens.costUsd, 0) / subset.length, 7),
    };
  }
  const meanE2e = e2e.reduce((a, b) => a + b, 0) / n;
  const meanOverhead = overhead.reduce((a, b) => a + b, 0) / n;
  return {
    system,
    tickets: n,
    concurrency,
    wallSeconds: round(wallMs / 1000, 2),
    throughputPerSecond: round(n / (wallMs / 1000), 2),
    endToEndMs: summarize(e2e),
    llmMs: summarize(rows.map((r) => llmTimeMs(r.timing))),
    retrieveMs: summarize(rows.map((r) => r.timing.retrieveMs)),
    orchestrationOverheadMs: summarize(overhead),
    overheadBeyondWorkMs: summarize(rows.map((r) => overheadBeyondWorkMs(r.timing, parallelTriage))),
    overheadShareOfEndToEnd: share(meanOverhead, meanE2e),
    generationCalls: rows.filter((r) => r.generated).length,
    generationShare: share(rows.filter((r) => r.generated).length, n),
    escalated: rows.filter((r) => r.escalated).length,
    escalationReasons: reasons,
    tokensPerTicket: {
      input: round(tokens.input / n, 1),
      cachedInput: round(tokens.cachedInput / n, 1),
      cacheWrite: round(tokens.cacheWrite / n, 1),
      output: round(tokens.output / n, 1),
      total: round((tokens.input + tokens.cachedInput + tokens.cacheWrite + tokens.output) / n, 1),
      costUsd: round(tokens.costUsd / n, 7),
    },
    costTotalUsd: round(tokens.costUsd, 6),
    costPer1000TicketsUsd: round((tokens.costUsd / n) * 1000, 4),
    byKind,
  };
}

/** ticketflow ÷ baseline. Throughput > 1 is better for ticketflow; latencies and cost < 1 are. */
export function compareRuns(ticketflow: RunSummary, baseline: RunSummary) {
  return {
    throughput: ratio(ticketflow.throughputPerSecond, baseline.throughputPerSecond),
    endToEndP50: ratio(ticketflow.endToEndMs.p50, baseline.endToEndMs.p50),
    endToEndP95: ratio(ticketflow.endToEndMs.p95, baseline.endToEndMs.p95),
    endToEndP99: ratio(ticketflow.endToEndMs.p99, baseline.endToEndMs.p99),
    costPerTicket: ratio(ticketflow.tokensPerTicket.costUsd, baseline.tokensPerTicket.costUsd),
    tokensPerTicket: ratio(ticketflow.tokensPerTicket.total, baseline.tokensPerTicket.total),
  };
}

export type Comparison = ReturnType<typeof compareRuns>;

export function comparisonTable(tf: RunSummary, bl: RunSummary, cmp: Comparison, withCost: boolean): string {
  const rows: Array<[string, string, string, string]> = [
    [
      'throughput (tickets/s)',
      tf.throughputPerSecond.toFixed(2),
      bl.throughputPerSecond.toFixed(2),
      times(cmp.throughput),
    ],
    ['end-to-end p50', ms(tf.endToEndMs.p50), ms(bl.endToEndMs.p50), times(cmp.endToEndP50)],
    ['end-to-end p95', ms(tf.endToEndMs.p95), ms(bl.endToEndMs.p95), times(cmp.endToEndP95)],
    ['end-to-end p99', ms(tf.endToEndMs.p99), ms(bl.endToEndMs.p99), times(cmp.endToEndP99)],
    ['LLM time p50 (classify + generate)', ms(tf.llmMs.p50), ms(bl.llmMs.p50), ''],
    ['retrieval p50 (embed + search)', ms(tf.retrieveMs.p50), ms(bl.retrieveMs.p50), ''],
    [
      'orchestration overhead p50 / p95 / p99',
      `${ms(tf.orchestrationOverheadMs.p50)} / ${ms(tf.orchestrationOverheadMs.p95)} / ${ms(tf.orchestrationOverheadMs.p99)}`,
      `${ms(bl.orchestrationOverheadMs.p50)} / ${ms(bl.orchestrationOverheadMs.p95)} / ${ms(bl.orchestrationOverheadMs.p99)}`,
      '',
    ],
    [
      'orchestration overhead, mean share of E2E',
      pct(tf.overheadShareOfEndToEnd),
      pct(bl.overheadShareOfEndToEnd),
      '',
    ],
    [
      'overhead beyond work p50 / p95',
      `${ms(tf.overheadBeyondWorkMs.p50)} / ${ms(tf.overheadBeyondWorkMs.p95)}`,
      `${ms(bl.overheadBeyondWorkMs.p50)} / ${ms(bl.overheadBeyondWorkMs.p95)}`,
      '',
    ],
    ['tickets that paid for generation', pct(tf.generationShare), pct(bl.generationShare), ''],
    ['escalated to a human', pct(share(tf.escalated, tf.tickets)), pct(share(bl.escalated, bl.tickets)), ''],
  ];
  if (withCost) {
    rows.push(
      [
        'tokens per ticket (all kinds)',
        tf.tokensPerTicket.total.toFixed(0),
        bl.tokensPerTicket.total.toFixed(0),
        times(cmp.tokensPerTicket),
      ],
      [
        '$ per ticket',
        usd(tf.tokensPerTicket.costUsd),
        usd(bl.tokensPerTicket.costUsd),
        times(cmp.costPerTicket),
      ],
      ['$ per 1,000 tickets', usd(tf.costPer1000TicketsUsd, 2), usd(bl.costPer1000TicketsUsd, 2), ''],
    );
  }
  return markdownTable(['', 'ticketflow', 'baseline (seed-style)', 'ticketflow ÷ baseline'], rows);
}
