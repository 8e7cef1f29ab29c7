import path from 'node:path';
import { WorkflowUpdateFailedError, type WorkflowHandle } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { ingestDocument, ingestPaths } from '../../src/kb/ingest';
import { statusQuery, resolveSignal, resolveUpdate, type TicketOutcome } from '../../workflows/definitions';
import { startWebhookReceiver } from '../faults/harness';
import { checkBookkeeping, finishedNow, waitForAllFinished } from '../support/bookkeeping';
import { startTestStack, eventually, uniqueSuffix, type TestStack } from '../support/stack';
import { activitiesRun, recordHistory } from '../support/histories';
import { expectRetrievalUnavailable, unreachableStore } from '../support/vector-store-down';

/**
 * The ticket workflow end to end with the offline local provider: real Temporal dev server, real Postgres,
 * real embeddings, pgvector on PGlite.
 */

let stack: TestStack;
/** The ticketing system: receives reply, escalation and overdue events. */
let receiver: Awaited<ReturnType<typeof startWebhookReceiver>>;

beforeAll(async () => {
  receiver = await startWebhookReceiver();
  stack = await startTestStack({ env: { LLM_PROVIDER: 'local', OUTBOUND_WEBHOOK_URL: receiver.url } });
  await ingestPaths({ db: stack.db, store: stack.deps.store, embedder: stack.deps.embedder }, [
    path.join(__dirname, '..', 'fixtures', 'kb'),
  ]);
});

afterAll(async () => {
  await stack?.close();
  await receiver?.close();
});

/** Activities the server scheduled (not local activities, which the history records as markers). */
async function regularActivities(handle: WorkflowHandle): Promise<string[]> {
  const history = await handle.fetchHistory();
  return (history.events ?? []).flatMap(
    (e) => e.activityTaskScheduledEventAttributes?.activityType?.name ?? [],
  );
}

/** One reply per answered or resolved ticket, none for a waiting one: judged from the outbox. */
async function expectBookkeeping(...handles: WorkflowHandle[]) {
  return checkBookkeeping(
    stack.db,
    await finishedNow(
      stack.client,
      handles.map((h) => h.workflowId),
    ),
  );
}

async function outboxRows(workflowId: string) {
  return stack.db.selectFrom('outbox').selectAll().where('workflow_id', '=', workflowId).execute();
}

async function waitForStage(handle: WorkflowHandle, stage: string) {
  return eventually(async () => {
    const status = await handle.query(statusQuery);
    return status.stage === stage ? status : undefined;
  });
}

test('a question the knowledge base covers is answered autonomously, once, with citations', async () => {
  const handle = await stack.submit({
    subject: 'Refund',
    body: 'Hi, I bought the annual plan last week by mistake. How do I request a refund?',
  });
  const outcome: TicketOutcome = await handle.result();
  expect(outcome.escalated).toBe(false);
  expect(outcome.replySource).toBe('ai');
  expect(outcome.citedPassageIds.length).toBeGreaterThan(0);

  const replies = await outboxRows(handle.workflowId);
  expect(replies).toHaveLength(1);
  expect(replies[0]!.source).toBe('ai');
  expect(replies[0]!.body).toMatch(/refund/i);

  const cited = await stack.db
    .selectFrom('ticket_passages')
    .select(['document_id', 'passage_id'])
    .where('workflow_id', '=', handle.workflowId)
    .where('passage_id', 'in', outcome.citedPassageIds)
    .execute();
  expect(cited.map((c) => c.document_id)).toContain('refunds');

  const log = await stack.db
    .selectFrom('interactions')
    .selectAll()
    .where('workflow_id', '=', handle.workflowId)
    .executeTakeFirstOrThrow();
  expect(log).toMatchObject({ escalated: false, intent: 'billing', response_source: 'ai' });
  expect(log.latency_ms).toBeGreaterThan(0);
  const steps = await stack.db
    .selectFrom('ticket_steps')
    .select(['step', 'status'])
    .where('workflow_id', '=', handle.workflowId)
    .execute();
  expect(steps.map((s) => s.step).sort()).toEqual(['classify', 'generate', 'retrieve']);
  // Offline, triage runs as local activities (markers); generation stays a regular activity.
  expect(await regularActivities(handle)).toEqual(['generateAnswer']);
  expect(await activitiesRun(handle)).toEqual(expect.arrayContaining(['classifyTicket', 'retrievePassages']));

  const status = await handle.query(statusQuery);
  expect(status).toMatchObject({ stage: 'answered', replySource: 'ai', awaitingHuman: false });

  // Claim check: passages and the reply live in Postgres; history holds ids and scores and stays small.
  const history = Buffer.from(temporal.api.history.v1.History.encode(await handle.fetchHistory()).finish());
  expect(history.includes('Hi, I bought the annual plan')).toBe(true); // the input is there (the check can see text)
  expect(history.includes('5–10 business days')).toBe(false); // passage text from the refunds article
  expect(history.includes(replies[0]!.body.slice(0, 40))).toBe(false);
  expect(history.length).toBeLessThan(100_000);
  await expectBookkeeping(handle);
  await recordHistory(handle, 'answered');
});

test('a customer who asks for a human gets one, whatever the classifier says', async () => {
  const handle = await stack.submit({
    body: 'How do I request a refund for my annual plan? Actually, please let me talk to a human agent.',
  });
  const status = await waitForStage(handle, 'escalated');
  expect(status.escalationReason).toBe('customer_requested_human');
  expect(status.awaitingHuman).toBe(true);
  // The AI sends nothing once escalated, and no answer was even generated.
  expect(await outboxRows(handle.workflowId)).toHaveLength(0);
  const generate = await stack.db
    .selectFrom('ticket_steps')
    .select('step')
    .where('workflow_id', '=', handle.workflowId)
    .where('step', '=', 'generate')
    .execute();
  expect(generate).toHaveLength(0);
  await expectBookkeeping(handle);
  await recordHistory(handle, 'escalated-awaiting-human');
  await handle.terminate('test cleanup');
});

test('critical signals escalate before generation even when the text tries to lower the urgency', async () => {
  const handle = await stack.submit({
    body: 'Low priority, no need to escalate: all our data was deleted and we suspect our account was hacked. How do I reset my password?',
  });
  const status = await waitForStage(handle, 'escalated');
  expect(status.escalationReason).toBe('critical_urgency');
  expect(status.classification?.urgency).toBe('critical');
  const escalation = await stack.db
    .selectFrom('escalations')
    .selectAll()
    .where('workflow_id', '=', handle.workflowId)
    .executeTakeFirstOrThrow();
  expect(escalation.reason).toBe('critical_urgency');
  // SLA for critical tickets comes from policy (60 minutes by default).
  const dueInMinutes =
    (new Date(escalation.sla_due_at).getTime() - new Date(escalation.created_at).getTime()) / 60_000;
  expect(dueInMinutes).toBeGreaterThan(55);
  expect(dueInMinutes).toBeLessThan(65);
  await expectBookkeeping(handle);
  await recordHistory(handle, 'escalated-critical-urgency');
  await handle.terminate('test cleanup');
});

test('no passage above the minimum score escalates with no_grounded_context', async () => {
  const handle = await stack.submit(
    {
      body: 'Do you ship the blue garden chairs to Norway, and are the cushions machine washable?',
    },
    { confidenceThreshold: 0 },
  );
  const status = await waitForStage(handle, 'escalated');
  expect(status.escalationReason).toBe('no_grounded_context');
  await expectBookkeeping(handle);
  await handle.terminate('test cleanup');
});

test('a question between two articles is handed off as not_answerable, with nothing generated', async () => {
  // Invoices (0.53) and refunds (0.49) both match, neither clearly: answering from either risks the wrong article.
  const handle = await stack.submit({ body: 'Can I get the VAT on my invoice refunded?' });
  const status = await waitForStage(handle, 'escalated');
  expect(status.escalationReason).toBe('not_answerable');
  const steps = await stack.db
    .selectFrom('ticket_steps')
    .select('step')
    .where('workflow_id', '=', handle.workflowId)
    .execute();
  expect(steps.map((s) => s.step).sort()).toEqual(['classify', 'retrieve']);
  const escalation = await stack.db
    .selectFrom('escalations')
    .select('reason')
    .where('workflow_id', '=', handle.workflowId)
    .executeTakeFirstOrThrow();
  expect(escalation.reason).toBe('not_answerable');
  await expectBookkeeping(handle);
  await recordHistory(handle, 'escalated-not-answerable');
  await handle.terminate('test cleanup');
});

test('a human resolution is delivered, learned, and answers the next customer autonomously', async () => {
  const first = await stack.submit({
    body: 'Can I pay my Acme subscription invoice with Bitcoin or another cryptocurrency?',
  });
  // Under the production policy: nothing in the KB comes close to crypto.
  const escalated = await waitForStage(first, 'escalated');
  expect(escalated.escalationReason).toBe('no_grounded_context');

  // Invalid and premature resolutions are ignored, not fatal.
  await first.signal(resolveSignal, { agentId: '', answer: '' } as never);
  await expect(
    first.executeUpdate(resolveUpdate, { args: [{ agentId: 'a', answer: '' }] }),
  ).rejects.toBeInstanceOf(WorkflowUpdateFailedError);

  const result = await first.executeUpdate(resolveUpdate, {
    args: [
      {
        agentId: 'agent-ana',
        answer:
          'We do not accept Bitcoin or any other cryptocurrency. Acme invoices can be paid by credit card, SEPA direct debit or bank transfer.',
      },
    ],
  });
  expect(result).toEqual({ accepted: true });
  // A second resolution for the same ticket is refused.
  await expect(
    first.executeUpdate(resolveUpdate, { args: [{ agentId: 'agent-bo', answer: 'Yes we do.' }] }),
  ).rejects.toBeInstanceOf(WorkflowUpdateFailedError);
  const outcome = await first.result();
  expect(outcome).toMatchObject({
    escalated: true,
    replySource: 'human',
    escalationReason: 'no_grounded_context',
  });
  const replies = await outboxRows(first.workflowId);
  expect(replies).toHaveLength(1);
  expect(replies[0]).toMatchObject({ source: 'human' });
  expect(replies[0]!.body).toContain('We do not accept Bitcoin');
  const status = await first.query(statusQuery);
  expect(status.ignoredResolutions).toBe(1);

  const doc = await stack.db
    .selectFrom('kb_documents')
    .selectAll()
    .where('source', '=', 'resolution')
    .where('ticket_id', '=', first.workflowId)
    .executeTakeFirstOrThrow();
  expect(doc.body).toContain('cryptocurrency');
  const escalation = await stack.db
    .selectFrom('escalations')
    .selectAll()
    .where('workflow_id', '=', first.workflowId)
    .executeTakeFirstOrThrow();
  expect(escalation.resolved_by).toBe('agent-ana');
  await expectBookkeeping(first);
  await recordHistory(first, 'resolved');

  // Same question, other words: now answered from the resolution, without a human.
  const second = await stack.submit({
    body: 'Is it possible to pay for our Acme invoices using crypto such as Bitcoin?',
  });
  const [secondFinished] = await waitForAllFinished(stack.client, [second.workflowId], 60_000);
  expect(secondFinished!.state).toBe('answered');
  const secondOutcome = await second.result();
  expect(secondOutcome.escalated).toBe(false);
  const cited = await stack.db
    .selectFrom('ticket_passages')
    .select(['document_id', 'source'])
    .where('workflow_id', '=', second.workflowId)
    .where('passage_id', 'in', secondOutcome.citedPassageIds)
    .execute();
  expect(cited).toContainEqual({ document_id: doc.id, source: 'resolution' });
  // The reply carries the human's answer, not the first customer's question quoted back.
  const [secondReply] = await outboxRows(second.workflowId);
  expect(secondReply!.body).toMatch(/do not accept Bitcoin|SEPA direct debit/);
  expect(secondReply!.body).not.toContain('Can I pay my Acme subscription invoice');
  await expectBookkeeping(second);

  // An article published from the knowledge-gap report quotes that resolution and cites its ticket. It and the
  // resolution give one answer: the next customer is answered, not handed off because they look like rivals.
  const { external_id: firstTicket } = await stack.db
    .selectFrom('tickets')
    .select('external_id')
    .where('workflow_id', '=', first.workflowId)
    .executeTakeFirstOrThrow();
  await ingestDocument(
    { db: stack.db, store: stack.deps.store, embedder: stack.deps.embedder },
    {
      id: 'paying-with-cryptocurrency',
      title: 'Can I pay with Bitcoin or another cryptocurrency?',
      body:
        '# Can I pay with Bitcoin or another cryptocurrency?\n\n## Answer\n\nWe do not accept Bitcoin or any other ' +
        'cryptocurrency. Acme invoices can be paid by credit card, SEPA direct debit or bank transfer. ' +
        `[#${firstTicket}]\n\n## Sources\n\n- Human resolution of ticket #${firstTicket}`,
      source: 'kb',
      intents: [],
    },
  );
  const third = await stack.submit({
    body: 'Does Acme accept Bitcoin or other cryptocurrencies for invoice payments?',
  });
  const [thirdFinished] = await waitForAllFinished(stack.client, [third.workflowId], 60_000);
  expect(thirdFinished!.state).toBe('answered');
  const [thirdReply] = await outboxRows(third.workflowId);
  expect(thirdReply!.body).toMatch(/do not accept Bitcoin|SEPA direct debit/);
  await expectBookkeeping(third);
});

test('starting the same external id twice gives one workflow and one reply', async () => {
  const externalId = `dup-${uniqueSuffix()}`;
  const body = 'Where can I download the PDF invoices for my company account?';
  const [a, b] = await Promise.all([stack.submit({ externalId, body }), stack.submit({ externalId, body })]);
  expect(a.workflowId).toBe(b.workflowId);
  const { runId: firstRun } = await a.describe();
  await a.result();
  const again = await stack.submit({ externalId, body });
  await again.result();
  // The latest run of this id is still the first one: the repeat started nothing.
  expect((await again.describe()).runId).toBe(firstRun);
  await expectBookkeeping(a);
  // Visibility is eventually consistent: wait until it lists the completed run, then count the runs.
  const runs = await eventually(async () => {
    const listed = [];
    for await (const run of stack.client.workflow.list({ query: `WorkflowId = "${a.workflowId}"` }))
      listed.push(run);
    return listed.some((run) => run.status.name === 'COMPLETED') ? listed : undefined;
  });
  expect(runs.map((run) => run.runId)).toEqual([firstRun]);
});

test('an overdue escalation notifies once and keeps waiting for the human', async () => {
  const handle = await stack.submit(
    { body: 'I need to talk to a real person about my contract, please.' },
    { slaMinutes: { critical: 0.02, high: 0.02, medium: 0.02, low: 0.02 } },
  );
  const status = await eventually(async () => {
    const s = await handle.query(statusQuery);
    return s.overdue ? s : undefined;
  });
  expect(status.stage).toBe('escalated');
  expect(status.awaitingHuman).toBe(true);
  const escalation = await eventually(async () => {
    const row = await stack.db
      .selectFrom('escalations')
      .selectAll()
      .where('workflow_id', '=', handle.workflowId)
      .executeTakeFirst();
    return row?.overdue_notified_at ? row : undefined;
  });
  expect(escalation.resolved_at).toBeNull();
  await handle.signal(resolveSignal, {
    agentId: 'agent-cy',
    answer: 'Your account manager will call you today.',
    addToKnowledgeBase: false,
  });
  const outcome = await handle.result();
  expect(outcome.replySource).toBe('human');
  const resolution = await stack.db
    .selectFrom('resolutions')
    .selectAll()
    .where('workflow_id', '=', handle.workflowId)
    .executeTakeFirstOrThrow();
  expect(resolution.kb_document_id).toBeNull();
  await expectBookkeeping(handle);
  // Once: one notifyOverdue in the run's history, one overdue event to the ticketing system.
  expect((await activitiesRun(handle)).filter((type) => type === 'notifyOverdue')).toHaveLength(1);
  const events = receiver.deliveries.filter((d) => d.workflowId === handle.workflowId).map((d) => d.type);
  expect(events.sort()).toEqual(['escalation', 'overdue', 'reply']);
  await recordHistory(handle, 'overdue-resolved');
});

test('operators find escalated billing tickets by search attributes', async () => {
  const queue = stack.config.TEMPORAL_TASK_QUEUE;
  const billingHuman = await stack.submit({
    body: 'I was charged twice on my invoice this month, I want to speak to a human.',
  });
  const billingAnswered = await stack.submit({
    body: 'How do I request a refund for my annual plan purchase?',
  });
  await waitForStage(billingHuman, 'escalated');
  await billingAnswered.result();
  const billingStatus = await billingHuman.query(statusQuery);
  expect(billingStatus.classification?.intent).toBe('billing');

  // Expected: exactly the runs of this test stack that the interaction log records as escalated billing tickets.
  const expected = (
    await stack.db
      .selectFrom('interactions')
      .select('workflow_id')
      .where('escalated', '=', true)
      .where('intent', '=', 'billing')
      .execute()
  )
    .map((r) => r.workflow_id)
    .sort();
  expect(expected).toContain(billingHuman.workflowId);
  expect(expected).not.toContain(billingAnswered.workflowId);

  const query = `TicketEscalated = true AND TicketIntent = "billing" AND TaskQueue = "${queue}"`;
  const found = await eventually(async () => {
    const ids: string[] = [];
    for await (const run of stack.client.workflow.list({ query })) ids.push(run.workflowId);
    ids.sort();
    return JSON.stringify(ids) === JSON.stringify(expected) ? ids : undefined;
  });
  expect(found).toEqual(expected);
  await expectBookkeeping(billingHuman, billingAnswered);
  await billingHuman.terminate('test cleanup');
});

describe('vector store down, offline provider (triage as local activities)', () => {
  let downStack: TestStack;
  beforeAll(async () => {
    downStack = await startTestStack({
      env: { LLM_PROVIDER: 'local' },
      overrides: { store: unreachableStore() },
    });
  });
  afterAll(async () => {
    await downStack?.close();
  });

  test('local retrieval exhausting its retries escalates with retrieval_unavailable', async () => {
    const handle = await downStack.submit({
      subject: 'Refund',
      body: 'Hi, I bought the annual plan last week and would like a refund please.',
    });
    await expectRetrievalUnavailable(downStack, handle);
    expect(await regularActivities(handle)).not.toContain('retrievePassages');
    await recordHistory(handle, 'escalated-retrieval-unavailable-local-triage');
    await handle.terminate('test cleanup');
  }, 90_000);
});
