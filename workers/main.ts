import { NativeConnection, Runtime, Worker, type LogLevel } from '@temporalio/worker';
import { createActivities, type ActivityDeps } from '../activities';
import { loadConfig, ConfigError, type Config } from '../src/config';
import { createDb, prepareSchema } from '../src/db/database';
import { explainVectorDatabaseFailure, mainDatabase, vectorDatabase } from '../src/db/tls';
import { getEmbedder, inEmbeddingScope } from '../src/kb/embedder';
import { createVectorStore } from '../src/kb/stores';
import { ingestDocument } from '../src/kb/ingest';
import { createLlmProvider } from '../src/llm';
import { createLogger, type Logger } from '../src/logger';
import { createDataConverter } from '../src/security/codec';
import { sendOutboundWebhook } from '../src/integrations/outbound-webhook';
import { createRedactingSdkLogger } from '../src/security/sdk-logger';
import {
  describeTemporalConnection,
  explainTemporalConnectFailure,
  temporalConnectionSettings,
} from '../src/temporal/connection';
import { startWorkerHealthServer } from './health';
import { workflowBundle } from './bundle';

const SDK_LOG_LEVELS: Record<string, LogLevel> = {
  trace: 'TRACE',
  debug: 'DEBUG',
  info: 'INFO',
  warn: 'WARN',
  error: 'ERROR',
  fatal: 'ERROR',
  silent: 'ERROR',
};

let runtimeInstalled = false;

/**
 * The Temporal SDK logs every worker state change at INFO; keep its logger at our LOG_LEVEL (default info in
 * production, warn in tests). Must run before the first connection; later calls are no-ops.
 */
export function installTemporalRuntime(level: string): void {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  try {
    // The SDK logs activity and workflow failure messages, which can quote ticket text: redact them too.
    Runtime.install({ logger: createRedactingSdkLogger(SDK_LOG_LEVELS[level] ?? 'INFO') });
  } catch {
    // Already installed by this process (e.g. a second test file in the same jest worker): keep that one.
  }
}

/** Everything the activities talk to, built from config. `close` releases pools. */
export async function buildActivityDeps(
  config: Config,
  logger: Logger,
): Promise<{ deps: ActivityDeps; close: () => Promise<void> }> {
  const db = createDb(mainDatabase(config), config.DATABASE_POOL_MAX);
  await prepareSchema(db, config, logger);
  const embedder = getEmbedder(config.EMBEDDING_MODEL, config.MODELS_DIR, config.EMBEDDER_THREADS);
  const store = createVectorStore(config, embedder);
  await store.open().catch((error: unknown) => {
    throw config.VECTOR_STORE === 'pgvector' ? explainVectorDatabaseFailure(error, config) : error;
  });
  const llm = createLlmProvider(config, { embedder, db, logger });
  const deps: ActivityDeps = {
    config,
    db,
    store,
    embedder,
    llm,
    logger,
    sendWebhook: config.OUTBOUND_WEBHOOK_URL ? (event) => sendOutboundWebhook(config, event) : undefined,
    ingestDocument: (doc) => ingestDocument({ db, store, embedder }, doc),
  };
  return {
    deps,
    close: async () => {
      await store.close();
      await db.destroy();
    },
  };
}

export interface TicketWorkerOptions {
  config: Config;
  logger?: Logger;
  /** Override parts of the dependencies (tests swap the LLM provider or the vector store). */
  overrides?: Partial<ActivityDeps>;
  connection?: NativeConnection;
}

/**
 * A worker polls the task queue for workflow and activity tasks. Any number of them, on any number of
 * machines, can share one task queue: that is how ticketflow scales out.
 */
export async function createTicketWorker(options: TicketWorkerOptions) {
  const { config } = options;
  const logger = options.logger ?? createLogger(config.LOG_LEVEL, 'worker');
  installTemporalRuntime(config.LOG_LEVEL);
  // Temporal first: a wrong address, certificate or key is reported before the model and pools load.
  const connection = options.connection ?? (await connectNativeTemporal(config));
  const built = await buildActivityDeps(config, logger).catch(async (error: unknown) => {
    if (!options.connection) await connection.close();
    throw error;
  });
  const deps = { ...built.deps, ...options.overrides };
  const dataConverter = createDataConverter(config);
  const worker = await Worker.create({
    connection,
    namespace: config.TEMPORAL_NAMESPACE,
    taskQueue: config.TEMPORAL_TASK_QUEUE,
    workflowBundle: await workflowBundle(dataConverter.failureConverterPath, config.WORKFLOW_BUNDLE_DIR),
    activities: createActivities(deps),
    dataConverter,
    // A ticket's steps embed its text more than once (critical-meaning check, retrieval, the offline provider):
    // scoped to the workflow, the embedder computes each input once per ticket.
    interceptors: {
      activity: [
        (ctx) => ({
          inbound: {
            execute: (input, next) =>
              inEmbeddingScope(ctx.info.workflowExecution?.workflowId ?? ctx.info.activityId, () =>
                next(input),
              ),
          },
        }),
      ],
    },
    maxConcurrentActivityTaskExecutions: config.WORKER_MAX_CONCURRENT_ACTIVITIES,
    // On SIGTERM the worker stops polling and lets activities in flight finish for this long; only then are they
    // cancelled (and retried by another worker). The force time bounds the whole shutdown so the process exits.
    shutdownGraceTime: config.WORKER_SHUTDOWN_GRACE_MS,
    shutdownForceTime: config.WORKER_SHUTDOWN_GRACE_MS + SHUTDOWN_FORCE_MARGIN_MS,
  });
  return {
    worker,
    connection,
    deps,
    async close() {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await built.close();
      if (!options.connection) await connection.close();
    },
  };
}

/** After the grace time, how long cancelled activities get to wind down before the SDK gives up on them. */
const SHUTDOWN_FORCE_MARGIN_MS = 5_000;

/** The worker's connection to Temporal, with the TLS and credentials from config. */
export async function connectNativeTemporal(config: Config): Promise<NativeConnection> {
  const { address, tls, apiKey } = temporalConnectionSettings(config);
  try {
    return await NativeConnection.connect({
      address,
      ...(tls ? { tls } : {}),
      ...(apiKey ? { apiKey } : {}),
    });
  } catch (error) {
    throw await explainTemporalConnectFailure(config, error);
  }
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
  const logger = createLogger(config.LOG_LEVEL, 'worker');
  const { worker, connection, close } = await createTicketWorker({ config, logger });
  const health =
    config.WORKER_HEALTH_PORT === undefined
      ? undefined
      : await startWorkerHealthServer({ config, worker, connection, logger });
  logger.info(
    {
      taskQueue: config.TEMPORAL_TASK_QUEUE,
      temporal: describeTemporalConnection(config),
      vectorStore: config.VECTOR_STORE,
      vectorDb:
        config.VECTOR_STORE === 'pgvector'
          ? redactUrl(vectorDatabase(config).connectionString)
          : config.QDRANT_URL,
      collection: config.KB_COLLECTION,
    },
    'ticketflow worker started',
  );
  // Worker.run() handles SIGINT/SIGTERM itself (the Runtime's shutdown signals): it stops polling at once and
  // returns once in-flight activities have finished or the grace time is over.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      const { numInFlightActivities } = worker.getStatus();
      logger.info(
        { signal, activitiesInFlight: numInFlightActivities, graceMs: config.WORKER_SHUTDOWN_GRACE_MS },
        'shutting down: no new tasks; letting activities in flight finish',
      );
    });
  }
  try {
    await worker.run();
    logger.info('worker drained; exiting');
  } finally {
    await health?.close();
    await close();
  }
  // Nothing left to wait for; a stray handle (model threads, sockets) must not keep a drained worker alive.
  process.exit(0);
}

function redactUrl(url: string): string {
  return url.replace(/\/\/([^:@/]+):[^@/]+@/, '//$1:***@');
}

if (require.main === module) {
  main().catch((err) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
