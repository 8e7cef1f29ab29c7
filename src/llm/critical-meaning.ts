import { z } from 'zod';
import { DEFAULT_INTENT_EXAMPLES, DEFAULT_URGENCY_EXAMPLES } from './intent-examples';
import shippedExamples from '../../data/critical-paraphrases.json';
import { DEFAULT_EMBEDDING_MODEL } from '../kb/models';
import type { Embedder } from '../kb/types';
import { CRITICAL_SIGNALS, detectCriticalSignals, type CriticalSignal } from './signals';
import { splitSentences } from './text';

/**
 * Critical urgency by meaning, next to the keyword rules (src/llm/signals.ts): each sentence of a ticket (and the
 * whole ticket) is compared in embedding space with written examples of critical tickets (outage, data loss,
 * security breach, legal threat, chargeback) and of ordinary ones. A sentence is critical when its nearest example
 * is a critical one and at least `criticalMeaningThreshold(model)` similar. Rules catch the phrasings they know; this
 * catches paraphrases ("every customer record vanished") and, after undoing digit-for-letter spellings,
 * obfuscated ones ("s3rvers d0wn"). It runs for every provider (a floor under the model's own urgency).
 *
 * Only the `fit` half of data/critical-paraphrases.json is the reference set, and the threshold was chosen on it
 * alone (leave-one-out); `npx tsx bench/critical-meaning.ts` reports recall and false positives on the held-out half.
 */

const exampleFileSchema = z.object({
  critical: z.array(
    z.object({
      text: z.string().min(1),
      signal: z.enum(CRITICAL_SIGNALS),
      split: z.enum(['fit', 'held-out']),
    }),
  ),
  ordinary: z.array(z.object({ text: z.string().min(1), split: z.enum(['fit', 'held-out']) })),
  seeds: z.object({
    critical: z.array(z.object({ text: z.string().min(1), signal: z.enum(CRITICAL_SIGNALS) })),
    ordinary: z.array(z.string().min(1)),
  }),
});
export type CriticalExampleFile = z.infer<typeof exampleFileSchema>;

export interface CriticalExamples {
  critical: Array<{ text: string; signal: CriticalSignal }>;
  ordinary: string[];
}

/** data/critical-paraphrases.json, checked (imported, so it travels with the code in bundles and images). */
export function loadCriticalExampleFile(): CriticalExampleFile {
  return exampleFileSchema.parse(shippedExamples);
}

/** The examples of one split of data/critical-paraphrases.json (the benchmark scores `held-out` only). */
export function criticalExamples(file: CriticalExampleFile, split: 'fit' | 'held-out'): CriticalExamples {
  return {
    critical: file.critical.filter((e) => e.split === split).map(({ text, signal }) => ({ text, signal })),
    ordinary: file.ordinary.filter((e) => e.split === split).map((e) => e.text),
  };
}

/**
 * What the detector compares with: the fit half, the seeds (short statements of each kind), and the local
 * classifier's own examples, which say what ordinary support tickets look like.
 */
export function referenceExamples(file: CriticalExampleFile): CriticalExamples {
  const fit = criticalExamples(file, 'fit');
  const knownOrdinary = [
    ...Object.values(DEFAULT_INTENT_EXAMPLES).flat(),
    ...DEFAULT_URGENCY_EXAMPLES.high,
    ...DEFAULT_URGENCY_EXAMPLES.medium,
    ...DEFAULT_URGENCY_EXAMPLES.low,
  ];
  return {
    critical: [...fit.critical, ...file.seeds.critical],
    ordinary: [...fit.ordinary, ...file.seeds.ordinary, ...knownOrdinary],
  };
}

/**
 * Per embedding model, chosen by bench/critical-meaning.ts on the fit half only (leave-one-out: the lowest
 * threshold whose false-positive rate on the fit half's ordinary tickets stays at or below 3 %). A model missing
 * here gets the default model's value; run the bench for it.
 */
const CRITICAL_MEANING_THRESHOLDS: Record<string, number> = {
  'ticketflow/minilm-support-v1': 0.424,
  'sentence-transformers/all-MiniLM-L6-v2': 0.449,
  'Xenova/all-MiniLM-L6-v2': 0.449,
};

export function criticalMeaningThreshold(modelId: string): number {
  return CRITICAL_MEANING_THRESHOLDS[modelId] ?? CRITICAL_MEANING_THRESHOLDS[DEFAULT_EMBEDDING_MODEL]!;
}

/**
 * Sentences that ask or suppose rather than report ("will I lose my data if…", "how do I…?") are not compared:
 * embeddings do not see the difference, the rules skip such clauses too (signals.ts).
 */
const HYPOTHETICAL =
  /\b(?:if|whether|in case|worried|afraid|avoid|prevent|planned|scheduled)\b|^(?:how|what|where|can|could|do|does|will|would|is there|are there)\b[^.!]*\?$/i;

const LEET: Record<string, string> = {
  '0': 'o',
  '1': 'i',
  '3': 'e',
  '4': 'a',
  '5': 's',
  '7': 't',
  '@': 'a',
  $: 's',
};

/**
 * Undo digit-for-letter spellings inside words ("s3rv3rs d0wn" → "servers down", "h4ck3d" → "hacked"), leaving
 * numbers and units ("502", "24h", "12 MB") alone: only tokens with at least two letters that do not start with a
 * digit run followed by a short unit.
 */
export function deobfuscate(text: string): string {
  // Addresses are not words: "jane@example.com" stays as it is.
  return text.replace(/\S+@\S+\.\w+|[A-Za-z0-9@$]+/g, (token) => {
    if (token.includes('.') && token.includes('@')) return token;
    return deobfuscateWord(token);
  });
}

function deobfuscateWord(text: string): string {
  return text.replace(/[A-Za-z0-9@$]+/g, (token) => {
    if (!/[0134578@$]/.test(token) || (token.match(/[A-Za-z]/g)?.length ?? 0) < 2) return token;
    if (/^\d+[A-Za-z]{1,3}$/.test(token)) return token;
    return token.replace(/[0134578@$]/g, (c) => LEET[c] ?? c);
  });
}

export interface CriticalMeaningMatch {
  signal: CriticalSignal;
  /** Cosine similarity to the nearest critical example. */
  similarity: number;
  /** The ticket's sentence that matched, and the example it matched. */
  sentence: string;
  example: string;
}

interface Scored {
  sentence: string;
  critical: { similarity: number; index: number };
  ordinary: number;
}

/** The embedder reads about 256 tokens; a ticket states its emergency early. */
const MAX_TEXT_CHARS = 1000;

function dot(a: number[], b: number[]): number {
  let sum = 0;
  for (let i = 0; i < a.length; i += 1) sum += a[i]! * b[i]!;
  return sum;
}

function nearest(vector: number[], references: number[][]): { similarity: number; index: number } {
  let best = { similarity: -Infinity, index: -1 };
  references.forEach((reference, index) => {
    const similarity = dot(vector, reference);
    if (similarity > best.similarity) best = { similarity, index };
  });
  return best;
}

/**
 * What is compared for a ticket: its whole text, obfuscated spellings undone (comparing each sentence on its own
 * flagged 7 % of ordinary tickets in data/labelled-tickets.json, the whole text 2 %: see bench/README.md). A
 * one-sentence ticket that only asks or supposes is not compared.
 */
export function meaningUnits(text: string): string[] {
  const plain = deobfuscate(text);
  const whole = plain.replace(/\s+/g, ' ').trim().slice(0, MAX_TEXT_CHARS);
  if (!whole) return [];
  if (splitSentences(plain).length <= 1 && HYPOTHETICAL.test(whole)) return [];
  return [whole];
}

export class CriticalMeaningDetector {
  private prepared?: Promise<{ critical: number[][]; ordinary: number[][] }>;

  constructor(
    private readonly embedder: Embedder,
    private readonly examples: CriticalExamples,
    readonly threshold = criticalMeaningThreshold(embedder.modelId),
  ) {}

  private references() {
    this.prepared ??= this.embedder
      .embed([...this.examples.critical.map((e) => e.text), ...this.examples.ordinary])
      .then((vectors) => ({
        critical: vectors.slice(0, this.examples.critical.length),
        ordinary: vectors.slice(this.examples.critical.length),
      }))
      .catch((err: unknown) => {
        this.prepared = undefined; // a failed load is retried on the next call
        throw err;
      });
    return this.prepared;
  }

  /** Per unit: the nearest critical example and the best ordinary similarity (the benchmark tunes on these). */
  async score(text: string): Promise<Scored[]> {
    const units = meaningUnits(text);
    if (units.length === 0) return [];
    const [references, vectors] = await Promise.all([this.references(), this.embedder.embed(units)]);
    return units.map((sentence, i) => ({
      sentence,
      critical: nearest(vectors[i]!, references.critical),
      ordinary: nearest(vectors[i]!, references.ordinary).similarity,
    }));
  }

  /** Is the score of one unit critical at `threshold`? */
  static isCritical(unit: Pick<Scored, 'critical' | 'ordinary'>, threshold: number): boolean {
    return unit.critical.similarity >= threshold && unit.critical.similarity > unit.ordinary;
  }

  /** The strongest critical match in a ticket, or undefined when none clears the threshold. */
  async detect(text: string): Promise<CriticalMeaningMatch | undefined> {
    const scored = await this.score(text);
    const matches = scored
      .filter((unit) => CriticalMeaningDetector.isCritical(unit, this.threshold))
      .sort((a, b) => b.critical.similarity - a.critical.similarity);
    const best = matches[0];
    if (!best) return undefined;
    const example = this.examples.critical[best.critical.index]!;
    return {
      signal: example.signal,
      similarity: best.critical.similarity,
      sentence: best.sentence,
      example: example.text,
    };
  }
}

/** The keyword rules over the ticket as written and with obfuscated spellings undone. */
export function detectCriticalSignalsDeobfuscated(text: string): CriticalSignal[] {
  const found = new Set([...detectCriticalSignals(text), ...detectCriticalSignals(deobfuscate(text))]);
  return CRITICAL_SIGNALS.filter((signal) => found.has(signal));
}
