import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Client, Connection } from '@temporalio/client';
import pino from 'pino';
import { buildApp } from '../../src/api/app';
import { verifyOutboundSignature } from '../../src/integrations/outbound-webhook';
import { createDb } from '../../src/db/database';
import { createVectorStore } from '../../src/kb/stores';
import { checkBookkeeping, waitForAllFinished } from '../support/bookkeeping';
import { uniqueSuffix } from '../support/stack';
import { httpRequest, startApiTestEnv, waitFor, type ApiTestEnv } from './helpers';

/**
 * The knowledge-base endpoints, business metrics, Prometheus, health and readiness, and the signed outbound
 * webhook the worker sends through src/integrations/outbound-webhook.ts — all against the real stack.
 */

const WEBHOOK_SECRET = 'outbound-test-secret';

interface ReceivedWebhook {
  headers: http.IncomingHttpHeaders;
  body: string;
}

let env: ApiTestEnv;
let receiver: http.Server;
const received: ReceivedWebhook[] = [];

beforeAll(async () => {
  // The ticketing system's side of the outbound webhook.
  receiver = http.createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
    req.on('end', () => {
      received.push({ headers: req.headers, body });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const { port } = receiver.address() as AddressInfo;
  env = await startApiTestEnv({
    OUTBOUND_WEBHOOK_URL: `http://127.0.0.1:${port}/ticketing`,
    OUTBOUND_WEBHOOK_SECRET: WEBHOOK_SECRET,
  });
  // Generous: a fresh database, a worker and the embedding model all start here, on a possibly busy machine.
}, 300_000);

afterAll(async () => {
  await env?.close();
  await new Promise((resolve) => receiver?.close(resolve));
});

const PASSWORD_RESET = {
  title: 'Resetting your password',
  intents: ['account'],
  body:
    '# Resetting your password\n\nOn the sign-in page choose "Forgot password" and enter your e-mail address. ' +
    'The reset link is valid for one hour. Check your spam folder if it does not arrive within five minutes.',
};

const REFUNDS = {
  title: 'Refunds',
  intents: ['billing'],
  body:
    '# Refunds\n\nYou can request a refund within 30 days of purchase. Open Billing > Invoices, choose the invoice ' +
    'and click "Request refund". Refunds reach your card within 5 business days.\n\n' +
    '## Annual plans\n\nAnnual plans bought by mistake are refunded in full if you ask within 30 days.',
};

describe('knowledge base', () => {
  test('PUT creates (201), repeats unchanged (200), replaces; GET, list, search, DELETE', async () => {
    const docId = `refunds-${uniqueSuffix()}`;
    const created = await env.request('PUT', `/v1/kb/documents/${docId}`, {
      key: env.keys.admin,
      json: REFUNDS,
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ documentId: docId, created: true, unchanged: false });
    expect(created.body.chunks).toBeGreaterThan(0);

    const same = await env.request('PUT', `/v1/kb/documents/${docId}`, {
      key: env.keys.admin,
      json: REFUNDS,
    });
    expect(same.status).toBe(200);
    expect(same.body).toMatchObject({ created: false, unchanged: true });

    const changedBody = `${REFUNDS.body}\n\n## Monthly plans\n\nMonthly plans are refunded pro rata.`;
    const replaced = await env.request('PUT', `/v1/kb/documents/${docId}`, {
      key: env.keys.admin,
      json: { ...REFUNDS, body: changedBody },
    });
    expect(replaced.status).toBe(200);
    expect(replaced.body).toMatchObject({ created: false, unchanged: false });

    const one = await env.request('GET', `/v1/kb/documents/${docId}`, { key: env.keys.agent });
    expect(one.status).toBe(200);
    expect(one.body).toMatchObject({
      id: docId,
      title: 'Refunds',
      source: 'kb',
      intents: ['billing'],
      body: changedBody,
    });
    expect(one.body.origin).toBe('api:admin-bot');

    const list = await env.request('GET', '/v1/kb/documents?source=kb', { key: env.keys.agent });
    expect(list.body.items.map((d: { id: string }) => d.id)).toContain(docId);

    const search = await env.request(
      'GET',
      `/v1/kb/search?q=${encodeURIComponent('how do I get my money back for the annual plan')}&limit=3`,
      {
        key: env.keys.agent,
      },
    );
    expect(search.status).toBe(200);
    expect(search.body.results.length).toBeGreaterThan(0);
    expect(search.body.results[0]).toMatchObject({ documentId: docId, source: 'kb', title: 'Refunds' });
    expect(search.body.results[0].score).toBeGreaterThan(0.3);
    const scores = search.body.results.map((r: { score: number }) => r.score);
    expect([...scores].sort((a, b) => b - a)).toEqual(scores);

    // A human resolution on the same subject: the source filter keeps it and leaves the article out.
    const resolutionId = `resolution-kbops-${uniqueSuffix()}`;
    await env.stack.deps.ingestDocument({
      id: resolutionId,
      title: 'Can I get a refund for the annual plan I bought by mistake?',
      body: 'Yes: we refunded your annual plan in full; the money reaches your card within 5 business days.',
      source: 'resolution',
      ticketId: 'ticket-kbops',
    });
    const onlyResolutions = await env.request('GET', '/v1/kb/search?q=refund&source=resolution', {
      key: env.keys.agent,
    });
    expect(onlyResolutions.status).toBe(200);
    const resolutionIds = onlyResolutions.body.results.map((r: { documentId: string }) => r.documentId);
    expect(resolutionIds).toContain(resolutionId);
    expect(resolutionIds).not.toContain(docId);
    for (const r of onlyResolutions.body.results) expect(r.source).toBe('resolution');
    // Leave the KB as the metrics test below expects it (one resolution, learned from its own ticket).
    expect(
      (await env.request('DELETE', `/v1/kb/documents/${resolutionId}`, { key: env.keys.admin })).status,
    ).toBe(200);

    const deleted = await env.request('DELETE', `/v1/kb/documents/${docId}`, { key: env.keys.admin });
    expect(deleted.status).toBe(200);
    expect(deleted.body).toMatchObject({ documentId: docId, deleted: true });
    expect(deleted.body.chunks).toBeGreaterThan(0);
    expect((await env.request('GET', `/v1/kb/documents/${docId}`, { key: env.keys.agent })).status).toBe(404);
    expect((await env.request('DELETE', `/v1/kb/documents/${docId}`, { key: env.keys.admin })).status).toBe(
      404,
    );
    const after = await env.request('GET', '/v1/kb/search?q=refund%20annual%20plan', { key: env.keys.agent });
    expect(after.body.results.map((r: { documentId: string }) => r.documentId)).not.toContain(docId);
  });

  test('invalid documents and queries name the field and rule', async () => {
    const bad = await env.request('PUT', '/v1/kb/documents/ok-id', {
      key: env.keys.admin,
      json: { title: '', body: 'text', intents: ['Not An Intent'] },
    });
    expect(bad.status).toBe(400);
    const rules = Object.fromEntries(
      bad.body.errors.map((e: { field: string; rule: string }) => [e.field, e.rule]),
    );
    expect(rules).toEqual({ title: 'minLength', 'intents.0': 'pattern' });

    const badId = await env.request('PUT', '/v1/kb/documents/-leading-dash', {
      key: env.keys.admin,
      json: REFUNDS,
    });
    expect(badId.status).toBe(400);
    expect(badId.body.errors).toEqual([
      expect.objectContaining({ field: 'id', in: 'params', rule: 'pattern' }),
    ]);

    const noQuery = await env.request('GET', '/v1/kb/search', { key: env.keys.agent });
    expect(noQuery.status).toBe(400);
    expect(noQuery.body.errors).toEqual([
      expect.objectContaining({ field: 'q', in: 'querystring', rule: 'required' }),
    ]);
  });
});

describe('tickets feed metrics, Prometheus and the outbound webhook', () => {
  test('one AI answer and one human resolution', async () => {
    await env.request('PUT', '/v1/kb/documents/refunds', { key: env.keys.admin, json: REFUNDS });
    // A second article, so the answerability gate has a runner-up to measure the refunds article against (with a
    // single document it measures against that document's weakest passage, and may rightly hand off).
    await env.request('PUT', '/v1/kb/documents/password-reset', {
      key: env.keys.admin,
      json: PASSWORD_RESET,
    });
    // An intake key's tickets are `<keyId>:<externalId>` (its external ids are its own).
    const aiExternalId = `m-ai-${uniqueSuffix()}`;
    const humanExternalId = `m-human-${uniqueSuffix()}`;
    const aiId = `${env.keyIds.intake}:${aiExternalId}`;
    const humanId = `${env.keyIds.intake}:${humanExternalId}`;
    await env.request('POST', '/v1/tickets', {
      key: env.keys.intake,
      json: {
        externalId: aiExternalId,
        subject: 'Refund',
        body: 'Hi, I bought the annual plan last week by mistake. How do I request a refund?',
      },
    });
    await env.request('POST', '/v1/tickets', {
      key: env.keys.intake,
      json: {
        externalId: humanExternalId,
        subject: 'Data export',
        body: 'Please have a human agent help me export all my data.',
      },
    });

    const answered = await waitFor(async () => {
      const r = await env.request('GET', `/v1/tickets/${aiId}`, { key: env.keys.agent });
      return r.body.stage === 'answered' && r.body.timings.latencyMs !== null ? r.body : undefined;
    }, 90_000);
    expect(answered.reply.source).toBe('ai');

    await waitFor(
      async () =>
        (await env.request('GET', `/v1/tickets/${humanId}`, { key: env.keys.agent })).body.stage ===
        'escalated',
      90_000,
    );
    const resolved = await env.request('POST', `/v1/tickets/${humanId}/resolution`, {
      key: env.keys.agent,
      json: {
        agentId: 'alex',
        answer: 'Open Settings > Privacy > Export data; the archive is emailed to you within an hour.',
      },
    });
    expect(resolved.status).toBe(200);
    await waitFor(async () => {
      const r = await env.request('GET', `/v1/tickets/${humanId}`, { key: env.keys.agent });
      return r.body.stage === 'resolved' && r.body.timings.latencyMs !== null && r.body.resolution?.kbOutcome
        ? r.body
        : undefined;
    }, 90_000);

    const report = await checkBookkeeping(
      env.stack.db,
      await waitForAllFinished(env.stack.client, [`ticket-${aiId}`, `ticket-${humanId}`], 30_000),
    );
    expect({ answered: report.answered.length, resolved: report.resolved.length }).toEqual({
      answered: 1,
      resolved: 1,
    });

    // The human answer was learned: a resolution document now exists.
    const learned = await env.request('GET', '/v1/kb/documents?source=resolution', { key: env.keys.agent });
    expect(learned.body.items.map((d: { ticketId: string }) => d.ticketId)).toContain(`ticket-${humanId}`);

    // Business metrics over a window that holds exactly these two tickets.
    const from = new Date(Date.now() - 10 * 60_000).toISOString();
    const to = new Date(Date.now() + 60_000).toISOString();
    const { db } = env.stack;
    const rows = await db.selectFrom('interactions').selectAll().execute();
    expect(rows).toHaveLength(2);
    const summary = await env.request('GET', `/v1/metrics/summary?from=${from}&to=${to}`, {
      key: env.keys.agent,
    });
    expect(summary.status).toBe(200);
    expect(summary.body).toMatchObject({
      tickets: 2,
      escalated: 1,
      escalationRate: 0.5,
      autonomousResolutionRate: 0.5,
      humanResolved: 1,
      openEscalations: 0,
      escalationsByReason: [{ reason: 'customer_requested_human', count: 1 }],
    });
    const intents = summary.body.escalationRateByIntent as Array<{ tickets: number; escalated: number }>;
    expect(intents.reduce((n, i) => n + i.tickets, 0)).toBe(2);
    expect(intents.reduce((n, i) => n + i.escalated, 0)).toBe(1);
    const latencies = rows.map((r) => r.latency_ms!).sort((a, b) => a - b);
    // percentile_cont(0.95) over two values interpolates 95% of the way from the smaller to the larger.
    expect(summary.body.p95LatencyMs).toBeCloseTo(latencies[0]! + 0.95 * (latencies[1]! - latencies[0]!), 3);
    expect(summary.body.kbGrowth.addedFromResolutions).toBe(1);
    expect(summary.body.kbGrowth.documentsAtEnd).toBe(
      summary.body.kbGrowth.documentsAtStart + summary.body.kbGrowth.added,
    );
    expect(summary.body.costPerDay.reduce((n: number, d: { tickets: number }) => n + d.tickets, 0)).toBe(2);

    const empty = await env.request(
      'GET',
      `/v1/metrics/summary?from=2001-01-01T00:00:00Z&to=2001-01-02T00:00:00Z`,
      {
        key: env.keys.agent,
      },
    );
    expect(empty.body).toMatchObject({
      tickets: 0,
      escalationRate: null,
      p95LatencyMs: null,
      autonomousResolutionRate: null,
    });
    const inverted = await env.request('GET', `/v1/metrics/summary?from=${to}&to=${from}`, {
      key: env.keys.agent,
    });
    expect(inverted.status).toBe(400);
    expect(inverted.body.errors[0]).toMatchObject({ field: 'from' });
    const notADate = await env.request('GET', '/v1/metrics/summary?from=yesterday', { key: env.keys.agent });
    expect(notADate.status).toBe(400);
    expect(notADate.body.errors[0]).toMatchObject({ field: 'from', in: 'querystring' });

    // Prometheus: gauges from Postgres, the latency histogram, HTTP metrics.
    const scrape = await env.request('GET', '/metrics');
    expect(scrape.status).toBe(200);
    expect(scrape.headers.get('content-type')).toMatch(/^text\/plain/);
    const metric = (pattern: RegExp) => {
      const match = scrape.text.split('\n').find((line) => pattern.test(line));
      return match === undefined ? undefined : Number(match.split(' ').pop());
    };
    expect(metric(/^ticketflow_tickets\{intent="[a-z_]+",outcome="answered_by_ai"\}/)).toBe(1);
    expect(metric(/^ticketflow_tickets\{intent="[a-z_]+",outcome="resolved_by_human"\}/)).toBe(1);
    expect(metric(/^ticketflow_escalation_rate\{window="all"\}/)).toBe(0.5);
    expect(metric(/^ticketflow_escalations_open\{state="open"\}/)).toBe(0);
    expect(metric(/^ticketflow_ticket_latency_seconds_count\{reply_source="ai"\}/)).toBe(1);
    expect(metric(/^ticketflow_ticket_latency_seconds_count\{reply_source="human"\}/)).toBe(1);
    expect(metric(/^ticketflow_kb_documents\{source="resolution"\}/)).toBe(1);
    expect(
      metric(/^ticketflow_http_requests_total\{method="POST",route="\/v1\/tickets",status_code="202"\}/),
    ).toBe(2);
    // A second scrape does not count the same tickets again.
    const rescrape = await env.request('GET', '/metrics');
    expect(rescrape.text).toMatch(/^ticketflow_ticket_latency_seconds_count\{reply_source="ai"\} 1$/m);

    // The worker pushed signed events to the ticketing system through sendOutboundWebhook.
    const events = await waitFor(async () => {
      const parsed = received.map((r) => ({ ...r, event: JSON.parse(r.body) as Record<string, unknown> }));
      const reply = parsed.find((p) => p.event.type === 'reply' && p.event.externalId === aiId);
      const escalation = parsed.find((p) => p.event.type === 'escalation' && p.event.externalId === humanId);
      const humanReply = parsed.find((p) => p.event.type === 'reply' && p.event.externalId === humanId);
      return reply && escalation && humanReply ? { reply, escalation, humanReply } : undefined;
    });
    for (const delivery of [events.reply, events.escalation, events.humanReply]) {
      const signature = String(delivery.headers['x-ticketflow-signature']);
      const timestamp = String(delivery.headers['x-ticketflow-timestamp']);
      expect(verifyOutboundSignature(WEBHOOK_SECRET, timestamp, delivery.body, signature)).toBe(true);
      expect(verifyOutboundSignature('wrong-secret', timestamp, delivery.body, signature)).toBe(false);
      expect(delivery.headers['x-ticketflow-event-id']).toBe(delivery.event.id);
    }
    expect(events.reply.event).toMatchObject({ source: 'ai', workflowId: `ticket-${aiId}` });
    expect(events.humanReply.event).toMatchObject({
      source: 'human',
      body: expect.stringContaining('Export data'),
    });
    expect(events.escalation.event).toMatchObject({
      reason: 'customer_requested_human',
      slaDueAt: expect.any(String),
    });
  });
});

describe('health', () => {
  test('/healthz is up; /readyz checks Temporal, Postgres and the vector store', async () => {
    const health = await env.request('GET', '/healthz');
    expect(health.status).toBe(200);
    expect(health.body).toMatchObject({ status: 'ok' });

    const ready = await env.request('GET', '/readyz');
    expect(ready.status).toBe(200);
    expect(ready.body).toMatchObject({
      status: 'ready',
      failed: [],
      checks: { temporal: { ok: true }, postgres: { ok: true }, vectorStore: { ok: true } },
    });
  });

  test('/readyz is 503 naming every dependency that does not answer', async () => {
    // Real clients pointed at ports where nothing listens.
    const deadTemporal = new Client({ connection: Connection.lazy({ address: '127.0.0.1:1' }) });
    const deadDb = createDb('postgres://nobody:nothing@127.0.0.1:1/none', 1);
    const config = { ...env.stack.config, VECTOR_DATABASE_URL: 'postgres://nobody:nothing@127.0.0.1:1/none' };
    const deadStore = createVectorStore(config, env.stack.deps.embedder);
    const app = await buildApp(
      {
        config,
        db: deadDb,
        temporal: deadTemporal,
        kb: { store: deadStore, embedder: env.stack.deps.embedder },
        logger: pino({ level: 'silent' }),
      },
      { defaultMetrics: false, docsUi: false },
    );
    const url = await app.listen({ host: '127.0.0.1', port: 0 });
    try {
      const ready = await httpRequest(url, 'GET', '/readyz');
      expect(ready.status).toBe(503);
      expect(ready.body.status).toBe('not_ready');
      expect([...ready.body.failed].sort()).toEqual(['postgres', 'temporal', 'vectorStore']);
      for (const name of ['postgres', 'temporal', 'vectorStore']) {
        expect(ready.body.checks[name]).toMatchObject({ ok: false, error: expect.any(String) });
      }
      // Liveness does not depend on them.
      expect((await httpRequest(url, 'GET', '/healthz')).status).toBe(200);

      // Requests that need a dead dependency get 503 problem+json with retry-after, not a 500.
      const adminKey = env.stack.config.ADMIN_API_KEY!;
      const needsPostgres = await httpRequest(url, 'GET', '/v1/escalations', { key: adminKey });
      expect(needsPostgres.status).toBe(503);
      expect(needsPostgres.headers.get('retry-after')).toBe('5');
      expect(needsPostgres.body).toMatchObject({
        type: expect.stringContaining('dependency-unavailable'),
        detail: expect.stringContaining('Postgres'),
      });
      const needsTemporal = await httpRequest(url, 'POST', '/v1/tickets', {
        key: adminKey,
        json: { externalId: `down-${uniqueSuffix()}`, body: 'hello' },
      });
      expect(needsTemporal.status).toBe(503);
      expect(needsTemporal.body.detail).toContain('Temporal');
    } finally {
      await app.close();
      // The SDK's gRPC retry keeps re-attempting until the check's deadline; closing the channel under a pending
      // retry timer throws from that timer, so let the retries run out first.
      await new Promise((resolve) => setTimeout(resolve, 4_000));
      await deadStore.close().catch(() => undefined);
      await deadDb.destroy();
      await deadTemporal.connection.close().catch(() => undefined);
    }
  });
});
