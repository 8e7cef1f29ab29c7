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

  async embed(texts: string[]): Promise<number[][]> {
    if (texts.length === 0) return [];
    const extractor = await this.load();
    const vectors: number[][] = [];
    for (let i = 0; i < texts.length; i += this.batchSize) {
      const batch = texts.slice(i, i + this.batchSize).map((t) => (t.trim() === '' ? ' ' : t));
      const output = await extractor(batch, { pooling: 'mean', normalize: true });
      const [rows, dim] = output.dims as [number, number];
      if (dim !== this.dimension) {
        throw new Error(`Model ${this.modelId} produced dimension ${dim}, expected ${this.dimension}`);
      }
      for (let r = 0; r < rows; r++) vectors.push(Array.from(output.data.subarray(r * dim, (r + 1) * dim)));
    }
    return vectors;
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
