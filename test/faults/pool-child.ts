import readline from 'node:readline';
import { sql } from 'kysely';
import { createDb } from '../../src/db/database';

/**
 * Holds a transaction open on DATABASE_URL (as an activity's kysely transaction does between two statements)
 * until told to go on, so the test can shut Postgres down under it. Prints IN_TRANSACTION, then after a
 * "continue" line on stdin tries another query and prints QUERY_FAILED or QUERY_OK, then SURVIVED.
 * If the process dies in between, a connection error took the whole process down.
 */
async function main(): Promise<void> {
  const db = createDb(process.env.DATABASE_URL!, 2);
  const lines = readline.createInterface({ input: process.stdin });
  const nextLine = () => new Promise<string>((resolve) => lines.once('line', resolve));
  await db
    .transaction()
    .execute(async (trx) => {
      await sql`SELECT 1`.execute(trx);
      process.stdout.write('IN_TRANSACTION\n');
      await nextLine();
      await sql`SELECT 1`.execute(trx);
      process.stdout.write('QUERY_OK\n');
    })
    .catch((error: unknown) =>
      process.stdout.write(`QUERY_FAILED ${error instanceof Error ? error.message : String(error)}\n`),
    );
  // The pool must still work once the server is back.
  await nextLine();
  await sql`SELECT 1`.execute(db);
  process.stdout.write('SURVIVED\n');
  lines.close();
  await db.destroy();
}

main().catch((error: unknown) => {
  process.stdout.write(`FAILED ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
