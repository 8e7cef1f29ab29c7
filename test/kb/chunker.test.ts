import {
  chunkDocument,
  chunkId,
  embeddingInput,
  parseDocument,
  slugify,
  splitFrontMatter,
  type ChunkableDocument,
} from '../../src/kb/chunker';

const sentence = (n: number) => `Sentence number ${n} explains one more detail about the refund policy of Acme.`;

function doc(body: string, overrides: Partial<ChunkableDocument> = {}): ChunkableDocument {
  return { documentId: 'refunds', title: 'Refund policy', body, source: 'kb', intents: ['billing'], ...overrides };
}

describe('front matter and titles', () => {
  test('reads intents from a leading --- block and strips it from the body', () => {
    const { metadata, body } = splitFrontMatter('---\nintents: billing, Refunds\n---\n# Refunds\n\nText.');
    expect(metadata).toEqual({ intents: ['billing', 'refunds'] });
    expect(body).toBe('# Refunds\n\nText.');
    expect(splitFrontMatter('---\nintents: [account, technical]\ntitle: Two factor\n---\nx').metadata).toEqual({
      intents: ['account', 'technical'],
      title: 'Two factor',
    });
  });

  test('a document without front matter, or opening with a plain rule, is left alone', () => {
    expect(splitFrontMatter('# Title\n---\nintents: x\n---')).toEqual({ metadata: {}, body: '# Title\n---\nintents: x\n---' });
    const rule = '---\nJust some text: with a colon, and: more\nand another line\n---\nbody';
    expect(splitFrontMatter(rule).body).toContain('body');
  });

  test('title comes from the first # heading, else the file name', () => {
    expect(parseDocument('Intro\n\n# Real title\n\n## Sub', { format: 'markdown', fileName: 'x.md' }).title).toBe('Real title');
    expect(parseDocument('No heading here.', { format: 'markdown', fileName: 'kb/api-rate_limits.md' }).title).toBe(
      'Api rate limits',
    );
    expect(parseDocument('# Not a heading in text\nplain', { format: 'text', fileName: 'notes.txt' }).title).toBe('Notes');
  });

  test('HTML becomes text with headings kept as Markdown, links and images dropped', () => {
    const parsed = parseDocument(
      '<html><head><title>Browser title</title></head><body><h1>Data export</h1><p>Go to <a href="/x">Settings</a> &amp; export.</p>' +
        '<img src="a.png"><h2>Formats</h2><ul><li>CSV</li><li>JSON</li></ul><script>var x=1</script></body></html>',
      { format: 'html', fileName: 'export.html' },
    );
    expect(parsed.title).toBe('Data export');
    expect(parsed.body).toContain('# Data export');
    expect(parsed.body).toContain('Go to Settings & export.');
    expect(parsed.body).toContain('## Formats');
    expect(parsed.body).toMatch(/- CSV\n\s*- JSON/);
    expect(parsed.body).not.toMatch(/a\.png|\/x|var x/);
    const chunks = chunkDocument(doc(parsed.body, { title: parsed.title }));
    expect(chunks.map((c) => c.headingPath)).toEqual([[], ['Formats']]);
  });
});

describe('chunking', () => {
  test('headings become the heading path (the title H1 excluded) and every chunk carries the document fields', () => {
    const body = [
      '# Refund policy',
      'Intro paragraph.',
      '## Eligibility',
      'Eligible within 30 days.',
      '### Annual plans',
      'Pro rata.',
      '## How to ask',
      'Write to billing@acme.test.',
    ].join('\n\n');
    const chunks = chunkDocument(doc(body, { ticketId: 'ticket-1', source: 'resolution' }));
    expect(chunks.map((c) => [c.headingPath, c.text])).toEqual([
      [[], 'Intro paragraph.'],
      [['Eligibility'], 'Eligible within 30 days.'],
      [['Eligibility', 'Annual plans'], 'Pro rata.'],
      [['How to ask'], 'Write to billing@acme.test.'],
    ]);
    for (const c of chunks) {
      expect(c).toMatchObject({ documentId: 'refunds', title: 'Refund policy', source: 'resolution', ticketId: 'ticket-1' });
      expect(c.intents).toEqual(['billing']);
    }
  });

  test('chunks stay within the size bound and long sections overlap between consecutive chunks', () => {
    const body = `## Details\n\n${Array.from({ length: 40 }, (_, i) => sentence(i)).join(' ')}`;
    const chunks = chunkDocument(doc(body), { maxChars: 400, overlapChars: 80 });
    expect(chunks.length).toBeGreaterThan(5);
    for (const c of chunks) expect(c.text.length).toBeLessThanOrEqual(400);
    for (let i = 1; i < chunks.length; i++) {
      const previousTail = chunks[i - 1]!.text.slice(-40);
      expect(chunks[i]!.text.slice(0, 200)).toContain(previousTail.slice(previousTail.indexOf(' ') + 1));
    }
    // Nothing is lost: every sentence appears in some chunk.
    for (let i = 0; i < 40; i++) expect(chunks.some((c) => c.text.includes(sentence(i)))).toBe(true);
  });

  test('a list that fits is kept whole in one chunk; small paragraphs are packed together', () => {
    const list = Array.from({ length: 8 }, (_, i) => `- Step ${i + 1}: do thing ${i + 1}`).join('\n');
    const body = `## Steps\n\nBefore you start.\n\n${list}\n\nAfter the list.`;
    const chunks = chunkDocument(doc(body), { maxChars: 800 });
    expect(chunks).toHaveLength(1);
    expect(chunks[0]!.text).toBe(`Before you start.\n\n${list}\n\nAfter the list.`);

    // Too small for the section, large enough for the list (167 chars): the list still travels whole.
    const tight = chunkDocument(doc(body), { maxChars: 180, overlapChars: 0 });
    expect(tight.map((c) => c.text)).toEqual(['Before you start.', list, 'After the list.']);
  });

  test('a list longer than a chunk is split between items, not mid-item', () => {
    const list = Array.from({ length: 30 }, (_, i) => `- Item ${i + 1} has a description long enough to matter.`).join('\n');
    const chunks = chunkDocument(doc(list), { maxChars: 300, overlapChars: 0 });
    expect(chunks.length).toBeGreaterThan(3);
    for (const c of chunks) for (const line of c.text.split('\n')) expect(line).toMatch(/^- Item \d+ has a description long enough to matter\.$/);
  });

  test('fenced code blocks are not broken up by blank lines or # comments inside them', () => {
    const body = '## Example\n\n```bash\n# not a heading\n\ncurl -H "Authorization: Bearer KEY" https://api.acme.test\n```\n\nDone.';
    const chunks = chunkDocument(doc(body));
    expect(chunks).toHaveLength(1);
    expect(chunks[0]!.headingPath).toEqual(['Example']);
    expect(chunks[0]!.text).toContain('# not a heading\n\ncurl');
  });

  test('a single word longer than the limit is still split to fit', () => {
    const word = Array.from({ length: 250 }, (_, i) => String.fromCharCode(97 + (i % 26))).join('');
    const chunks = chunkDocument(doc(word), { maxChars: 100, overlapChars: 0 });
    expect(chunks.every((c) => c.text.length <= 100)).toBe(true);
    expect(chunks.map((c) => c.text).join('')).toBe(word);
  });

  test('chunk ids are stable content hashes: same input, same ids; any change to text, path or document changes them', () => {
    const body = '## A\n\nAlpha text.\n\n## B\n\nBeta text.';
    const first = chunkDocument(doc(body)).map((c) => c.id);
    expect(chunkDocument(doc(body)).map((c) => c.id)).toEqual(first);
    expect(first[0]).toMatch(/^[0-9a-f]{32}$/);
    expect(chunkDocument(doc(body.replace('Beta', 'Gamma'))).map((c) => c.id)).toEqual([first[0], expect.not.stringMatching(first[1]!)]);
    expect(chunkId('refunds', ['A'], 'Alpha text.')).toBe(first[0]);
    expect(chunkId('refunds', ['A2'], 'Alpha text.')).not.toBe(first[0]);
    expect(chunkId('other', ['A'], 'Alpha text.')).not.toBe(first[0]);
  });

  test('the embedding input carries title and heading path', () => {
    expect(embeddingInput({ title: 'Refunds', headingPath: ['Annual', 'Pro rata'], text: 'Body.' })).toBe(
      'Refunds > Annual > Pro rata\nBody.',
    );
  });

  test('slugs for file-derived document ids', () => {
    expect(slugify('billing/Refunds & Credits')).toBe('billing-refunds-credits');
    expect(slugify('Événements_API')).toBe('evenements-api');
    expect(slugify('***')).toBe('document');
  });
});
