import { Kysely, PostgresDialect, sql, type RawBuilder } from 'kysely';
import { createPool } from '../db/database';
import type { PgConnection } from '../db/tls';
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
 * pgvector behind the VectorStore interface. One table per collection (`<collection>_chunks`) with an HNSW
 * cosine index, and a one-row `<collection>_meta` table recording the embedding model: opening the
 * collection with a different model or dimension fails with ModelMismatchError instead of silently mixing
 * vectors from two embedding spaces.
 */

export class PgvectorNotInstalledError extends Error {
  constructor(
    public readonly serverUrl: string,
    public readonly serverMessage: string,
  ) {
    super(
      `pgvector is not installed on the vector database server ${serverUrl} ` +
        `(CREATE EXTENSION vector failed: ${serverMessage}). ` +
        'Do one of: install the pgvector extension on that Postgres server (https://github.com/pgvector/pgvector#installation); ' +
        'or point VECTOR_DATABASE_URL at a Postgres that has it, such as the PGlite/pgvector server that `npm start` runs; ' +
        'or use Qdrant instead with VECTOR_STORE=qdrant and QDRANT_URL.',
    );
    this.name = 'PgvectorNotInstalledError';
  }
}

export interface PgvectorStoreOptions {
  /** A database URL, or a connection with the TLS settings from config (src/db/tls.ts). */
  url: string | PgConnection;
  collection: string;
  model: Pick<Embedder, 'modelId' | 'dimension'>;
  /** HNSW candidate list size at query time; higher = better recall, slower. Raised to `limit` if smaller. */
  efSearch?: number;
  /** Rows per INSERT statement. */
  batchSize?: number;
  poolMax?: number;
}

interface ChunkRow {
  id: string;
  document_id: string;
  title: string;
  heading_path: string[];
  source: 'kb' | 'resolution';
  ticket_id: string | null;
  intents: string[];
  created_at: Date | string;
  text: string;
  score: number;
}

interface MetaRow {
  model_id: string;
  dimension: number;
}

// Postgres identifiers are at most 63 bytes and `_chunks` adds 7.
const COLLECTION_NAME = /^[a-z][a-z0-9_]{0,55}$/;

/** Redacts the password so the URL can appear in error messages and logs. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(unparseable URL)';
  }
}

function vectorLiteral(vector: number[]): string {
  return `[${vector.join(',')}]`;
}

function errorCode(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null && 'code' in error ? String(error.code) : undefined;
}

export class PgvectorStore implements VectorStore {
  readonly kind = 'pgvector' as const;
  readonly collection: string;
  private readonly db: Kysely<Record<string, never>>;
  private readonly chunksTable: string;
  private readonly metaTable: string;
  private readonly efSearch: number;
  private readonly batchSize: number;
  private opening?: Promise<void>;
  /** pgvector ≥ 0.8 can keep scanning the HNSW graph until filtered results fill the limit. */
  private supportsIterativeScan = false;

  constructor(private readonly options: PgvectorStoreOptions) {
    if (!COLLECTION_NAME.test(options.collection)) {
      throw new Error(
        `Invalid collection name "${options.collection}": expected a lower-case identifier of at most 56 characters`,
      );
    }
    if (!Number.isInteger(options.model.dimension) || options.model.dimension <= 0) {
      throw new Error(`Invalid embedding dimension ${options.model.dimension}`);
    }
    this.collection = options.collection;
    this.chunksTable = `${options.collection}_chunks`;
    this.metaTable = `${options.collection}_meta`;
    this.efSearch = options.efSearch ?? 100;
    this.batchSize = options.batchSize ?? 200;
    this.db = new Kysely({ dialect: new PostgresDialect({ pool: createPool(options.url, options.poolMax ?? 4) }) });
  }

  open(): Promise<void> {
    this.opening ??= this.doOpen().catch((error: unknown) => {
      this.opening = undefined;
      throw error;
    });
    return this.opening;
  }

  private async doOpen(): Promise<void> {
    try {
      await sql`CREATE EXTENSION IF NOT EXISTS vector`.execute(this.db);
    } catch (error) {
      // 58P01 undefined_file (control file missing, PG ≤ 16) / 0A000 feature_not_supported (PG 17+ wording).
      const code = errorCode(error);
      const message = error instanceof Error ? error.message : String(error);
      if (code === '58P01' || code === '0A000' || /extension "vector" is not available|vector\.control/.test(message)) {
        throw new PgvectorNotInstalledError(
          redactUrl(typeof this.options.url === 'string' ? this.options.url : this.options.url.connectionString),
          message,
        );
      }
      throw error;
    }
    const version = await sql<{ extversion: string }>`SELECT extversion FROM pg_extension WHERE extname = 'vector'`.execute(
      this.db,
    );
    const [major = 0, minor = 0] = (version.rows[0]?.extversion ?? '0.0').split('.').map(Number);
    this.supportsIterativeScan = major > 0 || minor >= 8;

    const { modelId, dimension } = this.options.model;
    const chunks = sql.table(this.chunksTable);
    const meta = sql.table(this.metaTable);
    const index = (suffix: string) => sql.id(`${this.chunksTable}_${suffix}`);
    // Serialise concurrent openers (several workers starting at once) so CREATE TABLE IF NOT EXISTS cannot race.
    await this.db.transaction().execute(async (trx) => {
      await sql`SELECT pg_advisory_xact_lock(hashtext(${`ticketflow-kb:${this.collection}`}))`.execute(trx);
      await sql`CREATE TABLE IF NOT EXISTS ${meta} (
        singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
        model_id text NOT NULL,
        dimension integer NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
      )`.execute(trx);
      const stored = await sql<MetaRow>`SELECT model_id, dimension FROM ${meta}`.execute(trx);
      const row = stored.rows[0];
      if (row && (row.model_id !== modelId || Number(row.dimension) !== dimension)) {
        throw new ModelMismatchError(this.collection, row.model_id, Number(row.dimension), modelId, dimension);
      }
      if (!row) {
        await sql`INSERT INTO ${meta} (model_id, dimension) VALUES (${modelId}, ${dimension})`.execute(trx);
      }
      await sql`CREATE TABLE IF NOT EXISTS ${chunks} (
        id text PRIMARY KEY,
        document_id text NOT NULL,
        title text NOT NULL,
        heading_path jsonb NOT NULL DEFAULT '[]'::jsonb,
        source text NOT NULL,
        ticket_id text,
        intents text[] NOT NULL DEFAULT '{}',
        created_at timestamptz NOT NULL DEFAULT now(),
        text text NOT NULL,
        embedding vector(${sql.raw(String(dimension))}) NOT NULL
      )`.execute(trx);
      await sql`CREATE INDEX IF NOT EXISTS ${index('embedding_idx')} ON ${chunks} USING hnsw (embedding vector_cosine_ops)`.execute(
        trx,
      );
      await sql`CREATE INDEX IF NOT EXISTS ${index('document_idx')} ON ${chunks} (document_id)`.execute(trx);
      await sql`CREATE INDEX IF NOT EXISTS ${index('source_idx')} ON ${chunks} (source)`.execute(trx);
      await sql`CREATE INDEX IF NOT EXISTS ${index('ticket_idx')} ON ${chunks} (ticket_id)`.execute(trx);
      await sql`CREATE INDEX IF NOT EXISTS ${index('intents_idx')} ON ${chunks} USING gin (intents)`.execute(trx);
    });
  }

  private where(filter: SearchFilter | undefined): RawBuilder<unknown> {
    const conditions: RawBuilder<unknown>[] = [];
    if (filter?.source) conditions.push(sql`source = ${filter.source}`);
    if (filter?.documentId) conditions.push(sql`document_id = ${filter.documentId}`);
    if (filter?.ticketId) conditions.push(sql`ticket_id = ${filter.ticketId}`);
    if (filter?.intentsAny && filter.intentsAny.length > 0) conditions.push(sql`intents && ${filter.intentsAny}::text[]`);
    return conditions.length === 0 ? sql`` : sql`WHERE ${sql.join(conditions, sql` AND `)}`;
  }

  async upsert(records: ChunkRecord[]): Promise<void> {
    if (records.length === 0) return;
    await this.open();
    await this.insertChunks(this.db, records);
  }

  /** One transaction: delete the old chunks, insert the new; a concurrent search sees either version whole. */
  async replaceDocument(documentId: string, records: ChunkRecord[]): Promise<number> {
    await this.open();
    return this.db.transaction().execute(async (trx) => {
      const deleted = await sql<{ id: string }>`DELETE FROM ${sql.table(this.chunksTable)} WHERE document_id = ${documentId}
        RETURNING id`.execute(trx);
      await this.insertChunks(trx, records);
      const kept = new Set(records.map((record) => record.id));
      return deleted.rows.filter((row) => !kept.has(row.id)).length;
    });
  }

  private async insertChunks(db: Kysely<Record<string, never>>, records: ChunkRecord[]): Promise<void> {
    const { dimension } = this.options.model;
    for (const record of records) {
      if (record.vector.length !== dimension) {
        throw new Error(`Chunk ${record.id} has a vector of dimension ${record.vector.length}, expected ${dimension}`);
      }
    }
    const chunks = sql.table(this.chunksTable);
    for (let start = 0; start < records.length; start += this.batchSize) {
      const rows = records.slice(start, start + this.batchSize).map(
        ({ id, vector, payload: p }) =>
          sql`(${id}, ${p.documentId}, ${p.title}, ${JSON.stringify(p.headingPath)}::jsonb, ${p.source}, ${p.ticketId ?? null},
            ${p.intents}::text[], ${p.createdAt}::timestamptz, ${p.text}, ${vectorLiteral(vector)}::vector)`,
      );
      await sql`INSERT INTO ${chunks} (id, document_id, title, heading_path, source, ticket_id, intents, created_at, text, embedding)
        VALUES ${sql.join(rows)}
        ON CONFLICT (id) DO UPDATE SET
          document_id = excluded.document_id, title = excluded.title, heading_path = excluded.heading_path,
          source = excluded.source, ticket_id = excluded.ticket_id, intents = excluded.intents,
          created_at = excluded.created_at, text = excluded.text, embedding = excluded.embedding`.execute(db);
    }
  }

  async search(vector: number[], limit: number, filter?: SearchFilter): Promise<SearchHit[]> {
    await this.open();
    if (vector.length !== this.options.model.dimension) {
      throw new Error(`Query vector has dimension ${vector.length}, expected ${this.options.model.dimension}`);
    }
    const take = Math.max(1, Math.floor(limit));
    const query = vectorLiteral(vector);
    const chunks = sql.table(this.chunksTable);
    const filtered = Boolean(filter && Object.values(filter).some((v) => v !== undefined));
    const rows = await this.db.transaction().execute(async (trx) => {
      // SET LOCAL keeps these to this transaction, so pooled connections are not left with altered settings.
      await sql`SELECT set_config('hnsw.ef_search', ${String(Math.max(this.efSearch, take))}, true)`.execute(trx);
      if (filtered && this.supportsIterativeScan) {
        await sql`SELECT set_config('hnsw.iterative_scan', 'strict_order', true)`.execute(trx);
      }
      const result = await sql<ChunkRow>`
        SELECT id, document_id, title, heading_path, source, ticket_id, intents, created_at, text,
               1 - (embedding <=> ${query}::vector) AS score
        FROM ${chunks} ${this.where(filter)}
        ORDER BY embedding <=> ${query}::vector
        LIMIT ${take}`.execute(trx);
      return result.rows;
    });
    return rows.map((row) => ({
      id: row.id,
      score: Number(row.score),
      payload: {
        documentId: row.document_id,
        title: row.title,
        headingPath: row.heading_path,
        source: row.source,
        ...(row.ticket_id ? { ticketId: row.ticket_id } : {}),
        intents: row.intents,
        createdAt: new Date(row.created_at).toISOString(),
        text: row.text,
      },
    }));
  }

  async deleteDocument(documentId: string): Promise<number> {
    await this.open();
    const result = await sql`DELETE FROM ${sql.table(this.chunksTable)} WHERE document_id = ${documentId}`.execute(
      this.db,
    );
    return Number(result.numAffectedRows ?? 0);
  }

  async count(filter?: SearchFilter): Promise<number> {
    await this.open();
    const result = await sql<{ n: number }>`SELECT count(*)::int AS n FROM ${sql.table(this.chunksTable)} ${this.where(
      filter,
    )}`.execute(this.db);
    return Number(result.rows[0]?.n ?? 0);
  }

  async describe(): Promise<StoreDescription> {
    await this.open();
    const meta = await sql<MetaRow>`SELECT model_id, dimension FROM ${sql.table(this.metaTable)}`.execute(this.db);
    const row = meta.rows[0];
    return {
      kind: 'pgvector',
      collection: this.collection,
      modelId: row?.model_id ?? this.options.model.modelId,
      dimension: Number(row?.dimension ?? this.options.model.dimension),
      distance: 'cosine',
      count: await this.count(),
    };
  }

  /** Drops the chunks and the model record; the next operation recreates them for the configured model. */
  async storedDocuments(): Promise<Map<string, StoredDocument>> {
    await this.open();
    const rows = await sql<Pick<ChunkRow, 'id' | 'document_id' | 'title' | 'source' | 'ticket_id' | 'intents'>>`
      SELECT id, document_id, title, source, ticket_id, intents FROM ${sql.table(this.chunksTable)} ORDER BY id`.execute(
      this.db,
    );
    return groupStoredDocuments(
      rows.rows.map((row) => ({
        chunkId: row.id,
        documentId: row.document_id,
        title: row.title,
        source: row.source,
        ...(row.ticket_id ? { ticketId: row.ticket_id } : {}),
        intents: row.intents,
      })),
    );
  }

  async reset(): Promise<void> {
    this.opening = undefined;
    await sql`DROP TABLE IF EXISTS ${sql.table(this.chunksTable)}`.execute(this.db);
    await sql`DROP TABLE IF EXISTS ${sql.table(this.metaTable)}`.execute(this.db);
  }

  async close(): Promise<void> {
    await this.db.destroy();
  }
}
