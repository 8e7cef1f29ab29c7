import type { Kysely } from 'kysely';

/**
 * Which earlier human resolution let a low-confidence ticket be answered (its KB document id), so the learning
 * loop's effect on escalation rates can be measured and audited.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('interactions').addColumn('answered_from_resolution', 'text').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('interactions').dropColumn('answered_from_resolution').execute();
}
