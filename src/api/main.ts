import { ConfigError, loadConfig, type Config } from '../config';
import { createDb, migrateToLatest } from '../db/database';
import { getEmbedder } from '../kb/embedder';
import { createVectorStore } from '../kb/stores';
import { createLogger } from '../logger';
import { connectTemporal } from '../temporal/client';
import { buildServer } from '../server';

/** How long in-flight requests get to finish after SIGTERM before we stop waiting. */
const SHUTDOWN_GRACE_MS = 10_000;

export interface RunningApi {
  url: string;
  close(): Promise<void>;
}

/**
 * The HTTP process (API and agent inbox). Load config, migrate, connect to Temporal, Postgres and the vector
 * store, and listen. SIGINT/SIGTERM stop
 * accepting connections, let in-flight requests finish, then release every pool.
 */
export async function runApi(config: Config = loadConfig()): Promise<RunningApi> {
  const logger = createLogger(config.LOG_LEVEL, 'api');
  const db = createDb(config.DATABASE_URL, config.DATABASE_POOL_MAX);
  await migrateToLatest(db);
  const temporal = await connectTemporal(config);
  const embedder = getEmbedder(config.EMBEDDING_MODEL, config.MODELS_DIR);
  const store = createVectorStore(config, embedder);
  try {
    await store.open();
  } catch (err) {
    // The API still serves tickets and escalations without the vector store; /readyz reports it.
    logger.error({ err }, 'Vector store unavailable at start; KB endpoints will fail until it answers');
  }

  const app = await buildServer({ config, db, temporal, kb: { store, embedder }, logger });
  const url = await app.listen({ host: config.API_HOST, port: config.API_PORT });
  logger.info({ url, taskQueue: config.TEMPORAL_TASK_QUEUE }, 'ticketflow API listening');

  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      const timer = setTimeout(() => {
        logger.warn('In-flight requests did not finish in time; closing anyway');
        app.server.closeAllConnections();
      }, SHUTDOWN_GRACE_MS);
      try {
        await app.close();
      } finally {
        clearTimeout(timer);
        await Promise.allSettled([store.close(), db.destroy(), temporal.connection.close()]);
      }
    })();
    return closing;
  };
  return { url, close };
}

async function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      process.exit(2);
    }
    throw err;
  }
  const api = await runApi(config);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      api.close().then(
        () => process.exit(0),
        (err: unknown) => {
          console.error(err);
          process.exit(1);
        },
      );
    });
  }
}

if (require.main === module) {
  main().catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
