import { sql, type Kysely } from 'kysely';

/**
 * Knowledge-base ingestions run by the kb-ingestion workflow (workflows/kb-ingestion.ts), off the API's request
 * path. `kb_ingestions` holds the pending document (the workflow's history only carries the ingestion id) and
 * the progress `GET /v1/kb/ingestions/:id` shows; `kb_ingestion_chunks` stages the vectors batch by batch until
 * the last batch is in and the document is swapped into the vector store in one step.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('kb_ingestions')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('document_id', 'text', (c) => c.notNull())
    .addColumn('content_hash', 'text', (c) => c.notNull())
    .addColumn('title', 'text', (c) => c.notNull())
    // Cleared once the document is in the KB (kb_documents keeps it from then on).
    .addColumn('body', 'text')
    .addColumn('source', 'text', (c) => c.notNull())
    .addColumn('intents', 'jsonb', (c) => c.notNull().defaultTo(sql`'[]'::jsonb`))
    .addColumn('origin', 'text')
    .addColumn('document_existed', 'boolean', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('chunks_total', 'integer')
    .addColumn('chunks_done', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('error', 'text')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('finished_at', 'timestamptz')
    .execute();
  await db.schema
    .createIndex('kb_ingestions_document_idx')
    .on('kb_ingestions')
    .column('document_id')
    .execute();
  await db.schema
    .createTable('kb_ingestion_chunks')
    .addColumn('ingestion_id', 'text', (c) => c.notNull().references('kb_ingestions.id').onDelete('cascade'))
    .addColumn('chunk_index', 'integer', (c) => c.notNull())
    .addColumn('embedding', sql`real[]`, (c) => c.notNull())
    .addPrimaryKeyConstraint('kb_ingestion_chunks_pkey', ['ingestion_id', 'chunk_index'])
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('kb_ingestion_chunks').ifExists().execute();
  await db.schema.dropTable('kb_ingestions').ifExists().execute();
}
