import { ticketText, type Answer, type Classification, type Passage, type Urgency } from '../domain/ticket';
import type { Embedder } from '../kb/types';
import { zeroUsage } from './cost';
import {
  DEFAULT_INTENT_EXAMPLES,
  DEFAULT_URGENCY_EXAMPLES,
  loadIntentExamples,
  type IntentExamples,
} from './intent-examples';
import { detectCriticalSignals } from './signals';
import { analyseSentiment, detectLanguage, splitSentences, summarise, words } from './text';
import { extractiveArticleDraft, type ArticleDraftRequest } from './article-draft';
import type { AnswerResult, ArticleDraftResult, ClassifyResult, LlmProvider, TicketForLlm } from './types';

export { detectCriticalSignals, detectHumanRequest } from './signals';

/**
 * Tuning knobs of the local provider. The defaults were chosen on the shipped examples and checked
 * against data/labelled-tickets.json and the answer tests (see test/llm).
 */
export interface LocalProviderTuning {
  /** How many nearest examples per intent are averaged into that intent's score. */
  topK: number;
  /**
   * Softmax temperature over per-intent scores. `undefined` = calibrate on the examples themselves by
   * leave-one-out (the temperature that minimises the negative log-likelihood of the held-out labels).
   */
  temperature?: number;
  /**
   * Best-intent similarity below which a ticket looks like none of the examples; confidence is scaled
   * down linearly from `similarityFloor + similaritySpan` to `similarityFloor`.
   */
  similarityFloor: number;
  similaritySpan: number;
  /** A passage must be at least this similar to the ticket to answer from it at all. */
  minPassageSimilarity: number;
  /** The best sentence must be at least this similar to the ticket, or nothing in the passages addresses it. */
  minSentenceSimilarity: number;
  /** Two top passages from different documents "agree in score" when their similarities differ by at most this... */
  conflictScoreGap: number;
  /** ...and "disagree in content" when their similarity to each other is below this: then we cannot answer. */
  conflictMaxPassageSimilarity: number;
  /**
   * Sentences in the reply: the best, then others whose own similarity to the ticket is within
   * `sentenceMargin` of the best (half that for sentences from another passage).
   */
  maxSentences: number;
  sentenceMargin: number;
}

export const DEFAULT_LOCAL_TUNING: LocalProviderTuning = {
  topK: 3,
  similarityFloor: 0.2,
  similaritySpan: 0.2,
  minPassageSimilarity: 0.4,
  minSentenceSimilarity: 0.35,
  conflictScoreGap: 0.05,
  conflictMaxPassageSimilarity: 0.3,
  maxSentences: 3,
  sentenceMargin: 0.12,
};

export interface LocalProviderOptions {
  embedder: Embedder;
  intents: readonly string[];
  /** JSON file replacing the shipped examples (shape: `IntentExamples`). */
  examplesPath?: string;
  /** Examples given directly (takes precedence over `examplesPath`). */
  examples?: IntentExamples;
  tuning?: Partial<LocalProviderTuning>;
}

interface LabelledVectors {
  labels: string[];
  vectors: number[][];
}

interface Prepared {
  intents: LabelledVectors;
  urgency: LabelledVectors;
  temperature: number;
}

export interface IntentScores {
  /** Mean similarity of the `topK` nearest examples, per intent. */
  similarity: Record<string, number>;
  /** Softmax probabilities, per intent. */
  probability: Record<string, number>;
  intent: string;
  confidence: number;
}

const MAX_EMBED_CHARS = 2000;
const MAX_ANSWER_PASSAGES = 8;

/**
 * Offline, deterministic provider: no API key, no network. Intent by nearest labelled examples in
 * embedding space, urgency by examples plus explicit critical rules, sentiment by a lexicon, language by
 * stop words, and extractive answers (the best-matching sentences of the best passages, cited).
 *
 * Confidence: for each intent, the mean cosine similarity s_i of its `topK` nearest examples; then
 * p_i = softmax(s_i / T), with T calibrated on the examples by leave-one-out; the confidence is p_top,
 * scaled down when even the best intent is far from every example (s_top < floor + span: the ticket is
 * unlike anything we know, so a confident softmax would be misleading). The margin between the two best
 * intents is what the softmax turns into probability: a narrow margin gives a low p_top.
 */
export class LocalProvider implements LlmProvider {
  readonly name = 'local' as const;
  readonly tuning: LocalProviderTuning;
  private readonly examples: { intents: Record<string, string[]>; urgency: Record<Urgency, string[]> };
  private prepared?: Promise<Prepared>;

  constructor(private readonly options: LocalProviderOptions) {
    this.tuning = { ...DEFAULT_LOCAL_TUNING, ...options.tuning };
    const source =
      options.examples ??
      (options.examplesPath
        ? loadIntentExamples(options.examplesPath)
        : { intents: DEFAULT_INTENT_EXAMPLES });
    const missing = options.intents.filter((intent) => !(source.intents[intent]?.length ?? 0));
    if (missing.length > 0) {
      throw new Error(
        `The local LLM provider has no example utterances for intent(s) ${missing.join(', ')}. ` +
          'Provide an examples file (see src/llm/intent-examples.ts) or use INTENTS that have examples.',
      );
    }
    if (options.intents.length < 2) throw new Error('LocalProvider needs at least two intents');
    this.examples = {
      intents: Object.fromEntries(options.intents.map((intent) => [intent, source.intents[intent] ?? []])),
      urgency: { ...DEFAULT_URGENCY_EXAMPLES, ...source.urgency },
    };
  }

  async classify(ticket: TicketForLlm): Promise<ClassifyResult> {
    const started = Date.now();
    const text = ticketText(ticket);
    const prepared = await this.prepare();
    const [vector] = await this.options.embedder.embed([text.slice(0, MAX_EMBED_CHARS)]);
    if (!vector) throw new Error('embedder returned no vector');

    const scores = this.scoreIntents(vector, prepared);
    const urgency = this.urgencyOf(text, vector, prepared, scores.intent);
    const classification: Classification = {
      intent: scores.intent,
      urgency,
      confidence: round(scores.confidence, 3),
      summary: summarise(ticket.subject, ticket.body),
      sentiment: analyseSentiment(text).sentiment,
      language: detectLanguage(text),
    };
    return { classification, usage: zeroUsage('local', Date.now() - started) };
  }

  /** Per-intent scores for a ticket vector (exposed for evaluation and tests). */
  async intentScores(ticket: TicketForLlm): Promise<IntentScores> {
    const prepared = await this.prepare();
    const [vector] = await this.options.embedder.embed([ticketText(ticket).slice(0, MAX_EMBED_CHARS)]);
    if (!vector) throw new Error('embedder returned no vector');
    return this.scoreIntents(vector, prepared);
  }

  async answer(ticket: TicketForLlm, passages: Passage[]): Promise<AnswerResult> {
    const started = Date.now();
    const answer = await this.extractiveAnswer(ticket, passages);
    return { answer, usage: zeroUsage('local', Date.now() - started) };
  }

  /** Offline: the agents' own answers, merged and cited (src/llm/article-draft.ts). */
  async draftArticle(request: ArticleDraftRequest): Promise<ArticleDraftResult> {
    return { draft: extractiveArticleDraft(request), usage: zeroUsage('local') };
  }

  private async extractiveAnswer(ticket: TicketForLlm, passages: Passage[]): Promise<Answer> {
    const t = this.tuning;
    const usable = passages.filter((p) => p.text.trim() !== '').slice(0, MAX_ANSWER_PASSAGES);
    if (usable.length === 0) {
      return { kind: 'cannot_answer', reason: 'No knowledge-base passages were retrieved for this ticket.' };
    }
    const embedder = this.options.embedder;
    const [question, ...passageVectors] = await embedder.embed([
      ticketText(ticket).slice(0, MAX_EMBED_CHARS),
      ...usable.map((p) => `${p.title}. ${p.text}`.slice(0, MAX_EMBED_CHARS)),
    ]);
    if (!question) throw new Error('embedder returned no vector');
    const ranked = usable
      .map((passage, i) => ({
        passage,
        vector: passageVectors[i] ?? [],
        similarity: dot(question, passageVectors[i] ?? []),
      }))
      .sort((a, b) => b.similarity - a.similarity);
    const [best, second] = ranked;
    if (!best || best.similarity < t.minPassageSimilarity) {
      return {
        kind: 'cannot_answer',
        reason: `No passage is close enough to the question (best similarity ${fmt(best?.similarity ?? 0)} < ${fmt(
          t.minPassageSimilarity,
        )}).`,
      };
    }
    if (
      second &&
      second.passage.documentId !== best.passage.documentId &&
      second.similarity >= t.minPassageSimilarity &&
      best.similarity - second.similarity <= t.conflictScoreGap &&
      dot(best.vector, second.vector) < t.conflictMaxPassageSimilarity
    ) {
      return {
        kind: 'cannot_answer',
        reason:
          `Two sources match the question equally well but say different things ("${best.passage.title}" and ` +
          `"${second.passage.title}", similarity to each other ${fmt(dot(best.vector, second.vector))}); a person should decide.`,
      };
    }

    // Candidate sentences from the passages that are nearly as relevant as the best one.
    const candidates = ranked
      .filter((r) => r.similarity >= Math.max(t.minPassageSimilarity, best.similarity - 0.08))
      .slice(0, 3);
    const sentences = candidates.flatMap((candidate, passageRank) =>
      splitSentences(candidate.passage.text)
        .filter((sentence) => {
          const count = words(sentence).length;
          return count >= 4 && count <= 80;
        })
        .map((text, position) => ({ text, position, passageRank, candidate })),
    );
    if (sentences.length === 0) {
      return { kind: 'cannot_answer', reason: 'The matching passages contain no usable sentences.' };
    }
    const sentenceVectors = await embedder.embed(sentences.map((s) => s.text));
    const scored = sentences
      .map((sentence, i) => {
        const vector = sentenceVectors[i] ?? [];
        const similarity = dot(question, vector);
        return {
          ...sentence,
          vector,
          similarity,
          score: 0.7 * similarity + 0.3 * sentence.candidate.similarity,
        };
      })
      .sort((a, b) => b.score - a.score);
    const top = scored[0];
    if (!top || top.similarity < t.minSentenceSimilarity) {
      return {
        kind: 'cannot_answer',
        reason: `The passages mention the topic but no sentence addresses the question (best sentence similarity ${fmt(
          top?.similarity ?? 0,
        )} < ${fmt(t.minSentenceSimilarity)}).`,
      };
    }
    // Further sentences must themselves be about the question (not just sit in a relevant passage);
    // sentences from another passage than the best one need to be nearly as relevant as the best.
    const chosen = [top];
    for (const sentence of scored.slice(1)) {
      if (chosen.length >= t.maxSentences) break;
      const floor = Math.max(
        t.minSentenceSimilarity,
        top.similarity - (sentence.candidate === top.candidate ? t.sentenceMargin : t.sentenceMargin / 2),
      );
      if (sentence.similarity < floor) continue;
      if (chosen.some((c) => dot(c.vector, sentence.vector) > 0.85)) continue;
      chosen.push(sentence);
    }
    // Read in document order: passage rank, then position within the passage.
    chosen.sort((a, b) => a.passageRank - b.passageRank || a.position - b.position);
    const cited = [...new Set(chosen.map((c) => c.candidate.passage.id))];
    const body = chosen.map((c) => ensurePeriod(c.text)).join(' ');
    const reply =
      `Thanks for reaching out. Here is what our documentation says:\n\n${body}\n\n` +
      'If this does not solve it, just reply to this message and a member of our team will help.';
    return { kind: 'answer', reply, citedPassageIds: cited };
  }

  private scoreIntents(vector: number[], prepared: Prepared): IntentScores {
    const similarity = topKMeans(vector, prepared.intents, this.tuning.topK);
    return this.toProbabilities(similarity, prepared.temperature);
  }

  private toProbabilities(similarity: Record<string, number>, temperature: number): IntentScores {
    const probability = softmax(similarity, temperature);
    const [intent, p] = Object.entries(probability).sort((a, b) => b[1] - a[1])[0] ?? ['other', 0];
    const { similarityFloor, similaritySpan } = this.tuning;
    const coverage = clamp(((similarity[intent] ?? 0) - similarityFloor) / similaritySpan, 0, 1);
    return { similarity, probability, intent, confidence: p * coverage };
  }

  /**
   * Urgency: explicit rules first (critical signals; stated time pressure or being blocked; stated lack of
   * urgency), then the intent (suggestions and general enquiries are low), then whether the ticket
   * reports a problem at all. The urgency examples decide only what the rules leave open: a problem
   * report that closely resembles the "high" examples is high, a plain question is low or medium by its
   * nearest examples (medium only when clearly closer to the medium examples). Topic similarity alone is a
   * weak urgency signal, hence the rules.
   */
  private urgencyOf(text: string, vector: number[], prepared: Prepared, intent: string): Urgency {
    if (detectCriticalSignals(text).length > 0) return 'critical';
    if (HIGH_CUES.test(text)) return 'high';
    if (LOW_CUES.test(text)) return 'low';
    if (intent === 'feature_request' || intent === 'other') return 'low';
    const similarity = topKMeans(vector, prepared.urgency, this.tuning.topK);
    const near = (level: Urgency) => similarity[level] ?? 0;
    if (PROBLEM_CUES.test(text)) {
      // Complaints read like the "high" examples by tone alone; only a reported fault can be high here.
      return intent !== 'complaint' && near('high') - near('medium') >= 0.1 ? 'high' : 'medium';
    }
    return near('medium') - near('low') >= 0.1 && !QUESTION.test(text.trim()) ? 'medium' : 'low';
  }

  private prepare(): Promise<Prepared> {
    this.prepared ??= (async () => {
      const intentEntries = Object.entries(this.examples.intents).flatMap(([label, texts]) =>
        texts.map((text) => ({ label, text })),
      );
      const urgencyEntries = Object.entries(this.examples.urgency).flatMap(([label, texts]) =>
        texts.map((text) => ({ label, text })),
      );
      const vectors = await this.options.embedder.embed([
        ...intentEntries.map((e) => e.text),
        ...urgencyEntries.map((e) => e.text),
      ]);
      const intents = {
        labels: intentEntries.map((e) => e.label),
        vectors: vectors.slice(0, intentEntries.length),
      };
      const urgency = {
        labels: urgencyEntries.map((e) => e.label),
        vectors: vectors.slice(intentEntries.length),
      };
      const temperature = this.tuning.temperature ?? calibrateTemperature(intents, this.tuning.topK);
      return { intents, urgency, temperature };
    })();
    this.prepared.catch(() => {
      this.prepared = undefined;
    });
    return this.prepared;
  }
}

const HIGH_CUES =
  /\b(?:urgent|urgently|asap|as soon as possible|(?:fix|help|resolve|respond|reply|act|look at)(?: \w+)? (?:immediately|right away)|emergency|(?<!not )blocked|blocking (?:us|me|our)|can'?t work|cannot work|unable to work|can'?t (?:do|get) (?:any|my) work|deadline|(?:due|by|before|until) (?:today|tomorrow|tonight)|need[^.!?\n]{0,40}\b(?:today|tomorrow|tonight)\b|within (?:an|the next|\d+) hours?|losing (?:money|sales|revenue|customers|orders)|(?:orders|payments|customers) (?:are )?stuck|will be suspended|suspended in\b)/i;
const LOW_CUES =
  /\b(?:no rush|not urgent|not blocking|no hurry|whenever you (?:can|get a chance)|just curious|just letting you know|just wanted (?:to|you)|low priority|minor (?:issue|thing|bug)|small thing|when you have time)\b/i;
/** Words that say something is wrong, as opposed to a question or a wish. */
const PROBLEM_CUES =
  /\b(?:error|errors|fail|fails|failed|failing|failure|broken|break|breaks|not working|doesn'?t work|does not work|stopped|crash|crashes|crashing|wrong|incorrect|charged|overcharged|refund|missing|can'?t|cannot|unable|locked|declined|expired|invalid|never arrived|nothing arrived|no reply|not (?:received|arrived|loading|showing|syncing)|stuck|bug|problem|issue|twice|double|deactivated|disabled|suspended)\b/i;
const QUESTION =
  /^(?:[^\n]*\n)?\s*(?:hi|hello|hey)?[,!.\s]*(?:how|where|what|which|who|when|is|are|can|could|do|does|would|will|any)\b/i;

/** Vectors are unit length (the embedder normalises), so the dot product is the cosine similarity. */
function dot(a: number[], b: number[]): number {
  let sum = 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) sum += (a[i] ?? 0) * (b[i] ?? 0);
  return sum;
}

function topKMeans(
  vector: number[],
  examples: LabelledVectors,
  k: number,
  skipIndex = -1,
): Record<string, number> {
  const byLabel: Record<string, number[]> = {};
  examples.vectors.forEach((example, i) => {
    if (i === skipIndex) return;
    const label = examples.labels[i] ?? '';
    (byLabel[label] ??= []).push(dot(vector, example));
  });
  const result: Record<string, number> = {};
  for (const [label, sims] of Object.entries(byLabel)) {
    const top = sims.sort((a, b) => b - a).slice(0, k);
    result[label] = top.reduce((sum, s) => sum + s, 0) / Math.max(top.length, 1);
  }
  return result;
}

function softmax(scores: Record<string, number>, temperature: number): Record<string, number> {
  const entries = Object.entries(scores);
  const max = Math.max(...entries.map(([, s]) => s));
  const exps = entries.map(([label, s]) => [label, Math.exp((s - max) / temperature)] as const);
  const total = exps.reduce((sum, [, e]) => sum + e, 0);
  return Object.fromEntries(exps.map(([label, e]) => [label, e / total]));
}

const TEMPERATURE_GRID = [
  0.005, 0.0075, 0.01, 0.015, 0.02, 0.025, 0.03, 0.04, 0.05, 0.06, 0.08, 0.1, 0.15, 0.2,
];

/**
 * Leave-one-out over the examples: score each example against all the others, and keep the temperature
 * under which the held-out labels are most probable (lowest mean negative log-likelihood).
 */
export function calibrateTemperature(examples: LabelledVectors, k: number): number {
  const heldOut = examples.vectors.map((vector, i) => ({
    label: examples.labels[i] ?? '',
    scores: topKMeans(vector, examples, k, i),
  }));
  let bestTemperature = 0.05;
  let bestLoss = Number.POSITIVE_INFINITY;
  for (const temperature of TEMPERATURE_GRID) {
    let loss = 0;
    for (const { label, scores } of heldOut) {
      loss -= Math.log(Math.max(softmax(scores, temperature)[label] ?? 0, 1e-12));
    }
    if (loss < bestLoss) {
      bestLoss = loss;
      bestTemperature = temperature;
    }
  }
  return bestTemperature;
}

function clamp(value: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, value));
}

function round(value: number, digits: number): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}

function fmt(value: number): string {
  return value.toFixed(2);
}

function ensurePeriod(sentence: string): string {
  return /[.!?:)]$/.test(sentence) ? sentence : `${sentence}.`;
}
