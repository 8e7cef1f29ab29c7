import { ConfigError, loadConfig, type Config } from '../config';
import { createDb, prepareSchema } from '../db/database';
import { mainDatabase } from '../db/tls';
import { getEmbedder } from '../kb/embedder';
import { createVectorStore } from '../kb/stores';
import { createLlmProvider } from '../llm';
import { createLogger } from '../logger';
import { connectTemporal } from '../temporal/client';
import { describeTemporalConnection } from '../temporal/connection';
import { buildServer } from '../server';

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
  const db = createDb(mainDatabase(config), config.DATABASE_POOL_MAX);
  await prepareSchema(db, config, logger);
  const temporal = await connectTemporal(config);
  const embedder = getEmbedder(config.EMBEDDING_MODEL, config.MODELS_DIR, config.EMBEDDER_THREADS);
  const store = createVectorStore(config, embedder);
  try {
    await store.open();
  } catch (err) {
    // The API still serves tickets and escalations without the vector store; /readyz reports it.
    logger.error({ err }, 'Vector store unavailable at start; KB endpoints will fail until it answers');
  }

  // Only the knowledge-gap report's article drafts use it here; tickets are answered by the worker.
  const llm = createLlmProvider(config, { embedder });
  const app = await buildServer({ config, db, temporal, kb: { store, embedder }, llm, logger });
  const url = await app.listen({ host: config.API_HOST, port: config.API_PORT });
  logger.info(
    { url, taskQueue: config.TEMPORAL_TASK_QUEUE, temporal: describeTemporalConnection(config) },
    'ticketflow API listening',
  );

  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      // Fastify stops accepting connections, closes idle keep-alive ones, answers 503 to new requests on busy
      // ones, and resolves once the requests in flight are answered; after the grace time they are cut.
      const timer = setTimeout(() => {
        logger.warn('In-flight requests did not finish in time; closing anyway');
        app.server.closeAllConnections();
      }, config.API_SHUTDOWN_GRACE_MS);
      try {
        const closed = app.close();
        // Fastify closes the listener after its pre-close hooks, a few ticks later: say so once it is true.
        let settled = false;
        void closed.finally(() => (settled = true)).catch(() => undefined);
        while (app.server.listening && !settled) await new Promise((resolve) => setImmediate(resolve));
        logger.info(
          { graceMs: config.API_SHUTDOWN_GRACE_MS },
          'shutting down: no new connections; finishing requests in flight',
        );
        await closed;
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
      console.error(`ticketflow: ${err.message}`);
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
