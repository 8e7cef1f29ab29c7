import path from 'node:path';
import fs from 'node:fs';
import type { Embedder } from './types';

/** Known models and their output dimension, so the store can be created before the first embedding. */
export const MODEL_DIMENSIONS: Record<string, number> = {
  'sentence-transformers/all-MiniLM-L6-v2': 384,
  'Xenova/all-MiniLM-L6-v2': 384,
  'BAAI/bge-small-en-v1.5': 384,
  'Xenova/bge-small-en-v1.5': 384,
};

type FeatureExtractor = (
  texts: string[],
  options: { pooling: 'mean'; normalize: boolean },
) => Promise<{ dims: number[]; data: Float32Array; tolist(): number[][] }>;

export class ModelNotInstalledError extends Error {
  constructor(modelId: string, dir: string) {
    super(
      `Embedding model ${modelId} is not installed under ${dir}. Run \`npm run setup\` (or \`node scripts/setup.mjs model\`) to install it offline.`,
    );
    this.name = 'ModelNotInstalledError';
  }
}

/**
 * transformers.js feature extraction with mean pooling and L2 normalisation, loaded only from a local
 * folder (`allowRemoteModels = false`): nothing is fetched at run time.
 */
export class TransformersEmbedder implements Embedder {
  readonly dimension: number;
  private extractor?: Promise<FeatureExtractor>;

  constructor(
    readonly modelId: string,
    private readonly modelsDir: string,
    private readonly batchSize = 32,
  ) {
    const dimension = MODEL_DIMENSIONS[modelId];
    if (!dimension) {
      throw new Error(
        `Unknown embedding model ${modelId}; supported: ${Object.keys(MODEL_DIMENSIONS).join(', ')}`,
      );
    }
    this.dimension = dimension;
  }

  private load(): Promise<FeatureExtractor> {
    this.extractor ??= (async () => {
      const root = path.resolve(this.modelsDir);
      if (!fs.existsSync(path.join(root, this.modelId, 'tokenizer.json'))) {
        throw new ModelNotInstalledError(this.modelId, root);
      }
      const transformers = await import('@xenova/transformers');
      transformers.env.localModelPath = root + path.sep;
      transformers.env.allowRemoteModels = false;
      transformers.env.allowLocalModels = true;
      const extractor = await transformers.pipeline('feature-extraction', this.modelId, { quantized: true });
      return extractor as unknown as FeatureExtractor;
    })();
    // A failed load must not be cached forever: the next call retries (e.g. after `npm run setup`).
    this.extractor.catch(() => {
      this.extractor = undefined;
    });
    return this.extractor;
  }

  /**
   * Texts from concurrent callers (tickets retrieved at the same time) are run through the model together:
   * onnxruntime-node runs synchronously on the event loop, and one call for several texts costs far less per
   * text than one call each (bench/README.md). A lone call runs at once; calls arriving while the model is busy
   * wait for it and then share one batch.
   */
  embed(texts: string[]): Promise<number[][]> {
    if (texts.length === 0) return Promise.resolve([]);
    const requests = texts.map(
      (text) =>
        new Promise<number[]>((resolve, reject) => {
          this.queue.push({ text: text.trim() === '' ? ' ' : text, resolve, reject });
        }),
    );
    if (!this.draining) void this.drain();
    return Promise.all(requests);
  }

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
          const output = await extractor(
            batch.map((request) => request.text),
            { pooling: 'mean', normalize: true },
          );
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

const shared = new Map<string, TransformersEmbedder>();

/** One model instance per process and model id. */
export function getEmbedder(modelId: string, modelsDir: string): TransformersEmbedder {
  const key = `${modelsDir}::${modelId}`;
  let embedder = shared.get(key);
  if (!embedder) {
    embedder = new TransformersEmbedder(modelId, modelsDir);
    shared.set(key, embedder);
  }
  return embedder;
}
