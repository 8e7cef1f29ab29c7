import type { PassageRef, PassageSource } from '../domain/ticket';

/**
 * Does the knowledge base answer this question, better than anything else it holds? Pure (the workflow bundle
 * imports it): scores documents, not passages, because a question is answered by an article, and a passage from
 * a neighbouring article that merely mentions the same words is the classic wrong answer.
 */

export interface AnswerabilityThresholds {
  /** The best document's score (its best passage's cosine similarity) must reach this. */
  minScore: number;
  /** …and beat the runner-up *other* document by at least this. */
  minMargin: number;
}

export interface DocumentScore {
  /** The answer (see PassageRef.answerKey) and the best document that gives it. */
  answerKey: string;
  documentId: string;
  source: PassageSource;
  /** The document's best passage score. */
  score: number;
}

export interface Answerability {
  answerable: boolean;
  best?: DocumentScore;
  /** best − runner-up answer (another document, not one saying the same); when no other document was retrieved, best − the lowest retrieved score. */
  margin: number;
}

/**
 * One entry per answer (a document, or the resolutions that carry the same answer text), scored by its best
 * passage; best first (ties: first retrieved wins).
 */
export function scoreDocuments(passages: readonly PassageRef[]): DocumentScore[] {
  const byDocument = new Map<string, DocumentScore>();
  for (const passage of passages) {
    const answerKey = passage.answerKey ?? passage.documentId;
    const seen = byDocument.get(answerKey);
    if (!seen || passage.score > seen.score)
      byDocument.set(answerKey, {
        answerKey,
        documentId: passage.documentId,
        source: passage.source,
        score: passage.score,
      });
  }
  return [...byDocument.values()].sort((a, b) => b.score - a.score);
}

/**
 * The gate. Retrieval returns the top K passages only, so a runner-up document may be missing from them: then its
 * score is at most the lowest retrieved score, and the margin is measured against that (never overstated).
 */
export function judgeAnswerability(
  passages: readonly PassageRef[],
  thresholds: AnswerabilityThresholds,
): Answerability {
  const [best, runnerUp] = scoreDocuments(passages);
  if (!best) return { answerable: false, margin: 0 };
  const ceilingOfAbsent = Math.min(...passages.map((p) => p.score));
  const margin = best.score - (runnerUp?.score ?? ceilingOfAbsent);
  return {
    answerable: best.score >= thresholds.minScore && margin >= thresholds.minMargin,
    best,
    margin,
  };
}

/** A labelled question: what retrieval returned for it, and the document that answers it (null: not covered). */
export interface LabelledRetrieval {
  passages: readonly PassageRef[];
  answeredBy: string | null;
}

export interface GateOutcomeCounts {
  /** Questions the gate lets through (autonomous answers). */
  answered: number;
  /** …of which the chosen document is the right one. */
  correct: number;
  /** …of which it is not (another topic's document, or a question nothing covers). */
  wrong: number;
  /** Covered questions (answeredBy not null). */
  covered: number;
  /** Uncovered questions handed off. */
  uncoveredHandedOff: number;
  uncovered: number;
}

export interface Calibration {
  thresholds: AnswerabilityThresholds;
  counts: GateOutcomeCounts;
  /** wrong / answered (0 when nothing is answered). */
  wrongRate: number;
  /** answered / all questions: what to expect on traffic like the labelled sample. */
  answerRate: number;
}

/** What the gate would do on labelled questions with these thresholds. */
export function countGateOutcomes(
  sample: readonly LabelledRetrieval[],
  thresholds: AnswerabilityThresholds,
): GateOutcomeCounts {
  const counts: GateOutcomeCounts = {
    answered: 0,
    correct: 0,
    wrong: 0,
    covered: 0,
    uncoveredHandedOff: 0,
    uncovered: 0,
  };
  for (const { passages, answeredBy } of sample) {
    const verdict = judgeAnswerability(passages, thresholds);
    if (answeredBy === null) counts.uncovered += 1;
    else counts.covered += 1;
    if (!verdict.answerable) {
      if (answeredBy === null) counts.uncoveredHandedOff += 1;
      continue;
    }
    counts.answered += 1;
    if (answeredBy !== null && verdict.best?.documentId === answeredBy) counts.correct += 1;
    else counts.wrong += 1;
  }
  return counts;
}

/**
 * The thresholds that answer the most questions correctly while keeping wrong answers at or under the target
 * rate of autonomous answers, searched on a 0.01 grid. Ties go to the stricter pair (higher margin, then score).
 * Undefined when no pair answers anything within the target.
 */
export function fitThresholds(
  sample: readonly LabelledRetrieval[],
  targetWrongRate: number,
  grid: { scores?: number[]; margins?: number[] } = {},
): Calibration | undefined {
  const steps = (from: number, to: number) =>
    Array.from({ length: Math.round((to - from) / 0.01) + 1 }, (_, i) => Number((from + i * 0.01).toFixed(2)));
  const scores = grid.scores ?? steps(0.2, 0.9);
  const margins = grid.margins ?? steps(0, 0.4);
  let best: Calibration | undefined;
  for (const minScore of scores) {
    for (const minMargin of margins) {
      const counts = countGateOutcomes(sample, { minScore, minMargin });
      if (counts.answered === 0) continue;
      const wrongRate = counts.wrong / counts.answered;
      if (wrongRate > targetWrongRate) continue;
      const better =
        !best ||
        counts.correct > best.counts.correct ||
        (counts.correct === best.counts.correct &&
          (minMargin > best.thresholds.minMargin ||
            (minMargin === best.thresholds.minMargin && minScore > best.thresholds.minScore)));
      if (better)
        best = {
          thresholds: { minScore, minMargin },
          counts,
          wrongRate,
          answerRate: counts.answered / sample.length,
        };
    }
  }
  return best;
}

/** Passages kept per answer by `diverseTop`: enough to ground a reply, few enough to leave room for rivals. */
export const PASSAGES_PER_ANSWER = 2;

/**
 * The best `k` of `ranked` (best first) with at most `perAnswer` passages per answer. Without it, five passages
 * of one long article, or five resolutions giving the same answer, fill the top K: the runner-up is then
 * unknown and the margin can only be bounded (by the lowest retrieved score), which hands off clear answers.
 */
export function diverseTop<T extends Pick<PassageRef, 'documentId' | 'answerKey'>>(
  ranked: readonly T[],
  k: number,
  perAnswer = PASSAGES_PER_ANSWER,
): T[] {
  const taken = new Map<string, number>();
  const kept: T[] = [];
  for (const item of ranked) {
    if (kept.length >= k) break;
    const key = item.answerKey ?? item.documentId;
    const count = taken.get(key) ?? 0;
    if (count >= perAnswer) continue;
    taken.set(key, count + 1);
    kept.push(item);
  }
  return kept;
}
