import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { Client, Connection, WorkflowNotFoundError } from '@temporalio/client';
import { sql } from 'kysely';
import { loadConfig, type Config } from '../../src/config';
import type { Db } from '../../src/db/database';
import type { TicketInput } from '../../src/domain/ticket';
import { getEmbedder } from '../../src/kb/embedder';
import { ingestPaths } from '../../src/kb/ingest';
import { PgvectorStore } from '../../src/kb/pgvector-store';
import { createDataConverter } from '../../src/security/codec';
import { startTicket } from '../../src/temporal/client';
import { TicketStage } from '../../src/temporal/search-attributes';
import { uniqueSuffix } from '../support/stack';
import { startFakeAnthropic, type FakeAnthropic } from '../support/fake-anthropic';
import { createPgliteProcess, sleep, stopAllProcesses, type PgliteProcess } from '../support/processes';

/**
 * Shared pieces of the fault-injection suite: a batch of answerable tickets, "finished" detection from
 * Temporal alone (it must work while the worker is down), and the bookkeeping invariants every fault must
 * leave intact.
 */

export const FIXTURES_KB = path.join(__dirname, '..', 'fixtures', 'kb');
export const MODEL_ID = 'sentence-transformers/all-MiniLM-L6-v2';

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

export type Finished = { workflowId: string; state: 'answered' | 'escalated' };

/**
 * Finished = the workflow completed (answered) or is parked waiting for a human (stage `escalated`, which the
 * workflow sets only after the escalation record is written). Read from Temporal's describe, which needs no
 * worker, so it also works while the worker is down.
 */
export async function finishedState(
  client: Client,
  workflowId: string,
): Promise<Finished['state'] | undefined> {
  const description = await client.workflow.getHandle(workflowId).describe();
  const status = description.status.name;
  if (status === 'COMPLETED') return 'answered';
  if (status === 'RUNNING' && description.typedSearchAttributes.get(TicketStage) === 'escalated')
    return 'escalated';
  if (status !== 'RUNNING') throw new WorkflowEndedError(`${workflowId} ended ${status}`);
  return undefined;
}

/** Wait until every ticket is finished; a ticket that fails, times out or is terminated fails the wait at once. */
export async function waitForAllFinished(
  client: Client,
  workflowIds: string[],
  timeoutMs: number,
): Promise<Finished[]> {
  const done = new Map<string, Finished['state']>();
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (done.size < workflowIds.length) {
    for (const workflowId of workflowIds) {
      if (done.has(workflowId)) continue;
      try {
        const state = await finishedState(client, workflowId);
        if (state) done.set(workflowId, state);
      } catch (error) {
        if (error instanceof WorkflowNotFoundError || error instanceof WorkflowEndedError) throw error;
        lastError = error; // Temporal unreachable right now: keep waiting
        break;
      }
    }
    if (done.size === workflowIds.length) break;
    if (Date.now() > deadline) {
      const pending = workflowIds.filter((id) => !done.has(id));
      throw new Error(
        `${pending.length} of ${workflowIds.length} tickets not finished within ${timeoutMs} ms: ${pending.join(', ')}` +
          (lastError ? ` (last error: ${String(lastError)})` : ''),
      );
    }
    await sleep(1000);
  }
  return workflowIds.map((workflowId) => ({ workflowId, state: done.get(workflowId)! }));
}

export class WorkflowEndedError extends Error {}

export interface StuckActivity {
  activity: string;
  attempt: number;
  lastFailure: string;
}

/**
 * An activity of this workflow that has failed at least `minAttempts` times and is still being retried (the
 * bookkeeping activities retry forever): a ticket that will not finish by waiting longer.
 */
export async function stuckActivity(
  client: Client,
  workflowId: string,
  minAttempts: number,
): Promise<StuckActivity | undefined> {
  const description = await client.workflow.getHandle(workflowId).describe();
  const pending = description.raw.pendingActivities ?? [];
  const stuck = pending.find((activity) => (activity.attempt ?? 0) >= minAttempts);
  if (!stuck) return undefined;
  return {
    activity: stuck.activityType?.name ?? '?',
    attempt: stuck.attempt ?? 0,
    lastFailure: stuck.lastFailure?.message ?? '',
  };
}

export interface BookkeepingReport {
  answered: string[];
  escalated: Array<{ workflowId: string; reason: string }>;
}

/**
 * The invariants a fault must not break, checked in Postgres for the given finished tickets:
 * - no duplicate rows in interactions, ticket_steps, outbox (GROUP BY … HAVING count(*) > 1);
 * - every answered ticket: exactly one delivered AI reply in the outbox, an interaction row saying so,
 *   classify/retrieve/generate all recorded ok, no escalation record;
 * - every escalated ticket: one escalation record, an interaction row with the same reason, no reply.
 */
export async function checkBookkeeping(db: Db, finished: Finished[]): Promise<BookkeepingReport> {
  const ids = finished.map((f) => f.workflowId);
  const duplicates = await sql<{ table: string; key: string; n: number }>`
    SELECT 'interactions' AS table, workflow_id AS key, count(*)::int AS n FROM interactions
      WHERE workflow_id = ANY(${ids}) GROUP BY workflow_id HAVING count(*) > 1
    UNION ALL
    SELECT 'ticket_steps', workflow_id || '/' || step, count(*)::int FROM ticket_steps
      WHERE workflow_id = ANY(${ids}) GROUP BY workflow_id, step HAVING count(*) > 1
    UNION ALL
    SELECT 'outbox', workflow_id || '/' || kind, count(*)::int FROM outbox
      WHERE workflow_id = ANY(${ids}) GROUP BY workflow_id, kind HAVING count(*) > 1
    UNION ALL
    SELECT 'escalations', workflow_id, count(*)::int FROM escalations
      WHERE workflow_id = ANY(${ids}) GROUP BY workflow_id HAVING count(*) > 1`.execute(db);
  expect(duplicates.rows).toEqual([]);

  const [outbox, interactions, steps, escalations] = await Promise.all([
    db.selectFrom('outbox').selectAll().where('workflow_id', 'in', ids).execute(),
    db.selectFrom('interactions').selectAll().where('workflow_id', 'in', ids).execute(),
    db
      .selectFrom('ticket_steps')
      .select(['workflow_id', 'step', 'status'])
      .where('workflow_id', 'in', ids)
      .execute(),
    db.selectFrom('escalations').selectAll().where('workflow_id', 'in', ids).execute(),
  ]);
  const report: BookkeepingReport = { answered: [], escalated: [] };
  for (const { workflowId, state } of finished) {
    const replies = outbox.filter((r) => r.workflow_id === workflowId);
    const interaction = interactions.find((r) => r.workflow_id === workflowId);
    const escalation = escalations.find((r) => r.workflow_id === workflowId);
    if (state === 'answered') {
      expect({
        workflowId,
        replies: replies.map((r) => ({ kind: r.kind, source: r.source, delivered: r.delivered_at !== null })),
      }).toEqual({
        workflowId,
        replies: [{ kind: 'reply', source: 'ai', delivered: true }],
      });
      expect({
        workflowId,
        escalated: interaction?.escalated,
        source: interaction?.response_source,
        escalation: escalation?.reason,
      }).toEqual({
        workflowId,
        escalated: false,
        source: 'ai',
        escalation: undefined,
      });
      const okSteps = steps
        .filter((s) => s.workflow_id === workflowId && s.status === 'ok')
        .map((s) => s.step)
        .sort();
      expect({ workflowId, okSteps }).toEqual({ workflowId, okSteps: ['classify', 'generate', 'retrieve'] });
      report.answered.push(workflowId);
    } else {
      expect({ workflowId, replies: replies.length, hasEscalation: escalation !== undefined }).toEqual({
        workflowId,
        replies: 0,
        hasEscalation: true,
      });
      expect({ workflowId, escalated: interaction?.escalated, reason: interaction?.reason }).toEqual({
        workflowId,
        escalated: true,
        reason: escalation!.reason,
      });
      report.escalated.push({ workflowId, reason: escalation!.reason });
    }
  }
  return report;
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

/** Counts per escalation reason, for assertions and the log line. */
export function reasonCounts(report: BookkeepingReport): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const { reason } of report.escalated) counts[reason] = (counts[reason] ?? 0) + 1;
  return counts;
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
        };
        deliveries.push({
          eventId: event.id,
          type: event.type,
          workflowId: event.workflowId,
          body: event.body ?? '',
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
