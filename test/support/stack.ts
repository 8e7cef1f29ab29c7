import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { Client, Connection, WorkflowHandle } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { createDatabase, dropDatabase } from './databases';
import { startFakeAnthropic, type FakeAnthropic } from './fake-anthropic';
import { waitUntil } from './processes';
import { ingestPaths } from '../../src/kb/ingest';
import { loadConfig, ticketPolicy, type Config } from '../../src/config';
import { createDb, migrateToLatest, type Db } from '../../src/db/database';
import { startTicket } from '../../src/temporal/client';
import type { TicketInput } from '../../src/domain/ticket';
import { createTicketWorker, installTemporalRuntime } from '../../workers/main';
import { createDataConverter } from '../../src/security/codec';
import type { ActivityDeps } from '../../activities';
import type { TicketPolicy } from '../../workflows/definitions';

/**
 * The real stack for tests: a fresh Postgres database per test file, a unique vector collection, a worker on
 * a unique task queue against the real Temporal dev server that scripts/test.mjs started.
 */

export function uniqueSuffix(): string {
  return randomBytes(4).toString('hex');
}

/** A brand-new database on the server DATABASE_URL points at, migrated; `drop` removes it. */
export async function createTestDatabase(
  baseUrl: string,
): Promise<{ url: string; db: Db; drop: () => Promise<void> }> {
  const name = `tf_test_${uniqueSuffix()}`;
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

export interface TestStack {
  config: Config;
  db: Db;
  client: Client;
  deps: ActivityDeps;
  /** Start a ticket like the API does (idempotent by external id). */
  submit(
    ticket: Partial<TicketInput> & { body: string },
    policy?: Partial<TicketPolicy>,
  ): Promise<WorkflowHandle>;
  close(): Promise<void>;
}

export interface StackOptions {
  env?: Record<string, string | undefined>;
  overrides?: Partial<ActivityDeps>;
  /** Shorter retries so failure paths finish in seconds, not minutes. */
  fastRetries?: boolean;
}

export async function startTestStack(options: StackOptions = {}): Promise<TestStack> {
  const suffix = uniqueSuffix();
  const base = loadConfig({ ...process.env, ...options.env });
  const database = await createTestDatabase(base.DATABASE_URL);
  const config = loadConfig({
    ...process.env,
    LLM_RETRY_INITIAL_INTERVAL_MS: options.fastRetries === false ? undefined : '200',
    LLM_RETRY_MAX_INTERVAL_MS: options.fastRetries === false ? undefined : '1000',
    LLM_RETRY_MAX_ATTEMPTS: options.fastRetries === false ? undefined : '3',
    ...options.env,
    DATABASE_URL: database.url,
    TEMPORAL_TASK_QUEUE: `test-${suffix}`,
    KB_COLLECTION: options.env?.KB_COLLECTION ?? `kb_test_${suffix}`,
  });

  installTemporalRuntime(config.LOG_LEVEL);
  const nativeConnection = await NativeConnection.connect({ address: config.TEMPORAL_ADDRESS });
  const {
    worker,
    deps,
    close: closeWorker,
  } = await createTicketWorker({
    config,
    overrides: options.overrides,
    connection: nativeConnection,
  });
  const running = worker.run();
  const connection = await Connection.connect({ address: config.TEMPORAL_ADDRESS });
  const client = new Client({
    connection,
    namespace: config.TEMPORAL_NAMESPACE,
    dataConverter: createDataConverter(config),
  });

  return {
    config,
    db: database.db,
    client,
    deps,
    async submit(ticket, policy) {
      const input: TicketInput = {
        externalId: ticket.externalId ?? `t-${uniqueSuffix()}`,
        subject: ticket.subject ?? '',
        body: ticket.body,
        customer: ticket.customer ?? { email: 'customer@example.com', name: 'Casey Customer' },
        channel: ticket.channel ?? 'api',
      };
      const { workflowId } = await startTicket(client, config, input, { ...ticketPolicy(config), ...policy });
      return client.workflow.getHandle(workflowId);
    },
    async close() {
      worker.shutdown();
      await running.catch(() => undefined);
      await closeWorker();
      await nativeConnection.close();
      await connection.close();
      await database.drop();
    },
  };
}

/** Poll until `check` returns a value (visibility and outbox writes are asynchronous to the caller). */
export function eventually<T>(
  check: () => Promise<T | undefined | false>,
  timeoutMs = 30_000,
  intervalMs = 250,
): Promise<T> {
  return waitUntil('condition', check, timeoutMs, intervalMs);
}

/**
 * A test stack on the Anthropic provider against the wire-level stand-in, with the fixture KB ingested: what the
 * Claude-path workflow suites share. `env` adds or overrides settings (a budget, speculative generation, …).
 */
export async function startClaudeTestStack(
  env: Record<string, string> = {},
): Promise<{ fake: FakeAnthropic; stack: TestStack }> {
  const fake = await startFakeAnthropic();
  const stack = await startTestStack({
    env: {
      LLM_PROVIDER: 'anthropic',
      ANTHROPIC_API_KEY: 'sk-ant-test-key',
      ANTHROPIC_BASE_URL: fake.url,
      LLM_TIMEOUT_MS: '2000',
      ...env,
    },
  });
  await ingestPaths({ db: stack.db, store: stack.deps.store, embedder: stack.deps.embedder }, [
    path.join(__dirname, '..', 'fixtures', 'kb'),
  ]);
  return { fake, stack };
}
