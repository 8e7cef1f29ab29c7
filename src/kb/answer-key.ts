import { createHash } from 'node:crypto';
import type { PassageRef } from '../domain/ticket';
import type { SearchHit } from './types';

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
