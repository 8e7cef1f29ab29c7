import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import type { Selectable } from 'kysely';
import type { Db } from '../db/database';
import type { KbDocumentsTable } from '../db/schema';
import { passageSourceSchema, type Passage, type PassageSource } from '../domain/ticket';
import {
  CHUNKER_VERSION,
  chunkDocument,
  embeddingInput,
  firstH1,
  formatFromFileName,
  parseDocument,
  slugify,
  type Chunk,
} from './chunker';
import type { ChunkRecord, Embedder, SearchFilter, SearchHit, StoredDocument, VectorStore } from './types';

/**
 * Knowledge-base ingestion and retrieval. `kb_documents` (main database) is the registry of what the KB
 * holds, with each document's full body, so the vector store can always be rebuilt from it (`reindexAll`).
 */

export interface KbDeps {
  db: Db;
  store: VectorStore;
  embedder: Embedder;
}

const documentIdSchema = z
  .string()
  .min(1)
  .max(200)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._:@-]*$/, 'letters, digits and . _ : @ - only, starting with a letter or digit');

const intentSchema = z.string().regex(/^[a-z][a-z0-9_]*$/, 'lower-case intent names like billing or feature_request');

export const ingestDocumentInputSchema = z.object({
  id: documentIdSchema,
  /** Empty or missing: the first `# ` heading of the body, else the id. */
  title: z.string().trim().max(300).optional(),
  body: z.string().trim().min(1, 'must not be empty').max(2_000_000),
  source: passageSourceSchema,
  ticketId: z.string().min(1).max(200).optional(),
  intents: z.array(intentSchema).default([]),
  origin: z.string().max(1000).optional(),
});

export type IngestDocumentInput = z.input<typeof ingestDocumentInputSchema>;

export interface IngestDocumentResult {
  documentId: string;
  chunks: number;
  /** True when the document was already in the KB with the same content: nothing was embedded. */
  skipped: boolean;
}

function contentHash(doc: { title: string; body: string; source: string; ticketId?: string; intents: string[] }): string {
  const canonical = JSON.stringify({
    chunker: CHUNKER_VERSION,
    title: doc.title,
    body: doc.body,
    source: doc.source,
    ticketId: doc.ticketId ?? null,
    intents: [...doc.intents].sort(),
  });
  return createHash('sha256').update(canonical).digest('hex');
}

/** Chunks with their vectors, in the shape the store takes. */
export function chunkRecords(chunks: Chunk[], vectors: number[][], createdAt: string): ChunkRecord[] {
  return chunks.map((chunk, i) => ({
    id: chunk.id,
    vector: vectors[i]!,
    payload: {
      documentId: chunk.documentId,
      title: chunk.title,
      headingPath: chunk.headingPath,
      source: chunk.source,
      ...(chunk.ticketId ? { ticketId: chunk.ticketId } : {}),
      intents: chunk.intents,
      createdAt,
      text: chunk.text,
    },
  }));
}

/** Several documents' chunks in one embedder call (it runs them shortest first); records per document, in order. */
async function embedDocuments(
  embedder: Embedder,
  documents: ReadonlyArray<{ chunks: Chunk[]; createdAt: string }>,
): Promise<ChunkRecord[][]> {
  const vectors = await embedder.embed(documents.flatMap(({ chunks }) => chunks.map(embeddingInput)));
  let offset = 0;
  return documents.map(({ chunks, createdAt }) => {
    const records = chunkRecords(chunks, vectors.slice(offset, offset + chunks.length), createdAt);
    offset += chunks.length;
    return records;
  });
}

/** A validated document with its resolved title and content hash, and what the registry holds for it now. */
export interface PreparedDocument {
  id: string;
  title: string;
  body: string;
  source: PassageSource;
  ticketId?: string;
  intents: string[];
  origin?: string;
  contentHash: string;
  /** The registry row before this ingest, if any. */
  existing?: { createdAt: Date; chunkCount: number };
  /** Same content already in the registry and the store: nothing to embed. */
  unchanged: boolean;
}

/** Validates a document and checks whether the KB already holds exactly this content. */
export async function prepareDocument(
  deps: Pick<KbDeps, 'db' | 'store'>,
  input: IngestDocumentInput,
): Promise<PreparedDocument> {
  const doc = ingestDocumentInputSchema.parse(input);
  const title = doc.title || firstH1(doc.body) || doc.id;
  const hash = contentHash({ ...doc, title });
  const row = await deps.db
    .selectFrom('kb_documents')
    .select(['content_hash', 'chunk_count', 'created_at'])
    .where('id', '=', doc.id)
    .executeTakeFirst();
  // The registry can outlive the store (VECTOR_STORE switched, collection dropped): trust it only if they agree.
  const unchanged =
    row !== undefined &&
    row.content_hash === hash &&
    (await deps.store.count({ documentId: doc.id })) === row.chunk_count;
  return {
    id: doc.id,
    title,
    body: doc.body,
    source: doc.source,
    ...(doc.ticketId ? { ticketId: doc.ticketId } : {}),
    intents: doc.intents,
    ...(doc.origin !== undefined ? { origin: doc.origin } : {}),
    contentHash: hash,
    ...(row ? { existing: { createdAt: new Date(row.created_at), chunkCount: row.chunk_count } } : {}),
    unchanged,
  };
}

type DocumentContent = Pick<PreparedDocument, 'id' | 'title' | 'body' | 'source' | 'ticketId' | 'intents'>;

/** The document's chunks, as ingestion and reindexing cut them. */
export function chunksOf(doc: DocumentContent): Chunk[] {
  return chunkDocument({
    documentId: doc.id,
    title: doc.title,
    body: doc.body,
    source: doc.source,
    ...(doc.ticketId ? { ticketId: doc.ticketId } : {}),
    intents: doc.intents,
  });
}

/** When a document's chunks say they were created: when it first entered the KB, kept across replacements. */
export async function documentCreatedAt(db: Db, id: string): Promise<Date> {
  const row = await db.selectFrom('kb_documents').select('created_at').where('id', '=', id).executeTakeFirst();
  return row ? new Date(row.created_at) : new Date();
}

/** Writes the registry row once the store holds the document's chunks (store first: see syncCollection). */
export async function registerDocument(
  db: Db,
  doc: DocumentContent & { contentHash: string; origin?: string | null },
  chunkCount: number,
  createdAt: Date,
): Promise<{ numInsertedOrUpdatedRows?: bigint }> {
  const row = {
    title: doc.title,
    source: doc.source,
    ticket_id: doc.ticketId ?? null,
    intents: JSON.stringify(doc.intents),
    content_hash: doc.contentHash,
    chunk_count: chunkCount,
    body: doc.body,
    origin: doc.origin ?? null,
    updated_at: new Date(),
  };
  // The result lets a caller that must prove its writes (the kb-ingestion activity) check the row was written.
  return db
    .insertInto('kb_documents')
    .values({ id: doc.id, ...row, created_at: createdAt })
    .onConflict((oc) => oc.column('id').doUpdateSet(row))
    .executeTakeFirstOrThrow();
}

/**
 * Chunks, embeds and stores one document in this process. Unchanged content (same hash, chunks still in the
 * store) is skipped; changed content replaces the document's old chunks. The API does this through the
 * kb-ingestion workflow instead (src/kb/ingestion.ts), so the embedding runs on a worker.
 */
export async function ingestDocument(deps: KbDeps, input: IngestDocumentInput): Promise<IngestDocumentResult> {
  const [result] = await ingestDocuments(deps, [input]);
  return result!;
}

/**
 * Documents embedded per model round by `ingestPaths` and `reindexAll`. One document at a time, each is a model call
 * of its few chunks, padded to its longest, and the model waits while its rows are written. A group's chunks go to
 * the embedder in one call, which runs them shortest first in calls of 32 (little padding), and each group is
 * written while the next one embeds (bench/README.md, "Ingestion throughput").
 */
export const DOCUMENTS_PER_GROUP = 32;

/**
 * Runs `embed` on consecutive groups of `items` and `write` on each group's result in order, the write of one group
 * overlapping the embedding of the next. A failure stops it after the write in progress: what was written stays.
 */
export async function inEmbeddingGroups<T, E>(
  items: readonly T[],
  groupSize: number,
  embed: (group: T[]) => Promise<E>,
  write: (embedded: E) => Promise<void>,
): Promise<void> {
  let writing: Promise<void> = Promise.resolve();
  try {
    for (let start = 0; start < items.length; start += groupSize) {
      const embedded = await embed(items.slice(start, start + groupSize));
      await writing;
      writing = write(embedded);
      // Observed here so a failed write is not an unhandled rejection while the next group embeds; awaited below.
      writing.catch(() => undefined);
    }
  } finally {
    // Settle the write in flight even when embedding failed, so nothing is left half-done behind the error.
    await writing.catch(() => undefined);
  }
  await writing;
}

/** Documents ready to be written: prepared, and chunked and embedded unless unchanged. */
interface EmbeddedDocument {
  doc: PreparedDocument;
  records?: ChunkRecord[];
  createdAt: Date;
}

/** Prepares a group of documents and embeds all their changed chunks in one embedder call. */
async function prepareAndEmbed(deps: KbDeps, inputs: IngestDocumentInput[]): Promise<EmbeddedDocument[]> {
  const prepared: PreparedDocument[] = [];
  for (const input of inputs) prepared.push(await prepareDocument(deps, input));
  const planned = prepared.map((doc) => ({
    doc,
    createdAt: doc.existing?.createdAt ?? new Date(),
    chunks: doc.unchanged ? [] : chunksOf(doc),
  }));
  const records = await embedDocuments(
    deps.embedder,
    planned.map(({ chunks, createdAt }) => ({ chunks, createdAt: createdAt.toISOString() })),
  );
  return planned.map(({ doc, createdAt }, i) => (doc.unchanged ? { doc, createdAt } : { doc, createdAt, records: records[i]! }));
}

/** Stores one embedded document, as ingestDocument does. */
async function writeDocument(deps: KbDeps, { doc, records, createdAt }: EmbeddedDocument): Promise<IngestDocumentResult> {
  if (!records) return { documentId: doc.id, chunks: doc.existing!.chunkCount, skipped: true };
  await deps.store.replaceDocument(doc.id, records);
  await registerDocument(deps.db, doc, records.length, createdAt);
  return { documentId: doc.id, chunks: records.length, skipped: false };
}

/**
 * Many documents, with the same outcome as `ingestDocument` on each in turn, faster (DOCUMENTS_PER_GROUP).
 * `onDone` is called for each document once it is stored, in input order.
 */
export async function ingestDocuments(
  deps: KbDeps,
  inputs: readonly IngestDocumentInput[],
  onDone?: (result: IngestDocumentResult, index: number) => void,
): Promise<IngestDocumentResult[]> {
  const results: IngestDocumentResult[] = [];
  await inEmbeddingGroups(
    inputs,
    DOCUMENTS_PER_GROUP,
    (group) => prepareAndEmbed(deps, group),
    async (embedded) => {
      for (const document of embedded) {
        const result = await writeDocument(deps, document);
        results.push(result);
        onDone?.(result, results.length - 1);
      }
    },
  );
  return results;
}

// --- files ------------------------------------------------------------------------------------------------

export interface IngestProgress {
  done: number;
  total: number;
  file: string;
  documentId?: string;
  chunks?: number;
  outcome: 'ingested' | 'unchanged' | 'skipped';
}

export interface IngestSummary {
  /** Supported files now in the KB (ingested or unchanged). */
  documents: number;
  /** Chunks those documents have in the store. */
  chunks: number;
  /** Files ignored: unsupported extension, README, hidden. */
  skipped: number;
  /** Documents whose content had not changed since the last ingest (nothing embedded). */
  unchanged: number;
  skippedFiles: string[];
}

interface FileToIngest {
  file: string;
  documentId: string;
}

async function collectFiles(paths: string[]): Promise<{ files: FileToIngest[]; skipped: string[] }> {
  const files: FileToIngest[] = [];
  const skipped: string[] = [];
  const consider = (file: string, relative: string, fromDirectory: boolean) => {
    const base = path.basename(file);
    // READMEs describe a folder of articles; they are not articles themselves.
    if (!formatFromFileName(file) || (fromDirectory && /^readme\./i.test(base))) {
      skipped.push(file);
      return;
    }
    files.push({ file, documentId: slugify(relative.slice(0, relative.length - path.extname(relative).length)) });
  };
  for (const given of paths) {
    const stat = await fs.stat(given).catch(() => undefined);
    if (!stat) throw new Error(`No such file or directory: ${given}`);
    if (stat.isFile()) {
      consider(given, path.basename(given), false);
      continue;
    }
    const walk = async (dir: string): Promise<void> => {
      const entries = (await fs.readdir(dir, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name));
      for (const entry of entries) {
        const full = path.join(dir, entry.name);
        if (entry.name.startsWith('.')) {
          if (entry.isFile()) skipped.push(full);
          continue;
        }
        if (entry.isDirectory()) await walk(full);
        else if (entry.isFile()) consider(full, path.relative(given, full), true);
      }
    };
    await walk(given);
  }
  const byId = new Map<string, string>();
  for (const { file, documentId } of files) {
    const other = byId.get(documentId);
    if (other && other !== file) {
      throw new Error(`${other} and ${file} would both become KB document "${documentId}"; rename one of them.`);
    }
    byId.set(documentId, file);
  }
  // The same file reached through two arguments is ingested once.
  const unique = [...new Map(files.map((f) => [f.documentId, f])).values()];
  return { files: unique, skipped };
}

/** Ingests files and directories (.md .markdown .txt .html .htm). Document id = slug of the relative path. */
export async function ingestPaths(
  deps: KbDeps,
  paths: string[],
  onProgress?: (progress: IngestProgress) => void,
): Promise<IngestSummary> {
  const { files, skipped } = await collectFiles(paths);
  const summary: IngestSummary = { documents: 0, chunks: 0, skipped: skipped.length, unchanged: 0, skippedFiles: skipped };
  let done = 0;
  const documents: Array<{ file: string; input: IngestDocumentInput }> = [];
  for (const { file, documentId } of files) {
    const format = formatFromFileName(file)!;
    const raw = await fs.readFile(file, 'utf8');
    const parsed = parseDocument(raw, { format, fileName: file });
    if (!parsed.body.trim()) {
      summary.skipped++;
      summary.skippedFiles.push(file);
      onProgress?.({ done: ++done, total: files.length, file, outcome: 'skipped' });
      continue;
    }
    documents.push({
      file,
      input: {
        id: documentId,
        title: parsed.title,
        body: parsed.body,
        source: 'kb',
        intents: parsed.metadata.intents ?? [],
        origin: `file:${path.relative(process.cwd(), path.resolve(file)) || file}`,
      },
    });
  }
  await ingestDocuments(
    deps,
    documents.map((d) => d.input),
    (result, index) => {
      summary.documents++;
      summary.chunks += result.chunks;
      if (result.skipped) summary.unchanged++;
      onProgress?.({
        done: ++done,
        total: files.length,
        file: documents[index]!.file,
        documentId: result.documentId,
        chunks: result.chunks,
        outcome: result.skipped ? 'unchanged' : 'ingested',
      });
    },
  );
  return summary;
}

// --- reindex ------------------------------------------------------------------------------------------------

export interface ReindexProgress {
  done: number;
  total: number;
  documentId: string;
  chunks: number;
}

/**
 * Rebuilds the vector store from the `kb_documents` registry with the configured embedder: the way out of
 * a ModelMismatchError after changing EMBEDDING_MODEL.
 */
export async function reindexAll(
  deps: KbDeps,
  onProgress?: (progress: ReindexProgress) => void,
): Promise<{ documents: number; chunks: number }> {
  await deps.store.reset();
  await deps.store.open();
  const rows = await deps.db.selectFrom('kb_documents').selectAll().orderBy('id').execute();
  let chunkTotal = 0;
  let done = 0;
  await inEmbeddingGroups(
    rows,
    DOCUMENTS_PER_GROUP,
    async (group) => {
      const chunked = group.map((row) => ({ row, ...registryChunks(row), createdAt: new Date(row.created_at).toISOString() }));
      const records = await embedDocuments(deps.embedder, chunked);
      return chunked.map(({ row, source }, i) => ({ row, source, records: records[i]! }));
    },
    async (embedded) => {
      await deps.store.upsert(embedded.flatMap(({ records }) => records));
      for (const { row, source, records } of embedded) {
        const hash = contentHash({
          title: row.title,
          body: row.body,
          source,
          ...(row.ticket_id ? { ticketId: row.ticket_id } : {}),
          intents: row.intents,
        });
        await deps.db
          .updateTable('kb_documents')
          .set({ chunk_count: records.length, content_hash: hash, updated_at: new Date() })
          .where('id', '=', row.id)
          .execute();
        chunkTotal += records.length;
        onProgress?.({ done: ++done, total: rows.length, documentId: row.id, chunks: records.length });
      }
    },
  );
  return { documents: rows.length, chunks: chunkTotal };
}

type RegistryRow = Pick<
  Selectable<KbDocumentsTable>,
  'id' | 'title' | 'body' | 'source' | 'ticket_id' | 'intents' | 'created_at'
>;

/** A registry document chunked exactly as ingestion chunked it (chunk ids depend on content, not the model). */
function registryChunks(row: RegistryRow): { source: PassageSource; chunks: Chunk[] } {
  const source = passageSourceSchema.parse(row.source);
  const chunks = chunksOf({
    id: row.id,
    title: row.title,
    body: row.body,
    source,
    ...(row.ticket_id ? { ticketId: row.ticket_id } : {}),
    intents: row.intents,
  });
  return { source, chunks };
}

export interface SyncProgress extends ReindexProgress {
  outcome: 'embedded' | 'unchanged';
}

export interface SyncSummary {
  /** Documents in the registry, now all in the target collection. */
  documents: number;
  /** Documents (re-)embedded: missing from the target, or different there. */
  embedded: number;
  unchanged: number;
  /** Documents the target held that the registry no longer has (deleted meanwhile): removed from the target. */
  removed: number;
  /** Chunks embedded by this run. */
  chunks: number;
}

function sameDocument(stored: StoredDocument | undefined, row: RegistryRow, chunks: Chunk[]): boolean {
  if (!stored) return false;
  const sorted = (values: string[]) => [...values].sort().join('\u0000');
  return (
    sorted(stored.chunkIds) === sorted(chunks.map((c) => c.id)) &&
    stored.title === row.title &&
    stored.source === row.source &&
    (stored.ticketId ?? null) === (row.ticket_id ?? null) &&
    sorted(stored.intents) === sorted(row.intents)
  );
}

/**
 * Brings `deps.store` (a collection other than the one in service, built with the configured model) in line
 * with the registry, leaving the live collection alone: the zero-downtime way to change the embedding model
 * (`ticketflow kb reindex --into <collection>`, docs/OPERATIONS.md). Only what differs is embedded, so a second
 * run after the switch is a cheap catch-up of the documents added, changed or deleted meanwhile.
 */
export async function syncCollection(
  deps: KbDeps,
  onProgress?: (progress: SyncProgress) => void,
): Promise<SyncSummary> {
  await deps.store.open();
  // The collection is listed before the registry is read: a document both deleted from the registry and found
  // here is checked again before its chunks go (an ingest in between writes the store first, then the registry).
  const stored = await deps.store.storedDocuments();
  const rows = await deps.db.selectFrom('kb_documents').selectAll().orderBy('id').execute();
  const summary: SyncSummary = { documents: rows.length, embedded: 0, unchanged: 0, removed: 0, chunks: 0 };
  let done = 0;
  await inEmbeddingGroups(
    rows,
    DOCUMENTS_PER_GROUP,
    async (group) => {
      const planned = group.map((row) => {
        const { chunks } = registryChunks(row);
        return { row, chunks, current: sameDocument(stored.get(row.id), row, chunks) };
      });
      const records = await embedDocuments(
        deps.embedder,
        planned.map(({ row, chunks, current }) => ({
          chunks: current ? [] : chunks,
          createdAt: new Date(row.created_at).toISOString(),
        })),
      );
      return planned.map((p, i) => ({ ...p, records: records[i]! }));
    },
    async (planned) => {
      for (const { row, chunks, current, records } of planned) {
        if (current) summary.unchanged++;
        else {
          if (stored.has(row.id)) await deps.store.deleteDocument(row.id);
          await deps.store.upsert(records);
          summary.embedded++;
          summary.chunks += chunks.length;
        }
        onProgress?.({
          done: ++done,
          total: rows.length,
          documentId: row.id,
          chunks: chunks.length,
          outcome: current ? 'unchanged' : 'embedded',
        });
      }
    },
  );
  const registered = new Set(rows.map((row) => row.id));
  for (const documentId of stored.keys()) {
    if (registered.has(documentId) || (await getDocument(deps.db, documentId))) continue;
    await deps.store.deleteDocument(documentId);
    summary.removed++;
  }
  return summary;
}

// --- retrieval ----------------------------------------------------------------------------------------------

export function hitToPassage(hit: SearchHit): Passage {
  return {
    id: hit.id,
    documentId: hit.payload.documentId,
    title: hit.payload.title,
    headingPath: hit.payload.headingPath,
    text: hit.payload.text,
    score: hit.score,
    source: hit.payload.source,
    ...(hit.payload.ticketId ? { ticketId: hit.payload.ticketId } : {}),
    intents: hit.payload.intents,
  };
}

export interface SearchOptions {
  limit?: number;
  filter?: SearchFilter;
  /** Drop passages scoring below this cosine similarity. */
  minScore?: number;
}

/** Embeds the query and returns the closest passages, best first. */
export async function searchKnowledgeBase(deps: KbDeps, query: string, options: SearchOptions = {}): Promise<Passage[]> {
  const text = z.string().trim().min(1, 'search query must not be empty').max(20000).parse(query);
  const limit = z.number().int().min(1).max(100).parse(options.limit ?? 5);
  const [vector] = await deps.embedder.embed([text]);
  const hits = await deps.store.search(vector!, limit, options.filter);
  return hits.filter((hit) => options.minScore === undefined || hit.score >= options.minScore).map(hitToPassage);
}

/**
 * The closest existing passage of `source` (default: resolutions) if it scores at least `minScore`:
 * used before indexing a human resolution so the KB does not fill with near-identical answers.
 */
export async function findNearDuplicate(
  deps: KbDeps,
  text: string,
  options: { source?: PassageSource; minScore: number; excludeDocumentId?: string },
): Promise<Passage | undefined> {
  const [vector] = await deps.embedder.embed([text]);
  const hits = await deps.store.search(vector!, 3, { source: options.source ?? 'resolution' });
  const best = hits.find((hit) => hit.payload.documentId !== options.excludeDocumentId);
  return best && best.score >= options.minScore ? hitToPassage(best) : undefined;
}

// --- registry -----------------------------------------------------------------------------------------------

export interface KbDocumentSummary {
  id: string;
  title: string;
  source: PassageSource;
  ticketId: string | null;
  intents: string[];
  chunks: number;
  origin: string | null;
  updatedAt: string;
}

export interface KbDocumentDetail extends KbDocumentSummary {
  body: string;
  contentHash: string;
  createdAt: string;
}

export async function listDocuments(db: Db, options: { source?: PassageSource } = {}): Promise<KbDocumentSummary[]> {
  let query = db
    .selectFrom('kb_documents')
    .select(['id', 'title', 'source', 'ticket_id', 'intents', 'chunk_count', 'origin', 'updated_at'])
    .orderBy('id');
  if (options.source) query = query.where('source', '=', options.source);
  const rows = await query.execute();
  return rows.map((row) => ({
    id: row.id,
    title: row.title,
    source: passageSourceSchema.parse(row.source),
    ticketId: row.ticket_id,
    intents: row.intents,
    chunks: row.chunk_count,
    origin: row.origin,
    updatedAt: new Date(row.updated_at).toISOString(),
  }));
}

export async function getDocument(db: Db, id: string): Promise<KbDocumentDetail | undefined> {
  const row = await db.selectFrom('kb_documents').selectAll().where('id', '=', id).executeTakeFirst();
  if (!row) return undefined;
  return {
    id: row.id,
    title: row.title,
    source: passageSourceSchema.parse(row.source),
    ticketId: row.ticket_id,
    intents: row.intents,
    chunks: row.chunk_count,
    origin: row.origin,
    updatedAt: new Date(row.updated_at).toISOString(),
    body: row.body,
    contentHash: row.content_hash,
    createdAt: new Date(row.created_at).toISOString(),
  };
}

/** Removes a document's chunks from the store and its registry row. */
export async function deleteKbDocument(deps: KbDeps, id: string): Promise<{ deleted: boolean; chunks: number }> {
  const chunks = await deps.store.deleteDocument(id);
  const result = await deps.db.deleteFrom('kb_documents').where('id', '=', id).executeTakeFirst();
  return { deleted: Number(result.numDeletedRows) > 0 || chunks > 0, chunks };
}
