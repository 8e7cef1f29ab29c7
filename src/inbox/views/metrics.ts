import type { MetricsSummary } from '../../metrics/queries';
import { barChart, dataTable, legend, lineChart, PALETTE, type ChartSeries } from '../charts';
import type { DailyRow } from '../data';
import { humanize, latency, percent, reasonLabel, usd } from '../format';
import { html, type SafeHtml } from '../html';
import { layout, type PageContext } from './layout';

export const METRIC_WINDOWS = [7, 30, 90] as const;
export type MetricWindowDays = (typeof METRIC_WINDOWS)[number];

export interface MetricsPageOptions {
  windowDays: MetricWindowDays;
  days: string[];
  summary: MetricsSummary;
  daily: DailyRow[];
  byIntent: Array<{ day: string; intent: string; tickets: number; escalated: number }>;
  kbBefore: { total: number; resolution: number };
}

const MAX_INTENT_LINES = 6;

function kpi(label: string, value: string, sub: string | SafeHtml, id: string): SafeHtml {
  return html`<div class="kpi" id="${id}">
    <div class="kpi-label">${label}</div>
    <div class="kpi-value">${value}</div>
    <div class="kpi-sub">${sub}</div>
  </div>`;
}

function chartCard(
  id: string,
  title: string,
  description: string,
  chart: SafeHtml,
  series: ChartSeries[],
  days: string[],
  format: (v: number) => string,
): SafeHtml {
  return html`<section class="card chart-card" aria-labelledby="${id}-title" id="${id}">
    <h2 id="${id}-title">${title}</h2>
    <p class="muted small">${description}</p>
    ${chart} ${series.length > 1 ? legend(series) : ''} ${dataTable(title, days, series, format)}
  </section>`;
}

/** Per-day series aligned to `days` (null where a day had no tickets, so lines break instead of dropping to 0). */
export function buildSeries(options: MetricsPageOptions) {
  const { days, daily, byIntent, summary, kbBefore } = options;
  const dailyByDay = new Map(daily.map((d) => [d.day, d]));

  const intentVolume = new Map<string, number>();
  for (const row of byIntent) intentVolume.set(row.intent, (intentVolume.get(row.intent) ?? 0) + row.tickets);
  const intents = [...intentVolume.entries()]
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .slice(0, MAX_INTENT_LINES)
    .map(([intent]) => intent);
  const escalationByIntent: ChartSeries[] = intents.map((intent, index) => ({
    name: humanize(intent),
    color: PALETTE[index % PALETTE.length]!,
    values: days.map((day) => {
      const row = byIntent.find((r) => r.day === day && r.intent === intent);
      return row && row.tickets > 0 ? row.escalated / row.tickets : null;
    }),
  }));

  const autonomous: ChartSeries = {
    name: 'Answered by the AI alone',
    color: PALETTE[2]!,
    values: days.map((day) => {
      const row = dailyByDay.get(day);
      return row && row.tickets > 0 ? row.autonomous / row.tickets : null;
    }),
  };
  const p95: ChartSeries = {
    name: 'p95 latency',
    color: PALETTE[4]!,
    values: days.map((day) => dailyByDay.get(day)?.p95LatencyMs ?? null),
  };
  const costByDay = new Map(summary.costPerDay.map((d) => [d.day, d.costUsd]));
  const cost: ChartSeries = {
    name: 'LLM cost',
    color: PALETTE[0]!,
    values: days.map((day) => costByDay.get(day) ?? 0),
  };

  const kbByDay = new Map(summary.kbGrowth.perDay.map((d) => [d.day, d]));
  let total = kbBefore.total;
  let learned = kbBefore.resolution;
  const kbTotal: ChartSeries = { name: 'All documents', color: PALETTE[0]!, values: [] };
  const kbLearned: ChartSeries = { name: 'Learned from resolutions', color: PALETTE[2]!, values: [] };
  for (const day of days) {
    const added = kbByDay.get(day);
    total += added?.added ?? 0;
    learned += added?.fromResolutions ?? 0;
    kbTotal.values.push(total);
    kbLearned.values.push(learned);
  }
  return { escalationByIntent, autonomous, p95, cost, kb: [kbTotal, kbLearned] };
}

export function metricsPage(ctx: PageContext, options: MetricsPageOptions): string {
  const { summary, days } = options;
  const series = buildSeries(options);
  const rate = (v: number) => percent(v);
  const money = (v: number) => usd(v);
  const count = (v: number) => String(Math.round(v));
  return layout(ctx, {
    title: 'Metrics',
    active: 'metrics',
    body: html`<header class="page-header">
        <div>
          <h1>Metrics</h1>
          <p class="page-sub">Last ${options.windowDays} days · UTC days · from the interaction log</p>
        </div>
        <nav class="segmented" aria-label="Time window">
          ${[7, 30, 90].map(
            (d) =>
              html`<a
                href="/inbox/metrics?days=${d}"
                ${d === options.windowDays ? html`aria-current="page"` : ''}
                >${d} days</a
              >`,
          )}
        </nav>
      </header>
      <div class="kpis">
        ${kpi(
          'Tickets',
          String(summary.tickets),
          `${summary.openEscalations} open escalations now`,
          'kpi-tickets',
        )}
        ${kpi(
          'Escalation rate',
          percent(summary.escalationRate, 1),
          `${summary.escalated} escalated`,
          'kpi-escalation',
        )}
        ${kpi(
          'Autonomous resolution',
          percent(summary.autonomousResolutionRate, 1),
          `${summary.humanResolved} resolved by humans`,
          'kpi-autonomous',
        )}
        ${kpi(
          'Resolved by AI (honest)',
          percent(summary.conversations.honestResolutionRate, 1),
          `beside ${percent(summary.conversations.naiveResolutionRate, 1)} naive; ` +
            `${summary.conversations.escalatedAfterAi} escalated after an AI answer, ` +
            `${summary.conversations.awaitingOutcome} awaiting outcome; CSAT ${percent(summary.conversations.csat, 0)}`,
          'kpi-honest-resolution',
        )}
        ${kpi(
          'p95 latency',
          latency(summary.p95LatencyMs),
          `median ${latency(summary.p50LatencyMs)}`,
          'kpi-latency',
        )}
        ${kpi(
          'LLM cost',
          usd(summary.totalCostUsd),
          `${usd(summary.costPerTicketUsd)} per ticket`,
          'kpi-cost',
        )}
        ${kpi(
          'Knowledge base',
          String(summary.kbGrowth.documentsAtEnd),
          `+${summary.kbGrowth.added} (${summary.kbGrowth.addedFromResolutions} learned)`,
          'kpi-kb',
        )}
      </div>
      <div class="chart-grid">
        ${chartCard(
          'chart-escalation-by-intent',
          'Escalation rate by intent',
          'Share of each intent’s tickets handed to a human, per day.',
          lineChart({
            label: 'Escalation rate by intent per day',
            days,
            series: series.escalationByIntent,
            format: rate,
            yMax: 1,
          }),
          series.escalationByIntent,
          days,
          rate,
        )}
        ${chartCard(
          'chart-autonomous',
          'Autonomous resolution rate',
          'Tickets the AI answered with no human involved, per day.',
          lineChart({
            label: 'Autonomous resolution rate per day',
            days,
            series: [series.autonomous],
            format: rate,
            yMax: 1,
          }),
          [series.autonomous],
          days,
          rate,
        )}
        ${chartCard(
          'chart-latency',
          'p95 latency',
          'Time from receiving a ticket to delivering the reply (95th percentile), per day. Escalated tickets include the human’s time.',
          lineChart({
            label: 'p95 latency per day',
            days,
            series: [series.p95],
            format: latency,
            scale: 'duration',
          }),
          [series.p95],
          days,
          latency,
        )}
        ${chartCard(
          'chart-cost',
          'Cost per day',
          'LLM spend on classification and answers (local models cost nothing).',
          barChart({
            label: 'LLM cost per day',
            days,
            series: [series.cost],
            format: money,
            zeroIsEmpty: true,
            emptyText: 'No LLM spend in this window',
          }),
          [series.cost],
          days,
          money,
        )}
        ${chartCard(
          'chart-kb',
          'Knowledge-base growth',
          'Documents in the knowledge base at the end of each day.',
          lineChart({
            label: 'Knowledge-base documents per day',
            days,
            series: series.kb,
            format: count,
            integer: true,
          }),
          series.kb,
          days,
          count,
        )}
        <section class="card chart-card" aria-labelledby="reasons-title" id="escalation-reasons">
          <h2 id="reasons-title">Why tickets were escalated</h2>
          <p class="muted small">Escalations in the window, by reason.</p>
          ${summary.escalationsByReason.length === 0
            ? html`<p class="muted">No escalations in this window.</p>`
            : html`<table class="table compact">
                <thead>
                  <tr>
                    <th scope="col">Reason</th>
                    <th scope="col" class="num">Tickets</th>
                    <th scope="col" class="num">Share</th>
                  </tr>
                </thead>
                <tbody>
                  ${summary.escalationsByReason.map(
                    (r) =>
                      html`<tr>
                        <td>${reasonLabel(r.reason)}</td>
                        <td class="num">${r.count}</td>
                        <td class="num">
                          ${percent(summary.escalated > 0 ? r.count / summary.escalated : null)}
                        </td>
                      </tr>`,
                  )}
                </tbody>
              </table>`}
        </section>
      </div>`,
  });
}
