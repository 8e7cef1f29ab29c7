/**
 * Judging a ticket's outcome against what was expected, and the metrics over many tickets.
 *
 * Four verdicts partition every ticket:
 * - answered_correctly: an answer was expected and the reply cites an article of the expected topic;
 * - answered_wrongly: the AI replied, but either cited only articles of other topics, or should have escalated;
 * - escalated_correctly: escalation was expected and happened;
 * - escalated_unnecessarily: an answer was expected but the ticket went to a human.
 * Escalation is the "positive" class: precision = escalated_correctly / escalated,
 * recall = escalated_correctly / expected escalations.
 */

export type ExpectedOutcome = 'answer' | 'escalate';
export const VERDICTS = [
  'answered_correctly',
  'answered_wrongly',
  'escalated_correctly',
  'escalated_unnecessarily',
] as const;
export type Verdict = (typeof VERDICTS)[number];

export interface JudgedTicket {
  expectedOutcome: ExpectedOutcome;
  /** Topics (article ids, or dataset intents) a correct answer may cite; empty when escalation is expected. */
  expectedTopics: readonly string[];
  answered: boolean;
  /** Topics of the documents the reply cites (empty when escalated). */
  citedTopics: readonly string[];
  expectedIntent: string;
  /** The classifier's intent; undefined when classification failed. */
  predictedIntent?: string | null;
}

export function judge(ticket: JudgedTicket): Verdict {
  if (!ticket.answered)
    return ticket.expectedOutcome === 'escalate' ? 'escalated_correctly' : 'escalated_unnecessarily';
  if (ticket.expectedOutcome === 'escalate') return 'answered_wrongly';
  return ticket.citedTopics.some((topic) => ticket.expectedTopics.includes(topic))
    ? 'answered_correctly'
    : 'answered_wrongly';
}

export type ConfusionCounts = Record<Verdict, number>;

export function countVerdicts(verdicts: readonly Verdict[]): ConfusionCounts {
  const counts: ConfusionCounts = {
    answered_correctly: 0,
    answered_wrongly: 0,
    escalated_correctly: 0,
    escalated_unnecessarily: 0,
  };
  for (const verdict of verdicts) counts[verdict] += 1;
  return counts;
}

export interface EvalMetrics {
  tickets: number;
  counts: ConfusionCounts;
  /** answered_wrongly split: wrong article for an answerable ticket vs. a reply where a human was needed. */
  answeredWrongArticle: number;
  answeredShouldEscalate: number;
  answered: number;
  escalated: number;
  /** null when no ticket had a classification to compare. */
  intentAccuracy: number | null;
  escalationPrecision: number | null;
  escalationRecall: number | null;
  /** answered_correctly / answered. */
  answerPrecision: number | null;
  /** answered_correctly / expected answers. */
  answerRecall: number | null;
}

export function computeMetrics(tickets: readonly JudgedTicket[]): EvalMetrics {
  const verdicts = tickets.map(judge);
  const counts = countVerdicts(verdicts);
  const answered = counts.answered_correctly + counts.answered_wrongly;
  const escalated = counts.escalated_correctly + counts.escalated_unnecessarily;
  const answeredShouldEscalate = tickets.filter(
    (t, i) => verdicts[i] === 'answered_wrongly' && t.expectedOutcome === 'escalate',
  ).length;
  const expectedEscalations = tickets.filter((t) => t.expectedOutcome === 'escalate').length;
  const expectedAnswers = tickets.length - expectedEscalations;
  const classified = tickets.filter((t) => t.predictedIntent !== undefined && t.predictedIntent !== null);
  const intentHits = classified.filter((t) => t.predictedIntent === t.expectedIntent).length;
  const fraction = (part: number, whole: number) =>
    whole === 0 ? null : Math.round((part / whole) * 10_000) / 10_000;
  return {
    tickets: tickets.length,
    counts,
    answeredWrongArticle: counts.answered_wrongly - answeredShouldEscalate,
    answeredShouldEscalate,
    answered,
    escalated,
    intentAccuracy: fraction(intentHits, classified.length),
    escalationPrecision: fraction(counts.escalated_correctly, escalated),
    escalationRecall: fraction(counts.escalated_correctly, expectedEscalations),
    answerPrecision: fraction(counts.answered_correctly, answered),
    answerRecall: fraction(counts.answered_correctly, expectedAnswers),
  };
}

/** Distinct lower-case words of four letters or more: the content words of a short text. */
function contentWords(text: string): Set<string> {
  return new Set(text.toLowerCase().match(/[a-z][a-z']{3,}/g) ?? []);
}

/**
 * Share of the reference's content words that the reply contains, in [0, 1]. Used to tell whether an answer
 * learned from a human resolution carries the human's answer or only echoes earlier customers' questions (a
 * resolution document holds both). A citation can be of the right topic while the reply says nothing useful.
 */
export function answerOverlap(reply: string, reference: string): number {
  const wanted = contentWords(reference);
  if (wanted.size === 0) return 0;
  const present = contentWords(reply);
  let hits = 0;
  for (const word of wanted) if (present.has(word)) hits += 1;
  return hits / wanted.size;
}

/** Overlap at or above which a reply is taken to carry the reference answer. */
export const CARRIES_ANSWER_OVERLAP = 0.35;
