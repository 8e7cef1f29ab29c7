// The fit domain's training data for bench/finetune/train.py: its help centre's chunks exactly as ingestion embeds
// them, and its CLINC150 train/val queries. Usage: npx tsx bench/finetune/fit-domain-data.ts banking > banking.json
import { chunkDocument, embeddingInput } from '../../src/kb/chunker';

import { loadDomain } from '../lib/domains';
const domain = process.argv[2] ?? 'banking';
const data = loadDomain(domain);
const chunks = data.centre.articles.flatMap((a) =>
  chunkDocument({ documentId: `${domain}/${a.topic}`, title: a.title, body: a.body, source: 'kb' }).map(
    (c) => ({ topic: a.topic, text: embeddingInput(c) }),
  ),
);
const q = (split: 'train' | 'val') => Object.fromEntries([...data.queries[split].entries()]);
process.stdout.write(
  JSON.stringify({
    covered: data.covered,
    uncovered: data.uncovered,
    chunks,
    humanAnswers: data.centre.humanAnswers,
    train: q('train'),
    val: q('val'),
  }),
);
