import path from 'node:path';
import fs from 'node:fs';
import { AsyncLocalStorage } from 'node:async_hooks';
import { Worker } from 'node:worker_threads';
import { z } from 'zod';
import type { Embedder } from './types';

import { MODEL_DIMENSIONS, MODEL_POOLING } from './models';

export { DEFAULT_EMBEDDING_MODEL, MODEL_DIMENSIONS, MODEL_POOLING } from './models';

/** What a model we did not ship (one you trained or exported) must declare in its folder's ticketflow-model.json. */
const customModelManifest = z.object({
  dimension: z.number().int().positive(),
  pooling: z.enum(['mean', 'cls']).default('mean'),
});

/** Dimension and pooling of a model: built in, else read from its installed manifest; undefined when neither. */
export function modelSpec(modelId: string, modelsDir: string): { dimension: number; pooling: 'mean' | 'cls' } | undefined {
  const dimension = MODEL_DIMENSIONS[modelId];
  if (dimension) return { dimension, pooling: MODEL_POOLING[modelId] ?? 'mean' };
  const manifestPath = path.join(path.resolve(modelsDir), modelId, 'ticketflow-model.json');
  if (!fs.existsSync(manifestPath)) return undefined;
  const parsed = customModelManifest.safeParse(JSON.parse(fs.readFileSync(manifestPath, 'utf8')));
  if (!parsed.success) throw new Error(`${manifestPath}: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  return parsed.data;
}

type FeatureExtractor = (texts: string[]) => Promise<{ dims: number[]; data: Float32Array }>;

export class ModelNotInstalledError extends Error {
  constructor(modelId: string, dir: string) {
    super(
      `Embedding model ${modelId} is not installed under ${dir}. Run \`npm run setup\` (or \`node scripts/setup.mjs model\`) to install it offline.`,
    );
    this.name = 'ModelNotInstalledError';
  }
}

/**
 * transformers.js feature extraction with the model's pooling (MODEL_POOLING) and L2 normalisation, loaded only from a local
 * folder (`allowRemoteModels = false`): nothing is fetched at run time.
 */
export class TransformersEmbedder implements Embedder {
  readonly dimension: number;
  private readonly pooling: 'mean' | 'cls';
  private extractor?: Promise<FeatureExtractor>;

  constructor(
    readonly modelId: string,
    private readonly modelsDir: string,
    private readonly batchSize = 32,
    /** onnxruntime intra-op threads (EMBEDDER_THREADS); 0 = its default. */
    private readonly threads = DEFAULT_EMBEDDER_THREADS,
  ) {
    const spec = modelSpec(modelId, modelsDir);
    if (!spec) {
      throw new Error(
        `Unknown embedding model ${modelId}; supported: ${Object.keys(MODEL_DIMENSIONS).join(', ')}, ` +
          `or a folder ${path.join(modelsDir, modelId)} with a ticketflow-model.json that gives its dimension`,
      );
    }
    this.dimension = spec.dimension;
    this.pooling = spec.pooling;
  }

  /** Another model from the same models folder, with the same thread budget (shared per process). */
  withModel(modelId: string): TransformersEmbedder {
    return getEmbedder(modelId, this.modelsDir, this.threads);
  }

  private load(): Promise<FeatureExtractor> {
    this.extractor ??= (async () => {
      const root = path.resolve(this.modelsDir);
      if (!fs.existsSync(path.join(root, this.modelId, 'tokenizer.json'))) {
        throw new ModelNotInstalledError(this.modelId, root);
      }
      // A thread that dies is replaced on the next call.
      return inferenceThread(root, this.modelId, this.threads, this.pooling, () => {
        this.extractor = undefined;
      });
    })();
    // A failed load must not be cached forever: the next call retries (e.g. after `npm run setup`).
    this.extractor.catch(() => {
      this.extractor = undefined;
    });
    return this.extractor;
  }

  /**
   * Texts from concurrent callers (tickets retrieved at the same time) are run through the model together: one
   * call for several texts costs far less per text than one call each (bench/README.md). The model runs in a
   * worker thread (embedder-thread.mjs), so inference never blocks this thread's event loop. A lone call runs at
   * once; calls arriving while the model is busy wait for it and then share one batch. A text already embedded,
   * or being embedded, is not computed again (`vectorFor`).
   */
  embed(texts: string[]): Promise<number[][]> {
    if (texts.length === 0) return Promise.resolve([]);
    // Queued shortest first: the model pads each call's texts to the longest, so a caller with more texts than
    // one call takes (ingestion, reindex) wastes less work on padding. Results come back in the caller's order.
    const inputs = texts.map(modelInput);
    const scope = embeddingScope.getStore();
    const vectors = new Array<Promise<number[]>>(texts.length);
    for (const index of lengthOrder(inputs)) vectors[index] = this.vectorFor(inputs[index]!, scope);
    if (this.queue.length > 0 && !this.draining) void this.drain();
    // Each caller gets its own copy: a shared vector must not be changed under another caller.
    return Promise.all(vectors).then((all) => all.map((vector) => vector.slice()));
  }

  /**
   * One ticket's text is embedded by several steps, some at the same time (the critical-meaning check, retrieval,
   * the offline classifier and answerer). Within one scope (a ticket: `inEmbeddingScope`) the same input is
   * computed once: callers share a run in flight or a recent result. Different tickets never share, even with the
   * same text, so a benchmark that repeats texts measures the same work per ticket. Failures are not kept.
   */
  private vectorFor(input: string, scope: string | undefined): Promise<number[]> {
    if (scope === undefined) {
      return new Promise<number[]>((resolve, reject) => this.queue.push({ text: input, resolve, reject }));
    }
    const key = `${scope}\u0000${input}`;
    const known = this.recent.get(key);
    if (known) {
      this.recent.delete(key); // most recently used last
      this.recent.set(key, known);
      return known;
    }
    const vector = new Promise<number[]>((resolve, reject) => this.queue.push({ text: input, resolve, reject }));
    this.recent.set(key, vector);
    vector.catch(() => {
      if (this.recent.get(key) === vector) this.recent.delete(key);
    });
    if (this.recent.size > RECENT_VECTORS) this.recent.delete(this.recent.keys().next().value!);
    return vector;
  }

  private readonly recent = new Map<string, Promise<number[]>>();

  private readonly queue: Array<{
    text: string;
    resolve: (vector: number[]) => void;
    reject: (error: unknown) => void;
  }> = [];
  private draining = false;
  /** Model runs so far (each embeds up to `batchSize` texts); exposed for tests and diagnostics. */
  modelRuns = 0;

  private async drain(): Promise<void> {
    this.draining = true;
    try {
      while (this.queue.length > 0) {
        let extractor: FeatureExtractor;
        try {
          extractor = await this.load(); // also lets callers of this same tick join the batch
        } catch (error) {
          for (const request of this.queue.splice(0)) request.reject(error);
          return;
        }
        const batch = this.queue.splice(0, this.batchSize);
        try {
          this.modelRuns += 1;
          const output = await extractor(batch.map((request) => request.text));
          const [rows, dim] = output.dims as [number, number];
          if (dim !== this.dimension) {
            throw new Error(`Model ${this.modelId} produced dimension ${dim}, expected ${this.dimension}`);
          }
          if (rows !== batch.length) throw new Error(`Model ${this.modelId} returned ${rows} vectors for ${batch.length} texts`);
          batch.forEach((request, r) => request.resolve(Array.from(output.data.subarray(r * dim, (r + 1) * dim))));
        } catch (error) {
          for (const request of batch) request.reject(error);
        }
      }
    } finally {
      this.draining = false;
    }
  }
}

/**
 * The model loaded in a worker thread; resolves to a function that embeds a batch there. The thread keeps the
 * process alive only while a request is in flight. If it dies, pending requests fail and the next load starts a
 * new one.
 */
async function inferenceThread(
  modelsDir: string,
  modelId: string,
  threads: number,
  pooling: 'mean' | 'cls',
  onDead: () => void,
): Promise<FeatureExtractor> {
  const worker = new Worker(new URL('./embedder-thread.mjs', `file://${__filename}`), {
    workerData: { modelsDir, modelId, threads, pooling },
  });
  worker.unref();
  const pending = new Map<number, { resolve: (v: { dims: number[]; data: Float32Array }) => void; reject: (e: Error) => void }>();
  let nextId = 1;
  let failed: Error | undefined;
  const fail = (error: Error) => {
    failed ??= error;
    onDead();
    for (const request of pending.values()) request.reject(error);
    pending.clear();
  };
  worker.on('message', (message: { id: number; dims?: number[]; data?: Float32Array; error?: string }) => {
    const request = pending.get(message.id);
    if (!request) return;
    pending.delete(message.id);
    if (pending.size === 0) worker.unref();
    if (message.error !== undefined) request.reject(new Error(message.error));
    else request.resolve({ dims: message.dims!, data: message.data! });
  });
  worker.on('error', (error) => fail(error));
  worker.on('exit', (code) => fail(new Error(`embedding thread exited with code ${code}`)));
  return (texts) => {
    if (failed) return Promise.reject(failed);
    const id = nextId++;
    return new Promise((resolve, reject) => {
      pending.set(id, { resolve, reject });
      worker.ref();
      worker.postMessage({ id, texts });
    });
  };
}

/** Vectors kept for recently embedded inputs of scoped callers (~3 MB at 384 dimensions). */
const RECENT_VECTORS = 1000;

const embeddingScope = new AsyncLocalStorage<string>();

/**
 * Run `fn` with its embeddings scoped to one unit of work (the worker scopes every activity to its ticket's
 * workflow id): inside it, an input embedded twice is computed once.
 */
export function inEmbeddingScope<T>(scope: string, fn: () => T): T {
  return embeddingScope.run(scope, fn);
}

/**
 * What the model is given for a text. The models here (MODEL_DIMENSIONS) tokenize with BERT's WordPiece, which
 * splits on spaces, tabs and line breaks and drops them: "a\n\n b" and "a b" are the same tokens and the same vector
 * (tested), so they share one computation. Only those characters are collapsed: BERT treats others that JavaScript
 * calls whitespace (vertical tab, U+2028) differently. An empty text becomes one space, which the model accepts.
 */
export function modelInput(text: string): string {
  return text.replace(/[ \t\n\r]+/g, ' ').replace(/^ | $/g, '') || ' ';
}

/** Indices of `texts`, shortest text first; equal lengths keep their order. */
export function lengthOrder(texts: string[]): number[] {
  return texts.map((_, index) => index).sort((a, b) => texts[a]!.length - texts[b]!.length || a - b);
}

const shared = new Map<string, TransformersEmbedder>();

/** See EMBEDDER_THREADS in .env.example. */
export const DEFAULT_EMBEDDER_THREADS = 1;

/** One model instance per process and model id (the first caller's `threads` counts). */
export function getEmbedder(
  modelId: string,
  modelsDir: string,
  threads = DEFAULT_EMBEDDER_THREADS,
): TransformersEmbedder {
  const key = `${modelsDir}::${modelId}`;
  let embedder = shared.get(key);
  if (!embedder) {
    embedder = new TransformersEmbedder(modelId, modelsDir, 32, threads);
    shared.set(key, embedder);
  }
  return embedder;
}
