import { ApplicationFailure, Context } from '@temporalio/activity';
import { sql } from 'kysely';
import type { Selectable } from 'kysely';
import type { KbIngestionsTable } from '../src/db/schema';
import { embeddingInput } from '../src/kb/chunker';
import { lengthOrder } from '../src/kb/embedder';
import { chunkRecords, chunksOf, documentCreatedAt, registerDocument } from '../src/kb/ingest';
import { passageSourceSchema } from '../src/domain/ticket';
import type { ActivityDeps } from './deps';
import { confirmRows } from './writes';
import type { KbIngestionOutcome } from '../workflows/definitions';

type IngestionRow = Selectable<KbIngestionsTable>;

/** Longest error text kept on a failed ingestion (it is shown by the status endpoint). */
const MAX_ERROR_CHARS = 500;

/**
 * The steps of the kb-ingestion workflow. Every step reads the pending document from `kb_ingestions` and chunks
 * it again (cheap, and deterministic: chunk ids come from the content), so nothing large travels through
 * Temporal. Vectors are staged in `kb_ingestion_chunks` until the last batch is in.
 */
export function kbIngestionActivities(deps: Pick<ActivityDeps, 'db' | 'store' | 'embedder' | 'logger'>) {
  const { db } = deps;

  async function load(ingestionId: string): Promise<IngestionRow> {
    const row = await db
      .selectFrom('kb_ingestions')
      .selectAll()
      .where('id', '=', ingestionId)
      .executeTakeFirst();
    if (!row)
      throw ApplicationFailure.nonRetryable(
        `No knowledge-base ingestion ${ingestionId}`,
        'kb_ingestion_missing',
      );
    return row;
  }

  function content(row: IngestionRow & { body: string }) {
    return {
      id: row.document_id,
      title: row.title,
      body: row.body,
      source: passageSourceSchema.parse(row.source),
      intents: row.intents,
    };
  }

  function pending(row: IngestionRow): IngestionRow & { body: string } {
    if (row.body === null) {
      throw ApplicationFailure.nonRetryable(
        `Ingestion ${row.id} has no pending document`,
        'kb_ingestion_missing',
      );
    }
    return { ...row, body: row.body };
  }

  return {
    /** Chunks the document and records how many chunks there are to embed. */
    async beginKbIngestion(ingestionId: string): Promise<{ chunks: number }> {
      const row = pending(await load(ingestionId));
      const chunks = chunksOf(content(row)).length;
      const updated = await db
        .updateTable('kb_ingestions')
        .set({ status: 'embedding', chunks_total: chunks, updated_at: new Date() })
        .where('id', '=', ingestionId)
        .executeTakeFirst();
      confirmRows(updated, 1, `kb_ingestions ${ingestionId} embedding`);
      return { chunks };
    },

    /**
     * Embeds positions [from, to) of the chunks in length order and stages their vectors; progress counts the
     * staged chunks. Length order: the model pads every text of a call to the longest one, so texts of similar
     * length per call waste less work (bench/README.md, "Ingestion").
     */
    async embedKbIngestionBatch(ingestionId: string, from: number, to: number): Promise<void> {
      const row = pending(await load(ingestionId));
      const texts = chunksOf(content(row)).map(embeddingInput);
      // Ties keep document order, so every attempt cuts the same batches.
      const batch = lengthOrder(texts).slice(from, to);
      Context.current().heartbeat({ from, to });
      const vectors = await deps.embedder.embed(batch.map((index) => texts[index]!));
      await db.transaction().execute(async (trx) => {
        if (vectors.length > 0) {
          const staged = await trx
            .insertInto('kb_ingestion_chunks')
            .values(
              vectors.map((embedding, i) => ({
                ingestion_id: ingestionId,
                chunk_index: batch[i]!,
                embedding,
              })),
            )
            .onConflict((oc) =>
              oc.columns(['ingestion_id', 'chunk_index']).doUpdateSet({ embedding: sql`excluded.embedding` }),
            )
            .executeTakeFirst();
          confirmRows(staged, vectors.length, `kb_ingestion_chunks ${ingestionId} [${from}, ${to})`);
        }
        const progressed = await trx
          .updateTable('kb_ingestions')
          .set({
            chunks_done: sql<number>`(SELECT count(*)::int FROM kb_ingestion_chunks WHERE ingestion_id = ${ingestionId})`,
            updated_at: new Date(),
          })
          .where('id', '=', ingestionId)
          .executeTakeFirst();
        confirmRows(progressed, 1, `kb_ingestions ${ingestionId} progress`);
      });
    },

    /** Swaps the document's chunks in the store, registers it, and marks the ingestion done. Safe to repeat. */
    async commitKbIngestion(ingestionId: string): Promise<KbIngestionOutcome> {
      const loaded = await load(ingestionId);
      if (loaded.status === 'done') {
        return { ingestionId, documentId: loaded.document_id, chunks: loaded.chunks_total ?? 0 };
      }
      const row = pending(loaded);
      const doc = content(row);
      const chunks = chunksOf(doc);
      const staged = await db
        .selectFrom('kb_ingestion_chunks')
        .select(['chunk_index', 'embedding'])
        .where('ingestion_id', '=', ingestionId)
        .orderBy('chunk_index')
        .execute();
      if (staged.length !== chunks.length || staged.some((s, i) => s.chunk_index !== i)) {
        throw ApplicationFailure.nonRetryable(
          `Ingestion ${ingestionId} has ${staged.length} staged vectors for ${chunks.length} chunks`,
          'kb_ingestion_incomplete',
        );
      }
      const createdAt = await documentCreatedAt(db, doc.id);
      const records = chunkRecords(
        chunks,
        staged.map((s) => s.embedding.map(Number)),
        createdAt.toISOString(),
      );
      await deps.store.replaceDocument(doc.id, records);
      const registered = await registerDocument(
        db,
        { ...doc, contentHash: row.content_hash, origin: row.origin },
        chunks.length,
        createdAt,
      );
      confirmRows(registered, 1, `kb_documents ${doc.id}`);
      await db.transaction().execute(async (trx) => {
        await trx.deleteFrom('kb_ingestion_chunks').where('ingestion_id', '=', ingestionId).execute();
        // The body now lives in kb_documents; the ingestion keeps only its outcome.
        const finished = await trx
          .updateTable('kb_ingestions')
          .set({
            status: 'done',
            body: null,
            chunks_done: chunks.length,
            updated_at: new Date(),
            finished_at: new Date(),
          })
          .where('id', '=', ingestionId)
          .executeTakeFirst();
        confirmRows(finished, 1, `kb_ingestions ${ingestionId} done`);
      });
      deps.logger.info({ ingestionId, documentId: doc.id, chunks: chunks.length }, 'kb document ingested');
      return { ingestionId, documentId: doc.id, chunks: chunks.length };
    },

    /** Records why an ingestion failed (a finished one is left alone) and drops its staged vectors. */
    async failKbIngestion(ingestionId: string, message: string): Promise<void> {
      await db.transaction().execute(async (trx) => {
        await trx.deleteFrom('kb_ingestion_chunks').where('ingestion_id', '=', ingestionId).execute();
        await trx
          .updateTable('kb_ingestions')
          .set({
            status: 'failed',
            body: null,
            error: message.slice(0, MAX_ERROR_CHARS),
            updated_at: new Date(),
            finished_at: new Date(),
          })
          .where('id', '=', ingestionId)
          .where('status', '!=', 'done')
          .execute();
      });
      deps.logger.warn({ ingestionId }, 'kb ingestion failed');
    },
  };
}

export type KbIngestionActivities = ReturnType<typeof kbIngestionActivities>;
