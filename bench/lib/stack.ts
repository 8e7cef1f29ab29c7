import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, type Worker } from '@temporalio/worker';
import { sql } from 'kysely';
import pg from 'pg';
import { z } from 'zod';
import type { ActivityDeps } from '../../activities';
import { loadConfig, type Config } from '../../src/config';
import { createDb, migrateToLatest, type Db } from '../../src/db/database';
import type { TicketInput } from '../../src/domain/ticket';
import { ingestPaths, type IngestProgress } from '../../src/kb/ingest';
import { createDataConverter } from '../../src/security/codec';
import { startTicket } from '../../src/temporal/client';
import { buildActivityDeps, createTicketWorker, installTemporalRuntime } from '../../workers/main';
import { createLogger } from '../../src/logger';
import { createDatabase, dropDatabase } from '../../test/support/databases';
import { REPO_ROOT } from './datasets';
import { startPrivateVectorDb, type PrivateVectorDb } from './vector-db';

/**
 * The real stack for one benchmark or evaluation run: a fresh Postgres database, a unique KB collection and a
 * worker on a unique task queue against the Temporal server in TEMPORAL_ADDRESS. Everything it creates is
 * removed by `close()` (escalated workflows still waiting for a human are terminated).
 *
 * Outcomes are observed through Postgres LISTEN/NOTIFY: a trigger on the interaction log (written by the
 * workflow's `recordOutcome` activity, for answered and escalated tickets alike) notifies the harness, so the
 * outcome time is exact without polling Temporal or the database.
 */

export function uniqueSuffix(): string {
  return randomBytes(4).toString('hex');
}

export async function createRunDatabase(
  baseUrl: string,
  prefix: string,
): Promise<{ url: string; db: Db; drop: () => Promise<void> }> {
  const name = `${prefix}_${uniqueSuffix()}`;
  const url = await createDatabase(baseUrl, name);
  const db = createDb(url, 5);
  await migrateToLatest(db);
  return {
    url,
    db,
    drop: async () => {
      await db.destroy();
      await dropDatabase(baseUrl, name);
    },
  };
}

/** The private PGlite server as the run's only database (it is stopped, not dropped, afterwards). */
async function embeddedRunDatabase(url: string): Promise<{ url: string; db: Db; drop: () => Promise<void> }> {
  const db = createDb(url, 5);
  await migrateToLatest(db);
  return { url, db, drop: () => db.destroy() };
}

/** `workers/main.ts` as its own process, as deployed; resolves once it has started polling. */
async function startWorkerProcess(env: NodeJS.ProcessEnv, index: number): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, 'workers', 'main.ts')], {
    cwd: REPO_ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`worker ${index} did not start:\n${output.slice(-2000)}`)),
      120_000,
    );
    const onData = (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-20_000);
      if (output.includes('ticketflow worker started')) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`worker ${index} exited with ${code}:\n${output.slice(-2000)}`));
    });
  });
  // Keep draining its output so a chatty worker never blocks on a full pipe.
  child.stdout!.resume();
  child.stderr!.resume();
  return child;
}

async function stopWorkerProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  await exited;
  clearTimeout(timer);
}

export const OUTCOME_CHANNEL = 'ticketflow_bench_outcome';

/** Instrumentation for this run's own database only: one NOTIFY per interaction-log write. */
export async function installOutcomeTrigger(db: Db): Promise<void> {
  await sql`
    CREATE OR REPLACE FUNCTION bench_notify_outcome() RETURNS trigger AS $$
    BEGIN
      PERFORM pg_notify(${sql.lit(OUTCOME_CHANNEL)}, json_build_object(
        'workflowId', NEW.workflow_id, 'escalated', NEW.escalated, 'reason', NEW.reason,
        'replySource', NEW.response_source)::text);
      RETURN NEW;
    END $$ LANGUAGE plpgsql`.execute(db);
  await sql`
    CREATE TRIGGER bench_outcome AFTER INSERT OR UPDATE ON interactions
    FOR EACH ROW EXECUTE FUNCTION bench_notify_outcome()`.execute(db);
}

const outcomeEventSchema = z.object({
  workflowId: z.string(),
  escalated: z.boolean(),
  reason: z.string().nullable(),
  replySource: z.string().nullable(),
});

export interface OutcomeEvent extends z.infer<typeof outcomeEventSchema> {
  /** performance.now() when the notification reached the harness. */
  observedAt: number;
  /** Date.now() at the same moment: compared with server event times (wall clock) in the latency budget. */
  observedWallMs: number;
}

/** Waits for the first interaction-log write of given workflows. Register with `expect` before starting them. */
export class OutcomeListener {
  private readonly waiting = new Map<
    string,
    { resolve: (event: OutcomeEvent) => void; timer: NodeJS.Timeout }
  >();

  private constructor(private readonly client: pg.Client) {
    client.on('notification', (message) => {
      if (message.channel !== OUTCOME_CHANNEL || !message.payload) return;
      const observedAt = performance.now();
      const observedWallMs = Date.now();
      const parsed = outcomeEventSchema.safeParse(JSON.parse(message.payload));
      if (!parsed.success) return;
      const waiter = this.waiting.get(parsed.data.workflowId);
      if (!waiter) return;
      this.waiting.delete(parsed.data.workflowId);
      clearTimeout(waiter.timer);
      waiter.resolve({ ...parsed.data, observedAt, observedWallMs });
    });
  }

  static async start(url: string): Promise<OutcomeListener> {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    await client.query(`LISTEN ${OUTCOME_CHANNEL}`);
    return new OutcomeListener(client);
  }

  expect(workflowId: string, timeoutMs = 180_000): Promise<OutcomeEvent> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(workflowId);
        reject(new Error(`No outcome for ${workflowId} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiting.set(workflowId, { resolve, timer });
    });
  }

  async close(): Promise<void> {
    for (const { timer } of this.waiting.values()) clearTimeout(timer);
    this.waiting.clear();
    await this.client.end();
  }
}

export interface SubmittedTicket {
  workflowId: string;
  /** performance.now() just before the workflow was started. */
  submittedAt: number;
  /**
   * Date.now() at the same moment. The budget compares wall-clock times with the server's events: in some runs
   * performance.timeOrigin + performance.now() had drifted from the wall clock by more than a second.
   */
  submittedWallMs: number;
  outcome: OutcomeEvent;
  endToEndMs: number;
}

export interface RunStack {
  config: Config;
  db: Db;
  client: Client;
  deps: ActivityDeps;
  /** Start a ticket through the real client path and wait until its outcome is recorded. */
  submitAndWait(ticket: TicketInput): Promise<SubmittedTicket>;
  ingest(
    paths: string[],
    onProgress?: (progress: IngestProgress) => void,
  ): Promise<{ documents: number; chunks: number }>;
  /** Pids of the worker processes (empty when the worker runs in this process). */
  workerPids(): number[];
  close(): Promise<void>;
}

export interface RunStackOptions {
  /** Database name prefix, task-queue and collection label: `bench` or `eval`. */
  label: string;
  env?: Record<string, string | undefined>;
  overrides?: Partial<ActivityDeps>;
  /** `private` (default): a PGlite + pgvector server started for this run; `env`: the configured vector store. */
  vectorDb?: 'private' | 'env';
  /**
   * 0 (default): the worker runs in this process. n: that many worker processes (`workers/main.ts`, as deployed)
   * poll the run's task queue instead; this process keeps only what the harness and the baseline need.
   */
  workerProcesses?: number;
  /**
   * `postgres` (default): a fresh database on DATABASE_URL for the log, vectors as `vectorDb` says.
   * `embedded`: what `npm start` runs, one private PGlite + pgvector server for the log and the vectors alike.
   */
  database?: 'postgres' | 'embedded';
}

const openStacks = new Set<RunStack>();

/**
 * Ctrl-C or SIGTERM during a run: tear the open stacks down (databases, PGlite server, waiting workflows)
 * before exiting, instead of leaving them behind.
 */
export function cleanUpOnSignals(): void {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      process.stderr.write(`\n${signal}: cleaning up…\n`);
      void Promise.allSettled([...openStacks].map((stack) => stack.close())).then(() => process.exit(130));
    });
  }
}

export async function startRunStack(options: RunStackOptions): Promise<RunStack> {
  // Undo what was set up so far if a later step fails, so a failed start leaves no process or database behind.
  const undo: Array<() => Promise<unknown>> = [];
  try {
    const stack = await assembleRunStack(options, undo);
    openStacks.add(stack);
    return stack;
  } catch (error) {
    for (const step of undo.reverse()) await step().catch(() => undefined);
    throw error;
  }
}

async function assembleRunStack(
  options: RunStackOptions,
  undo: Array<() => Promise<unknown>>,
): Promise<RunStack> {
  const suffix = uniqueSuffix();
  const base = loadConfig({ ...process.env, ...options.env });
  const embedded = options.database === 'embedded';
  const vectorDb: PrivateVectorDb | undefined =
    embedded || (options.vectorDb ?? 'private') === 'private' ? await startPrivateVectorDb() : undefined;
  if (vectorDb) undo.push(() => vectorDb.stop());
  const database = embedded
    ? await embeddedRunDatabase(vectorDb!.url)
    : await createRunDatabase(base.DATABASE_URL, `tf_${options.label}`);
  undo.push(() => database.drop());
  await installOutcomeTrigger(database.db);
  const config = loadConfig({
    ...process.env,
    ...options.env,
    ...(vectorDb ? { VECTOR_STORE: 'pgvector', VECTOR_DATABASE_URL: vectorDb.url } : {}),
    DATABASE_URL: database.url,
    TEMPORAL_TASK_QUEUE: `${options.label}-${suffix}`,
    KB_COLLECTION: `${options.label}_${suffix}`,
  });

  installTemporalRuntime(config.LOG_LEVEL);
  const nativeConnection = await NativeConnection.connect({ address: config.TEMPORAL_ADDRESS });
  undo.push(() => nativeConnection.close());
  const processes: ChildProcess[] = [];
  let deps: ActivityDeps;
  let closeWorker: () => Promise<void>;
  let worker: Worker | undefined;
  let running: Promise<void> = Promise.resolve();
  if (options.workerProcesses) {
    const built = await buildActivityDeps(config, createLogger(config.LOG_LEVEL, 'bench'));
    deps = { ...built.deps, ...options.overrides };
    closeWorker = built.close;
    undo.push(() => closeWorker());
    const env = {
      ...process.env,
      ...Object.fromEntries(
        Object.entries({ ...options.env }).filter((e): e is [string, string] => e[1] !== undefined),
      ),
      DATABASE_URL: config.DATABASE_URL,
      VECTOR_STORE: config.VECTOR_STORE,
      ...(config.VECTOR_DATABASE_URL ? { VECTOR_DATABASE_URL: config.VECTOR_DATABASE_URL } : {}),
      TEMPORAL_ADDRESS: config.TEMPORAL_ADDRESS,
      TEMPORAL_TASK_QUEUE: config.TEMPORAL_TASK_QUEUE,
      KB_COLLECTION: config.KB_COLLECTION,
      LOG_LEVEL: 'info',
    };
    for (let i = 0; i < options.workerProcesses; i++) processes.push(await startWorkerProcess(env, i));
    undo.push(() => Promise.all(processes.map(stopWorkerProcess)));
  } else {
    const created = await createTicketWorker({
      config,
      overrides: options.overrides,
      connection: nativeConnection,
    });
    deps = created.deps;
    worker = created.worker;
    closeWorker = created.close;
    undo.push(() => closeWorker());
    const inProcess = created.worker;
    running = inProcess.run();
    undo.push(async () => {
      inProcess.shutdown();
      await running.catch(() => undefined);
    });
  }
  const connection = await Connection.connect({ address: config.TEMPORAL_ADDRESS });
  undo.push(() => connection.close());
  const client = new Client({
    connection,
    namespace: config.TEMPORAL_NAMESPACE,
    dataConverter: createDataConverter(config),
  });
  const listener = await OutcomeListener.start(database.url);
  const started = new Set<string>();
  let closing: Promise<void> | undefined;

  const stack: RunStack = {
    config,
    db: database.db,
    client,
    deps,
    async submitAndWait(ticket) {
      const workflowId = `ticket-${ticket.externalId}`;
      const outcome = listener.expect(workflowId);
      const submittedAt = performance.now();
      const submittedWallMs = Date.now();
      const result = await startTicket(client, config, ticket, { receivedAt: new Date() });
      if (!result.created)
        throw new Error(
          `A workflow for ${ticket.externalId} already exists; external ids must be unique per run`,
        );
      started.add(result.workflowId);
      const event = await outcome;
      return {
        workflowId: result.workflowId,
        submittedAt,
        submittedWallMs,
        outcome: event,
        endToEndMs: event.observedAt - submittedAt,
      };
    },
    workerPids: () => processes.flatMap((p) => (p.pid ? [p.pid] : [])),
    async ingest(paths, onProgress) {
      const summary = await ingestPaths(
        { db: database.db, store: deps.store, embedder: deps.embedder },
        paths,
        onProgress,
      );
      return { documents: summary.documents, chunks: summary.chunks };
    },
    close() {
      closing ??= (async () => {
        openStacks.delete(stack);
        await teardown();
      })();
      return closing;
    },
  };
  return stack;

  async function teardown() {
    // Escalated tickets wait for a human (for days, by their SLA); end them so the dev server stays clean.
    await Promise.all(
      [...started].map((id) =>
        client.workflow
          .getHandle(id)
          .terminate('benchmark run finished')
          .catch(() => undefined),
      ),
    );
    await listener.close().catch(() => undefined);
    // On SIGINT/SIGTERM the Temporal runtime may already be shutting the worker down.
    if (worker?.getState() === 'RUNNING') worker.shutdown();
    await running.catch(() => undefined);
    await Promise.all(processes.map(stopWorkerProcess));
    await deps.store.reset().catch(() => undefined); // drops this run's collection tables
    await closeWorker();
    await nativeConnection.close();
    await connection.close();
    await database.drop();
    await vectorDb?.stop();
  }
}
