import { Kysely, Migrator, PostgresDialect, type Migration, type MigrationProvider } from 'kysely';
import pg from 'pg';
import type { Database } from './schema';
import * as m001 from './migrations/001_initial';
import * as m002 from './migrations/002_step_failures';
import * as m003 from './migrations/003_answered_from_resolution';
import * as m004 from './migrations/004_withheld_drafts';
import * as m005 from './migrations/005_kb_gap_drafts';

export type Db = Kysely<Database>;

// numeric → number (our numerics are small: confidences, scores, dollars); int8 → number (counts).
pg.types.setTypeParser(pg.types.builtins.NUMERIC, (v) => Number(v));
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number(v));

export function createPool(url: string, max = 5): pg.Pool {
  const pool = new pg.Pool({ connectionString: url, max, connectionTimeoutMillis: 10_000 });
  // A client losing its server (Postgres restart, admin shutdown) emits 'error'. pg only listens on idle
  // clients; one checked out between queries (e.g. inside a transaction) would crash the process. Listen on
  // every client: its next query fails instead, the activity retries, and the pool drops the dead client.
  pool.on('error', () => undefined);
  pool.on('connect', (client) => {
    client.on('error', () => undefined);
  });
  return pool;
}

export function createDb(url: string, max = 5): Db {
  return new Kysely<Database>({ dialect: new PostgresDialect({ pool: createPool(url, max) }) });
}

/** Migrations are listed statically so they work the same under tsx, jest and the workflow-free bundles. */
const migrations: Record<string, Migration> = {
  '001_initial': m001,
  '002_step_failures': m002,
  '003_answered_from_resolution': m003,
  '004_withheld_drafts': m004,
  '005_kb_gap_drafts': m005,
};

class StaticMigrationProvider implements MigrationProvider {
  async getMigrations(): Promise<Record<string, Migration>> {
    return migrations;
  }
}

export async function migrateToLatest(db: Kysely<unknown> | Db): Promise<string[]> {
  const migrator = new Migrator({ db: db as Kysely<unknown>, provider: new StaticMigrationProvider() });
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === 'Error');
    throw new Error(
      `Database migration ${failed?.migrationName ?? ''} failed: ${String((error as Error).message ?? error)}`,
    );
  }
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}
