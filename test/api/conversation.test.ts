import path from 'node:path';
import { renderHtmlReport } from '../../src/cli/report-html';
import { articleHealth } from '../../src/kb/article-health';
import { ingestPaths } from '../../src/kb/ingest';
import { metricsSummary, weeklyMetrics } from '../../src/metrics/queries';
import { uniqueSuffix } from '../support/stack';
import { startApiTestEnv, waitFor, zendeskSigned, type ApiResponse, type ApiTestEnv } from './helpers';

/**
 * Conversations through the HTTP API on the real stack: follow-up messages and feedback (idempotent by id,
 * 409 once closed, by role), and the thread with authors, times and citations in the ticket detail; the same
 * through the Zendesk webhook's comment and satisfaction events.
 */

let env: ApiTestEnv;

beforeAll(async () => {
  // A window long enough that the conversation stays open for the whole test unless the customer closes it.
  env = await startApiTestEnv({ FOLLOW_UP_WINDOW_MINUTES: '30' });
  const { db, deps } = env.stack;
  await ingestPaths({ db, store: deps.store, embedder: deps.embedder }, [
    path.join(__dirname, '..', 'fixtures', 'kb'),
  ]);
}, 300_000);

afterAll(async () => {
  await env?.close();
});

const id = (prefix: string) => `${prefix}-${uniqueSuffix()}`;

async function detailWhen(
  ticketId: string,
  ready: (body: ApiResponse['body']) => boolean,
  key = env.keys.intake,
) {
  return waitFor(async () => {
    const response = await env.request('GET', `/v1/tickets/${ticketId}`, { key });
    return response.status === 200 && ready(response.body) ? response.body : undefined;
  }, 90_000);
}

test('follow-up and feedback: idempotent by id, the thread with citations, 409 once closed, by role', async () => {
  const ticketId = id('conv');
  const submitted = await env.request('POST', '/v1/tickets', {
    key: env.keys.intake,
    json: {
      externalId: ticketId,
      subject: 'Refund',
      body: 'I bought the annual plan by mistake. How do I request a refund?',
    },
  });
  expect(submitted.status).toBe(202);
  const answered = await detailWhen(ticketId, (d) => d.stage === 'answered' && d.thread.length === 2);
  expect(answered.thread[0]).toMatchObject({ messageId: 'initial', author: 'customer', turn: 0 });
  expect(answered.thread[1]).toMatchObject({ messageId: 'reply', author: 'ai', turn: 1 });
  expect(answered.thread[1].citations.map((c: { documentId: string }) => c.documentId)).toContain('refunds');
  expect(answered.workflowStatus).toBe('RUNNING');

  const message = { messageId: id('m'), text: 'Can I get a refund on a monthly plan?' };
  // Agents answer through resolutions; they do not write as the customer.
  const asAgent = await env.request('POST', `/v1/tickets/${ticketId}/messages`, {
    key: env.keys.agent,
    json: message,
  });
  expect(asAgent.status).toBe(403);
  const unauthenticated = await env.request('POST', `/v1/tickets/${ticketId}/messages`, { json: message });
  expect(unauthenticated.status).toBe(401);

  const first = await env.request('POST', `/v1/tickets/${ticketId}/messages`, {
    key: env.keys.intake,
    json: message,
  });
  expect(first.status).toBe(200);
  expect(first.body).toMatchObject({ ticketId, accepted: true, duplicate: false });
  const again = await env.request('POST', `/v1/tickets/${ticketId}/messages`, {
    key: env.keys.intake,
    json: message,
  });
  // A repeat gets the first answer again (the update id is derived from messageId) and changes nothing.
  expect(again.status).toBe(200);
  expect(again.body).toEqual(first.body);

  const followedUp = await detailWhen(ticketId, (d) =>
    // Stored first, then delivered: wait for the delivery.
    d.thread.some(
      (m: { messageId: string; deliveredAt: string | null }) => m.messageId === 'ai-2' && m.deliveredAt,
    ),
  );
  expect(followedUp.thread.map((m: { author: string }) => m.author)).toEqual([
    'customer',
    'ai',
    'customer',
    'ai',
  ]);
  const second = followedUp.thread[3];
  expect(second).toMatchObject({ turn: 2, deliveredAt: expect.any(String) });
  expect(second.citations.length).toBeGreaterThan(0);

  const badRating = await env.request('POST', `/v1/tickets/${ticketId}/feedback`, {
    key: env.keys.intake,
    json: { feedbackId: id('f'), rating: 'meh' },
  });
  expect(badRating.status).toBe(400);
  const feedbackId = id('f');
  const rated = await env.request('POST', `/v1/tickets/${ticketId}/feedback`, {
    key: env.keys.intake,
    json: { feedbackId, rating: 'good', comment: 'Clear, thanks' },
  });
  expect(rated.status).toBe(200);
  expect(rated.body).toMatchObject({ accepted: true, duplicate: false, turn: 2 });

  const closed = await detailWhen(
    ticketId,
    (d) => d.conversation?.outcome === 'confirmed' && d.workflowStatus === 'COMPLETED',
  );
  expect(closed.feedback).toMatchObject([{ rating: 'good', comment: 'Clear, thanks', turn: 2 }]);
  expect(closed.conversation).toMatchObject({ aiTurns: 2, humanTurns: 0, escalatedAfterAi: false });

  const late = await env.request('POST', `/v1/tickets/${ticketId}/messages`, {
    key: env.keys.intake,
    json: { messageId: id('m'), text: 'one more thing' },
  });
  expect(late.status).toBe(409);
  expect(late.body).toMatchObject({ status: 409, reason: 'closed' });
  const lateFeedback = await env.request('POST', `/v1/tickets/${ticketId}/feedback`, {
    key: env.keys.intake,
    json: { feedbackId, rating: 'good' },
  });
  expect(lateFeedback.status).toBe(409);

  const missing = await env.request('POST', `/v1/tickets/${id('none')}/messages`, {
    key: env.keys.intake,
    json: message,
  });
  expect(missing.status).toBe(404);
});

test('an unhappy follow-up hands the ticket to the human queue', async () => {
  const ticketId = id('unhappy');
  await env.request('POST', '/v1/tickets', {
    key: env.keys.intake,
    json: { externalId: ticketId, subject: 'Refund', body: 'How do I request a refund for my annual plan?' },
  });
  await detailWhen(ticketId, (d) => d.stage === 'answered');
  const sent = await env.request('POST', `/v1/tickets/${ticketId}/messages`, {
    key: env.keys.intake,
    json: { messageId: id('m'), text: "That didn't help, the refund button is missing." },
  });
  expect(sent.status).toBe(200);
  const queue = await waitFor(async () => {
    const response = await env.request('GET', '/v1/escalations', { key: env.keys.agent });
    // The queue shows the stored ticket id: an intake key's external ids are scoped to it (src/tickets/ids.ts).
    const stored = `${env.keyIds.intake}:${ticketId}`;
    return response.body.items?.find((e: { ticketId: string }) => e.ticketId === stored);
  }, 90_000);
  expect(queue.reason).toBe('customer_unsatisfied');
});

test('the summary and Prometheus report the honest resolution rate beside the naive one', async () => {
  // The two tickets above: both answered by the AI (naive: 2 of 2); one confirmed, one came back unhappy.
  const summary = await env.request('GET', '/v1/metrics/summary', { key: env.keys.agent });
  expect(summary.status).toBe(200);
  expect(summary.body.tickets).toBe(2);
  expect(summary.body.conversations).toMatchObject({
    naiveResolutionRate: 1,
    honestResolutionRate: 0.5,
    resolvedByAi: 1,
    confirmedByCustomer: 1,
    escalatedAfterAi: 1,
    reopened: 0,
    awaitingOutcome: 0,
    csat: 1,
    ratings: 1,
  });
  const refunds = summary.body.conversations.articles.find(
    (a: { documentId: string }) => a.documentId === 'refunds',
  );
  expect(refunds).toEqual({ documentId: 'refunds', cited: 2, unhappy: 1, unhappyRate: 0.5 });

  const scrape = await env.request('GET', '/metrics');
  expect(scrape.text).toContain('ticketflow_resolution_rate{kind="naive",window="all"} 1');
  expect(scrape.text).toContain('ticketflow_resolution_rate{kind="honest",window="all"} 0.5');
});

test('the weekly HTML report and article health read the same conversations', async () => {
  const { db, deps } = env.stack;
  const window = { from: new Date(Date.now() - 3_600_000), to: new Date(Date.now() + 60_000) };
  const weekly = await weeklyMetrics(db, window);
  // Summed over weeks (the two tickets may straddle a Monday): 2 tickets, 2 AI replies, 1 resolved by the AI.
  const sum = (f: (w: (typeof weekly)[number]) => number) => weekly.reduce((n, w) => n + f(w), 0);
  expect(sum((w) => w.tickets)).toBe(2);
  expect(sum((w) => (w.autonomousResolutionRate ?? 0) * w.tickets)).toBeCloseTo(2, 6);
  expect(sum((w) => (w.honestResolutionRate ?? 0) * w.tickets)).toBeCloseTo(1, 6);

  const html = renderHtmlReport({
    generatedAt: new Date(),
    summary: await metricsSummary(db, window),
    weekly,
  });
  expect(html).toMatch(/AI replies \(naive\)<b>100\.0%<\/b>/);
  expect(html).toMatch(/Resolved by AI \(honest\)<b>50\.0%<\/b>/);

  // The unhappy follow-up came after an answer citing `refunds`: article health lists it, and nothing else.
  const health = await articleHealth(
    { db, embedder: deps.embedder },
    { since: window.from, until: window.to, minRetrievalScore: 0 },
  );
  expect(health.negativeFeedback).toEqual([
    expect.objectContaining({ documentId: 'refunds', cited: 2, unhappy: 1, unhappyRate: 0.5 }),
  ]);
});

// After the metrics tests above, which count only the two tickets submitted through the API.
describe('the Zendesk webhook: requester comments and satisfaction ratings', () => {
  const REQUESTER = 20978392;
  const AGENT = 11223344;
  const webhook = (body: unknown) =>
    env.request('POST', '/v1/webhooks/zendesk', zendeskSigned(JSON.stringify(body)));
  const zendeskNumber = () => Math.floor(Math.random() * 1e9);

  /** A Zendesk ticket started through the webhook and answered by the AI (its conversation open). */
  async function answeredZendeskTicket(description: string) {
    const zendeskId = zendeskNumber();
    const created = await webhook({
      type: 'ticket.created',
      ticket: {
        id: zendeskId,
        subject: 'Refund',
        description,
        requester: { id: REQUESTER, email: 'sam@example.com', name: 'Sam' },
      },
    });
    expect(created.status).toBe(202);
    const ticketId = `zendesk-${zendeskId}`;
    await detailWhen(ticketId, (d) => d.stage === 'answered' && d.thread.length === 2, env.keys.agent);
    return { zendeskId, ticketId };
  }

  const comment = (zendeskId: number, id: number, body: string, fields: Record<string, unknown> = {}) => ({
    type: 'ticket.comment_added',
    // Quoted placeholders: ids and booleans may arrive as strings.
    ticket: { id: String(zendeskId), requester: { id: String(REQUESTER) } },
    comment: { id, body, public: true, author_id: REQUESTER, ...fields },
  });

  test("a requester's comment is a follow-up turn (once per comment id); agents' and private comments are ignored; a good rating confirms", async () => {
    const { zendeskId, ticketId } = await answeredZendeskTicket(
      'I bought the annual plan by mistake. How do I request a refund?',
    );

    const agentText = 'Internal: customer asked twice, check the payment provider.';
    const byAgent = await webhook(comment(zendeskId, zendeskNumber(), agentText, { author_id: AGENT }));
    expect(byAgent.status).toBe(200);
    expect(byAgent.body).toMatchObject({ ticketId, accepted: false, ignored: 'not_requester' });
    const privateNote = await webhook(comment(zendeskId, zendeskNumber(), agentText, { public: 'false' }));
    expect(privateNote.status).toBe(200);
    expect(privateNote.body).toMatchObject({ ticketId, accepted: false, ignored: 'private_comment' });

    const commentId = zendeskNumber();
    const text = 'Can I get a refund on a monthly plan?';
    const delivery = comment(zendeskId, commentId, text);
    // A bad signature is still 401, whatever the event, and delivers nothing.
    const forged = await env.request('POST', '/v1/webhooks/zendesk', {
      ...zendeskSigned(JSON.stringify(delivery), undefined, 'not-the-secret'),
    });
    expect(forged.status).toBe(401);
    expect(forged.body.errors[0]).toMatchObject({ field: 'x-zendesk-webhook-signature', rule: 'signature' });

    const first = await webhook(delivery);
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ ticketId, accepted: true, duplicate: false, turn: 1 });
    // Zendesk redelivers on a timeout: the repeat answers as the first did and starts no second turn.
    const again = await webhook(delivery);
    expect(again.status).toBe(200);
    expect(again.body).toEqual(first.body);

    const followedUp = await detailWhen(
      ticketId,
      (d) =>
        d.thread.some(
          (m: { messageId: string; deliveredAt: string | null }) => m.messageId === 'ai-2' && m.deliveredAt,
        ),
      env.keys.agent,
    );
    expect(followedUp.thread.map((m: { author: string }) => m.author)).toEqual([
      'customer',
      'ai',
      'customer',
      'ai',
    ]);
    expect(followedUp.thread[2]).toMatchObject({
      messageId: `zendesk-comment-${commentId}`,
      author: 'customer',
      body: text,
      turn: 1,
    });
    expect(followedUp.thread.some((m: { body: string }) => m.body.includes('payment provider'))).toBe(false);

    const rating = {
      type: 'ticket.satisfaction_rated',
      ticket: { id: zendeskId },
      satisfaction_rating: { id: zendeskNumber(), score: 'good_with_comment', comment: 'Clear, thanks' },
    };
    const rated = await webhook(rating);
    expect(rated.status).toBe(200);
    expect(rated.body).toMatchObject({ ticketId, accepted: true, duplicate: false, turn: 2 });
    const closed = await detailWhen(
      ticketId,
      (d) => d.conversation?.outcome === 'confirmed' && d.workflowStatus === 'COMPLETED',
      env.keys.agent,
    );
    expect(closed.feedback).toMatchObject([{ rating: 'good', comment: 'Clear, thanks', turn: 2 }]);
    expect(closed.thread).toHaveLength(4);

    // Closed: a late comment is a 409 with the reason, as on POST /v1/tickets/:id/messages.
    const late = await webhook(comment(zendeskId, zendeskNumber(), 'One more thing'));
    expect(late.status).toBe(409);
    expect(late.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(late.body).toMatchObject({ status: 409, reason: 'closed' });
  });

  test('a bad satisfaction rating hands the ticket to a human as customer_unsatisfied (once per rating)', async () => {
    const { zendeskId, ticketId } = await answeredZendeskTicket(
      'How do I request a refund for my annual plan?',
    );
    const rating = {
      type: 'ticket.satisfaction_rated',
      ticket: { id: zendeskId },
      satisfaction_rating: {
        id: String(zendeskNumber()),
        score: 'bad',
        comment: 'The refund button is missing.',
      },
    };
    const first = await webhook(rating);
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ ticketId, accepted: true, duplicate: false });
    const again = await webhook(rating);
    expect(again.status).toBe(200);
    expect(again.body).toEqual(first.body);

    const queued = await waitFor(async () => {
      const response = await env.request('GET', '/v1/escalations', { key: env.keys.agent });
      return response.body.items?.find((e: { ticketId: string }) => e.ticketId === ticketId);
    }, 90_000);
    expect(queued.reason).toBe('customer_unsatisfied');
    const detail = await detailWhen(ticketId, (d) => d.escalation !== null, env.keys.agent);
    expect(detail.feedback).toMatchObject([{ rating: 'bad', comment: 'The refund button is missing.' }]);
    expect(detail.conversation).toMatchObject({ escalatedAfterAi: true });
  });
});
