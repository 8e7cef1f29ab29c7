import { sql, type Kysely } from 'kysely';

/**
 * How many attempts of a step failed because of the dependency the step exists for (the LLM, the vector
 * store). Retry budgets count these, not Temporal's attempt number, so a Postgres outage in between does not
 * use them up.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .alterTable('ticket_steps')
    .addColumn('failures', 'integer', (c) => c.notNull().defaultTo(0))
    .execute();
  await sql`COMMENT ON COLUMN ticket_steps.failures IS 'failed attempts of the step''s own dependency (LLM, vector store)'`.execute(
    db,
  );
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('ticket_steps').dropColumn('failures').execute();
}
