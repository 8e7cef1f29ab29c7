import fs from 'node:fs';
import path from 'node:path';
import { similarArticles } from '../../src/kb/article-health';
import { parseDocument } from '../../src/kb/chunker';
import { realEmbedder } from '../kb/support';

/** Near-duplicate articles and contradicting figures, on the real embedding model (no database needed). */

const ACME = path.resolve(__dirname, '../../kb/acme');

function article(file: string) {
  const parsed = parseDocument(fs.readFileSync(path.join(ACME, file), 'utf8'), {
    format: 'markdown',
    fileName: file,
  });
  return { id: path.basename(file, '.md'), title: parsed.title ?? file, body: parsed.body };
}

describe('similarArticles', () => {
  it('flags a reworded copy of an article as a near-duplicate, and not two different articles', async () => {
    const refunds = article('refunds.md');
    const copy = {
      id: 'refund-policy-copy',
      title: 'How refunds work',
      body: refunds.body.replace(/Acme Projects/g, 'Acme').replace(/billing team/g, 'finance team'),
    };
    const result = await similarArticles(realEmbedder(), [
      refunds,
      copy,
      article('two-factor-authentication.md'),
    ]);
    expect(result.nearDuplicates).toEqual([
      { a: 'refunds', b: 'refund-policy-copy', similarity: expect.any(Number) },
    ]);
    expect(result.nearDuplicates[0]!.similarity).toBeGreaterThanOrEqual(0.9);
    // Same figures everywhere: nothing contradicts.
    expect(result.contradictions).toEqual([]);
  });

  it('finds the sentence pair that gives a different figure for the same thing', async () => {
    const refunds = article('refunds.md');
    const changed = {
      id: 'refunds-old',
      title: 'Old refund policy',
      body: '## Who can get a refund\n\n- **Annual plans:** you can get a full refund within **45 days** of the first annual payment.',
    };
    const result = await similarArticles(realEmbedder(), [refunds, changed]);
    expect(result.contradictions).toHaveLength(1);
    expect(result.contradictions[0]).toMatchObject({ a: 'refunds', b: 'refunds-old', units: ['day'] });
    expect(result.contradictions[0]!.bSentence).toContain('45 days');
  });
});
