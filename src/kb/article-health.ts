import { createHash } from 'node:crypto';
import { sql } from 'kysely';
import type { Db } from '../db/database';
import { conversationMetrics } from '../metrics/queries';
import { passageSourceSchema } from '../domain/ticket';
import { wordOverlap } from '../llm/article-draft';
import { chunkDocument, embeddingInput } from './chunker';
import { centroid, dot } from './clustering';
import { disagreeingUnits, figureSentences } from './figures';
import type { Embedder } from './types';
import { TransformersEmbedder } from './embedder';
import { statementModel } from './models';

/**
 * Article health: which curated articles (source `kb`) are retrieved but not used, are followed by escalations or
 * corrected by humans, say the same as another article, or give different figures for the same thing. Read-only
 * over the interaction log and the `kb_documents` registry; article texts are embedded with the KB's own model.
 */

export const HEALTH_THRESHOLDS = {
  /** Retrieved (at or above MIN_RETRIEVAL_SCORE) for at least this many tickets that reached generation... */
  minRetrievals: 5,
  /** ...and cited by at most this share of them: "retrieved often, rarely used". */
  maxCitationRate: 0.2,
  /** A later ticket of the same customer within this many days that escalated follows an AI answer. */
  followUpDays: 7,
  /** A human answer sharing less than this (content words) with the AI draft rewrote it: a correction. */
  correctionMaxOverlap: 0.5,
  /** Two articles whose chunk centroids are at least this similar say the same thing (no pair of kb/acme is). */
  nearDuplicateSimilarity: 0.9,
  /**
   * Two figure-stating sentences at least this similar (numbers masked, article title and headings in front),
   * as the statement model scores them (MiniLM, src/kb/models.ts), are about the same thing. Chosen on kb/acme plus
   * the planted article of test/fixtures/gaps: the planted refund-window pair scores 0.74, the closest unrelated
   * pair 0.62.
   */
  sameStatementSimilarity: 0.68,
} as const;

export interface ArticleRef {
  documentId: string;
  title: string;
}

export interface ArticleHealth {
  retrievedButUnused: Array<ArticleRef & { retrieved: number; cited: number; citationRate: number }>;
  followedByEscalation: Array<ArticleRef & { answers: number; followed: number; ticketIds: string[] }>;
  humanCorrections: Array<ArticleRef & { escalations: number; corrected: number; ticketIds: string[] }>;
  nearDuplicates: Array<{ a: ArticleRef; b: ArticleRef; similarity: number }>;
  contradictions: Array<{
    a: ArticleRef & { sentence: string };
    b: ArticleRef & { sentence: string };
    units: string[];
    similarity: number;
  }>;
  /**
   * Articles an AI answer cited before the customer came back unhappy ("that didn't help", a bad rating): the
   * conversation's `unhappy_document_ids` (docs/CONVERSATIONS.md), counted as in `GET /v1/metrics/summary`.
   */
  negativeFeedback: Array<ArticleRef & { cited: number; unhappy: number; unhappyRate: number | null }>;
}

export interface ArticleHealthDeps {
  db: Db;
  embedder: Embedder;
}

// Embeddings of article texts, by content, so a report shown again does not re-embed an unchanged KB.
const vectorMemo = new Map<string, number[]>();
const MEMO_LIMIT = 20_000;

async function embedMemo(embedder: Embedder, texts: string[]): Promise<number[][]> {
  const keys = texts.map((t) => createHash('sha256').update(`${embedder.modelId}\u0000${t}`).digest('base64'));
  const missing = [...new Set(texts.filter((_, i) => !vectorMemo.has(keys[i]!)))];
  if (missing.length > 0) {
    const vectors = await embedder.embed(missing);
    if (vectorMemo.size + missing.length > MEMO_LIMIT) vectorMemo.clear();
    missing.forEach((text, i) =>
      vectorMemo.set(createHash('sha256').update(`${embedder.modelId}\u0000${text}`).digest('base64'), vectors[i]!),
    );
  }
  return keys.map((key) => vectorMemo.get(key)!);
}

const round = (x: number, digits = 3) => Math.round(x * 10 ** digits) / 10 ** digits;

export async function articleHealth(
  deps: ArticleHealthDeps,
  options: { since: Date; until?: Date; minRetrievalScore: number },
): Promise<ArticleHealth> {
  const articles = await deps.db
    .selectFrom('kb_documents')
    .select(['id', 'title', 'body', 'source'])
    .where('source', '=', 'kb')
    .orderBy('id')
    .execute();
  const titles = new Map(articles.map((a) => [a.id, a.title]));
  const ref = (documentId: string): ArticleRef => ({ documentId, title: titles.get(documentId) ?? documentId });
  // One after the other: the embedder runs on the event loop, and a query waiting meanwhile for a connection
  // would time out.
  const usage = await retrievalUse(deps.db, options);
  const followed = await followedByEscalation(deps.db, options.since);
  const corrections = await humanCorrections(deps.db, options);
  const similar = await similarArticles(deps.embedder, articles);
  // Only the per-article counts are used; the totals passed in feed rates this report does not show.
  const feedback = await conversationMetrics(deps.db, { from: options.since, to: options.until ?? new Date() }, 0, 0);
  return {
    retrievedButUnused: usage
      .filter((u) => titles.has(u.documentId))
      .map((u) => ({ ...ref(u.documentId), ...u })),
    followedByEscalation: followed.filter((f) => titles.has(f.documentId)).map((f) => ({ ...ref(f.documentId), ...f })),
    humanCorrections: corrections.filter((c) => titles.has(c.documentId)).map((c) => ({ ...ref(c.documentId), ...c })),
    nearDuplicates: similar.nearDuplicates.map((d) => ({ a: ref(d.a), b: ref(d.b), similarity: d.similarity })),
    contradictions: similar.contradictions.map((c) => ({
      a: { ...ref(c.a), sentence: c.aSentence },
      b: { ...ref(c.b), sentence: c.bSentence },
      units: c.units,
      similarity: c.similarity,
    })),
    negativeFeedback: feedback.articles
      .filter((a) => a.unhappy > 0 && titles.has(a.documentId))
      .map((a) => ({ ...ref(a.documentId), cited: a.cited, unhappy: a.unhappy, unhappyRate: a.unhappyRate })),
  };
}

/** Documents of the passages each ticket retrieved (above the grounding threshold), and which its answer cited. */
async function retrievalUse(db: Db, options: { since: Date; minRetrievalScore: number }) {
  const rows = await db
    .selectFrom('ticket_passages as tp')
    .innerJoin('drafts as d', 'd.workflow_id', 'tp.workflow_id')
    .innerJoin('tickets as t', 't.workflow_id', 'tp.workflow_id')
    .select(['tp.workflow_id', 'tp.document_id', 'tp.passage_id', 'd.kind', 'd.cited_passage_ids'])
    .where('t.created_at', '>=', options.since)
    .where('tp.source', '=', 'kb')
    .where('tp.score', '>=', options.minRetrievalScore)
    .execute();
  const retrieved = new Map<string, Set<string>>();
  const cited = new Map<string, Set<string>>();
  for (const row of rows) {
    (retrieved.get(row.document_id) ?? retrieved.set(row.document_id, new Set()).get(row.document_id)!).add(
      row.workflow_id,
    );
    if (row.kind === 'answer' && row.cited_passage_ids.includes(row.passage_id)) {
      (cited.get(row.document_id) ?? cited.set(row.document_id, new Set()).get(row.document_id)!).add(row.workflow_id);
    }
  }
  return [...retrieved.entries()]
    .map(([documentId, tickets]) => {
      const citedCount = cited.get(documentId)?.size ?? 0;
      return { documentId, retrieved: tickets.size, cited: citedCount, citationRate: round(citedCount / tickets.size) };
    })
    .filter((u) => u.retrieved >= HEALTH_THRESHOLDS.minRetrievals && u.citationRate <= HEALTH_THRESHOLDS.maxCitationRate)
    .sort((a, b) => a.citationRate - b.citationRate || b.retrieved - a.retrieved);
}

/** AI answers citing an article after which the same customer opened a ticket that escalated within a week. */
async function followedByEscalation(db: Db, since: Date) {
  const customerKey = (alias: string) =>
    sql<string>`coalesce(nullif(${sql.ref(`${alias}.customer`)}->>'email', ''), nullif(${sql.ref(`${alias}.customer`)}->>'id', ''))`;
  const rows = await db
    .selectFrom('tickets as a')
    .innerJoin('drafts as d', 'd.workflow_id', 'a.workflow_id')
    .innerJoin('outbox as o', (join) =>
      join.onRef('o.workflow_id', '=', 'a.workflow_id').on('o.kind', '=', 'reply').on('o.source', '=', 'ai'),
    )
    .innerJoin('ticket_passages as tp', 'tp.workflow_id', 'a.workflow_id')
    .select([
      'a.workflow_id',
      'tp.document_id',
      'tp.passage_id',
      'd.cited_passage_ids',
      sql<string | null>`(
        select b.external_id from tickets b join escalations e on e.workflow_id = b.workflow_id
        where b.workflow_id <> a.workflow_id
          and b.created_at > a.created_at
          and b.created_at <= a.created_at + make_interval(days => ${HEALTH_THRESHOLDS.followUpDays})
          and ${customerKey('b')} = ${customerKey('a')}
        order by b.created_at limit 1)`.as('followed_by'),
    ])
    .where('a.created_at', '>=', since)
    .where('d.kind', '=', 'answer')
    .where('tp.source', '=', 'kb')
    .execute();
  const perDoc = new Map<string, { answers: Set<string>; followed: Map<string, string> }>();
  for (const row of rows) {
    if (!row.cited_passage_ids.includes(row.passage_id)) continue;
    const entry = perDoc.get(row.document_id) ?? { answers: new Set(), followed: new Map() };
    perDoc.set(row.document_id, entry);
    entry.answers.add(row.workflow_id);
    if (row.followed_by) entry.followed.set(row.workflow_id, row.followed_by);
  }
  return [...perDoc.entries()]
    .filter(([, e]) => e.followed.size > 0)
    .map(([documentId, e]) => ({
      documentId,
      answers: e.answers.size,
      followed: e.followed.size,
      ticketIds: [...new Set(e.followed.values())].slice(0, 5),
    }))
    .sort((a, b) => b.followed - a.followed || a.documentId.localeCompare(b.documentId));
}

/** Escalations whose best passage came from an article and whose AI draft the human rewrote before sending. */
async function humanCorrections(db: Db, options: { since: Date; minRetrievalScore: number }) {
  const rows = await db
    .selectFrom('escalations as e')
    .innerJoin('resolutions as r', 'r.workflow_id', 'e.workflow_id')
    .innerJoin('tickets as t', 't.workflow_id', 'e.workflow_id')
    .innerJoin('ticket_passages as tp', (join) =>
      join.onRef('tp.workflow_id', '=', 'e.workflow_id').on('tp.rank', '=', 0),
    )
    .select(['t.external_id', 'tp.document_id', 'tp.source', 'e.draft', 'r.answer'])
    .where('e.created_at', '>=', options.since)
    .where('tp.score', '>=', options.minRetrievalScore)
    .execute();
  const perDoc = new Map<string, { escalations: number; corrected: string[] }>();
  for (const row of rows) {
    if (passageSourceSchema.parse(row.source) !== 'kb') continue;
    const entry = perDoc.get(row.document_id) ?? { escalations: 0, corrected: [] };
    perDoc.set(row.document_id, entry);
    entry.escalations += 1;
    if (row.draft && wordOverlap(row.draft, row.answer) < HEALTH_THRESHOLDS.correctionMaxOverlap)
      entry.corrected.push(row.external_id);
  }
  return [...perDoc.entries()]
    .filter(([, e]) => e.corrected.length > 0)
    .map(([documentId, e]) => ({
      documentId,
      escalations: e.escalations,
      corrected: e.corrected.length,
      ticketIds: e.corrected.slice(0, 5),
    }))
    .sort((a, b) => b.corrected - a.corrected || a.documentId.localeCompare(b.documentId));
}

interface ArticleText {
  id: string;
  title: string;
  body: string;
}

/** The embedder statements are compared with: the KB's own, unless its model is topic-tuned (src/kb/models.ts). */
function statementEmbedder(embedder: Embedder): Embedder {
  const model = statementModel(embedder.modelId);
  return model !== embedder.modelId && embedder instanceof TransformersEmbedder ? embedder.withModel(model) : embedder;
}

/** Near-duplicate pairs (chunk centroids), and pairs whose figure sentences about the same thing disagree. */
export async function similarArticles(embedder: Embedder, articles: readonly ArticleText[]) {
  const chunks = articles.map((a) =>
    chunkDocument({ documentId: a.id, title: a.title, body: a.body, source: 'kb', intents: [] }),
  );
  const chunked = chunks.map((list) => list.map(embeddingInput));
  const chunkVectors = await embedMemo(embedder, chunked.flat());
  let offset = 0;
  const centroids = chunked.map((texts) => {
    const vectors = chunkVectors.slice(offset, offset + texts.length);
    offset += texts.length;
    return vectors.length > 0 ? centroid(vectors) : undefined;
  });
  const nearDuplicates: Array<{ a: string; b: string; similarity: number }> = [];
  for (let i = 0; i < articles.length; i++)
    for (let j = i + 1; j < articles.length; j++) {
      const a = centroids[i];
      const b = centroids[j];
      if (!a || !b) continue;
      const similarity = dot(a, b);
      if (similarity >= HEALTH_THRESHOLDS.nearDuplicateSimilarity)
        nearDuplicates.push({ a: articles[i]!.id, b: articles[j]!.id, similarity: round(similarity) });
    }
  nearDuplicates.sort((x, y) => y.similarity - x.similarity);

  // A sentence is compared with its title and headings in front: "The link is valid for N minutes" under
  // "Magic link" and under "Password reset" are about different links.
  const sentences = chunks.flat().flatMap((chunk) =>
    figureSentences(chunk.text).map((s) => ({
      ...s,
      documentId: chunk.documentId,
      context: `${[chunk.title, ...chunk.headingPath].join(' > ')}: ${s.masked}`,
    })),
  );
  const statements = statementEmbedder(embedder);
  const sentenceVectors = await embedMemo(
    statements,
    sentences.map((s) => s.context),
  );
  const best = new Map<
    string,
    { a: string; b: string; aSentence: string; bSentence: string; units: string[]; similarity: number }
  >();
  for (let i = 0; i < sentences.length; i++)
    for (let j = i + 1; j < sentences.length; j++) {
      const x = sentences[i]!;
      const y = sentences[j]!;
      if (x.documentId === y.documentId) continue;
      const units = disagreeingUnits(x.figures, y.figures);
      if (units.length === 0) continue;
      const similarity = dot(sentenceVectors[i]!, sentenceVectors[j]!);
      if (similarity < HEALTH_THRESHOLDS.sameStatementSimilarity) continue;
      const [first, second] = x.documentId < y.documentId ? [x, y] : [y, x];
      const key = `${first.documentId}\u0000${second.documentId}`;
      if ((best.get(key)?.similarity ?? -1) >= similarity) continue;
      best.set(key, {
        a: first.documentId,
        b: second.documentId,
        aSentence: first.text,
        bSentence: second.text,
        units,
        similarity: round(similarity),
      });
    }
  const contradictions = [...best.values()].sort((x, y) => y.similarity - x.similarity);
  return { nearDuplicates, contradictions };
}
