import { NativeConnection, Runtime, Worker, type LogLevel } from '@temporalio/worker';
import { createActivities, type ActivityDeps } from '../activities';
import { loadConfig, ConfigError, vectorDatabaseUrl, type Config } from '../src/config';
import { createDb, migrateToLatest } from '../src/db/database';
import { getEmbedder } from '../src/kb/embedder';
import { createVectorStore } from '../src/kb/stores';
import { ingestDocument } from '../src/kb/ingest';
import { createLlmProvider } from '../src/llm';
import { createLogger, type Logger } from '../src/logger';
import { createDataConverter } from '../src/security/codec';
import { sendOutboundWebhook } from '../src/integrations/outbound-webhook';
import { createRedactingSdkLogger } from '../src/security/sdk-logger';
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
  const db = createDb(config.DATABASE_URL, config.DATABASE_POOL_MAX);
  await migrateToLatest(db);
  const embedder = getEmbedder(config.EMBEDDING_MODEL, config.MODELS_DIR);
  const store = createVectorStore(config, embedder);
  await store.open();
  const llm = createLlmProvider(config, { embedder });
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
  const built = await buildActivityDeps(config, logger);
  const deps = { ...built.deps, ...options.overrides };
  const connection =
    options.connection ?? (await NativeConnection.connect({ address: config.TEMPORAL_ADDRESS }));
  const dataConverter = createDataConverter(config);
  const worker = await Worker.create({
    connection,
    namespace: config.TEMPORAL_NAMESPACE,
    taskQueue: config.TEMPORAL_TASK_QUEUE,
    workflowBundle: await workflowBundle(dataConverter.failureConverterPath, config.WORKFLOW_BUNDLE_DIR),
    activities: createActivities(deps),
    dataConverter,
    // Embedding and LLM calls are CPU/network bound; a handful at a time keeps a 2-core machine responsive.
    maxConcurrentActivityTaskExecutions: 16,
  });
  return {
    worker,
    deps,
    async close() {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await built.close();
      if (!options.connection) await connection.close();
    },
  };
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
  const logger = createLogger(config.LOG_LEVEL, 'worker');
  const { worker, close } = await createTicketWorker({ config, logger });
  logger.info(
    {
      taskQueue: config.TEMPORAL_TASK_QUEUE,
      temporal: config.TEMPORAL_ADDRESS,
      vectorStore: config.VECTOR_STORE,
      vectorDb: config.VECTOR_STORE === 'pgvector' ? redactUrl(vectorDatabaseUrl(config)) : config.QDRANT_URL,
    },
    'ticketflow worker started',
  );
  // Worker.run() handles SIGINT/SIGTERM itself: it stops polling and lets in-flight activities finish.
  await worker.run();
  await close();
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
