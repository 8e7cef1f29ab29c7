import type { Client } from '@temporalio/client';
import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import { buildServer } from '../../src/server';
import { httpRequest } from '../api/helpers';
import { checkBookkeeping, reasonCounts, waitForAllFinished } from '../support/bookkeeping';
import {
  createDedicatedTemporal,
  spawnWorker,
  waitUntil,
  type DedicatedTemporal,
} from '../support/processes';
import { createTestDatabase, uniqueSuffix } from '../support/stack';
import { answerableTicket, configFrom, logOutcome, startFaultRig, type FaultRig } from './harness';

/**
 * Issue 14, row 2: the Temporal server is SIGKILLed while clients submit through the API. Submissions must get an
 * answer, 503 problem+json with Retry-After within the API's own deadline (API_TEMPORAL_TIMEOUT_MS), not a hang
 * and a reset connection; /readyz must name Temporal. After Temporal is back on its SQLite file, the clients'
 * retries are accepted and every ticket is answered exactly once.
 */

const BEFORE = 4;
const DURING = 5;
const BOOTSTRAP_KEY = 'tf_fault_api_temporal_down_key_0123456';

let temporal: DedicatedTemporal | undefined;
let rig: FaultRig | undefined;
let client: Client | undefined;
let database: Awaited<ReturnType<typeof createTestDatabase>> | undefined;
let env: Record<string, string>;
let app: FastifyInstance | undefined;

beforeAll(async () => {
  temporal = await createDedicatedTemporal();
  database = await createTestDatabase(configFrom({}).DATABASE_URL);
  rig = await startFaultRig({
    name: 'apitemporal',
    database,
    latencies: { classifyLatencyMs: 200, answerLatencyMs: 400 },
    env: { TEMPORAL_ADDRESS: temporal.address },
  });
  ({ client, env } = rig);
}, 150_000);

afterAll(async () => {
  await app?.close();
  await rig?.close();
  await database?.drop();
  await temporal?.destroy();
}, 60_000);

test('Temporal SIGKILLed: POST /v1/tickets answers 503 + Retry-After, /readyz names it; after restart nothing is lost or doubled', async () => {
  const config = configFrom({ ...env, ADMIN_API_KEY: BOOTSTRAP_KEY });
  app = await buildServer(
    { config, db: database!.db, temporal: client!, logger: pino({ level: 'silent' }) },
    { defaultMetrics: false, docsUi: false },
  );
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  const submit = (ticket: ReturnType<typeof answerableTicket>) =>
    httpRequest(url, 'POST', '/v1/tickets', { key: BOOTSTRAP_KEY, json: ticket });

  let worker = await spawnWorker(env, 'worker');
  const tag = uniqueSuffix();
  const tickets = Array.from({ length: BEFORE + DURING }, (_, i) => answerableTicket(i, tag));
  for (const ticket of tickets.slice(0, BEFORE)) expect((await submit(ticket)).status).toBe(202);

  await temporal!.kill();
  expect(temporal!.running()).toBe(false);

  // Every submission gets an answer (a reset connection would reject here): 503 problem+json with Retry-After.
  const during = await Promise.all(
    tickets.slice(BEFORE).map(async (ticket) => {
      const started = Date.now();
      const response = await submit(ticket);
      return { response, ms: Date.now() - started };
    }),
  );
  for (const { response } of during) {
    expect({
      status: response.status,
      type: response.headers.get('content-type'),
      retryAfter: Number(response.headers.get('retry-after')),
    }).toEqual({
      status: 503,
      type: expect.stringMatching(/^application\/problem\+json/),
      retryAfter: expect.any(Number),
    });
    expect(Number(response.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(response.body.detail).toMatch(/Temporal/);
  }
  // Known down: the next one fails fast too (measured, not asserted).
  const again = await submit(tickets[BEFORE]!);
  expect(again.status).toBe(503);
  const ready = await httpRequest(url, 'GET', '/readyz');
  expect(ready.status).toBe(503);
  expect(ready.body.failed).toContain('temporal');
  expect(ready.body.failed).not.toContain('postgres');

  await temporal!.start();
  const crash = worker.running ? undefined : worker.tail(25);
  if (crash) worker = await spawnWorker(env, 'worker-restarted');

  // Clients retry what got 503 (after Retry-After); each is accepted once Temporal answers.
  for (const ticket of tickets.slice(BEFORE)) {
    const accepted = await waitUntil(
      `retry of ${ticket.externalId} accepted`,
      async () => {
        const response = await submit(ticket);
        return response.status === 202 || response.status === 200 ? response : undefined;
      },
      60_000,
      1000,
    );
    expect(accepted.body).toMatchObject({ ticketId: ticket.externalId, created: true });
  }
  // And a repeat of one accepted before the kill finds the same run.
  const repeat = await submit(tickets[0]!);
  expect(repeat.body).toMatchObject({ workflowId: `ticket-${tickets[0]!.externalId}`, created: false });

  const workflowIds = tickets.map((t) => `ticket-${t.externalId}`);
  rig!.started.push(...workflowIds);
  const finished = await waitForAllFinished(client!, workflowIds, 150_000);
  const report = await checkBookkeeping(database!.db, finished);
  expect(reasonCounts(report)).toEqual({});
  expect(report.answered).toHaveLength(tickets.length);
  logOutcome('api-temporal-down', tickets.length, report, {
    msTo503: during.map((d) => d.ms),
    workerCrashed: Boolean(crash),
  });
  await worker.stop();
}, 240_000);
