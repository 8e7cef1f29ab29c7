import { createHash } from 'node:crypto';
import { QdrantClient, type Schemas } from '@qdrant/js-client-rest';
import { z } from 'zod';
import { passageSourceSchema } from '../domain/ticket';
import type { Embedder } from './types';
import {
  groupStoredDocuments,
  ModelMismatchError,
  type ChunkRecord,
  type SearchFilter,
  type SearchHit,
  type StoreDescription,
  type StoredDocument,
  type VectorStore,
} from './types';

/**
 * Qdrant behind the VectorStore interface.
 *
 * Model guard: the embedding model and dimension are written into the collection's own `metadata` when
 * ticketflow creates it (Qdrant ≥ 1.16), and compared with the configured model on open; the vector size in
 * the collection config is checked too. No meta point, so searches never have to filter a reserved record out.
 *
 * Point ids: Qdrant accepts only integers or UUIDs, so each chunk id maps to a name-based UUID (RFC 4122
 * version 5 in a ticketflow namespace); the chunk id itself is kept in the payload as `chunk_id`.
 */

/** Payload keys that filters use; Qdrant needs a payload index on each to filter efficiently. */
export const QDRANT_INDEXED_FIELDS = ['document_id', 'source', 'ticket_id', 'intents'] as const;

const METADATA_MODEL_KEY = 'ticketflow_embedding_model';
const METADATA_DIMENSION_KEY = 'ticketflow_embedding_dimension';

/** Fixed namespace for chunk-id → UUID (random, generated once for ticketflow). */
const POINT_ID_NAMESPACE = '6f1c2a52-8f0e-4d4b-9a43-3c1d2b7e9f10';

export function pointIdForChunk(chunkId: string): string {
  const namespace = Buffer.from(POINT_ID_NAMESPACE.replace(/-/g, ''), 'hex');
  const hash = createHash('sha1').update(namespace).update(chunkId, 'utf8').digest();
  hash[6] = (hash[6]! & 0x0f) | 0x50; // version 5
  hash[8] = (hash[8]! & 0x3f) | 0x80; // RFC 4122 variant
  const hex = hash.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** What a point's payload must look like when it comes back from the server. */
const pointPayloadSchema = z.object({
  chunk_id: z.string(),
  document_id: z.string(),
  title: z.string(),
  heading_path: z.array(z.string()),
  source: passageSourceSchema,
  ticket_id: z.string().nullish(),
  intents: z.array(z.string()),
  created_at: z.string(),
  text: z.string(),
});

/** The payload fields `storedDocuments` asks for. */
const storedChunkPayloadSchema = pointPayloadSchema.pick({
  chunk_id: true,
  document_id: true,
  title: true,
  source: true,
  ticket_id: true,
  intents: true,
});

/** A collection with one unnamed vector per point (named vectors are a map of these instead). */
const singleVectorConfigSchema = z.object({ size: z.number().int().positive(), distance: z.string() });

export interface QdrantStoreOptions {
  url: string;
  apiKey?: string;
  collection: string;
  model: Pick<Embedder, 'modelId' | 'dimension'>;
  /** Points per upsert request. */
  batchSize?: number;
  /** Request timeout in milliseconds. */
  timeoutMs?: number;
  /** Points per page when listing the collection (`storedDocuments`). */
  scrollPageSize?: number;
}

function httpStatus(error: unknown): number | undefined {
  if (typeof error === 'object' && error !== null && 'status' in error && typeof error.status === 'number') {
    return error.status;
  }
  return undefined;
}

export function toQdrantFilter(filter: SearchFilter | undefined): Schemas['Filter'] | undefined {
  const must: Schemas['FieldCondition'][] = [];
  if (filter?.source) must.push({ key: 'source', match: { value: filter.source } });
  if (filter?.documentId) must.push({ key: 'document_id', match: { value: filter.documentId } });
  if (filter?.ticketId) must.push({ key: 'ticket_id', match: { value: filter.ticketId } });
  if (filter?.intentsAny && filter.intentsAny.length > 0) must.push({ key: 'intents', match: { any: filter.intentsAny } });
  return must.length > 0 ? { must } : undefined;
}

export class QdrantStore implements VectorStore {
  readonly kind = 'qdrant' as const;
  readonly collection: string;
  private readonly client: QdrantClient;
  private readonly batchSize: number;
  private opening?: Promise<void>;

  constructor(private readonly options: QdrantStoreOptions) {
    if (!/^[A-Za-z0-9_-]{1,255}$/.test(options.collection)) {
      throw new Error(`Invalid Qdrant collection name "${options.collection}"`);
    }
    this.collection = options.collection;
    this.batchSize = options.batchSize ?? 128;
    this.client = new QdrantClient({
      url: options.url,
      ...(options.apiKey ? { apiKey: options.apiKey } : {}),
      // The version probe is a separate request per client and only logs; compatibility shows in real errors.
      checkCompatibility: false,
      ...(options.timeoutMs ? { timeout: options.timeoutMs } : {}),
    });
  }

  open(): Promise<void> {
    this.opening ??= this.doOpen().catch((error: unknown) => {
      this.opening = undefined;
      throw error;
    });
    return this.opening;
  }

  private async doOpen(): Promise<void> {
    const { modelId, dimension } = this.options.model;
    const { exists } = await this.client.collectionExists(this.collection);
    if (!exists) {
      try {
        // The low-level API: the convenience createCollection() of client 1.17 drops the `metadata` field.
        await this.client.api().createCollection({
          collection_name: this.collection,
          vectors: { size: dimension, distance: 'Cosine' },
          metadata: { [METADATA_MODEL_KEY]: modelId, [METADATA_DIMENSION_KEY]: dimension },
        });
      } catch (error) {
        // Another process created it between our check and create: fall through and verify what it made.
        if (httpStatus(error) !== 409) throw error;
      }
    }
    const info = await this.client.getCollection(this.collection);
    const stored = this.storedModel(info);
    if (stored.modelId !== modelId || stored.dimension !== dimension) {
      throw new ModelMismatchError(this.collection, stored.modelId, stored.dimension, modelId, dimension);
    }
    for (const field of QDRANT_INDEXED_FIELDS) {
      if (info.payload_schema[field]) continue;
      await this.client.createPayloadIndex(this.collection, { field_name: field, field_schema: 'keyword', wait: true });
    }
  }

  /** Reads the model record from the collection metadata and checks it against the vector config. */
  private storedModel(info: Schemas['CollectionInfo']): { modelId: string; dimension: number } {
    const parsed = singleVectorConfigSchema.safeParse(info.config.params.vectors);
    const single = parsed.success ? parsed.data : undefined;
    if (!single) {
      throw new Error(
        `Qdrant collection "${this.collection}" does not use a single unnamed vector; it was not created by ticketflow. ` +
          'Set KB_COLLECTION to another name.',
      );
    }
    if (single.distance !== 'Cosine') {
      throw new Error(`Qdrant collection "${this.collection}" uses ${single.distance} distance; ticketflow needs Cosine.`);
    }
    const metadata = info.config.metadata ?? {};
    const storedModel = metadata[METADATA_MODEL_KEY];
    if (typeof storedModel !== 'string') {
      throw new Error(
        `Qdrant collection "${this.collection}" has no ticketflow model record in its metadata. Either it was not ` +
          'created by ticketflow (set KB_COLLECTION to another name), or the Qdrant server is older than 1.16 and ' +
          'drops collection metadata (upgrade Qdrant).',
      );
    }
    const storedDimension = Number(metadata[METADATA_DIMENSION_KEY] ?? single.size);
    // The vector size is what the server enforces; it wins if metadata and config ever disagree.
    return { modelId: storedModel, dimension: single.size === storedDimension ? storedDimension : single.size };
  }

  async upsert(records: ChunkRecord[]): Promise<void> {
    if (records.length === 0) return;
    await this.open();
    const { dimension } = this.options.model;
    for (const record of records) {
      if (record.vector.length !== dimension) {
        throw new Error(`Chunk ${record.id} has a vector of dimension ${record.vector.length}, expected ${dimension}`);
      }
    }
    for (let start = 0; start < records.length; start += this.batchSize) {
      const points: Schemas['PointStruct'][] = records.slice(start, start + this.batchSize).map(({ id, vector, payload }) => ({
        id: pointIdForChunk(id),
        vector,
        payload: {
          chunk_id: id,
          document_id: payload.documentId,
          title: payload.title,
          heading_path: payload.headingPath,
          source: payload.source,
          ticket_id: payload.ticketId ?? null,
          intents: payload.intents,
          created_at: payload.createdAt,
          text: payload.text,
        },
      }));
      await this.client.upsert(this.collection, { wait: true, points });
    }
  }

  async search(vector: number[], limit: number, filter?: SearchFilter): Promise<SearchHit[]> {
    await this.open();
    if (vector.length !== this.options.model.dimension) {
      throw new Error(`Query vector has dimension ${vector.length}, expected ${this.options.model.dimension}`);
    }
    const qdrantFilter = toQdrantFilter(filter);
    const response = await this.client.query(this.collection, {
      query: vector,
      limit: Math.max(1, Math.floor(limit)),
      with_payload: true,
      ...(qdrantFilter ? { filter: qdrantFilter } : {}),
    });
    return response.points.map((point) => {
      const parsed = pointPayloadSchema.safeParse(point.payload);
      if (!parsed.success) {
        throw new Error(
          `Qdrant point ${String(point.id)} in "${this.collection}" has an unexpected payload: ${parsed.error.message}`,
        );
      }
      const p = parsed.data;
      return {
        id: p.chunk_id,
        score: point.score,
        payload: {
          documentId: p.document_id,
          title: p.title,
          headingPath: p.heading_path,
          source: p.source,
          ...(p.ticket_id ? { ticketId: p.ticket_id } : {}),
          intents: p.intents,
          createdAt: p.created_at,
          text: p.text,
        },
      };
    });
  }

  async deleteDocument(documentId: string): Promise<number> {
    await this.open();
    const filter = toQdrantFilter({ documentId })!;
    const { count } = await this.client.count(this.collection, { filter, exact: true });
    if (count === 0) return 0;
    await this.client.delete(this.collection, { wait: true, filter });
    return count;
  }

  /**
   * Qdrant has no multi-operation transaction: the new version is upserted first, then whatever else the document
   * held is deleted by filter. A search in between may see both versions, never a document with parts missing.
   */
  async replaceDocument(documentId: string, records: ChunkRecord[]): Promise<number> {
    await this.upsert(records);
    await this.open();
    const keep = records.map((record) => record.id);
    const filter = {
      must: [{ key: 'document_id', match: { value: documentId } }],
      ...(keep.length > 0 ? { must_not: [{ key: 'chunk_id', match: { any: keep } }] } : {}),
    };
    const { count } = await this.client.count(this.collection, { filter, exact: true });
    if (count > 0) await this.client.delete(this.collection, { wait: true, filter });
    return count;
  }

  async count(filter?: SearchFilter): Promise<number> {
    await this.open();
    const qdrantFilter = toQdrantFilter(filter);
    const result = await this.client.count(this.collection, { exact: true, ...(qdrantFilter ? { filter: qdrantFilter } : {}) });
    return result.count;
  }

  async describe(): Promise<StoreDescription> {
    await this.open();
    const info = await this.client.getCollection(this.collection);
    const stored = this.storedModel(info);
    return {
      kind: 'qdrant',
      collection: this.collection,
      modelId: stored.modelId,
      dimension: stored.dimension,
      distance: 'cosine',
      count: await this.count(),
    };
  }

  async storedDocuments(): Promise<Map<string, StoredDocument>> {
    await this.open();
    const chunks: Parameters<typeof groupStoredDocuments>[0] = [];
    let offset: Schemas['ExtendedPointId'] | undefined;
    do {
      const page = await this.client.scroll(this.collection, {
        limit: this.options.scrollPageSize ?? 1000,
        with_payload: ['chunk_id', 'document_id', 'title', 'source', 'ticket_id', 'intents'],
        with_vector: false,
        ...(offset !== undefined ? { offset } : {}),
      });
      for (const point of page.points) {
        const payload = storedChunkPayloadSchema.parse(point.payload);
        chunks.push({
          chunkId: payload.chunk_id,
          documentId: payload.document_id,
          title: payload.title,
          source: payload.source,
          ...(payload.ticket_id ? { ticketId: payload.ticket_id } : {}),
          intents: payload.intents,
        });
      }
      const next = page.next_page_offset;
      offset = typeof next === 'string' || typeof next === 'number' ? next : undefined;
    } while (offset !== undefined);
    return groupStoredDocuments(chunks);
  }

  /** Deletes the whole collection (points and model record); the next operation recreates it. */
  async reset(): Promise<void> {
    this.opening = undefined;
    try {
      await this.client.deleteCollection(this.collection);
    } catch (error) {
      if (httpStatus(error) !== 404) throw error;
    }
  }

  async close(): Promise<void> {
    // The REST client holds no connections that need closing.
  }
}
