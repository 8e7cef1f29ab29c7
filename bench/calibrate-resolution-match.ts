/**
 * How close must a human resolution be before it may answer a ticket the classifier is unsure about?
 * (RESOLUTION_MATCH_SCORE.) For every CLINC150 intent with a canned human answer, a few queries become
 * resolution documents (embedded the way indexResolution stores them: question as title, answer as text);
 * other queries of every intent then look for their best-scoring resolution. At each threshold it prints how
 * often the best same-intent resolution reaches it (useful overrides) and how often a resolution of another
 * intent does (risk of a wrong answer).
 *
 *   npx tsx bench/calibrate-resolution-match.ts [--split train|val|test] [--resolved 3] [--queries 27]
 */
import { parseArgs } from 'node:util';
import { embeddingInput } from '../src/kb/chunker';
import { getEmbedder } from '../src/kb/embedder';
import { loadClinc } from './lib/datasets';
import { DEFAULT_EMBEDDING_MODEL } from '../src/kb/models';

const { values } = parseArgs({
  options: {
    split: { type: 'string', default: 'train' },
    resolved: { type: 'string', default: '3' },
    queries: { type: 'string', default: '27' },
  },
});
const split = values.split as 'train' | 'val' | 'test';
if (!['train', 'val', 'test'].includes(split)) throw new Error('--split must be train, val or test');
const resolvedPerIntent = Number(values.resolved);
const queriesPerIntent = Number(values.queries);

const dot = (a: number[], b: number[]) => a.reduce((sum, x, i) => sum + x * b[i]!, 0);

async function main(): Promise<void> {
  const { subset, mapping } = loadClinc();
  const embedder = getEmbedder(
    process.env.EMBEDDING_MODEL ?? DEFAULT_EMBEDDING_MODEL,
    process.env.MODELS_DIR ?? 'models',
  );
  const intents = Object.entries(mapping.intents).filter(([, spec]) => spec.cannedAnswer);
  const resolutions: Array<{ intent: string; vector: number[] }> = [];
  const queries: Array<{ intent: string; text: string }> = [];
  for (const [intent, spec] of intents) {
    const pool = subset.intents[intent]![split];
    const resolved = pool.slice(0, resolvedPerIntent);
    const vectors = await embedder.embed(
      resolved.map((question) =>
        embeddingInput({ title: question, headingPath: [], text: spec.cannedAnswer! }),
      ),
    );
    vectors.forEach((vector) => resolutions.push({ intent, vector }));
    for (const text of pool.slice(resolvedPerIntent, resolvedPerIntent + queriesPerIntent))
      queries.push({ intent, text });
  }
  const queryVectors = await embedder.embed(queries.map((q) => q.text));
  const bestSame: number[] = [];
  const bestOther: number[] = [];
  queryVectors.forEach((vector, i) => {
    let same = -1;
    let other = -1;
    for (const resolution of resolutions) {
      const score = dot(vector, resolution.vector);
      if (resolution.intent === queries[i]!.intent) same = Math.max(same, score);
      else other = Math.max(other, score);
    }
    bestSame.push(same);
    bestOther.push(other);
  });
  const share = (scores: number[], threshold: number) =>
    `${((100 * scores.filter((s) => s >= threshold).length) / scores.length).toFixed(1)} %`;
  console.log(
    `${intents.length} intents, ${resolvedPerIntent} resolutions each, ${queries.length} queries (CLINC150 ${split} split)\n`,
  );
  console.log('| threshold | same-intent resolution reaches it | other-intent resolution reaches it |');
  console.log('| ---: | ---: | ---: |');
  for (const threshold of [0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8])
    console.log(
      `| ${threshold.toFixed(2)} | ${share(bestSame, threshold)} | ${share(bestOther, threshold)} |`,
    );
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
