import { MockActivityEnvironment } from '@temporalio/testing';
import { createActivities, type GenerateOutcome } from '../../activities';
import { resolveTicket } from '../../src/tickets';
import { statusQuery } from '../../workflows/definitions';
import { checkBookkeeping, finishedNow } from '../support/bookkeeping';
import { recordHistory } from '../support/histories';
import { expectRetrievalUnavailable, unreachableStore } from '../support/vector-store-down';
import type { FakeAnthropic } from '../support/fake-anthropic';
import { eventually, startClaudeTestStack, startTestStack, type TestStack } from '../support/stack';

/**
 * The workflow with the Anthropic provider, talking HTTP to a local server that speaks the Messages API and
 * fails on demand. Retries are Temporal's (the SDK's own are off), shortened here to 3 attempts.
 */

let fake: FakeAnthropic;
let stack: TestStack;

beforeAll(async () => {
  ({ fake, stack } = await startClaudeTestStack());
});

afterAll(async () => {
  await stack?.close();
  await fake?.close();
});

beforeEach(() => fake.reset());
// A scripted reply the real API could not give (e.g. JSON outside the schema) is a broken test.
afterEach(() => expect(fake.scriptErrors).toEqual([]));

const REFUND_TICKET =
  'I paid for the annual plan two weeks ago and want my money back. How do I request a refund?';

async function steps(workflowId: string) {
  return stack.db
    .selectFrom('ticket_steps')
    .selectAll()
    .where('workflow_id', '=', workflowId)
    .orderBy('step')
    .execute();
}

test('answered through the Messages API: one reply, cited passages, tokens and cost logged', async () => {
  const handle = await stack.submit({ body: REFUND_TICKET });
  const outcome = await handle.result();
  expect(outcome).toMatchObject({ escalated: false, replySource: 'ai' });
  const classifyRequest = fake.requests.find((r) => r.kind === 'classify')!;
  // The default classify model (Haiku 5.5) takes JSON outputs, with thinking turned off.
  expect(classifyRequest.structured).toBe('json_schema');
  expect(classifyRequest.body.thinking).toEqual({ type: 'disabled' });

  // One reply, delivered, and it is the draft the model wrote from the passages it cites.
  await checkBookkeeping(stack.db, await finishedNow(stack.client, [handle.workflowId]));
  const [reply] = await stack.db
    .selectFrom('outbox')
    .selectAll()
    .where('workflow_id', '=', handle.workflowId)
    .execute();
  const draft = await stack.db
    .selectFrom('drafts')
    .selectAll()
    .where('workflow_id', '=', handle.workflowId)
    .executeTakeFirstOrThrow();
  expect(reply!.body).toBe(draft.reply);
  expect(outcome.citedPassageIds.length).toBeGreaterThan(0);
  expect(draft.cited_passage_ids).toEqual(outcome.citedPassageIds);
  const cited = await stack.db
    .selectFrom('ticket_passages')
    .select(['passage_id', 'document_id'])
    .where('workflow_id', '=', handle.workflowId)
    .where('passage_id', 'in', outcome.citedPassageIds)
    .execute();
  expect(cited.map((c) => c.passage_id).sort()).toEqual([...outcome.citedPassageIds].sort());
  expect(cited.map((c) => c.document_id)).toContain('refunds');
  // The cited passages are the ones the answer request carried.
  const answerRequest = fake.requests.find((r) => r.kind === 'answer')!;
  for (const id of outcome.citedPassageIds) expect(JSON.stringify(answerRequest.body.messages)).toContain(id);

  const log = await stack.db
    .selectFrom('interactions')
    .selectAll()
    .where('workflow_id', '=', handle.workflowId)
    .executeTakeFirstOrThrow();
  expect(log.input_tokens).toBeGreaterThan(0);
  expect(log.output_tokens).toBeGreaterThan(0);
  expect(log.cost_usd).toBeGreaterThan(0);
});

test('two overloaded responses, then success: retried by Temporal, one reply, one log row per step', async () => {
  fake.setScript([
    { for: 'classify', kind: 'error', status: 529, type: 'overloaded_error' },
    { for: 'classify', kind: 'error', status: 529, type: 'overloaded_error' },
  ]);
  const handle = await stack.submit({ body: REFUND_TICKET });
  const outcome = await handle.result();
  expect(outcome.escalated).toBe(false);
  expect(fake.requests.filter((r) => r.kind === 'classify')).toHaveLength(3);
  const rows = await steps(handle.workflowId);
  expect(rows.map((r) => r.step)).toEqual(['classify', 'generate', 'retrieve']);
  expect(rows.find((r) => r.step === 'classify')).toMatchObject({ status: 'ok', attempts: 3 });
  await checkBookkeeping(stack.db, await finishedNow(stack.client, [handle.workflowId]));
});

test('a retried LLM step whose result was already recorded reuses it instead of paying for the call again', async () => {
  // The activity run twice for one ticket, as when a worker dies after the model answered and the result was
  // logged, but before Temporal heard of it.
  const activities = createActivities(stack.deps);
  const workflowId = `ticket-reuse-${Date.now()}`;
  const ticket = {
    externalId: workflowId,
    subject: '',
    body: REFUND_TICKET,
    customer: {},
    channel: 'api' as const,
  };
  await new MockActivityEnvironment().run(activities.recordTicket, {
    workflowId,
    ticket,
    receivedAt: new Date().toISOString(),
  });
  const first = await new MockActivityEnvironment({ attempt: 1 }).run(activities.classifyTicket, {
    workflowId,
  });
  const logged = (await steps(workflowId)).find((r) => r.step === 'classify')!;
  const again = await new MockActivityEnvironment({ attempt: 2 }).run(activities.classifyTicket, {
    workflowId,
  });
  expect(again).toEqual(first);
  expect(fake.requests.filter((r) => r.kind === 'classify')).toHaveLength(1);
  expect((await steps(workflowId)).find((r) => r.step === 'classify')).toEqual(logged);

  // Same for generation: the stored draft is the result.
  await new MockActivityEnvironment().run(activities.retrievePassages, { workflowId });
  const draft: GenerateOutcome = await new MockActivityEnvironment({ attempt: 1 }).run(
    activities.generateAnswer,
    {
      workflowId,
      minScore: 0.3,
    },
  );
  expect(draft.kind).toBe('answer');
  const redrafted = await new MockActivityEnvironment({ attempt: 2 }).run(activities.generateAnswer, {
    workflowId,
    minScore: 0.3,
  });
  expect(redrafted).toEqual(draft);
  expect(fake.requests.filter((r) => r.kind === 'answer')).toHaveLength(1);
});

test('tokens of a failed attempt are added to the step, not overwritten by the retry that succeeded', async () => {
  const usage = (input: number, output: number) => ({
    input_tokens: input,
    output_tokens: output,
    cache_read_input_tokens: 0,
    cache_creation_input_tokens: 0,
  });
  const valid = {
    intent: 'billing',
    urgency: 'low',
    confidence: 0.9,
    summary: 'Refund request',
    sentiment: 'neutral',
    language: 'en',
  };
  fake.setScript([
    // Attempt 1: an invalid classification (paid; a confidence of 7 fits the JSON schema but not our checks),
    // then the repair call is refused with 529: retryable failure.
    { for: 'classify', kind: 'success', toolInput: { ...valid, confidence: 7 }, usage: usage(1000, 50) },
    { for: 'classify', kind: 'error', status: 529, type: 'overloaded_error' },
    // Attempt 2: a valid classification.
    { for: 'classify', kind: 'success', toolInput: valid, usage: usage(700, 40) },
  ]);
  const handle = await stack.submit({ body: REFUND_TICKET });
  expect(await handle.result()).toMatchObject({ escalated: false });
  const classify = (await steps(handle.workflowId)).find((r) => r.step === 'classify');
  expect(classify).toMatchObject({
    status: 'ok',
    attempts: 2,
    failures: 1,
    input_tokens: 1700,
    output_tokens: 90,
  });
  await checkBookkeeping(stack.db, await finishedNow(stack.client, [handle.workflowId]));
});

test('a 429 with retry-after is honoured and the ticket still gets its answer', async () => {
  fake.setScript([{ for: 'answer', kind: 'error', status: 429, type: 'rate_limit_error', retryAfter: 1 }]);
  const handle = await stack.submit({ body: REFUND_TICKET });
  const outcome = await handle.result();
  expect(outcome.escalated).toBe(false);
  const answers = fake.requests.filter((r) => r.kind === 'answer');
  expect(answers).toHaveLength(2);
  // The second attempt came no sooner than the server asked.
  expect(answers[1]!.receivedAt - answers[0]!.receivedAt).toBeGreaterThanOrEqual(950);
  await checkBookkeeping(stack.db, await finishedNow(stack.client, [handle.workflowId]));
});

test('an LLM outage past the retry budget escalates with llm_unavailable', async () => {
  fake.setScript(
    Array.from({ length: 10 }, () => ({ for: 'classify' as const, kind: 'error' as const, status: 529 })),
  );
  const handle = await stack.submit({ body: REFUND_TICKET });
  const status = await eventually(async () => {
    const s = await handle.query(statusQuery);
    return s.stage === 'escalated' ? s : undefined;
  });
  expect(status.escalationReason).toBe('llm_unavailable');
  expect(fake.requests.filter((r) => r.kind === 'classify')).toHaveLength(3);
  const row = (await steps(handle.workflowId)).find((r) => r.step === 'classify');
  expect(row).toMatchObject({ status: 'failed', attempts: 3 });
  await checkBookkeeping(stack.db, await finishedNow(stack.client, [handle.workflowId]));
  await recordHistory(handle, 'escalated-llm-unavailable');
  await handle.terminate('test cleanup');
});

test('a non-retryable error (401) is not retried and escalates at once', async () => {
  fake.setScript([{ for: 'classify', kind: 'error', status: 401, type: 'authentication_error' }]);
  const handle = await stack.submit({ body: REFUND_TICKET });
  const status = await eventually(async () => {
    const s = await handle.query(statusQuery);
    return s.stage === 'escalated' ? s : undefined;
  });
  expect(status.escalationReason).toBe('llm_unavailable');
  expect(fake.requests.filter((r) => r.kind === 'classify')).toHaveLength(1);
  await checkBookkeeping(stack.db, await finishedNow(stack.client, [handle.workflowId]));
  await handle.terminate('test cleanup');
});

const UNSURE_CLASSIFICATION = {
  for: 'classify' as const,
  kind: 'success' as const,
  toolInput: {
    intent: 'billing',
    urgency: 'low',
    confidence: 0.3,
    summary: 'Unclear billing question',
    sentiment: 'neutral',
    language: 'en',
  },
};

test('a question no article clearly answers escalates as not_answerable without spending on generation', async () => {
  const handle = await stack.submit({ body: 'Can I get the VAT on my invoice refunded?' });
  const status = await eventually(async () => {
    const s = await handle.query(statusQuery);
    return s.stage === 'escalated' ? s : undefined;
  });
  expect(status.escalationReason).toBe('not_answerable');
  expect(fake.requests.filter((r) => r.kind === 'classify')).toHaveLength(1);
  expect(fake.requests.filter((r) => r.kind === 'answer')).toHaveLength(0);
  await checkBookkeeping(stack.db, await finishedNow(stack.client, [handle.workflowId]));
  await handle.terminate('test cleanup');
});

test('an unsure classifier no longer escalates a question the knowledge base clearly answers', async () => {
  fake.setScript([UNSURE_CLASSIFICATION]);
  const handle = await stack.submit({ body: REFUND_TICKET });
  const outcome = await handle.result();
  expect(outcome).toMatchObject({ escalated: false, replySource: 'ai' });
  const cited = await stack.db
    .selectFrom('ticket_passages')
    .select('document_id')
    .where('workflow_id', '=', handle.workflowId)
    .where('passage_id', 'in', outcome.citedPassageIds)
    .execute();
  expect(new Set(cited.map((c) => c.document_id))).toEqual(new Set(['refunds']));
  await checkBookkeeping(stack.db, await finishedNow(stack.client, [handle.workflowId]));
});

test('a human resolution that clearly answers the question answers it, unsure classifier or not (the learning loop)', async () => {
  const unsure = {
    for: 'classify' as const,
    kind: 'success' as const,
    toolInput: {
      intent: 'other',
      urgency: 'low',
      confidence: 0.3,
      summary: 'Paying with crypto',
      sentiment: 'neutral',
      language: 'en',
    },
  };
  const resolution = await stack.deps.ingestDocument({
    id: `resolution-test-${Date.now()}`,
    title: 'Can I pay my Acme invoice with Bitcoin or another cryptocurrency?',
    body: 'We do not accept Bitcoin or any other cryptocurrency. Invoices can be paid by card, SEPA direct debit or bank transfer.',
    source: 'resolution',
    ticketId: 'ticket-earlier',
  });
  const question = 'Is it possible to pay our Acme invoices with crypto, for example Bitcoin?';

  // The human's earlier answer wins clearly over every article: answered from it, whatever the classifier says.
  fake.setScript([unsure]);
  const on = await stack.submit({ body: question });
  const outcome = await on.result();
  expect(outcome).toMatchObject({ escalated: false, replySource: 'ai' });
  expect((await on.query(statusQuery)).answeredFromResolution).toBe(resolution.documentId);
  const cited = await stack.db
    .selectFrom('ticket_passages')
    .select(['document_id', 'source'])
    .where('workflow_id', '=', on.workflowId)
    .where('passage_id', 'in', outcome.citedPassageIds)
    .execute();
  expect(cited).toEqual([{ document_id: resolution.documentId, source: 'resolution' }]);
  const interaction = await stack.db
    .selectFrom('interactions')
    .select(['escalated', 'confidence', 'answered_from_resolution'])
    .where('workflow_id', '=', on.workflowId)
    .executeTakeFirstOrThrow();
  expect(interaction).toEqual({
    escalated: false,
    confidence: 0.3,
    answered_from_resolution: resolution.documentId,
  });
  await checkBookkeeping(stack.db, await finishedNow(stack.client, [on.workflowId]));
  await recordHistory(on, 'answered-from-resolution');
});

test('a resolution sent while the ticket is still being triaged is refused as not_awaiting_human', async () => {
  // The classification is held back until the refused resolution is in: the ticket is triaging all along.
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  fake.setScript([{ for: 'classify', kind: 'smart', until: released }]);
  try {
    const handle = await stack.submit({ body: REFUND_TICKET });
    await eventually(async () =>
      fake.requests.some((r) => r.kind === 'classify' && r.held) ? true : undefined,
    );
    expect((await handle.query(statusQuery)).stage).toBe('triaging');
    const externalId = handle.workflowId.replace(/^ticket-/, '');
    const refused = await resolveTicket({ temporal: stack.client }, externalId, {
      agentId: 'agent-early',
      answer: 'Answered before the AI even finished',
      addToKnowledgeBase: true,
    });
    expect(refused).toEqual({ accepted: false, workflowId: handle.workflowId, reason: 'not_awaiting_human' });
    release();
    // The refused update left no trace: the AI answers the ticket as usual.
    expect(await handle.result()).toMatchObject({ escalated: false, replySource: 'ai' });
    expect((await handle.query(statusQuery)).ignoredResolutions).toBe(0);
    await checkBookkeeping(stack.db, await finishedNow(stack.client, [handle.workflowId]));
  } finally {
    release();
  }
});

test('the model saying it cannot answer escalates with agent_uncertainty, and its reason is kept for the human', async () => {
  fake.setScript([
    {
      for: 'answer',
      kind: 'success',
      toolInput: {
        status: 'cannot_answer',
        reason: 'The passages do not say whether partial refunds exist.',
      },
    },
  ]);
  const handle = await stack.submit({ body: REFUND_TICKET });
  const status = await eventually(async () => {
    const s = await handle.query(statusQuery);
    return s.stage === 'escalated' ? s : undefined;
  });
  expect(status.escalationReason).toBe('agent_uncertainty');
  const draft = await stack.db
    .selectFrom('drafts')
    .selectAll()
    .where('workflow_id', '=', handle.workflowId)
    .executeTakeFirstOrThrow();
  expect(draft).toMatchObject({ kind: 'cannot_answer', reply: null });
  expect(draft.reason).toContain('partial refunds');
  await checkBookkeeping(stack.db, await finishedNow(stack.client, [handle.workflowId]));
  await recordHistory(handle, 'escalated-agent-uncertainty');
  await handle.terminate('test cleanup');
});

describe('vector store down', () => {
  let downStack: TestStack;
  beforeAll(async () => {
    downStack = await startTestStack({
      env: { LLM_PROVIDER: 'anthropic', ANTHROPIC_API_KEY: 'sk-ant-test-key', ANTHROPIC_BASE_URL: fake.url },
      overrides: { store: unreachableStore() },
    });
  });
  afterAll(async () => {
    await downStack?.close();
  });

  test('retrieval exhausting its retries escalates with retrieval_unavailable', async () => {
    const handle = await downStack.submit({ body: REFUND_TICKET });
    await expectRetrievalUnavailable(downStack, handle);
    await recordHistory(handle, 'escalated-retrieval-unavailable');
    await handle.terminate('test cleanup');
  }, 90_000);
});
