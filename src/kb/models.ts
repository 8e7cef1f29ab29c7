/**
 * What we know about each embedding model we ship or install, kept free of I/O so configuration can read it.
 * Similarity thresholds are properties of a model's score scale, so the answerability gate's defaults live here,
 * each fitted by `npm run eval -- --suites domains` on a domain the model was not trained on (bench/README.md).
 */

/** all-MiniLM-L6-v2 fine-tuned for support questions (bench/finetune), installed from data/models by setup. */
export const DEFAULT_EMBEDDING_MODEL = 'ticketflow/minilm-support-v1';

/** Known models and their output dimension, so the store can be created before the first embedding. */
export const MODEL_DIMENSIONS: Record<string, number> = {
  'ticketflow/minilm-support-v1': 384,
  'sentence-transformers/all-MiniLM-L6-v2': 384,
  'Xenova/all-MiniLM-L6-v2': 384,
  'BAAI/bge-small-en-v1.5': 384,
  'Xenova/bge-small-en-v1.5': 384,
};

/** How a model's token vectors become one sentence vector, as its authors trained it (BGE: the [CLS] token). */
export const MODEL_POOLING: Record<string, 'mean' | 'cls'> = {
  'BAAI/bge-small-en-v1.5': 'cls',
  'Xenova/bge-small-en-v1.5': 'cls',
};

/** Fitted for ≤ 3 % wrong answers on the domain named beside each pair. */
export interface AnswerabilityDefaults {
  minScore: number;
  minMargin: number;
}

/**
 * ANSWER_MIN_SCORE / ANSWER_MIN_MARGIN when they are not set. A model missing here (one you bring) gets the
 * default model's pair; run `ticketflow kb calibrate` for it.
 */
export const MODEL_ANSWERABILITY: Record<string, AnswerabilityDefaults> = {
  'ticketflow/minilm-support-v1': { minScore: 0.63, minMargin: 0.29 }, // CLINC150 work, val split
  'sentence-transformers/all-MiniLM-L6-v2': { minScore: 0.45, minMargin: 0.25 }, // CLINC150 banking, val split
  'Xenova/all-MiniLM-L6-v2': { minScore: 0.45, minMargin: 0.25 },
};

export function answerabilityDefaults(modelId: string): AnswerabilityDefaults {
  return MODEL_ANSWERABILITY[modelId] ?? MODEL_ANSWERABILITY[DEFAULT_EMBEDDING_MODEL]!;
}

/**
 * The model article health compares statements with. The support model is trained to put every sentence about one
 * topic close together, so "monthly plans: refund within 14 days" and "annual plans: within 30 days" look like one
 * statement to it (0.86, above the planted contradiction's 0.67); the general-purpose MiniLM tells them apart.
 */
const STATEMENT_MODEL: Record<string, string> = {
  'ticketflow/minilm-support-v1': 'sentence-transformers/all-MiniLM-L6-v2',
};

export function statementModel(modelId: string): string {
  return STATEMENT_MODEL[modelId] ?? modelId;
}
