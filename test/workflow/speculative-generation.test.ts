import { statusQuery } from '../../workflows/definitions';
import { checkBookkeeping, finishedNow } from '../support/bookkeeping';
import { recordHistory } from '../support/histories';
import type { FakeAnthropic } from '../support/fake-anthropic';
import { eventually, startClaudeTestStack, type TestStack } from '../support/stack';

/**
 * Speculative generation through the real workflow: with SPECULATIVE_GENERATION on, the answer is requested while
 * the classifier is still out (the stand-in holds the classification until the answer request has arrived, so
 * the ticket could not finish otherwise), and a gate that then escalates throws the draft away: the human does
 * not get it as a suggestion, but its tokens stay in the log.
 */

const REFUND_QUESTION =
  'I paid for the annual plan two weeks ago and want my money back. How do I request a refund?';
const REFUND_BUT_HUMAN = `${REFUND_QUESTION} Please let me talk to a human agent, not a bot.`;

let fake: FakeAnthropic;
let stack: TestStack;

beforeAll(async () => {
  ({ fake, stack } = await startClaudeTestStack({
    SPECULATIVE_GENERATION: 'true',
    // The classification is held until the answer request arrives: give it the default timeout.
    LLM_TIMEOUT_MS: '30000',
  }));
});

afterAll(async () => {
  await stack?.close();
  await fake?.close();
});

beforeEach(() => fake.reset());

/** Holds the classification until the stand-in has received the answer request. */
function classifyHeldUntilAnswerRequested(): void {
  const answerRequested = eventually(async () => fake.requests.some((r) => r.kind === 'answer'), 60_000);
  fake.setScript([{ for: 'classify', kind: 'smart', until: answerRequested }]);
}

async function stepsOf(workflowId: string) {
  return stack.db.selectFrom('ticket_steps').selectAll().where('workflow_id', '=', workflowId).execute();
}

test('the answer is drafted while the classifier runs, and sent once the gates pass', async () => {
  classifyHeldUntilAnswerRequested();
  const handle = await stack.submit({ body: REFUND_QUESTION });
  const outcome = await handle.result();

  expect(outcome).toMatchObject({ escalated: false, replySource: 'ai' });
  expect(outcome.citedPassageIds.length).toBeGreaterThan(0);
  const kinds = fake.requests.map((r) => r.kind);
  expect(kinds.filter((k) => k === 'answer')).toHaveLength(1);
  expect((await handle.query(statusQuery)).speculativeDraft).toBe('used');
  const generate = (await stepsOf(handle.workflowId)).find((s) => s.step === 'generate');
  expect(generate).toMatchObject({ status: 'ok' });
  expect(generate!.detail).toMatchObject({ speculative: true });
  await checkBookkeeping(stack.db, await finishedNow(stack.client, [handle.workflowId]));
  await recordHistory(handle, 'answered-speculative');
});

test('a gate that escalates discards the draft: not sent, not offered to the human, still billed', async () => {
  classifyHeldUntilAnswerRequested();
  const handle = await stack.submit({ body: REFUND_BUT_HUMAN });
  const status = await eventually(async () => {
    const s = await handle.query(statusQuery);
    return s.stage === 'escalated' ? s : undefined;
  });

  expect(status.escalationReason).toBe('customer_requested_human');
  expect(status.speculativeDraft).toBe('discarded');
  const escalation = await stack.db
    .selectFrom('escalations')
    .select(['reason', 'draft'])
    .where('workflow_id', '=', handle.workflowId)
    .executeTakeFirstOrThrow();
  expect(escalation).toEqual({ reason: 'customer_requested_human', draft: null });
  const outbox = await stack.db
    .selectFrom('outbox')
    .select('id')
    .where('workflow_id', '=', handle.workflowId)
    .execute();
  expect(outbox).toHaveLength(0);
  // The discarded draft's call is logged with its tokens and cost once it returns.
  const generate = await eventually(async () =>
    (await stepsOf(handle.workflowId)).find((s) => s.step === 'generate' && s.status === 'ok'),
  );
  expect(generate.detail).toMatchObject({ speculative: true });
  expect(Number(generate.cost_usd)).toBeGreaterThan(0);
  await recordHistory(handle, 'escalated-speculative-discarded');
  await handle.terminate('test cleanup');
});
