import {
  checkBookkeeping,
  finishedState,
  stuckActivity,
  type FinishedState,
  type StuckActivity,
} from '../support/bookkeeping';
import { waitUntil } from '../support/processes';
import { uniqueSuffix } from '../support/stack';
import { acceptableFixtures, loadStrings, pipelineCases, type HostileCase } from './corpus';
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
 * Hostile text that the API accepts must also get through the worker: one ticket per nasty string (in body,
 * subject, customer name and id at once) plus every hand-written request that may be accepted, submitted over
 * HTTP, processed by the worker process with the local model. Each accepted ticket must finish (answered, or
 * escalated and waiting for a human) with its bookkeeping intact; the worker must survive and keep answering.
 */

let stack: HostileStack | undefined;
let summary: RunSummary | undefined;
let cases: HostileCase[];

beforeAll(async () => {
  cases = [...pipelineCases(loadStrings()), ...acceptableFixtures()];
  stack = await startHostileStack({ llm: 'local', label: 'pipe' });
}, 180_000);

afterAll(async () => {
  await cleanupWorkflows(stack, summary?.accepted ?? []);
  await stack?.close();
}, 60_000);

test('every accepted hostile ticket gets through the worker; the worker survives and answers an ordinary ticket', async () => {
  summary = await runCases(cases, stack!, uniqueSuffix());
  expect(summary.failures).toEqual([]);
  const { accepted, caseOf } = summary;
  expect(accepted.length).toBeGreaterThan(50);

  // Wait for every accepted ticket; a ticket whose activity keeps failing (retried without limit) will never
  // finish, so report it as soon as it has failed a few times instead of waiting out the clock.
  const finished = new Map<string, FinishedState>();
  const stuck = new Map<string, StuckActivity>();
  await waitUntil(
    'accepted hostile tickets finished or stuck',
    async () => {
      for (const workflowId of accepted) {
        if (finished.has(workflowId) || stuck.has(workflowId)) continue;
        const state = await finishedState(stack!.client, workflowId);
        if (state) finished.set(workflowId, state);
        else {
          const failing = await stuckActivity(stack!.client, workflowId, 4);
          if (failing) stuck.set(workflowId, failing);
        }
      }
      return finished.size + stuck.size === accepted.length;
    },
    150_000,
    1000,
  ).catch((error: unknown) => {
    const pending = accepted.filter((id) => !finished.has(id) && !stuck.has(id)).map((id) => caseOf[id]);
    throw new Error(
      `${pending.length} accepted tickets neither finished nor failing: ${pending.join(' | ')} (${String(error)})`,
    );
  });
  const report = await checkBookkeeping(
    stack!.db,
    [...finished].map(([workflowId, state]) => ({ workflowId, state })),
  );
  expect({
    workerRunning: stack!.worker.running,
    output: stack!.worker.running ? '' : stack!.worker.tail(),
  }).toEqual({
    workerRunning: true,
    output: '',
  });

  const response = await rawRequest(stack!.apiPort, {
    method: 'POST',
    path: '/v1/tickets',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN_KEY}` },
    body: Buffer.from(
      JSON.stringify({
        externalId: `after-pipe-${uniqueSuffix()}`,
        body: 'How do I request a refund for my annual plan?',
      }),
    ),
  });
  expect(response.status).toBe(202);
  const { workflowId } = JSON.parse(response.body.toString('utf8')) as { workflowId: string };
  accepted.push(workflowId);
  expect(
    await waitUntil('ordinary ticket finished', () => finishedState(stack!.client, workflowId), 90_000, 500),
  ).toBe('answered');
  printSummary('pipeline', summary, {
    answered: report.answered.length,
    escalated: report.escalated.length,
    stuck: stuck.size,
  });
  // An accepted ticket that can never be recorded is lost work (it should have been refused with a 400), and
  // with every dependency up, an escalation for an unavailable dependency means an internal failure.
  const internalFailures = report.escalated
    .filter((e) => e.reason === 'llm_unavailable' || e.reason === 'retrieval_unavailable')
    .map((e) => `${caseOf[e.workflowId]}: escalated ${e.reason}`);
  const stuckTickets = [...stuck].map(
    ([id, s]) => `${caseOf[id]}: ${s.activity} attempt ${s.attempt}: ${s.lastFailure.slice(0, 160)}`,
  );
  expect({ stuckTickets, internalFailures }).toEqual({ stuckTickets: [], internalFailures: [] });
}, 175_000);
