import { sql, type Kysely } from 'kysely';

/**
 * Articles the model drafted for the knowledge-gap report, keyed by what they were written from (the questions
 * and human answers of one cluster, the model, the prompt version): showing the report again does not pay for
 * the same draft twice, and a cluster that gains an answer gets a new draft.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('kb_gap_drafts')
    .addColumn('source_key', 'text', (c) => c.primaryKey())
    .addColumn('model', 'text', (c) => c.notNull())
    .addColumn('title', 'text', (c) => c.notNull())
    .addColumn('body', 'text', (c) => c.notNull())
    .addColumn('cited_ticket_ids', 'jsonb', (c) => c.notNull().defaultTo(sql`'[]'::jsonb`))
    .addColumn('cost_usd', sql`numeric(12,6)`, (c) => c.notNull().defaultTo(0))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('kb_gap_drafts').ifExists().execute();
}
