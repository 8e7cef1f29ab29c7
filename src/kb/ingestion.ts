import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { WorkflowIdReusePolicy, type Client } from '@temporalio/client';
import type { Selectable } from 'kysely';
import type { Config } from '../config';
import type { Db } from '../db/database';
import type { KbIngestionStatus, KbIngestionsTable } from '../db/schema';
import {
  KB_INGESTION_WORKFLOW_TYPE,
  type KbIngestionWorkflowInput,
} from '../../workflows/definitions';
import { prepareDocument, type IngestDocumentInput, type KbDeps } from './ingest';

/**
 * Knowledge-base writes through the kb-ingestion workflow (workflows/kb-ingestion.ts): the API validates the
 * document, parks it in `kb_ingestions` and starts the workflow; a worker chunks and embeds it. The API never
 * embeds a document on its own event loop, so a large upload cannot stall other requests.
 */

/** Chunks embedded per activity (the embedder runs at most 32 texts per model call). */
export const KB_INGESTION_BATCH_CHUNKS = 32;

/** Same document, same content: same ingestion, so a repeated PUT joins the one already running. */
export function ingestionIdFor(documentId: string, contentHash: string): string {
  return `kbi_${createHash('sha256').update(`${documentId}\u0000${contentHash}`).digest('hex').slice(0, 32)}`;
}

export const ingestionWorkflowId = (ingestionId: string) => `kb-ingestion-${ingestionId}`;

export interface KbIngestionView {
  id: string;
  documentId: string;
  status: KbIngestionStatus;
  /** Unknown (null) until the worker has chunked the document. */
  chunksTotal: number | null;
  chunksDone: number;
  /** Whether the document was in the KB before this ingestion (201 vs 200 once done). */
  documentExisted: boolean;
  error: string | null;
  createdAt: string;
  updatedAt: string;
  finishedAt: string | null;
}

function toView(row: Selectable<KbIngestionsTable>): KbIngestionView {
  return {
    id: row.id,
    documentId: row.document_id,
    status: row.status,
    chunksTotal: row.chunks_total,
    chunksDone: row.chunks_done,
    documentExisted: row.document_existed,
    error: row.error,
    createdAt: new Date(row.created_at).toISOString(),
    updatedAt: new Date(row.updated_at).toISOString(),
    finishedAt: row.finished_at ? new Date(row.finished_at).toISOString() : null,
  };
}

export async function getIngestion(db: Db, id: string): Promise<KbIngestionView | undefined> {
  const row = await db.selectFrom('kb_ingestions').selectAll().where('id', '=', id).executeTakeFirst();
  return row ? toView(row) : undefined;
}

export type IngestionRequest =
  | { kind: 'unchanged'; documentId: string; chunks: number }
  | { kind: 'started'; ingestion: KbIngestionView };

/**
 * Validates the document and, unless the KB already holds exactly this content, starts (or joins) its
 * ingestion. Throws the zod error of an invalid document before anything is written.
 */
export async function requestIngestion(
  deps: Pick<KbDeps, 'db' | 'store'> & { temporal: Client; config: Config },
  input: IngestDocumentInput,
): Promise<IngestionRequest> {
  const doc = await prepareDocument(deps, input);
  if (doc.unchanged) return { kind: 'unchanged', documentId: doc.id, chunks: doc.existing!.chunkCount };
  const id = ingestionIdFor(doc.id, doc.contentHash);
  const pending = {
    document_id: doc.id,
    content_hash: doc.contentHash,
    title: doc.title,
    body: doc.body,
    source: doc.source,
    intents: JSON.stringify(doc.intents),
    origin: doc.origin ?? null,
    document_existed: doc.existing !== undefined,
    status: 'queued' as const,
    chunks_total: null,
    chunks_done: 0,
    error: null,
    created_at: new Date(),
    updated_at: new Date(),
    finished_at: null,
  };
  // A finished ingestion of the same content (e.g. the document was changed and then changed back) starts over;
  // one still queued or running is joined as it is.
  await deps.db
    .insertInto('kb_ingestions')
    .values({ id, ...pending })
    .onConflict((oc) => oc.column('id').doUpdateSet(pending).where('kb_ingestions.status', 'in', ['done', 'failed']))
    .execute();
  const args: KbIngestionWorkflowInput = { ingestionId: id, batchChunks: KB_INGESTION_BATCH_CHUNKS };
  await deps.temporal.workflow.start(KB_INGESTION_WORKFLOW_TYPE, {
    workflowId: ingestionWorkflowId(id),
    taskQueue: deps.config.TEMPORAL_TASK_QUEUE,
    args: [args],
    workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE,
    // The same ingestion already running: join it instead of failing or starting a second one.
    workflowIdConflictPolicy: 'USE_EXISTING',
  });
  const ingestion = await getIngestion(deps.db, id);
  if (!ingestion) throw new Error(`Ingestion ${id} vanished after it was started`);
  return { kind: 'started', ingestion };
}

/** Polls the ingestion until it is done or failed, or `waitMs` has passed; returns what it last saw. */
export async function waitForIngestion(db: Db, id: string, waitMs: number): Promise<KbIngestionView | undefined> {
  const deadline = Date.now() + waitMs;
  let pause = 50;
  for (;;) {
    const view = await getIngestion(db, id);
    if (!view || view.status === 'done' || view.status === 'failed') return view;
    const left = deadline - Date.now();
    if (left <= 0) return view;
    await sleep(Math.min(pause, left));
    pause = Math.min(pause * 2, 250);
  }
}
