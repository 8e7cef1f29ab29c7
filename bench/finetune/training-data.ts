// Training data for bench/finetune/train.py: for each named domain, its help centre's chunks exactly as ingestion
// embeds them, its human answers, and its CLINC150 `train` queries (never `val` or `test`).
// Usage: npx tsx bench/finetune/training-data.ts banking,credit_cards,travel > training.json
import { chunkDocument, embeddingInput } from '../../src/kb/chunker';

import { loadDomain } from '../lib/domains';

const domains = (process.argv[2] ?? 'banking').split(',');
process.stdout.write(
  JSON.stringify({
    domains: domains.map((domain) => {
      const data = loadDomain(domain);
      const chunks = data.centre.articles.flatMap((a) =>
        chunkDocument({ documentId: `${domain}/${a.topic}`, title: a.title, body: a.body, source: 'kb' }).map(
          (c) => ({ topic: a.topic, text: embeddingInput(c) }),
        ),
      );
      return {
        domain,
        covered: data.covered,
        uncovered: data.uncovered,
        chunks,
        humanAnswers: data.centre.humanAnswers,
        train: Object.fromEntries([...data.queries.train.entries()]),
      };
    }),
  }),
);
