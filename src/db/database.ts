import { Kysely, Migrator, PostgresDialect, type Migration, type MigrationProvider } from 'kysely';
import pg from 'pg';
import type { Database } from './schema';
import type { Config } from '../config';
import { explainDatabaseFailure, pgConnection, type PgConnection } from './tls';
import * as m001 from './migrations/001_initial';
import * as m002 from './migrations/002_step_failures';
import * as m003 from './migrations/003_answered_from_resolution';
import * as m004 from './migrations/004_withheld_drafts';
import * as m005 from './migrations/005_kb_gap_drafts';
import * as m007 from './migrations/007_conversations';
import * as m008 from './migrations/008_kb_ingestions';

export type Db = Kysely<Database>;

// numeric → number (our numerics are small: confidences, scores, dollars); int8 → number (counts).
pg.types.setTypeParser(pg.types.builtins.NUMERIC, (v) => Number(v));
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number(v));

/**
 * A pool for a database URL, or for a `PgConnection` (src/db/tls.ts) that carries the TLS settings from config.
 * A plain URL gets the same `sslmode` reading, without a CA.
 */
export function createPool(target: string | PgConnection, max = 5): pg.Pool {
  const { connectionString, ssl } = typeof target === 'string' ? pgConnection(target) : target;
  const pool = new pg.Pool({
    connectionString,
    ssl,
    max,
    // How long a query may wait for a pooled connection. A server that is down refuses the connection at once
    // (ECONNREFUSED), so this only bounds waiting on a busy one: the embedded database serves one query at a
    // time for every client, and under load a healthy one must make callers wait, not fail. 30 s matches the
    // bookkeeping activities' start-to-close timeout.
    connectionTimeoutMillis: 30_000,
    // Reconnecting costs a SCRAM handshake; keep idle connections a while.
    idleTimeoutMillis: 60_000,
  });
  // A client losing its server (Postgres restart, admin shutdown) emits 'error'. pg only listens on idle
  // clients; one checked out between queries (e.g. inside a transaction) would crash the process. Listen on
  // every client: its next query fails instead, the activity retries, and the pool drops the dead client.
  pool.on('error', () => undefined);
  pool.on('connect', (client) => {
    client.on('error', () => undefined);
  });
  return pool;
}

export function createDb(target: string | PgConnection, max = 5): Db {
  return new Kysely<Database>({ dialect: new PostgresDialect({ pool: createPool(target, max) }) });
}

/** Migrations are listed statically so they work the same under tsx, jest and the workflow-free bundles. */
const migrations: Record<string, Migration> = {
  '001_initial': m001,
  '002_step_failures': m002,
  '003_answered_from_resolution': m003,
  '004_withheld_drafts': m004,
  '005_kb_gap_drafts': m005,
  '007_conversations': m007,
  '008_kb_ingestions': m008,
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

/** Migrations this code knows that the database has not run yet (empty when the schema is current). */
export async function pendingMigrations(db: Kysely<unknown> | Db): Promise<string[]> {
  const migrator = new Migrator({ db: db as Kysely<unknown>, provider: new StaticMigrationProvider() });
  const all = await migrator.getMigrations();
  return all.filter((m) => m.executedAt === undefined).map((m) => m.name);
}

const SCHEMA_WAIT_INTERVAL_MS = 2_000;
const SCHEMA_WAIT_LOG_EVERY_MS = 30_000;

/**
 * Before a process uses the database: migrate (MIGRATE_ON_START=true, the default; concurrent starts are safe,
 * kysely takes a lock), or wait until a migration job (`ticketflow db migrate`) has brought the schema up to
 * this code's version, so the app's database role needs no DDL rights.
 */
export async function prepareSchema(
  db: Db,
  config: Config,
  logger: { info(obj: object, msg: string): void },
): Promise<void> {
  try {
    await pendingMigrations(db);
  } catch (error) {
    const explained = explainDatabaseFailure(error, {
      url: config.DATABASE_URL,
      urlSetting: 'DATABASE_URL',
      caSetting: 'DATABASE_SSL_CA',
      ...(config.DATABASE_SSL_CA ? { ca: config.DATABASE_SSL_CA } : {}),
    });
    // Not a connection problem (e.g. no migrations table yet): the steps below deal with it.
    if (explained !== error) throw explained;
  }
  if (config.MIGRATE_ON_START) {
    await migrateToLatest(db);
    return;
  }
  let lastLog = 0;
  for (;;) {
    let pending: string[];
    try {
      pending = await pendingMigrations(db);
    } catch (error) {
      // No migrations table yet (fresh database) reads as "everything pending".
      pending = [(error as Error).message];
    }
    if (pending.length === 0) return;
    if (Date.now() - lastLog >= SCHEMA_WAIT_LOG_EVERY_MS) {
      logger.info(
        { pending },
        'waiting for the database schema (MIGRATE_ON_START=false: run `ticketflow db migrate`)',
      );
      lastLog = Date.now();
    }
    await new Promise((resolve) => setTimeout(resolve, SCHEMA_WAIT_INTERVAL_MS));
  }
}
