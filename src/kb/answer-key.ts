import { createHash } from 'node:crypto';

/**
 * Human resolutions are indexed with the agent's answer as their body (activities/learning.ts), so resolutions
 * that give the same answer (whitespace and case aside) share this key and count as one answer at the gate:
 * five customers resolved with the same reply are agreement, not five rivals.
 */
export function resolutionAnswerKey(answerText: string): string {
  const normalized = answerText.replace(/\s+/g, ' ').trim().toLowerCase();
  return `answer:${createHash('sha256').update(normalized).digest('hex').slice(0, 16)}`;
}
