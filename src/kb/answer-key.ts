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
 * The retrieval every answer step uses: over-fetch, then the top K with at most two passages per answer, so the
 * answerability gate sees the runner-up document instead of more passages of the winner.
 */
export async function searchTopAnswers(
  store: Pick<VectorStore, 'search'>,
  vector: number[],
  topK: number,
): Promise<SearchHit[]> {
  const candidates = await store.search(vector, Math.min(topK * 4, 100));
  return diverseTop(
    candidates.map((hit) => ({ ...passageRefOf(hit), hit })),
    topK,
  ).map((candidate) => candidate.hit);
}
