import type { Client } from '@temporalio/client';
import { loadConfig, type Config } from '../config';
import { cliEnvironment } from './local-stack';
import { createDb, migrateToLatest, type Db } from '../db/database';
import { explainDatabaseFailure, mainDatabase } from '../db/tls';
import { getEmbedder } from '../kb/embedder';
import type { KbDeps } from '../kb/ingest';
import { createVectorStore } from '../kb/stores';
import type { MakeKbDeps } from './kb';
import { connectTemporal } from '../temporal/client';

/**
 * What CLI commands talk to, opened on first use and closed once at the end: the CLI goes straight to
 * Temporal and Postgres with the same configuration as the API and the worker, not through HTTP.
 */
export class CliContext {
  private dbInstance?: Db;
  private migrated?: string[];
  private temporalInstance?: Client;
  private kbInstance?: KbDeps;

  constructor(readonly config: Config = loadConfig(cliEnvironment())) {}

  async db(): Promise<Db> {
    if (!this.dbInstance) {
      this.dbInstance = createDb(mainDatabase(this.config), 2);
      // Cheap when up to date; lets `keys create` work against a brand-new database.
      this.migrated = await migrateToLatest(this.dbInstance).catch((error: unknown) => {
        throw explainDatabaseFailure(error, {
          url: this.config.DATABASE_URL,
          urlSetting: 'DATABASE_URL',
          caSetting: 'DATABASE_SSL_CA',
          ...(this.config.DATABASE_SSL_CA ? { ca: this.config.DATABASE_SSL_CA } : {}),
        });
      });
    }
    return this.dbInstance;
  }

  /** The migrations that opening the database applied (empty when the schema was already current). */
  async appliedMigrations(): Promise<string[]> {
    await this.db();
    return this.migrated ?? [];
  }

  async temporal(): Promise<Client> {
    this.temporalInstance ??= await connectTemporal(this.config, { connectTimeoutMs: 5_000 });
    return this.temporalInstance;
  }

  async kb(): Promise<KbDeps> {
    if (!this.kbInstance) {
      const embedder = getEmbedder(
        this.config.EMBEDDING_MODEL,
        this.config.MODELS_DIR,
        this.config.EMBEDDER_THREADS,
      );
      this.kbInstance = { db: await this.db(), store: createVectorStore(this.config, embedder), embedder };
    }
    return this.kbInstance;
  }

  async close(): Promise<void> {
    await Promise.allSettled([
      this.kbInstance?.store.close(),
      this.dbInstance?.destroy(),
      this.temporalInstance?.connection.close(),
    ]);
  }
}

/** For `registerKbCommands`: a fresh context per kb command. */
export async function makeKbDeps(): ReturnType<MakeKbDeps> {
  const context = new CliContext();
  try {
    const deps = await context.kb();
    return {
      deps,
      close: () => context.close(),
      collection: context.config.KB_COLLECTION,
      storeFor: (collection) =>
        createVectorStore({ ...context.config, KB_COLLECTION: collection }, deps.embedder),
    };
  } catch (err) {
    await context.close();
    throw err;
  }
}
