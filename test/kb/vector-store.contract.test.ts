import { PgvectorStore } from '../../src/kb/pgvector-store';
import { QdrantStore } from '../../src/kb/qdrant-store';
import type { VectorStore } from '../../src/kb/types';
import { startPgliteChild } from './support';
import { vectorStoreContract } from './vector-store-contract';

/**
 * The VectorStore contract against real servers: pgvector always (an in-memory PGlite server), Qdrant when
 * QDRANT_URL points at a real Qdrant server.
 */

describe('VectorStore contract: pgvector on an in-memory PGlite server', () => {
  vectorStoreContract('pgvector', async () => {
    const server = await startPgliteChild();
    const stores: VectorStore[] = [];
    return {
      make: (collection, model) => {
        const s = new PgvectorStore({ url: server.url, collection, model, poolMax: 2 });
        stores.push(s);
        return s;
      },
      teardown: async () => {
        for (const s of stores) await s.close().catch(() => undefined);
        await server.stop();
      },
    };
  });
});

const QDRANT_URL = process.env.QDRANT_URL;
const qdrantTitle = QDRANT_URL
  ? `VectorStore contract: Qdrant at ${QDRANT_URL}`
  : 'VectorStore contract: Qdrant — SKIPPED: no Qdrant server can be installed on this machine (no Docker, not in apt/npm); set QDRANT_URL to run it';

(QDRANT_URL ? describe : describe.skip)(qdrantTitle, () => {
  vectorStoreContract('qdrant', async () => ({
    make: (collection, model) =>
      new QdrantStore({
        url: QDRANT_URL!,
        ...(process.env.QDRANT_API_KEY ? { apiKey: process.env.QDRANT_API_KEY } : {}),
        collection,
        model,
      }),
    teardown: async () => undefined,
  }));
});
