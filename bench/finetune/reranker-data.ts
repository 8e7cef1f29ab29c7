// Candidates for the reranker experiment (bench/finetune/train_reranker.py): for each query of the named domains
// and split, the documents the default embedding model retrieves for it (best first, as the gate sees them), with
// the text of each document's best passage exactly as ingestion embeds it.
// Usage: npx tsx bench/finetune/reranker-data.ts <domains,comma,separated> <train|val|test> > candidates.json
import { loadConfig } from '../../src/config';
import { scoreDocuments } from '../../src/kb/answerability';
import { embeddingInput } from '../../src/kb/chunker';
import { getEmbedder } from '../../src/kb/embedder';
import { createLlmProvider } from '../../src/llm';
import { indexHelpCentre, loadDomain, retrieve, type Pipeline } from '../lib/domains';

async function main(): Promise<void> {
  const [domainList = 'banking', split = 'train'] = process.argv.slice(2);
  if (split !== 'train' && split !== 'val' && split !== 'test') throw new Error(`unknown split ${split}`);
  const config = loadConfig(process.env);
  const embedder = getEmbedder(config.EMBEDDING_MODEL, config.MODELS_DIR);
  const llm = createLlmProvider({ ...config, LLM_PROVIDER: 'local' }, { embedder });
  const pipeline: Pipeline = { embedder, llm, config, thresholds: { minScore: 0, minMargin: 0 } };
  const out = [];
  for (const domain of domainList.split(',')) {
    const data = loadDomain(domain);
    const index = await indexHelpCentre(embedder, data.centre);
    const queries = [];
    for (const topic of data.intents)
      for (const query of data.queries[split].get(topic) ?? []) {
        const { passages, refs } = await retrieve(pipeline, index, query);
        const candidates = scoreDocuments(refs).map((doc) => {
          // Passages come best first, so a document's first passage is its best.
          const passage = passages.find((p) => p.documentId === doc.documentId)!;
          return {
            documentId: doc.documentId,
            topic: index.topicOf.get(doc.documentId),
            score: doc.score,
            text: embeddingInput(passage),
          };
        });
        queries.push({ query, topic, covered: data.covered.includes(topic), candidates });
      }
    out.push({
      domain,
      covered: data.covered,
      uncovered: data.uncovered,
      humanAnswers: data.centre.humanAnswers,
      queries,
    });
  }
  process.stdout.write(JSON.stringify({ model: config.EMBEDDING_MODEL, split, domains: out }));
}
void main().then(() => process.exit(0));
