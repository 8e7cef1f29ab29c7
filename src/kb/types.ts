import type { PassageSource } from '../domain/ticket';

/** Turns text into unit-length vectors. One instance per process (the model is large). */
export interface Embedder {
  readonly modelId: string;
  readonly dimension: number;
  embed(texts: string[]): Promise<number[][]>;
}

export interface ChunkPayload {
  documentId: string;
  title: string;
  headingPath: string[];
  source: PassageSource;
  ticketId?: string;
  intents: string[];
  createdAt: string; // ISO 8601
  text: string;
}

export interface ChunkRecord {
  /** Stable content hash: the same chunk of the same document always has the same id. */
  id: string;
  vector: number[];
  payload: ChunkPayload;
}

export interface SearchFilter {
  source?: PassageSource;
  documentId?: string;
  ticketId?: string;
  /** Matches chunks tagged with any of these intents. */
  intentsAny?: string[];
}

export interface SearchHit {
  id: string;
  score: number; // cosine similarity, higher is closer
  payload: ChunkPayload;
}

export interface StoreDescription {
  kind: 'pgvector' | 'qdrant';
  collection: string;
  modelId: string;
  dimension: number;
  distance: 'cosine';
  count: number;
}

/** What a collection holds for one document, enough to tell whether it matches the registry (no vectors). */
export interface StoredDocument {
  chunkIds: string[];
  title: string;
  source: PassageSource;
  ticketId?: string;
  intents: string[];
}

/** One small interface over the vector database; chosen by VECTOR_STORE. */
export interface VectorStore {
  readonly kind: 'pgvector' | 'qdrant';
  /** Create the collection if needed and check it was built with this model (the model guard). */
  open(): Promise<void>;
  upsert(chunks: ChunkRecord[]): Promise<void>;
  search(vector: number[], limit: number, filter?: SearchFilter): Promise<SearchHit[]>;
  deleteDocument(documentId: string): Promise<number>;
  /**
   * Swaps every chunk of a document for `chunks` (all of that document) so that readers never see half of it:
   * no version with parts missing. Returns how many old chunks are gone (not in `chunks`).
   */
  replaceDocument(documentId: string, chunks: ChunkRecord[]): Promise<number>;
  count(filter?: SearchFilter): Promise<number>;
  describe(): Promise<StoreDescription>;
  /** Every document in the collection with its chunk ids and metadata: what `kb reindex --into` compares. */
  storedDocuments(): Promise<Map<string, StoredDocument>>;
  /** Remove every chunk and the model record, so the collection can be rebuilt (reindex). */
  reset(): Promise<void>;
  close(): Promise<void>;
}

export class ModelMismatchError extends Error {
  constructor(
    public readonly collection: string,
    public readonly storedModel: string,
    public readonly storedDimension: number,
    public readonly configuredModel: string,
    public readonly configuredDimension: number,
  ) {
    super(
      `Knowledge-base collection "${collection}" was built with embedding model ${storedModel} (dimension ${storedDimension}), ` +
        `but ticketflow is configured with ${configuredModel} (dimension ${configuredDimension}). ` +
        `Run \`ticketflow kb reindex\` to re-embed every document with the configured model, or set EMBEDDING_MODEL=${storedModel}.`,
    );
    this.name = 'ModelMismatchError';
  }
}

/** Groups one row per chunk into `StoredDocument`s (both stores list chunks this way). */
export function groupStoredDocuments(
  chunks: Array<Omit<StoredDocument, 'chunkIds'> & { chunkId: string; documentId: string }>,
): Map<string, StoredDocument> {
  const documents = new Map<string, StoredDocument>();
  for (const { chunkId, documentId, ...metadata } of chunks) {
    const known = documents.get(documentId);
    if (known) known.chunkIds.push(chunkId);
    else documents.set(documentId, { ...metadata, chunkIds: [chunkId] });
  }
  return documents;
}
