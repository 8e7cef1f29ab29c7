import type { Kysely } from 'kysely';

/**
 * Drafts the grounding check stopped (an invented figure, a leaked instruction) are kept for the human who
 * takes over, never for the customer: the agent edits them instead of starting from nothing.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('drafts').addColumn('withheld_reply', 'text').execute();
  await db.schema.alterTable('escalations').addColumn('draft_withheld_reason', 'text').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('escalations').dropColumn('draft_withheld_reason').execute();
  await db.schema.alterTable('drafts').dropColumn('withheld_reply').execute();
}
