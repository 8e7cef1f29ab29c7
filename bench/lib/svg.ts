/**
 * A hand-written SVG line chart (no dependencies): title, axes with ticks and labels, grid, a legend, one
 * polyline with value labels per series, and optional reference markers. Categories on x, a number on y.
 */

export interface ChartSeries {
  name: string;
  /** One value per x category; null leaves a gap. */
  values: ReadonlyArray<number | null>;
  color: string;
  dashed?: boolean;
}

export interface ChartMarker {
  /** Index into `xLabels`. */
  x: number;
  y: number;
  label: string;
  color?: string;
}

export interface LineChartOptions {
  title: string;
  subtitle?: string;
  xTitle: string;
  yTitle: string;
  xLabels: readonly string[];
  series: readonly ChartSeries[];
  markers?: readonly ChartMarker[];
  yMax: number;
  yTickStep: number;
  /** Formats y tick and value labels, e.g. v => `${v}%`. */
  formatY?: (value: number) => string;
  width?: number;
  height?: number;
  footnote?: string;
}

export function escapeXml(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

const fmt = (n: number) => (Math.round(n * 10) / 10).toString();

export function renderLineChart(options: LineChartOptions): string {
  const width = options.width ?? 760;
  const height = options.height ?? 460;
  const formatY = options.formatY ?? ((v: number) => String(v));
  if (options.xLabels.length === 0) throw new Error('a chart needs at least one x category');
  if (!(options.yMax > 0) || !(options.yTickStep > 0)) throw new Error('yMax and yTickStep must be positive');
  for (const series of options.series) {
    if (series.values.length !== options.xLabels.length) {
      throw new Error(
        `series "${series.name}" has ${series.values.length} values for ${options.xLabels.length} categories`,
      );
    }
  }

  const plot = {
    left: 80,
    right: width - 190,
    top: options.subtitle ? 78 : 60,
    bottom: height - (options.footnote ? 86 : 66),
  };
  const count = options.xLabels.length;
  const xOf = (index: number) =>
    count === 1 ? (plot.left + plot.right) / 2 : plot.left + ((plot.right - plot.left) * index) / (count - 1);
  const yOf = (value: number) =>
    plot.bottom - ((plot.bottom - plot.top) * Math.min(value, options.yMax)) / options.yMax;

  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" ` +
      `font-family="Helvetica, Arial, sans-serif" role="img" aria-labelledby="chart-title">`,
  );
  parts.push(`<title id="chart-title">${escapeXml(options.title)}</title>`);
  parts.push(`<rect x="0" y="0" width="${width}" height="${height}" fill="#ffffff"/>`);
  parts.push(
    `<text x="${width / 2}" y="28" text-anchor="middle" font-size="18" font-weight="bold" fill="#222">${escapeXml(options.title)}</text>`,
  );
  if (options.subtitle) {
    parts.push(
      `<text x="${width / 2}" y="50" text-anchor="middle" font-size="12" fill="#555">${escapeXml(options.subtitle)}</text>`,
    );
  }

  // Grid and y ticks.
  parts.push('<g class="y-axis" font-size="12" fill="#444">');
  for (let value = 0; value <= options.yMax + 1e-9; value += options.yTickStep) {
    const y = fmt(yOf(value));
    parts.push(
      `<line x1="${plot.left}" y1="${y}" x2="${plot.right}" y2="${y}" stroke="#e3e3e3" stroke-width="1"/>`,
    );
    parts.push(
      `<text x="${plot.left - 10}" y="${y}" text-anchor="end" dominant-baseline="middle">${escapeXml(formatY(value))}</text>`,
    );
  }
  parts.push('</g>');

  // Axes.
  parts.push(
    `<line x1="${plot.left}" y1="${plot.bottom}" x2="${plot.right}" y2="${plot.bottom}" stroke="#333" stroke-width="1.5"/>`,
    `<line x1="${plot.left}" y1="${plot.top}" x2="${plot.left}" y2="${plot.bottom}" stroke="#333" stroke-width="1.5"/>`,
  );
  parts.push('<g class="x-axis" font-size="12" fill="#444">');
  options.xLabels.forEach((label, index) => {
    const x = fmt(xOf(index));
    parts.push(`<line x1="${x}" y1="${plot.bottom}" x2="${x}" y2="${plot.bottom + 5}" stroke="#333"/>`);
    parts.push(`<text x="${x}" y="${plot.bottom + 20}" text-anchor="middle">${escapeXml(label)}</text>`);
  });
  parts.push('</g>');
  parts.push(
    `<text x="${(plot.left + plot.right) / 2}" y="${plot.bottom + 44}" text-anchor="middle" font-size="13" fill="#222">${escapeXml(options.xTitle)}</text>`,
  );
  const yTitleY = (plot.top + plot.bottom) / 2;
  parts.push(
    `<text x="22" y="${yTitleY}" text-anchor="middle" font-size="13" fill="#222" transform="rotate(-90 22 ${yTitleY})">${escapeXml(options.yTitle)}</text>`,
  );

  // Series.
  for (const series of options.series) {
    const points = series.values
      .map((value, index) => (value === null ? null : { x: xOf(index), y: yOf(value), value }))
      .filter((p): p is { x: number; y: number; value: number } => p !== null);
    const dash = series.dashed ? ' stroke-dasharray="6 4"' : '';
    parts.push(`<g class="series" data-name="${escapeXml(series.name)}">`);
    if (points.length > 1) {
      parts.push(
        `<polyline fill="none" stroke="${escapeXml(series.color)}" stroke-width="2.5"${dash} points="${points
          .map((p) => `${fmt(p.x)},${fmt(p.y)}`)
          .join(' ')}"/>`,
      );
    }
    for (const p of points) {
      parts.push(`<circle cx="${fmt(p.x)}" cy="${fmt(p.y)}" r="4" fill="${escapeXml(series.color)}"/>`);
      parts.push(
        `<text x="${fmt(p.x)}" y="${fmt(p.y - 9)}" text-anchor="middle" font-size="11" fill="${escapeXml(series.color)}">${escapeXml(formatY(p.value))}</text>`,
      );
    }
    parts.push('</g>');
  }

  // Reference markers (e.g. numbers reported by a previous system).
  for (const marker of options.markers ?? []) {
    const x = fmt(xOf(marker.x));
    const y = fmt(yOf(marker.y));
    const color = escapeXml(marker.color ?? '#777');
    parts.push(
      `<g class="marker"><rect x="${fmt(xOf(marker.x) - 5)}" y="${fmt(yOf(marker.y) - 5)}" width="10" height="10" fill="none" stroke="${color}" stroke-width="2" transform="rotate(45 ${x} ${y})"/>` +
        `<text x="${fmt(xOf(marker.x) + 10)}" y="${fmt(yOf(marker.y) + 16)}" font-size="11" fill="${color}">${escapeXml(marker.label)}</text></g>`,
    );
  }

  // Legend.
  parts.push('<g class="legend" font-size="12" fill="#222">');
  options.series.forEach((series, index) => {
    const y = plot.top + 10 + index * 22;
    const dash = series.dashed ? ' stroke-dasharray="6 4"' : '';
    parts.push(
      `<line x1="${plot.right + 18}" y1="${y}" x2="${plot.right + 44}" y2="${y}" stroke="${escapeXml(series.color)}" stroke-width="2.5"${dash}/>`,
      `<text x="${plot.right + 50}" y="${y}" dominant-baseline="middle">${escapeXml(series.name)}</text>`,
    );
  });
  if ((options.markers ?? []).length > 0) {
    const y = plot.top + 10 + options.series.length * 22;
    parts.push(
      `<rect x="${plot.right + 26}" y="${y - 5}" width="10" height="10" fill="none" stroke="#777" stroke-width="2" transform="rotate(45 ${plot.right + 31} ${y})"/>`,
      `<text x="${plot.right + 50}" y="${y}" dominant-baseline="middle">reported elsewhere</text>`,
    );
  }
  parts.push('</g>');

  if (options.footnote) {
    parts.push(
      `<text x="${plot.left}" y="${height - 14}" font-size="11" fill="#666">${escapeXml(options.footnote)}</text>`,
    );
  }
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}
