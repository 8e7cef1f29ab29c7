import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { loadConfig, type Config } from '../../src/config';
import type { Db } from '../../src/db/database';
import type { TicketInput } from '../../src/domain/ticket';
import { getEmbedder } from '../../src/kb/embedder';
import { ingestPaths } from '../../src/kb/ingest';
import { PgvectorStore } from '../../src/kb/pgvector-store';
import { createDataConverter } from '../../src/security/codec';
import { startTicket } from '../../src/temporal/client';
import { reasonCounts, type BookkeepingReport } from '../support/bookkeeping';
import { uniqueSuffix } from '../support/stack';
import { startFakeAnthropic, type FakeAnthropic } from '../support/fake-anthropic';
import { createPgliteProcess, sleep, stopAllProcesses, type PgliteProcess } from '../support/processes';
import { DEFAULT_EMBEDDING_MODEL } from '../../src/kb/models';

/**
 * Shared pieces of the fault-injection suite: a batch of answerable tickets, "finished" detection from
 * Temporal alone (it must work while the worker is down), and the bookkeeping invariants every fault must
 * leave intact.
 */

export const FIXTURES_KB = path.join(__dirname, '..', 'fixtures', 'kb');
export const MODEL_ID = DEFAULT_EMBEDDING_MODEL;

/** Questions the fixture KB answers (refunds, invoices, password reset, API limits), with no critical cue. */
const ANSWERABLE = [
  'I bought the annual plan last week by mistake. How do I request a refund?',
  'Where can I download the invoice for my last payment? I need the PDF for our accounting.',
  'I forgot my password and cannot log in. How do I reset my password?',
  'Our integration gets HTTP 429 from the API. What are the API rate limits per minute on the Pro plan?',
  'How long does a refund take to reach my card after I request it?',
  'Can I add our VAT number to the invoice? Where do I edit the billing profile?',
];

export function answerableTicket(index: number, runTag: string): TicketInput {
  return {
    externalId: `fault-${runTag}-${index}`,
    subject: '',
    body: `${ANSWERABLE[index % ANSWERABLE.length]} (ref ${runTag}-${index})`,
    customer: { email: 'customer@example.com' },
    channel: 'api',
  };
}

/** The KB fixtures, embedded for real, into `collection` on the pgvector database at `vectorUrl`. */
export async function ingestFixtureKb(
  db: Db,
  vectorUrl: string,
  collection: string,
  modelsDir = process.env.MODELS_DIR ?? 'models',
) {
  const embedder = getEmbedder(MODEL_ID, modelsDir);
  const store = new PgvectorStore({
    url: vectorUrl,
    collection,
    model: { modelId: embedder.modelId, dimension: embedder.dimension },
  });
  try {
    await store.open();
    const summary = await ingestPaths({ db, store, embedder }, [FIXTURES_KB]);
    if (summary.documents === 0) throw new Error('no KB fixture was ingested');
  } finally {
    await store.close();
  }
}

/** Settings shared by the test's client (which fixes the per-ticket policy) and the spawned worker. */
export function faultEnv(overrides: Record<string, string>): Record<string, string> {
  return {
    LOG_LEVEL: 'info',
    MODELS_DIR: process.env.MODELS_DIR ?? 'models',
    VECTOR_STORE: 'pgvector',
    PII_REDACT_BEFORE_LLM: 'false',
    // These suites prove that faults never lose or double a ticket, so every ticket must reach an answer: a gentler
    // answerability gate than the default keeps the borderline refund/invoice questions of the fixture KB from
    // being handed off (the gate itself is tested in test/workflow and test/kb).
    ANSWER_MIN_SCORE: '0.45',
    ANSWER_MIN_MARGIN: '0.05',
    ...overrides,
  };
}

export function configFrom(env: Record<string, string>): Config {
  return loadConfig({ ...process.env, ...env });
}

export async function connectClient(config: Config): Promise<Client> {
  const connection = await Connection.connect({ address: config.TEMPORAL_ADDRESS, connectTimeout: 10_000 });
  return new Client({
    connection,
    namespace: config.TEMPORAL_NAMESPACE,
    dataConverter: createDataConverter(config),
  });
}

export async function submitBatch(client: Client, config: Config, tickets: TicketInput[]): Promise<string[]> {
  const ids: string[] = [];
  for (const ticket of tickets) {
    const { workflowId, created } = await startTicket(client, config, ticket);
    if (!created) throw new Error(`${workflowId} already existed: the batch must be fresh`);
    ids.push(workflowId);
  }
  return ids;
}

export interface FaultRig {
  fake: FakeAnthropic;
  vectorDb: PgliteProcess;
  /** Worker environment: its own task queue and KB collection, the Anthropic provider pointed at `fake`. */
  env: Record<string, string>;
  client: Client;
  /** Workflows a test started; `close` terminates those still running (escalations wait for a human). */
  started: string[];
  close(): Promise<void>;
}

/**
 * What every fault file stands on: the Anthropic stand-in at fixed latencies, a private PGlite + pgvector
 * server holding the fixture KB, worker environment for a unique task queue, and a client. The ticketflow
 * database is the caller's (some faults stop its server), as is dropping it.
 */
export async function startFaultRig(options: {
  /** Short name for the task queue and collection: `fault-<name>-<tag>`. */
  name: string;
  database: { url: string; db: Db };
  latencies: { classifyLatencyMs: number; answerLatencyMs: number };
  env?: Record<string, string>;
}): Promise<FaultRig> {
  const fake = await startFakeAnthropic(options.latencies);
  const vectorDb = await createPgliteProcess();
  const tag = uniqueSuffix();
  const env = faultEnv({
    DATABASE_URL: options.database.url,
    VECTOR_DATABASE_URL: vectorDb.url,
    KB_COLLECTION: `kb_fault_${options.name}_${tag}`,
    TEMPORAL_TASK_QUEUE: `fault-${options.name}-${tag}`,
    LLM_PROVIDER: 'anthropic',
    ANTHROPIC_API_KEY: 'sk-ant-fault-test',
    ANTHROPIC_BASE_URL: fake.url,
    LLM_TIMEOUT_MS: '2000',
    ...options.env,
  });
  await ingestFixtureKb(options.database.db, vectorDb.url, env.KB_COLLECTION!);
  const client = await connectClient(configFrom(env));
  const started: string[] = [];
  return {
    fake,
    vectorDb,
    env,
    client,
    started,
    async close() {
      await stopAllProcesses();
      await terminateRunning(client, started);
      await client.connection.close().catch(() => undefined);
      await fake.close();
      await vectorDb.destroy();
    },
  };
}

/** End a batch's escalated workflows so they do not linger on a shared Temporal server. */
export async function terminateRunning(client: Client, workflowIds: string[]): Promise<void> {
  await Promise.all(
    workflowIds.map((id) =>
      client.workflow
        .getHandle(id)
        .terminate('fault test cleanup')
        .catch(() => undefined),
    ),
  );
}

/** One line per fault run in the CI log: what went in, how it came out. */
export function logOutcome(
  label: string,
  tickets: number,
  report: BookkeepingReport,
  extra: Record<string, unknown> = {},
): void {
  const line = {
    fault: label,
    tickets,
    answered: report.answered.length,
    escalated: reasonCounts(report),
    ...extra,
  };
  process.stdout.write(`[faults] ${JSON.stringify(line)}\n`);
}

export interface WebhookEventRecord {
  eventId: string;
  type: string;
  workflowId: string;
  body: string;
  turn?: number;
}

/** A ticketing-system stand-in for OUTBOUND_WEBHOOK_URL: records every delivery, answers 200. */
export async function startWebhookReceiver(): Promise<{
  url: string;
  deliveries: WebhookEventRecord[];
  close: () => Promise<void>;
}> {
  const deliveries: WebhookEventRecord[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      try {
        const event = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
          id: string;
          type: string;
          workflowId: string;
          body?: string;
          turn?: number;
        };
        deliveries.push({
          eventId: event.id,
          type: event.type,
          workflowId: event.workflowId,
          body: event.body ?? '',
          ...(event.turn === undefined ? {} : { turn: event.turn }),
        });
      } catch {
        // Not JSON: not ours; still recorded as nothing.
      }
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hooks/ticketflow`,
    deliveries,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export function runTag(): string {
  return uniqueSuffix();
}

export { sleep };
