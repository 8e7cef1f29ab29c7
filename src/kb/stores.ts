import type { Config } from '../config';
import { vectorDatabase } from '../db/tls';
import { PgvectorStore } from './pgvector-store';
import { QdrantStore } from './qdrant-store';
import type { Embedder, VectorStore } from './types';

/**
 * The vector store VECTOR_STORE selects. Stores open lazily (first operation creates the collection and
 * runs the model guard), so a store for a mismatched collection can still be reset by `kb reindex`.
 */
export function createVectorStore(config: Config, embedder: Pick<Embedder, 'modelId' | 'dimension'>): VectorStore {
  const model = { modelId: embedder.modelId, dimension: embedder.dimension };
  if (config.VECTOR_STORE === 'qdrant') {
    if (!config.QDRANT_URL) {
      throw new Error('VECTOR_STORE=qdrant needs QDRANT_URL (e.g. http://localhost:6333).');
    }
    return new QdrantStore({
      url: config.QDRANT_URL,
      ...(config.QDRANT_API_KEY ? { apiKey: config.QDRANT_API_KEY } : {}),
      collection: config.KB_COLLECTION,
      model,
    });
  }
  return new PgvectorStore({ url: vectorDatabase(config), collection: config.KB_COLLECTION, model });
}
