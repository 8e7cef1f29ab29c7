import { createHash } from 'node:crypto';
import type { PassageRef } from '../domain/ticket';
import { diverseTop } from './answerability';
import type { SearchHit, VectorStore } from './types';

/**
 * Human resolutions are indexed with the agent's answer as their body (activities/learning.ts), so resolutions
 * that give the same answer (whitespace and case aside) share this key and count as one answer at the gate:
 * five customers resolved with the same reply are agreement, not five rivals.
 */
export function resolutionAnswerKey(answerText: string): string {
  const normalized = answerText.replace(/\s+/g, ' ').trim().toLowerCase();
  return `answer:${createHash('sha256').update(normalized).digest('hex').slice(0, 16)}`;
}

/** What the workflow and the gate see of a search hit: ids, score, source, and a resolution's answer key. */
export function passageRefOf(hit: SearchHit): PassageRef {
  return {
    id: hit.id,
    documentId: hit.payload.documentId,
    score: hit.score,
    source: hit.payload.source,
    ...(hit.payload.source === 'resolution' ? { answerKey: resolutionAnswerKey(hit.payload.text) } : {}),
  };
}

/**
 * Pairs of documents that give the same answer although their texts differ: an article that cites a human
 * resolution's ticket (`[#<ticket>]`, as drafts from the knowledge-gap report do) restates that resolution.
 * Given the candidate documents by source; empty when none restate another.
 */
export type RestatementLookup = (candidates: {
  articles: string[];
  resolutions: string[];
}) => Promise<Array<[article: string, resolution: string]>>;

/**
 * One answer key per group of documents that restate each other: every passage of a group takes the key of the
 * group's best-ranked passage. So an article published from a gap suggestion and the resolutions it quotes are
 * agreement at the gate, not rivals (before, publishing such an article handed its whole topic off).
 */
export function unifyRestatements<T extends Pick<PassageRef, 'documentId' | 'answerKey'>>(
  ranked: readonly T[],
  pairs: ReadonlyArray<readonly [string, string]>,
): T[] {
  if (pairs.length === 0) return [...ranked];
  const parent = new Map<string, string>();
  const find = (doc: string): string => {
    const up = parent.get(doc);
    if (up === undefined || up === doc) return doc;
    const root = find(up);
    parent.set(doc, root);
    return root;
  };
  const keyOf = (item: T) => item.answerKey ?? item.documentId;
  // Documents whose passages share an answer key already form one answer: join them first.
  const firstOfKey = new Map<string, string>();
  for (const item of ranked) {
    const seen = firstOfKey.get(keyOf(item));
    if (seen === undefined) firstOfKey.set(keyOf(item), item.documentId);
    else if (find(seen) !== find(item.documentId)) parent.set(find(item.documentId), find(seen));
  }
  for (const [a, b] of pairs) if (find(a) !== find(b)) parent.set(find(b), find(a));
  const groupKey = new Map<string, string>();
  for (const item of ranked) if (!groupKey.has(find(item.documentId))) groupKey.set(find(item.documentId), keyOf(item));
  return ranked.map((item) => ({ ...item, answerKey: groupKey.get(find(item.documentId))! }));
}

/** Does an article's text cite this ticket as `#<ticket>` (not as the start of a longer id)? */
export function citesTicket(articleText: string, ticket: string): boolean {
  const escaped = ticket.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`#${escaped}(?![\\w:-])`).test(articleText);
}

/** A retrieved passage: the store's hit and what the workflow sees of it (answer keys already unified). */
export interface RetrievedPassage {
  hit: SearchHit;
  ref: PassageRef;
}

/**
 * The retrieval every answer step uses: over-fetch, group documents that restate each other into one answer,
 * then keep the top K with at most two passages per answer, so the answerability gate sees the runner-up
 * document instead of more passages of the winner.
 */
export async function searchTopAnswers(
  store: Pick<VectorStore, 'search'>,
  vector: number[],
  topK: number,
  restatements?: RestatementLookup,
): Promise<RetrievedPassage[]> {
  const candidates = await store.search(vector, Math.min(topK * 4, 100));
  const bySource = (source: string) => [
    ...new Set(candidates.filter((hit) => hit.payload.source === source).map((hit) => hit.payload.documentId)),
  ];
  const articles = bySource('kb');
  const resolutions = bySource('resolution');
  const pairs =
    restatements && articles.length > 0 && resolutions.length > 0
      ? await restatements({ articles, resolutions })
      : [];
  const refs = unifyRestatements(
    candidates.map((hit) => ({ ...passageRefOf(hit), hit })),
    pairs,
  );
  return diverseTop(refs, topK).map(({ hit, ...ref }) => ({ hit, ref }));
}
