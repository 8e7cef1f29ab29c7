import { finishedState } from '../support/bookkeeping';
import { waitUntil } from '../support/processes';
import { uniqueSuffix } from '../support/stack';
import { buildCorpus, type HostileCase } from './corpus';
import {
  ADMIN_KEY,
  cleanupWorkflows,
  printSummary,
  rawRequest,
  runCases,
  startHostileStack,
  type HostileStack,
  type RunSummary,
} from './runner';

/**
 * Hostile input through the real HTTP API (its own process, raw HTTP so invalid bytes reach it untouched)
 * and the Zendesk webhook (signed and unsigned): oversize and deeply nested bodies, invalid UTF-8, control
 * characters, HTML/script, SQL-looking text, emoji/RTL/zalgo/astral text, empty, missing, extra and wrongly
 * typed fields, wrong content types, duplicate keys, null bytes, bad auth and signatures. Every answer must be
 * a normal 2xx ticket or a precise problem+json 4xx naming the field and rule; the API and the worker must
 * survive. (Tickets started here are ended at once; test/hostile/pipeline.test.ts takes them through the worker.)
 */

let stack: HostileStack | undefined;
let summary: RunSummary | undefined;
let corpus: HostileCase[];

beforeAll(async () => {
  corpus = buildCorpus();
  stack = await startHostileStack({ llm: 'local', label: 'http' });
}, 180_000);

afterAll(async () => {
  await cleanupWorkflows(stack, summary?.accepted ?? []);
  await stack?.close();
}, 60_000);

test('the corpus has at least 500 distinct cases, hand-written and generated', () => {
  expect(corpus.length).toBeGreaterThanOrEqual(500);
  expect(corpus.filter((c) => c.source === 'hand-written').length).toBeGreaterThanOrEqual(100);
  expect(new Set(corpus.map((c) => c.name)).size).toBe(corpus.length);
});

test('every hostile request gets a normal 2xx or a precise 4xx problem, never a 5xx', async () => {
  summary = await runCases(corpus, stack!, uniqueSuffix(), { terminateAccepted: true });
  printSummary('http', summary);
  expect(summary.failures).toEqual([]);
  expect(summary.byStatus['0']).toBeUndefined();
  expect({ apiRunning: stack!.api.running, output: stack!.api.running ? '' : stack!.api.tail() }).toEqual({
    apiRunning: true,
    output: '',
  });
}, 170_000);

test('afterwards the API and the worker still run, and an ordinary ticket is answered', async () => {
  expect({ apiRunning: stack!.api.running, workerRunning: stack!.worker.running }).toEqual({
    apiRunning: true,
    workerRunning: true,
  });
  const response = await rawRequest(stack!.apiPort, {
    method: 'POST',
    path: '/v1/tickets',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN_KEY}` },
    body: Buffer.from(
      JSON.stringify({
        externalId: `after-http-${uniqueSuffix()}`,
        body: 'How do I request a refund for my annual plan?',
      }),
    ),
  });
  expect(response.status).toBe(202);
  const { workflowId } = JSON.parse(response.body.toString('utf8')) as { workflowId: string };
  summary?.accepted.push(workflowId);
  expect(
    await waitUntil('ordinary ticket finished', () => finishedState(stack!.client, workflowId), 90_000, 500),
  ).toBe('answered');
  const replies = await stack!.db
    .selectFrom('outbox')
    .select('source')
    .where('workflow_id', '=', workflowId)
    .execute();
  expect(replies).toEqual([{ source: 'ai' }]);
}, 120_000);
