/** Minimal Markdown helpers for the result summaries. */

export function markdownTable(
  headers: readonly string[],
  rows: ReadonlyArray<ReadonlyArray<string | number | null>>,
): string {
  const cell = (value: string | number | null) =>
    (value === null ? '–' : String(value)).replace(/\|/g, '\\|');
  const lines = [
    `| ${headers.map(cell).join(' | ')} |`,
    `| ${headers.map((_, i) => (i === 0 ? '---' : '---:')).join(' | ')} |`,
    ...rows.map((row) => `| ${row.map(cell).join(' | ')} |`),
  ];
  return lines.join('\n');
}

export function pct(fraction: number | null, digits = 1): string {
  return fraction === null || !Number.isFinite(fraction) ? '–' : `${(fraction * 100).toFixed(digits)} %`;
}

export function ms(value: number | null): string {
  return value === null || !Number.isFinite(value) ? '–' : `${Math.round(value)} ms`;
}

export function usd(value: number | null, digits = 5): string {
  return value === null || !Number.isFinite(value) ? '–' : `$${value.toFixed(digits)}`;
}

export function times(value: number | null): string {
  return value === null || !Number.isFinite(value) ? '–' : `${value.toFixed(2)}×`;
}
