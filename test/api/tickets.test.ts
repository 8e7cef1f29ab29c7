import path from 'node:path';
import { ingestPaths } from '../../src/kb/ingest';
import { checkBookkeeping, waitForAllFinished } from '../support/bookkeeping';
import { uniqueSuffix } from '../support/stack';
import { startApiTestEnv, waitFor, zendeskSigned as signed, type ApiTestEnv } from './helpers';

/**
 * Tickets through the HTTP API against the real stack: submit (idempotent), follow, list, the escalation
 * queue, resolution through the workflow update (and its 409s), the Zendesk webhook, request ids.
 */

let env: ApiTestEnv;

beforeAll(async () => {
  env = await startApiTestEnv();
  const { db, deps } = env.stack;
  await ingestPaths({ db, store: deps.store, embedder: deps.embedder }, [
    path.join(__dirname, '..', 'fixtures', 'kb'),
  ]);
  // Generous: a fresh database, a worker and the embedding model all start here, on a possibly busy machine.
}, 300_000);

afterAll(async () => {
  await env?.close();
});

const id = (prefix: string) => `${prefix}-${uniqueSuffix()}`;
/** The ticket id of an external id the intake key submitted: its ids are its own (no existence oracle). */
const intakeTicketId = (externalId: string) => `${env.keyIds.intake}:${externalId}`;

async function waitForStage(ticketId: string, stages: string[], key = env.keys.agent) {
  return waitFor(async () => {
    const response = await env.request('GET', `/v1/tickets/${ticketId}`, { key });
    return response.status === 200 && stages.includes(response.body.stage) ? response.body : undefined;
  }, 90_000);
}

describe('POST /v1/tickets', () => {
  test('is idempotent by externalId: 202 the first time, 200 with the same ids after', async () => {
    const externalId = id('idem');
    const ticket = {
      externalId,
      subject: 'Invoice',
      body: 'Please let me talk to a human about my invoice.',
    };
    const first = await env.request('POST', '/v1/tickets', { key: env.keys.intake, json: ticket });
    const ticketId = intakeTicketId(externalId);
    expect(first.status).toBe(202);
    expect(first.body).toEqual({ ticketId, workflowId: `ticket-${ticketId}`, created: true });

    const again = await env.request('POST', '/v1/tickets', {
      key: env.keys.intake,
      json: { ...ticket, body: 'different text' },
    });
    expect(again.status).toBe(200);
    expect(again.body).toEqual({ ticketId, workflowId: `ticket-${ticketId}`, created: false });

    // One workflow, one ticket row, with the first body.
    const row = await waitFor(() =>
      env.stack.db.selectFrom('tickets').selectAll().where('external_id', '=', ticketId).executeTakeFirst(),
    );
    expect(row.body).toBe(ticket.body);
    const count = await env.stack.db
      .selectFrom('tickets')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('external_id', '=', ticketId)
      .executeTakeFirstOrThrow();
    expect(Number(count.n)).toBe(1);
  });

  test("an intake key's external ids are its own: another client's use of an id is invisible (no existence oracle)", async () => {
    const externalId = id('taken');
    const body = 'Please let me talk to a human about my invoice.';
    const byAdmin = await env.request('POST', '/v1/tickets', {
      key: env.keys.admin,
      json: { externalId, body },
    });
    expect(byAdmin.status).toBe(202);
    expect(byAdmin.body).toMatchObject({ ticketId: externalId, created: true });

    // The same answer as for an id nobody used: a new ticket of its own.
    const ticketId = intakeTicketId(externalId);
    const byIntake = await env.request('POST', '/v1/tickets', {
      key: env.keys.intake,
      json: { externalId, body },
    });
    expect(byIntake.status).toBe(202);
    expect(byIntake.body).toEqual({ ticketId, workflowId: `ticket-${ticketId}`, created: true });
    const fresh = await env.request('POST', '/v1/tickets', {
      key: env.keys.intake,
      json: { externalId: id('fresh'), body },
    });
    expect([fresh.status, fresh.body.created]).toEqual([202, true]);

    // Its own id and its scoped ticket id both read its own ticket; the admin's stays its own.
    for (const path of [externalId, ticketId]) {
      const mine = await waitFor(async () => {
        const r = await env.request('GET', `/v1/tickets/${path}`, { key: env.keys.intake });
        return r.status === 200 ? r.body : undefined;
      });
      expect(mine).toMatchObject({ ticketId, workflowId: `ticket-${ticketId}` });
    }
    const adminView = await env.request('GET', `/v1/tickets/${externalId}`, { key: env.keys.agent });
    expect(adminView.body).toMatchObject({ ticketId: externalId, workflowId: `ticket-${externalId}` });

    // Nobody may submit an id of the scoped shape (it would name another key's ticket).
    for (const key of [env.keys.intake, env.keys.admin]) {
      const forged = await env.request('POST', '/v1/tickets', { key, json: { externalId: ticketId, body } });
      expect(forged.status).toBe(400);
      expect(forged.body.errors).toEqual([expect.objectContaining({ field: 'externalId', rule: 'pattern' })]);
    }
  });

  test('names the field and the rule of every invalid value', async () => {
    const response = await env.request('POST', '/v1/tickets', {
      key: env.keys.intake,
      json: { externalId: 'has spaces!', body: '   ', customer: { email: 'not-an-email' } },
    });
    expect(response.status).toBe(400);
    expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(response.body).toMatchObject({
      status: 400,
      title: 'Bad Request',
      type: expect.stringContaining('validation'),
    });
    const byField = Object.fromEntries(
      response.body.errors.map((e: { field: string; rule: string }) => [e.field, e.rule]),
    );
    expect(byField).toEqual({ externalId: 'pattern', body: 'minLength', 'customer.email': 'email' });
  });

  test('a missing field is "required"; a wrong type is "type"', async () => {
    const response = await env.request('POST', '/v1/tickets', { key: env.keys.intake, json: { body: 42 } });
    expect(response.status).toBe(400);
    expect(response.body.errors).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ field: 'externalId', in: 'body', rule: 'required' }),
        expect.objectContaining({ field: 'body', in: 'body', rule: 'type' }),
      ]),
    );
  });

  test('a ticket body longer than TICKET_MAX_CHARS is rejected with maxLength', async () => {
    const max = env.stack.config.TICKET_MAX_CHARS;
    const response = await env.request('POST', '/v1/tickets', {
      key: env.keys.intake,
      json: { externalId: id('long'), body: 'x'.repeat(max + 1) },
    });
    expect(response.status).toBe(400);
    expect(response.body.errors).toEqual([expect.objectContaining({ field: 'body', rule: 'maxLength' })]);
  });

  test('malformed JSON is 400, a non-JSON content type 415, an oversized body 413 — never 5xx', async () => {
    const malformed = await env.request('POST', '/v1/tickets', {
      key: env.keys.intake,
      rawBody: '{"externalId": "x", "body": ',
      headers: { 'content-type': 'application/json' },
    });
    expect(malformed.status).toBe(400);
    expect(malformed.body).toMatchObject({
      type: expect.stringContaining('malformed-json'),
      errors: [{ field: 'body', rule: 'json' }],
    });

    const wrongType = await env.request('POST', '/v1/tickets', {
      key: env.keys.intake,
      rawBody: 'externalId=x&body=y',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(wrongType.status).toBe(415);
    expect(wrongType.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(wrongType.body.errors[0]).toMatchObject({ field: 'content-type', rule: 'contentType' });

    const tooLarge = await env.request('POST', '/v1/tickets', {
      key: env.keys.intake,
      json: { externalId: id('big'), body: 'y'.repeat(env.stack.config.API_BODY_LIMIT_BYTES + 10) },
    });
    expect(tooLarge.status).toBe(413);
    expect(tooLarge.body).toMatchObject({ status: 413, errors: [{ field: 'body', rule: 'maxBytes' }] });

    const emptyJson = await env.request('POST', '/v1/tickets', {
      key: env.keys.intake,
      rawBody: '',
      headers: { 'content-type': 'application/json' },
    });
    expect(emptyJson.status).toBe(400);

    const notAnObject = await env.request('POST', '/v1/tickets', { key: env.keys.intake, json: [1, 2, 3] });
    expect(notAnObject.status).toBe(400);
    expect(notAnObject.body.errors[0]).toMatchObject({ field: 'body', rule: 'type' });
  });
});

describe('the life of a ticket', () => {
  test('an escalated ticket: detail, escalation queue, resolution, 409 on a second resolution', async () => {
    const externalId = id('esc');
    const submitted = await env.request('POST', '/v1/tickets', {
      key: env.keys.intake,
      json: {
        externalId,
        subject: 'Wrong invoice',
        body: 'I need to speak to a human agent: my invoice shows the wrong company name.',
        customer: { email: 'dana@example.com', name: 'Dana' },
      },
    });
    expect(submitted.status).toBe(202);
    const ticketId: string = submitted.body.ticketId;

    const escalated = await waitForStage(ticketId, ['escalated']);
    expect(escalated).toMatchObject({
      ticketId,
      workflowId: `ticket-${ticketId}`,
      workflowStatus: 'RUNNING',
      awaitingHuman: true,
      channel: 'api',
      subject: 'Wrong invoice',
      customer: { email: 'dana@example.com', name: 'Dana' },
      reply: null,
      escalation: { reason: 'customer_requested_human', resolvedAt: null, overdue: false },
    });
    expect(escalated.classification).toMatchObject({
      intent: expect.any(String),
      confidence: expect.any(Number),
    });
    expect(escalated.timings.milestones).toHaveProperty('received');
    expect(escalated.timings.milestones).toHaveProperty('escalated');
    expect(escalated.timings.steps.map((s: { step: string }) => s.step)).toEqual(
      expect.arrayContaining(['classify', 'retrieve']),
    );

    // The intake key that submitted it may read it back too.
    const asIntake = await env.request('GET', `/v1/tickets/${externalId}`, { key: env.keys.intake });
    expect(asIntake.status).toBe(200);
    expect(asIntake.body.escalation.draft).toBeNull();

    const queue = await waitFor(async () => {
      const response = await env.request('GET', '/v1/escalations', { key: env.keys.agent });
      return response.body.items.find((item: { ticketId: string }) => item.ticketId === ticketId);
    });
    expect(queue).toMatchObject({
      ticketId,
      subject: 'Wrong invoice',
      body: expect.stringContaining('wrong company name'),
      reason: 'customer_requested_human',
      overdue: false,
      classification: expect.objectContaining({ intent: expect.any(String) }),
      customer: { email: 'dana@example.com', name: 'Dana' },
    });
    expect(Array.isArray(queue.passages)).toBe(true);
    expect(queue.ageSeconds).toBeGreaterThanOrEqual(0);
    expect(Date.parse(queue.slaDueAt)).toBeGreaterThan(Date.now());

    const resolved = await env.request('POST', `/v1/tickets/${ticketId}/resolution`, {
      key: env.keys.agent,
      json: { answer: 'I corrected the company name; a new invoice is on its way.' },
    });
    expect(resolved.status).toBe(200);
    // agentId defaults to the key's name.
    expect(resolved.body).toEqual({
      ticketId,
      workflowId: `ticket-${ticketId}`,
      accepted: true,
      agentId: 'agent-bot',
      addToKnowledgeBase: true,
    });

    const second = await env.request('POST', `/v1/tickets/${ticketId}/resolution`, {
      key: env.keys.agent,
      json: { agentId: 'someone-else', answer: 'A second answer' },
    });
    expect(second.status).toBe(409);
    expect(second.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(['already_resolved', 'finished']).toContain(second.body.reason);

    const done = await waitForStage(ticketId, ['resolved']);
    expect(done.reply).toMatchObject({
      source: 'human',
      body: expect.stringContaining('corrected the company name'),
    });
    expect(done.resolution).toMatchObject({ agentId: 'agent-bot', addToKnowledgeBase: true });
    expect(done.escalation.resolvedBy).toBe('agent-bot');

    const finished = await waitFor(async () => {
      const response = await env.request('POST', `/v1/tickets/${ticketId}/resolution`, {
        key: env.keys.agent,
        json: { answer: 'Too late' },
      });
      return response.body.reason === 'finished' ? response : undefined;
    });
    expect(finished.status).toBe(409);

    const afterQueue = await env.request('GET', '/v1/escalations', { key: env.keys.agent });
    expect(afterQueue.body.items.map((i: { ticketId: string }) => i.ticketId)).not.toContain(ticketId);
    const report = await checkBookkeeping(
      env.stack.db,
      await waitForAllFinished(env.stack.client, [`ticket-${ticketId}`], 30_000),
    );
    expect(report.resolved).toHaveLength(1);
  });

  test('a question the KB covers is answered by the AI; resolving it is a 409', async () => {
    const externalId = id('ai');
    const ticketId = intakeTicketId(externalId);
    await env.request('POST', '/v1/tickets', {
      key: env.keys.intake,
      json: {
        externalId,
        subject: 'Refund',
        body: 'Hi, I bought the annual plan last week by mistake. How do I request a refund?',
      },
    });
    const answered = await waitForStage(ticketId, ['answered']);
    expect(answered).toMatchObject({ awaitingHuman: false, escalation: null, reply: { source: 'ai' } });
    expect(answered.reply.body).toMatch(/refund/i);
    // The interaction log row (with the end-to-end latency) is written just after the reply is delivered.
    const logged = await waitFor(async () => {
      const r = await env.request('GET', `/v1/tickets/${ticketId}`, { key: env.keys.agent });
      return r.body.timings.latencyMs !== null ? r.body : undefined;
    });
    expect(logged.timings.latencyMs).toBeGreaterThan(0);
    expect(logged.timings.completedAt).not.toBeNull();

    const response = await waitFor(async () => {
      const r = await env.request('POST', `/v1/tickets/${ticketId}/resolution`, {
        key: env.keys.agent,
        json: { answer: 'x' },
      });
      return r.status === 409 && r.body.reason === 'finished' ? r : undefined;
    });
    expect(response.body.detail).toMatch(/finished/);
    const report = await checkBookkeeping(
      env.stack.db,
      await waitForAllFinished(env.stack.client, [`ticket-${ticketId}`], 30_000),
    );
    expect(report.answered).toHaveLength(1);
  });

  test('GET with waitFor=outcome holds the request until the ticket is decided, once, without client polling', async () => {
    const answerable = id('wait-ai');
    const escalating = id('wait-human');
    for (const [externalId, body] of [
      [answerable, 'Hi, I bought the annual plan last week by mistake. How do I request a refund?'],
      [escalating, 'I want to speak to a human agent about my account, not a bot.'],
    ])
      await env.request('POST', '/v1/tickets', { key: env.keys.intake, json: { externalId, body } });
    const [answered, escalated] = await Promise.all(
      [answerable, escalating].map((externalId) =>
        env.request('GET', `/v1/tickets/${externalId}?waitFor=outcome&timeoutMs=25000`, {
          key: env.keys.intake,
        }),
      ),
    );
    expect(answered!.status).toBe(200);
    expect(answered!.body).toMatchObject({ stage: 'answered', reply: { source: 'ai' }, escalation: null });
    expect(escalated!.status).toBe(200);
    expect(escalated!.body).toMatchObject({ awaitingHuman: true, reply: null });
    expect(escalated!.body.escalation.reason).toBe('customer_requested_human');
    // Each client made one request for its outcome.
    const requestsFor = (externalId: string) =>
      env.logLines.filter(
        (line) =>
          line.msg === 'incoming request' &&
          JSON.stringify(line).includes(`/v1/tickets/${externalId}?waitFor=outcome`),
      ).length;
    expect([requestsFor(answerable), requestsFor(escalating)]).toEqual([1, 1]);
  });

  test('waitFor: a timeout of 0 answers at once; an out-of-range timeout is 400 naming it', async () => {
    const externalId = id('wait-zero');
    await env.request('POST', '/v1/tickets', {
      key: env.keys.intake,
      json: { externalId, body: 'How do I request a refund for my annual plan?' },
    });
    const now = await env.request('GET', `/v1/tickets/${externalId}?waitFor=outcome&timeoutMs=0`, {
      key: env.keys.intake,
    });
    expect(now.status).toBe(200);
    const tooLong = await env.request('GET', `/v1/tickets/${externalId}?waitFor=outcome&timeoutMs=999999`, {
      key: env.keys.intake,
    });
    expect(tooLong.status).toBe(400);
    expect(JSON.stringify(tooLong.body)).toContain('timeoutMs');
    await waitForAllFinished(env.stack.client, [`ticket-${intakeTicketId(externalId)}`], 60_000);
  });

  test('resolution of an unknown ticket is 404; an empty answer is 400', async () => {
    const unknown = await env.request('POST', `/v1/tickets/${id('nope')}/resolution`, {
      key: env.keys.agent,
      json: { answer: 'hello' },
    });
    expect(unknown.status).toBe(404);
    expect(unknown.headers.get('content-type')).toMatch(/^application\/problem\+json/);

    const empty = await env.request('POST', `/v1/tickets/${id('x')}/resolution`, {
      key: env.keys.agent,
      json: { answer: '  ' },
    });
    expect(empty.status).toBe(400);
    expect(empty.body.errors).toEqual([expect.objectContaining({ field: 'answer', rule: 'minLength' })]);
  });

  test('GET /v1/tickets/:id is 404 for unknown ids, and for tickets another intake key submitted', async () => {
    const missing = await env.request('GET', `/v1/tickets/${id('missing')}`, { key: env.keys.agent });
    expect(missing.status).toBe(404);

    const externalId = id('other');
    await env.request('POST', '/v1/tickets', {
      key: env.keys.admin,
      json: { externalId, body: 'I want a human please' },
    });
    await waitFor(
      async () =>
        (await env.request('GET', `/v1/tickets/${externalId}`, { key: env.keys.agent })).status === 200,
    );
    const asIntake = await env.request('GET', `/v1/tickets/${externalId}`, { key: env.keys.intake });
    expect(asIntake.status).toBe(404);
  });
});

describe('GET /v1/tickets', () => {
  test('filters by status, intent and escalated, and pages with a cursor', async () => {
    const ids = [id('list'), id('list'), id('list')];
    for (const externalId of ids) {
      await env.request('POST', '/v1/tickets', {
        key: env.keys.intake,
        json: { externalId, body: 'Could a real person call me back about my account? I want a human.' },
      });
    }
    for (const externalId of ids) await waitForStage(intakeTicketId(externalId), ['escalated']);

    const escalated = await env.request('GET', '/v1/tickets?status=escalated&escalated=true&limit=100', {
      key: env.keys.agent,
    });
    expect(escalated.status).toBe(200);
    const escalatedIds = escalated.body.items.map((t: { ticketId: string }) => t.ticketId);
    expect(escalatedIds).toEqual(expect.arrayContaining(ids.map(intakeTicketId)));
    for (const item of escalated.body.items)
      expect(item).toMatchObject({ stage: 'escalated', escalated: true });

    const intent = escalated.body.items.find(
      (t: { ticketId: string }) => t.ticketId === intakeTicketId(ids[0]!),
    ).intent as string;
    const byIntent = await env.request('GET', `/v1/tickets?intent=${intent}&limit=100`, {
      key: env.keys.agent,
    });
    expect(byIntent.body.items.length).toBeGreaterThan(0);
    for (const item of byIntent.body.items) expect(item.intent).toBe(intent);

    const notEscalated = await env.request('GET', '/v1/tickets?escalated=false&limit=100', {
      key: env.keys.agent,
    });
    for (const item of notEscalated.body.items) expect(item.escalated).toBe(false);
    expect(notEscalated.body.items.map((t: { ticketId: string }) => t.ticketId)).not.toContain(
      intakeTicketId(ids[0]!),
    );

    // Walk every page two at a time: no ticket twice, none missing, newest first.
    const all = await env.request('GET', '/v1/tickets?limit=100', { key: env.keys.agent });
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: Awaited<ReturnType<ApiTestEnv['request']>> = await env.request(
        'GET',
        `/v1/tickets?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
        { key: env.keys.agent },
      );
      expect(page.status).toBe(200);
      expect(page.body.items.length).toBeLessThanOrEqual(2);
      seen.push(...page.body.items.map((t: { ticketId: string }) => t.ticketId));
      cursor = page.body.nextCursor;
    } while (cursor);
    expect(seen).toEqual(all.body.items.map((t: { ticketId: string }) => t.ticketId));
    const created = all.body.items.map((t: { createdAt: string }) => Date.parse(t.createdAt));
    expect([...created].sort((a, b) => b - a)).toEqual(created);

    const badCursor = await env.request('GET', '/v1/tickets?cursor=garbage', { key: env.keys.agent });
    expect(badCursor.status).toBe(400);
    expect(badCursor.body.errors).toEqual([expect.objectContaining({ field: 'cursor', rule: 'cursor' })]);

    const badQuery = await env.request('GET', '/v1/tickets?status=lost&limit=0&escalated=maybe', {
      key: env.keys.agent,
    });
    expect(badQuery.status).toBe(400);
    const rules = Object.fromEntries(
      badQuery.body.errors.map((e: { field: string; rule: string; in: string }) => [e.field, [e.in, e.rule]]),
    );
    expect(rules).toEqual({
      status: ['querystring', 'enum'],
      limit: ['querystring', 'minimum'],
      escalated: ['querystring', 'enum'],
    });
  });
});

describe('POST /v1/webhooks/zendesk', () => {
  const zendeskBody = (ticketId: number) =>
    JSON.stringify({
      ticket: {
        id: ticketId,
        subject: 'Cannot log in',
        description: 'I want to talk to a human, I am locked out of my account.',
        requester: { email: 'sam@example.com', name: 'Sam' },
      },
    });

  test('a correctly signed ticket-created webhook starts the ticket once, as zendesk-<id>', async () => {
    const zendeskId = Math.floor(Math.random() * 1e9);
    const body = zendeskBody(zendeskId);
    const first = await env.request('POST', '/v1/webhooks/zendesk', signed(body));
    expect(first.status).toBe(202);
    expect(first.body).toEqual({
      ticketId: `zendesk-${zendeskId}`,
      workflowId: `ticket-zendesk-${zendeskId}`,
      created: true,
    });

    const redelivery = await env.request('POST', '/v1/webhooks/zendesk', signed(body));
    expect(redelivery.status).toBe(200);
    expect(redelivery.body.created).toBe(false);

    const ticket = await waitForStage(`zendesk-${zendeskId}`, ['escalated', 'answered']);
    expect(ticket).toMatchObject({
      channel: 'zendesk',
      subject: 'Cannot log in',
      customer: { email: 'sam@example.com', name: 'Sam' },
    });
  });

  test('a bad, missing or stale signature is 401 and starts nothing', async () => {
    const zendeskId = Math.floor(Math.random() * 1e9);
    const body = zendeskBody(zendeskId);

    const wrongSecret = await env.request(
      'POST',
      '/v1/webhooks/zendesk',
      signed(body, undefined, 'not-the-secret'),
    );
    expect(wrongSecret.status).toBe(401);
    expect(wrongSecret.body.errors[0]).toMatchObject({
      field: 'x-zendesk-webhook-signature',
      rule: 'signature',
    });

    const tampered = signed(body);
    const tamperedResponse = await env.request('POST', '/v1/webhooks/zendesk', {
      ...tampered,
      rawBody: body.replace('Cannot log in', 'Cannot log out'),
    });
    expect(tamperedResponse.status).toBe(401);

    const unsigned = await env.request('POST', '/v1/webhooks/zendesk', {
      rawBody: body,
      headers: { 'content-type': 'application/json' },
    });
    expect(unsigned.status).toBe(401);
    expect(unsigned.body.errors[0]).toMatchObject({ field: 'x-zendesk-webhook-signature', rule: 'required' });

    const stale = await env.request(
      'POST',
      '/v1/webhooks/zendesk',
      signed(body, new Date(Date.now() - 3_600_000).toISOString()),
    );
    expect(stale.status).toBe(401);
    expect(stale.body.errors[0]).toMatchObject({ rule: 'freshness' });

    const describe = await env.stack.client.workflow
      .getHandle(`ticket-zendesk-${zendeskId}`)
      .describe()
      .catch((err: Error) => err.name);
    expect(describe).toBe('WorkflowNotFoundError');
  });

  test('a signed but malformed payload is 400 naming the field', async () => {
    const body = JSON.stringify({ ticket: { id: 'abc', description: '' } });
    const response = await env.request('POST', '/v1/webhooks/zendesk', signed(body));
    expect(response.status).toBe(400);
    const fields = response.body.errors.map((e: { field: string }) => e.field);
    expect(fields).toEqual(expect.arrayContaining(['ticket.id', 'ticket.description']));
  });

  test('an unknown event type is 400 naming `type`; a comment or rating is validated like a ticket', async () => {
    const unknown = await env.request(
      'POST',
      '/v1/webhooks/zendesk',
      signed(JSON.stringify({ type: 'ticket.deleted', ticket: { id: 1 } })),
    );
    expect(unknown.status).toBe(400);
    expect(unknown.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(unknown.body.errors).toEqual([
      expect.objectContaining({
        field: 'type',
        rule: 'enum',
        message: expect.stringContaining('ticket.comment_added'),
      }),
    ]);

    const comment = await env.request(
      'POST',
      '/v1/webhooks/zendesk',
      signed(
        JSON.stringify({
          type: 'ticket.comment_added',
          ticket: { id: 5, requester: { id: 7 } },
          comment: { id: 'x1', body: '  ', public: 'yes' },
        }),
      ),
    );
    expect(comment.status).toBe(400);
    const rules = Object.fromEntries(
      comment.body.errors.map((e: { field: string; rule: string }) => [e.field, e.rule]),
    );
    expect(rules).toMatchObject({
      'comment.id': 'pattern',
      'comment.body': 'minLength',
      'comment.author_id': 'required',
    });
    expect(Object.keys(rules)).toContain('comment.public');

    const rating = await env.request(
      'POST',
      '/v1/webhooks/zendesk',
      signed(
        JSON.stringify({
          type: 'ticket.satisfaction_rated',
          ticket: { id: 5 },
          satisfaction_rating: { id: 9, score: 'offered' },
        }),
      ),
    );
    expect(rating.status).toBe(400);
    expect(rating.body.errors).toEqual([
      expect.objectContaining({ field: 'satisfaction_rating.score', rule: 'enum' }),
    ]);
  });

  test('a comment or rating on a ticket the webhook never started is 404', async () => {
    const zendeskId = Math.floor(Math.random() * 1e9);
    const comment = await env.request(
      'POST',
      '/v1/webhooks/zendesk',
      signed(
        JSON.stringify({
          type: 'ticket.comment_added',
          ticket: { id: zendeskId, requester: { id: 7 } },
          comment: { id: 1, body: 'Any news?', public: true, author_id: 7 },
        }),
      ),
    );
    expect(comment.status).toBe(404);
    expect(comment.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    const rating = await env.request(
      'POST',
      '/v1/webhooks/zendesk',
      signed(
        JSON.stringify({
          type: 'ticket.satisfaction_rated',
          ticket: { id: zendeskId },
          satisfaction_rating: { id: 2, score: 'good' },
        }),
      ),
    );
    expect(rating.status).toBe(404);
  });
});

describe('request ids', () => {
  test('a given x-request-id is echoed and appears in the log lines of that request; otherwise one is generated', async () => {
    const requestId = `test-${uniqueSuffix()}`;
    const response = await env.request('GET', `/v1/tickets/${id('none')}`, {
      key: env.keys.agent,
      headers: { 'x-request-id': requestId },
    });
    expect(response.headers.get('x-request-id')).toBe(requestId);
    expect(response.body.requestId).toBe(requestId);
    const lines = env.logLines.filter((line) => line.reqId === requestId);
    expect(lines.map((l) => l.msg)).toEqual(
      expect.arrayContaining(['incoming request', 'request completed']),
    );

    const generated = await env.request('GET', '/healthz');
    const generatedId = generated.headers.get('x-request-id');
    expect(generatedId).toMatch(/^[0-9a-f-]{36}$/);

    // Every request-scoped log line carries its request id.
    const requestLines = env.logLines.filter((line) => 'req' in line || 'res' in line);
    expect(requestLines.length).toBeGreaterThan(0);
    for (const line of requestLines) expect(typeof line.reqId).toBe('string');

    // An unsafe id is replaced, not echoed.
    const unsafe = await env.request('GET', '/healthz', {
      headers: { 'x-request-id': 'bad id with spaces' },
    });
    expect(unsafe.headers.get('x-request-id')).not.toBe('bad id with spaces');
  });
});
