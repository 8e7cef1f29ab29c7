import { escapeXml, renderLineChart, type LineChartOptions } from '../../bench/lib/svg';

/**
 * A small XML well-formedness check (no XML parser is installed): every tag closes in order, attributes are
 * quoted, and text contains no bare `<` or unescaped `&`.
 */
function assertWellFormedXml(xml: string): void {
  const stack: string[] = [];
  const token = /<(\/?)([A-Za-z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>|<!--[\s\S]*?-->|<\?[\s\S]*?\?>/g;
  let last = 0;
  for (const match of xml.matchAll(token)) {
    const text = xml.slice(last, match.index);
    if (/[<>]/.test(text))
      throw new Error(`stray angle bracket in text: ${JSON.stringify(text.slice(0, 60))}`);
    if (/&(?!(?:amp|lt|gt|quot|apos|#\d+);)/.test(text))
      throw new Error(`unescaped & in text: ${JSON.stringify(text.slice(0, 60))}`);
    last = (match.index ?? 0) + match[0].length;
    const [, closing, name, , selfClosing] = match;
    if (!name) continue; // comment or processing instruction
    if (closing) {
      const open = stack.pop();
      if (open !== name) throw new Error(`</${name}> closes <${open}>`);
    } else if (!selfClosing) {
      stack.push(name);
    }
  }
  if (/[<>]/.test(xml.slice(last).trim())) throw new Error('unparsed markup at the end');
  if (stack.length > 0) throw new Error(`unclosed tags: ${stack.join(', ')}`);
}

const options: LineChartOptions = {
  title: 'Escalation rate per week',
  subtitle: 'CLINC150 <banking> & cards',
  xTitle: 'simulated week',
  yTitle: 'tickets escalated (%)',
  xLabels: ['week 1', 'week 2', 'week 3', 'week 4'],
  yMax: 100,
  yTickStep: 20,
  formatY: (v) => `${Math.round(v)}%`,
  series: [
    { name: 'all tickets', values: [62, 45, 38, 31], color: '#1f5fbf' },
    { name: 'withheld intents', values: [100, null, 40, 20], color: '#d2691e', dashed: true },
  ],
  markers: [{ x: 0, y: 32, label: 'seed: 32 %' }],
  footnote: 'Diamonds: reported elsewhere',
};

describe('SVG line chart', () => {
  test('is well-formed XML with an svg root', () => {
    const svg = renderLineChart(options);
    assertWellFormedXml(svg);
    expect(svg.trimStart().startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
  });

  test('has the title, axis titles, tick labels, legend and escaped text', () => {
    const svg = renderLineChart(options);
    expect(svg).toContain('<title id="chart-title">Escalation rate per week</title>');
    expect(svg).toContain('>simulated week</text>');
    expect(svg).toContain('>tickets escalated (%)</text>');
    for (const label of [
      'week 1',
      'week 4',
      '0%',
      '20%',
      '100%',
      'all tickets',
      'withheld intents',
      'seed: 32 %',
    ]) {
      expect(svg).toContain(`>${label}</text>`);
    }
    expect(svg).toContain('CLINC150 &lt;banking&gt; &amp; cards');
  });

  test('draws one point per non-null value and breaks nothing on gaps', () => {
    const svg = renderLineChart(options);
    expect(svg.match(/<circle /g)).toHaveLength(4 + 3);
    expect(svg.match(/<polyline /g)).toHaveLength(2);
    // Higher values are drawn higher (smaller y).
    const ys = [...svg.matchAll(/<circle cx="[\d.]+" cy="([\d.]+)"/g)].slice(0, 4).map((m) => Number(m[1]));
    expect(ys).toEqual([...ys].sort((a, b) => a - b));
  });

  test('rejects series that do not match the categories', () => {
    expect(() =>
      renderLineChart({ ...options, series: [{ name: 'x', values: [1, 2], color: '#000' }] }),
    ).toThrow(/2 values for 4/);
  });

  test('the checker itself catches broken markup', () => {
    expect(() => assertWellFormedXml('<svg><g></svg>')).toThrow();
    expect(() => assertWellFormedXml('<svg><text>a & b</text></svg>')).toThrow(/unescaped/);
    expect(escapeXml(`"<'&>`)).toBe('&quot;&lt;&apos;&amp;&gt;');
  });
});
