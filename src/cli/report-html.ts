import type { MetricsSummary, WeeklyRow } from '../metrics/queries';
import { renderGapSection, type GapSection } from './report-gaps';

/**
 * `ticketflow report --html`: one self-contained file (inline CSS and SVG, no scripts, no external assets) that
 * can be mailed or archived and still renders offline.
 */

export interface ReportData {
  generatedAt: Date;
  summary: MetricsSummary;
  weekly: WeeklyRow[];
  /** The knowledge-gap report of the window (src/kb/gaps.ts), or why it could not be built. */
  gaps?: GapSection;
}

export function escapeHtml(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

export const percent = (value: number | null): string =>
  value === null ? '–' : `${(value * 100).toFixed(1)}%`;
export const usd = (value: number | null): string =>
  value === null ? '–' : `$${value.toFixed(value < 1 ? 4 : 2)}`;
export const duration = (ms: number | null): string => {
  if (ms === null) return '–';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 120_000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms < 7_200_000) return `${(ms / 60_000).toFixed(1)} min`;
  return `${(ms / 3_600_000).toFixed(1)} h`;
};

interface Series {
  name: string;
  color: string;
  values: Array<number | null>;
}

const WIDTH = 640;
const HEIGHT = 220;
const PAD = { top: 16, right: 16, bottom: 40, left: 56 };

function axisLabels(labels: string[], x: (i: number) => number): string {
  // Thin the labels out so they never overlap.
  const step = Math.max(1, Math.ceil(labels.length / 8));
  return labels
    .map((label, i) =>
      i % step === 0
        ? `<text x="${x(i).toFixed(1)}" y="${HEIGHT - PAD.bottom + 16}" text-anchor="middle" class="tick">${escapeHtml(label)}</text>`
        : '',
    )
    .join('');
}

function yAxis(max: number, format: (v: number) => string): string {
  const plotHeight = HEIGHT - PAD.top - PAD.bottom;
  return [0, 0.5, 1]
    .map((f) => {
      const y = PAD.top + plotHeight * (1 - f);
      return (
        `<line x1="${PAD.left}" x2="${WIDTH - PAD.right}" y1="${y}" y2="${y}" class="grid"/>` +
        `<text x="${PAD.left - 6}" y="${y + 4}" text-anchor="end" class="tick">${escapeHtml(format(max * f))}</text>`
      );
    })
    .join('');
}

function emptyChart(title: string): string {
  return `<svg viewBox="0 0 ${WIDTH} ${HEIGHT}" role="img" aria-label="${escapeHtml(title)}"><text x="${WIDTH / 2}" y="${HEIGHT / 2}" text-anchor="middle" class="tick">no data in this window</text></svg>`;
}

/** Grouped bars, one group per label. */
export function barChart(
  title: string,
  labels: string[],
  series: Series[],
  format: (v: number) => string,
): string {
  const all = series.flatMap((s) => s.values.filter((v): v is number => v !== null));
  if (labels.length === 0 || all.length === 0) return emptyChart(title);
  const max = Math.max(...all) || 1;
  const plotWidth = WIDTH - PAD.left - PAD.right;
  const plotHeight = HEIGHT - PAD.top - PAD.bottom;
  const groupWidth = plotWidth / labels.length;
  const barWidth = Math.max(2, (groupWidth * 0.8) / series.length);
  const x = (i: number) => PAD.left + groupWidth * (i + 0.5);
  const bars = series
    .map((s, si) =>
      s.values
        .map((value, i) => {
          if (value === null) return '';
          const h = (value / max) * plotHeight;
          const bx = PAD.left + groupWidth * i + groupWidth * 0.1 + barWidth * si;
          return `<rect x="${bx.toFixed(1)}" y="${(PAD.top + plotHeight - h).toFixed(1)}" width="${barWidth.toFixed(1)}" height="${h.toFixed(1)}" fill="${s.color}"><title>${escapeHtml(`${s.name} ${labels[i]}: ${format(value)}`)}</title></rect>`;
        })
        .join(''),
    )
    .join('');
  return `<svg viewBox="0 0 ${WIDTH} ${HEIGHT}" role="img" aria-label="${escapeHtml(title)}">${yAxis(max, format)}${bars}${axisLabels(labels, x)}</svg>${legend(series)}`;
}

/** Lines over the labels; gaps where a value is null. */
export function lineChart(
  title: string,
  labels: string[],
  series: Series[],
  format: (v: number) => string,
  fixedMax?: number,
): string {
  const all = series.flatMap((s) => s.values.filter((v): v is number => v !== null));
  if (labels.length === 0 || all.length === 0) return emptyChart(title);
  const max = fixedMax ?? (Math.max(...all) || 1);
  const plotWidth = WIDTH - PAD.left - PAD.right;
  const plotHeight = HEIGHT - PAD.top - PAD.bottom;
  const x = (i: number) =>
    labels.length === 1 ? PAD.left + plotWidth / 2 : PAD.left + (plotWidth * i) / (labels.length - 1);
  const y = (v: number) => PAD.top + plotHeight * (1 - v / max);
  const paths = series
    .map((s) => {
      let d = '';
      let penDown = false;
      s.values.forEach((value, i) => {
        if (value === null) {
          penDown = false;
          return;
        }
        d += `${penDown ? 'L' : 'M'}${x(i).toFixed(1)} ${y(value).toFixed(1)} `;
        penDown = true;
      });
      const dots = s.values
        .map((value, i) =>
          value === null
            ? ''
            : `<circle cx="${x(i).toFixed(1)}" cy="${y(value).toFixed(1)}" r="3" fill="${s.color}"><title>${escapeHtml(`${s.name} ${labels[i]}: ${format(value)}`)}</title></circle>`,
        )
        .join('');
      return `<path d="${d.trim()}" fill="none" stroke="${s.color}" stroke-width="2"/>${dots}`;
    })
    .join('');
  return `<svg viewBox="0 0 ${WIDTH} ${HEIGHT}" role="img" aria-label="${escapeHtml(title)}">${yAxis(max, format)}${paths}${axisLabels(labels, x)}</svg>${legend(series)}`;
}

function legend(series: Series[]): string {
  return `<p class="legend">${series.map((s) => `<span style="color:${s.color}">■</span> ${escapeHtml(s.name)}`).join(' &nbsp; ')}</p>`;
}

function table(headers: string[], rows: string[][]): string {
  const head = headers.map((h) => `<th>${escapeHtml(h)}</th>`).join('');
  const body = rows.map((r) => `<tr>${r.map((c) => `<td>${escapeHtml(c)}</td>`).join('')}</tr>`).join('');
  return `<table><thead><tr>${head}</tr></thead><tbody>${body}</tbody></table>`;
}

export function weeklyTableRows(weekly: WeeklyRow[]): string[][] {
  return weekly.map((w) => [
    w.week,
    String(w.tickets),
    percent(w.escalationRate),
    percent(w.autonomousResolutionRate),
    percent(w.honestResolutionRate),
    w.avgConfidence === null ? '–' : w.avgConfidence.toFixed(2),
    duration(w.p95LatencyMs),
    usd(w.costUsd),
    String(w.kbAdded),
  ]);
}

export const WEEKLY_HEADERS = [
  'Week of',
  'Tickets',
  'Escalated',
  'AI replies',
  'Resolved by AI',
  'Avg conf.',
  'p95 latency',
  'Cost',
  'KB added',
];

export function renderHtmlReport(data: ReportData): string {
  const { summary, weekly } = data;
  const weeks = weekly.map((w) => w.week);
  const days = summary.costPerDay.map((d) => d.day);
  const kbDays = summary.kbGrowth.perDay.map((d) => d.day);
  const headline: Array<[string, string]> = [
    ['Tickets', String(summary.tickets)],
    ['Escalation rate', percent(summary.escalationRate)],
    // Both rates side by side: an AI reply is not a resolution when the customer came back unhappy.
    ['AI replies (naive)', percent(summary.conversations.naiveResolutionRate)],
    ['Resolved by AI (honest)', percent(summary.conversations.honestResolutionRate)],
    ['Avg confidence', summary.avgConfidence === null ? '–' : summary.avgConfidence.toFixed(2)],
    ['p95 latency', duration(summary.p95LatencyMs)],
    ['Total cost', usd(summary.totalCostUsd)],
    ['Cost per ticket', usd(summary.costPerTicketUsd)],
    ['Open escalations', String(summary.openEscalations)],
    ['KB documents', `${summary.kbGrowth.documentsAtEnd} (+${summary.kbGrowth.added})`],
  ];

  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>ticketflow report ${escapeHtml(summary.from.slice(0, 10))} – ${escapeHtml(summary.to.slice(0, 10))}</title>
<style>
  body { font: 14px/1.45 system-ui, -apple-system, Segoe UI, sans-serif; margin: 2rem auto; max-width: 960px; color: #1d2430; padding: 0 1rem; }
  h1 { font-size: 1.5rem; margin-bottom: .2rem; } h2 { font-size: 1.1rem; margin-top: 2rem; border-bottom: 1px solid #dde3ea; padding-bottom: .3rem; }
  .muted { color: #5b6675; }
  .cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(170px, 1fr)); gap: .6rem; margin-top: 1rem; }
  .card { border: 1px solid #dde3ea; border-radius: 6px; padding: .6rem .8rem; } .card b { display: block; font-size: 1.3rem; }
  table { border-collapse: collapse; width: 100%; margin-top: .5rem; } th, td { text-align: right; padding: .3rem .5rem; border-bottom: 1px solid #eef1f4; }
  th:first-child, td:first-child { text-align: left; } th { font-weight: 600; background: #f6f8fa; }
  svg { width: 100%; height: auto; max-width: ${WIDTH}px; display: block; }
  svg .grid { stroke: #e5e9ef; } svg .tick { font-size: 11px; fill: #5b6675; }
  .legend { margin: .2rem 0 0; color: #5b6675; font-size: 12px; }
</style>
</head>
<body>
<h1>ticketflow report</h1>
<p class="muted">${escapeHtml(summary.from)} → ${escapeHtml(summary.to)} · generated ${escapeHtml(data.generatedAt.toISOString())}</p>
<div class="cards">${headline.map(([k, v]) => `<div class="card">${escapeHtml(k)}<b>${escapeHtml(v)}</b></div>`).join('')}</div>

<h2>Weekly</h2>
${table(WEEKLY_HEADERS, weeklyTableRows(weekly))}

<h2>Tickets per week</h2>
${barChart(
  'Tickets per week',
  weeks,
  [
    { name: 'tickets', color: '#3b6fd8', values: weekly.map((w) => w.tickets) },
    { name: 'escalated', color: '#e0823d', values: weekly.map((w) => w.escalated) },
  ],
  (v) => String(Math.round(v)),
)}

<h2>Escalation rate, AI replies and resolutions by AI</h2>
${lineChart(
  'Rates per week',
  weeks,
  [
    { name: 'escalation rate', color: '#e0823d', values: weekly.map((w) => w.escalationRate) },
    {
      name: 'AI replies (naive)',
      color: '#9aa5b1',
      values: weekly.map((w) => w.autonomousResolutionRate),
    },
    {
      name: 'resolved by AI (honest)',
      color: '#2f9e6e',
      values: weekly.map((w) => w.honestResolutionRate),
    },
  ],
  (v) => `${Math.round(v * 100)}%`,
  1,
)}

<h2>Escalation rate by intent</h2>
${table(
  ['Intent', 'Tickets', 'Escalated', 'Rate', 'Avg conf.'],
  summary.escalationRateByIntent.map((i) => [
    i.intent,
    String(i.tickets),
    String(i.escalated),
    percent(i.escalationRate),
    i.avgConfidence === null ? '–' : i.avgConfidence.toFixed(2),
  ]),
)}

<h2>Escalations by reason</h2>
${table(
  ['Reason', 'Count'],
  summary.escalationsByReason.map((r) => [r.reason, String(r.count)]),
)}

<h2>Cost per day</h2>
${barChart('Cost per day', days, [{ name: 'LLM cost (USD)', color: '#7a5cd6', values: summary.costPerDay.map((d) => d.costUsd) }], (v) => usd(v))}

<h2>Knowledge-base growth</h2>
${lineChart(
  'KB documents',
  kbDays,
  [{ name: 'documents', color: '#2f9e6e', values: summary.kbGrowth.perDay.map((d) => d.total) }],
  (v) => String(Math.round(v)),
)}
<p class="muted">${summary.kbGrowth.added} added in this window, ${summary.kbGrowth.addedFromResolutions} of them learned from human resolutions.</p>
${data.gaps ? renderGapSection(data.gaps) : ''}
</body>
</html>
`;
}
