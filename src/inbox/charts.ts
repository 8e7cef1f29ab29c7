import { escapeHtml, html, trusted, type SafeHtml } from './html';

/**
 * Small server-side SVG charts over a daily axis. No script, no inline style (the CSP forbids both): colours
 * are SVG presentation attributes, and every point carries a <title> so hovering shows the exact value.
 */

export const PALETTE = [
  '#2563eb',
  '#dc2626',
  '#059669',
  '#d97706',
  '#7c3aed',
  '#0891b2',
  '#db2777',
  '#4b5563',
];

export interface ChartSeries {
  name: string;
  color: string;
  /** One value per day of the axis; null where there is no data (the line breaks). */
  values: Array<number | null>;
}

export interface ChartOptions {
  /** Accessible name of the chart. */
  label: string;
  days: string[];
  series: ChartSeries[];
  format: (value: number) => string;
  /** Fixed top of the y axis (e.g. 1 for rates); otherwise a round number above the largest value. */
  yMax?: number;
  /** Counts: gridlines on whole numbers only. */
  integer?: boolean;
  /** Milliseconds: gridlines on clock-friendly steps (30 s, 5 min, 1 h...). */
  scale?: 'duration';
  /** Shown instead of the chart when there is nothing to plot. */
  emptyText?: string;
  /** Treat a series of zeros as "nothing to plot" (e.g. no spend at all). */
  zeroIsEmpty?: boolean;
}

const WIDTH = 640;
const HEIGHT = 230;
const MARGIN = { top: 14, right: 16, bottom: 30, left: 56 };
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

function dayLabel(day: string): string {
  const [, month, date] = day.split('-');
  return `${MONTHS[Number(month) - 1] ?? month} ${Number(date)}`;
}

/** 1, 2, 5 × 10^n at or above the value: gridline steps whose multiples read well at any precision. */
function niceStep(value: number): number {
  if (!(value > 0)) return 1;
  const base = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 5, 10]) if (step * base >= value * (1 - 1e-9)) return step * base;
  return 10 * base;
}

const DURATION_STEPS_MS = [
  100, 250, 500, 1_000, 2_000, 5_000, 10_000, 15_000, 30_000, 60_000, 120_000, 300_000, 600_000, 900_000,
  1_800_000, 3_600_000, 7_200_000, 10_800_000, 21_600_000, 43_200_000, 86_400_000, 172_800_000, 604_800_000,
];

const TARGET_INTERVALS = 4;

/** Gridline values from 0 to the top of the axis, on round steps (durations on clock-friendly steps). */
export function axisTicks(options: Pick<ChartOptions, 'yMax' | 'integer' | 'scale' | 'series'>): number[] {
  let step: number;
  let top: number;
  if (options.yMax !== undefined) {
    top = options.yMax;
    step = top / TARGET_INTERVALS;
  } else {
    const max = Math.max(maxOf(options.series), Number.MIN_VALUE);
    const raw = max / TARGET_INTERVALS;
    step =
      options.scale === 'duration'
        ? (DURATION_STEPS_MS.find((candidate) => candidate >= raw) ?? niceStep(raw))
        : options.integer
          ? Math.max(1, niceStep(raw))
          : niceStep(raw);
    top = step * Math.max(1, Math.ceil(max / step - 1e-9));
  }
  const ticks: number[] = [];
  for (let value = 0; value <= top + step / 2; value += step) ticks.push(Number(value.toPrecision(12)));
  return ticks;
}

const round = (n: number) => Math.round(n * 10) / 10;

function frame(options: ChartOptions) {
  const ticks = axisTicks(options);
  const yMax = ticks[ticks.length - 1]!;
  const plotWidth = WIDTH - MARGIN.left - MARGIN.right;
  const plotHeight = HEIGHT - MARGIN.top - MARGIN.bottom;
  const count = options.days.length;
  const slot = count > 0 ? plotWidth / count : plotWidth;
  const x = (index: number) => MARGIN.left + slot * (index + 0.5);
  const y = (value: number) => MARGIN.top + plotHeight - (Math.min(value, yMax) / yMax) * plotHeight;
  const parts: string[] = [];
  for (const value of ticks) {
    const gy = round(y(value));
    parts.push(
      `<line class="grid" x1="${MARGIN.left}" x2="${WIDTH - MARGIN.right}" y1="${gy}" y2="${gy}" stroke="#e5e7eb" stroke-width="1"/>`,
      `<text class="axis" x="${MARGIN.left - 8}" y="${gy + 4}" text-anchor="end" fill="#6b7280" font-size="11">${escapeHtml(options.format(value))}</text>`,
    );
  }
  const labelEvery = Math.max(1, Math.ceil(count / 8));
  options.days.forEach((day, index) => {
    const regular = index % labelEvery === 0;
    // The last day gets a label too, unless it would overlap the previous one.
    const lastAndRoomy = index === count - 1 && slot * (index % labelEvery) >= 48;
    if (!regular && !lastAndRoomy) return;
    parts.push(
      `<text class="axis" x="${round(x(index))}" y="${HEIGHT - 10}" text-anchor="middle" fill="#6b7280" font-size="11">${escapeHtml(dayLabel(day))}</text>`,
    );
  });
  parts.push(
    `<line x1="${MARGIN.left}" x2="${WIDTH - MARGIN.right}" y1="${round(y(0))}" y2="${round(y(0))}" stroke="#9ca3af" stroke-width="1"/>`,
  );
  return { x, y, slot, parts };
}

function maxOf(series: ChartSeries[]): number {
  let max = 0;
  for (const s of series) for (const v of s.values) if (v !== null && v > max) max = v;
  return max;
}

function hasData(options: ChartOptions): boolean {
  return options.series.some((s) => s.values.some((v) => v !== null && (!options.zeroIsEmpty || v !== 0)));
}

function svgOpen(options: ChartOptions): string {
  return `<svg class="chart" viewBox="0 0 ${WIDTH} ${HEIGHT}" role="img" aria-label="${escapeHtml(options.label)}" preserveAspectRatio="xMidYMid meet" xmlns="http://www.w3.org/2000/svg"><title>${escapeHtml(options.label)}</title>`;
}

function emptyChart(options: ChartOptions): SafeHtml {
  return trusted(
    `${svgOpen(options)}<text x="${WIDTH / 2}" y="${HEIGHT / 2}" text-anchor="middle" fill="#6b7280" font-size="14">${escapeHtml(options.emptyText ?? 'No data in this window')}</text></svg>`,
  );
}

export function lineChart(options: ChartOptions): SafeHtml {
  if (!hasData(options)) return emptyChart(options);
  const { x, y, parts } = frame(options);
  for (const series of options.series) {
    let path = '';
    let penDown = false;
    series.values.forEach((value, index) => {
      if (value === null) {
        penDown = false;
        return;
      }
      path += `${penDown ? 'L' : 'M'}${round(x(index))},${round(y(value))} `;
      penDown = true;
    });
    parts.push(
      `<path d="${path.trim()}" fill="none" stroke="${escapeHtml(series.color)}" stroke-width="2.25" stroke-linejoin="round" stroke-linecap="round"/>`,
    );
    series.values.forEach((value, index) => {
      if (value === null) return;
      const tip = `${series.name} · ${dayLabel(options.days[index]!)}: ${options.format(value)}`;
      parts.push(
        `<circle cx="${round(x(index))}" cy="${round(y(value))}" r="3.5" fill="#fff" stroke="${escapeHtml(series.color)}" stroke-width="2"><title>${escapeHtml(tip)}</title></circle>`,
      );
    });
  }
  return trusted(`${svgOpen(options)}${parts.join('')}</svg>`);
}

export function barChart(options: ChartOptions): SafeHtml {
  if (!hasData(options)) return emptyChart(options);
  const { x, y, slot, parts } = frame(options);
  const groups = options.series.length;
  const barWidth = Math.max(2, Math.min(36, (slot * 0.7) / groups));
  options.series.forEach((series, seriesIndex) => {
    series.values.forEach((value, index) => {
      if (value === null) return;
      const left = x(index) - (barWidth * groups) / 2 + barWidth * seriesIndex;
      const top = y(value);
      const height = Math.max(value > 0 ? 1 : 0, y(0) - top);
      const tip = `${series.name} · ${dayLabel(options.days[index]!)}: ${options.format(value)}`;
      parts.push(
        `<rect x="${round(left)}" y="${round(y(0) - height)}" width="${round(barWidth)}" height="${round(height)}" rx="2" fill="${escapeHtml(series.color)}"><title>${escapeHtml(tip)}</title></rect>`,
      );
    });
  });
  return trusted(`${svgOpen(options)}${parts.join('')}</svg>`);
}

/** Legend as HTML (keyboard and screen-reader friendly), swatches drawn in SVG so no inline style is needed. */
export function legend(series: ChartSeries[]): SafeHtml {
  return html`<ul class="legend">
    ${series.map(
      (s) =>
        html`<li>
          <svg width="12" height="12" aria-hidden="true">
            <rect width="12" height="12" rx="2" fill="${s.color}" /></svg
          >${s.name}
        </li>`,
    )}
  </ul>`;
}

/** The numbers behind a chart, for anyone who cannot see it (and for copying). */
export function dataTable(
  caption: string,
  days: string[],
  series: ChartSeries[],
  format: (v: number) => string,
): SafeHtml {
  return html`<details class="chart-data">
    <summary>Show data</summary>
    <table class="table compact">
      <caption class="visually-hidden">
        ${caption}
      </caption>
      <thead>
        <tr>
          <th scope="col">Day</th>
          ${series.map((s) => html`<th scope="col">${s.name}</th>`)}
        </tr>
      </thead>
      <tbody>
        ${days.map(
          (day, index) =>
            html`<tr>
              <th scope="row">${day}</th>
              ${series.map((s) => {
                const value = s.values[index];
                return html`<td>${value === null || value === undefined ? '—' : format(value)}</td>`;
              })}
            </tr>`,
        )}
      </tbody>
    </table>
  </details>`;
}
