import { type Kysely, sql } from 'kysely';

/**
 * Tickets are conversations (issue 17): the thread after the first message, the customer's feedback, and how
 * each conversation ended, from which the honest resolution rate is computed. Texts live here, never in
 * workflow history.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('ticket_messages')
    .addColumn('id', 'bigserial', (c) => c.primaryKey())
    .addColumn('workflow_id', 'text', (c) => c.notNull())
    .addColumn('message_id', 'text', (c) => c.notNull())
    .addColumn('author', 'text', (c) => c.notNull())
    .addColumn('turn', 'integer', (c) => c.notNull())
    .addColumn('body', 'text', (c) => c.notNull())
    .addColumn('cited_passages', 'jsonb', (c) => c.notNull().defaultTo(sql`'[]'::jsonb`))
    .addColumn('agent_id', 'text')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('delivered_at', 'timestamptz')
    .addColumn('webhook_status', 'integer')
    .addUniqueConstraint('ticket_messages_once', ['workflow_id', 'message_id'])
    .execute();
  await db.schema
    .createIndex('ticket_messages_thread_idx')
    .on('ticket_messages')
    .columns(['workflow_id', 'id'])
    .execute();

  await db.schema
    .createTable('ticket_feedback')
    .addColumn('id', 'bigserial', (c) => c.primaryKey())
    .addColumn('workflow_id', 'text', (c) => c.notNull())
    .addColumn('feedback_id', 'text', (c) => c.notNull())
    .addColumn('rating', 'text', (c) => c.notNull())
    .addColumn('comment', 'text')
    .addColumn('turn', 'integer', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addUniqueConstraint('ticket_feedback_once', ['workflow_id', 'feedback_id'])
    .execute();

  await db.schema
    .createTable('conversations')
    .addColumn('workflow_id', 'text', (c) => c.primaryKey())
    .addColumn('outcome', 'text')
    .addColumn('ai_turns', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('human_turns', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('reopened', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('escalated_after_ai', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('unhappy_document_ids', 'jsonb', (c) => c.notNull().defaultTo(sql`'[]'::jsonb`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('closed_at', 'timestamptz')
    .execute();
  await db.schema.createIndex('conversations_closed_idx').on('conversations').column('closed_at').execute();

  await db.schema
    .alterTable('escalations')
    .addColumn('cited_document_ids', 'jsonb', (c) => c.notNull().defaultTo(sql`'[]'::jsonb`))
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('escalations').dropColumn('cited_document_ids').execute();
  for (const table of ['conversations', 'ticket_feedback', 'ticket_messages']) {
    await db.schema.dropTable(table).ifExists().execute();
  }
}
