import { randomBytes } from 'node:crypto';
import pino from 'pino';
import { buildApp } from '../../src/api/app';
import { uniqueSuffix } from '../support/stack';
import { ADMIN_KEY, httpRequest, startApiTestEnv, type ApiTestEnv } from './helpers';

/** Authentication, roles, API-key management, rate limits, and the OpenAPI document. */

let env: ApiTestEnv;

beforeAll(async () => {
  // Every route is probed with bad keys from one address; the failed-auth limiter is tested in abuse.test.ts.
  env = await startApiTestEnv({ AUTH_FAILURES_PER_MINUTE: '100000' });
  // Generous: a fresh database, a worker and the embedding model all start here, on a possibly busy machine.
}, 300_000);

afterAll(async () => {
  await env?.close();
});

/** Every endpoint ticketflow serves (besides the docs UI), as the OpenAPI document must list them. */
const ENDPOINTS: Array<[string, string]> = [
  ['post', '/v1/tickets'],
  ['get', '/v1/tickets'],
  ['get', '/v1/tickets/{id}'],
  ['post', '/v1/tickets/{id}/resolution'],
  ['post', '/v1/tickets/{id}/messages'],
  ['post', '/v1/tickets/{id}/feedback'],
  ['get', '/v1/escalations'],
  ['put', '/v1/kb/documents/{id}'],
  ['get', '/v1/kb/documents'],
  ['get', '/v1/kb/documents/{id}'],
  ['delete', '/v1/kb/documents/{id}'],
  ['get', '/v1/kb/ingestions/{id}'],
  ['get', '/v1/kb/search'],
  ['get', '/v1/kb/gaps'],
  ['get', '/v1/metrics/summary'],
  ['post', '/v1/keys'],
  ['get', '/v1/keys'],
  ['delete', '/v1/keys/{id}'],
  ['post', '/v1/webhooks/zendesk'],
  ['get', '/healthz'],
  ['get', '/readyz'],
  ['get', '/metrics'],
];

/** Protected endpoints with a request that would pass validation, to show auth is checked first. */
const PROTECTED: Array<{ method: string; url: string; json?: unknown; roles: string[] }> = [
  {
    method: 'POST',
    url: '/v1/tickets',
    json: { externalId: 'auth-probe', body: 'x' },
    roles: ['intake', 'admin'],
  },
  { method: 'GET', url: '/v1/tickets', roles: ['agent', 'admin'] },
  { method: 'GET', url: '/v1/tickets/none-such', roles: ['intake', 'agent', 'admin'] },
  {
    method: 'POST',
    url: '/v1/tickets/none-such/resolution',
    json: { answer: 'a' },
    roles: ['agent', 'admin'],
  },
  {
    method: 'POST',
    url: '/v1/tickets/none-such/messages',
    json: { messageId: 'm1', text: 'hello?' },
    roles: ['intake', 'admin'],
  },
  {
    method: 'POST',
    url: '/v1/tickets/none-such/feedback',
    json: { feedbackId: 'f1', rating: 'good' },
    roles: ['intake', 'admin'],
  },
  { method: 'GET', url: '/v1/escalations', roles: ['agent', 'admin'] },
  { method: 'PUT', url: '/v1/kb/documents/probe', json: { title: 't', body: 'b' }, roles: ['admin'] },
  { method: 'GET', url: '/v1/kb/documents', roles: ['agent', 'admin'] },
  { method: 'GET', url: '/v1/kb/documents/none-such', roles: ['agent', 'admin'] },
  { method: 'DELETE', url: '/v1/kb/documents/none-such', roles: ['admin'] },
  { method: 'GET', url: `/v1/kb/ingestions/kbi_${'0'.repeat(32)}`, roles: ['agent', 'admin'] },
  { method: 'GET', url: '/v1/kb/search?q=refund', roles: ['agent', 'admin'] },
  { method: 'GET', url: '/v1/kb/gaps', roles: ['agent', 'admin'] },
  { method: 'GET', url: '/v1/metrics/summary', roles: ['agent', 'admin'] },
  { method: 'POST', url: '/v1/keys', json: { name: 'probe', role: 'intake' }, roles: ['admin'] },
  { method: 'GET', url: '/v1/keys', roles: ['admin'] },
  { method: 'DELETE', url: '/v1/keys/none-such', roles: ['admin'] },
];

describe('authentication', () => {
  test.each(PROTECTED)(
    '$method $url: 401 without a key, with an unknown, malformed or revoked key',
    async (route) => {
      const cases: Array<[Record<string, string>, string]> = [
        [{}, 'missing-api-key'],
        [{ authorization: `Bearer tf_${randomBytes(32).toString('base64url')}` }, 'invalid-api-key'],
        [{ authorization: 'Bearer not-a-key' }, 'invalid-api-key'],
        [{ authorization: `Bearer ${env.keys.revoked}` }, 'revoked-api-key'],
        [{ 'x-api-key': env.keys.revoked }, 'revoked-api-key'],
      ];
      for (const [headers, problem] of cases) {
        const response = await env.request(route.method, route.url, { json: route.json, headers });
        expect(response.status).toBe(401);
        expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
        expect(response.headers.get('www-authenticate')).toMatch(/^Bearer/);
        expect(response.body).toMatchObject({ status: 401, type: expect.stringContaining(problem) });
      }
    },
  );

  test.each(PROTECTED)(
    '$method $url: 403 for roles without the permission, allowed for $roles',
    async (route) => {
      for (const role of ['intake', 'agent', 'admin'] as const) {
        const response = await env.request(route.method, route.url, {
          json: route.json,
          key: env.keys[role],
        });
        if (route.roles.includes(role)) {
          expect([200, 201, 202, 404]).toContain(response.status);
        } else {
          expect(response.status).toBe(403);
          expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
          expect(response.body).toMatchObject({
            status: 403,
            reason: 'insufficient_role',
            detail: expect.stringContaining(role),
          });
        }
      }
    },
  );

  test('X-Api-Key works like Authorization: Bearer; the ADMIN_API_KEY bootstraps an admin', async () => {
    const viaHeader = await env.request('GET', '/v1/escalations', {
      headers: { 'x-api-key': env.keys.agent },
    });
    expect(viaHeader.status).toBe(200);
    const bootstrap = await env.request('GET', '/v1/keys', { key: ADMIN_KEY });
    expect(bootstrap.status).toBe(200);
    const nearMiss = await env.request('GET', '/v1/keys', { key: `${ADMIN_KEY}x` });
    expect(nearMiss.status).toBe(401);
  });

  test('public endpoints need no key', async () => {
    for (const url of ['/healthz', '/readyz', '/metrics', '/openapi.json']) {
      const response = await env.request('GET', url);
      expect(response.status).toBe(200);
    }
  });
});

describe('API keys', () => {
  test('create (shown once) → use → list (hash never shown) → revoke → 401', async () => {
    const name = `ops-${uniqueSuffix()}`;
    const created = await env.request('POST', '/v1/keys', {
      key: env.keys.admin,
      json: { name, role: 'agent' },
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      name,
      role: 'agent',
      revokedAt: null,
      key: expect.stringMatching(/^tf_[A-Za-z0-9_-]{40,}$/),
    });
    const { id, key } = created.body as { id: string; key: string };

    const stored = await env.stack.db
      .selectFrom('api_keys')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirstOrThrow();
    expect(stored.key_hash).not.toContain(key);
    expect(stored.key_hash).toMatch(/^[0-9a-f]{64}$/);

    expect((await env.request('GET', '/v1/escalations', { key })).status).toBe(200);

    const listed = await env.request('GET', '/v1/keys', { key: env.keys.admin });
    const entry = listed.body.items.find((k: { id: string }) => k.id === id);
    expect(entry).toMatchObject({ id, name, role: 'agent' });
    expect(JSON.stringify(listed.body)).not.toContain(key);

    const revoked = await env.request('DELETE', `/v1/keys/${id}`, { key: env.keys.admin });
    expect(revoked.status).toBe(200);
    expect(revoked.body).toEqual({ id, revoked: true });
    const after = await env.request('GET', '/v1/escalations', { key });
    expect(after.status).toBe(401);
    expect(after.body.reason).toBe('revoked_key');

    const again = await env.request('DELETE', `/v1/keys/${id}`, { key: env.keys.admin });
    expect(again.status).toBe(404);

    const withRevoked = await env.request('GET', '/v1/keys?includeRevoked=true', { key: env.keys.admin });
    expect(withRevoked.body.items.find((k: { id: string }) => k.id === id).revokedAt).not.toBeNull();
    const active = await env.request('GET', '/v1/keys', { key: env.keys.admin });
    expect(active.body.items.map((k: { id: string }) => k.id)).not.toContain(id);
  });

  test('an unknown role is a 400 naming the field and rule', async () => {
    const response = await env.request('POST', '/v1/keys', {
      key: env.keys.admin,
      json: { name: 'x', role: 'root' },
    });
    expect(response.status).toBe(400);
    expect(response.body.errors).toEqual([expect.objectContaining({ field: 'role', rule: 'enum' })]);
  });
});

describe('rate limiting', () => {
  test('per key: the N+1th request in a minute is 429 problem+json; another key is unaffected', async () => {
    const config = { ...env.stack.config, RATE_LIMIT_PER_MINUTE: 3 };
    const app = await buildApp(
      { config, db: env.stack.db, temporal: env.stack.client, logger: pino({ level: 'silent' }) },
      { defaultMetrics: false, docsUi: false },
    );
    const url = await app.listen({ host: '127.0.0.1', port: 0 });
    try {
      for (let i = 0; i < 3; i++) {
        const ok = await httpRequest(url, 'GET', '/v1/escalations', { key: env.keys.agent });
        expect(ok.status).toBe(200);
        expect(ok.headers.get('x-ratelimit-remaining')).toBe(String(2 - i));
      }
      const limited = await httpRequest(url, 'GET', '/v1/escalations', { key: env.keys.agent });
      expect(limited.status).toBe(429);
      expect(limited.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(limited.headers.get('retry-after')).toMatch(/^\d+$/);
      expect(limited.body).toMatchObject({ status: 429, type: expect.stringContaining('rate-limited') });

      const otherKey = await httpRequest(url, 'GET', '/v1/escalations', { key: env.keys.admin });
      expect(otherKey.status).toBe(200);
      // Health checks are never rate limited.
      for (let i = 0; i < 5; i++) expect((await httpRequest(url, 'GET', '/healthz')).status).toBe(200);
    } finally {
      await app.close();
    }
  });
});

describe('errors', () => {
  test('unknown routes are 404 problem+json', async () => {
    const response = await env.request('GET', '/v1/nothing-here');
    expect(response.status).toBe(404);
    expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(response.body).toMatchObject({ status: 404, errors: [] });
  });
});

describe('OpenAPI document', () => {
  type Operation = {
    responses?: Record<string, { description?: string }>;
    security?: unknown[];
    parameters?: Array<{ in: string; name: string; required?: boolean }>;
  };

  test('is structurally valid OpenAPI 3 and lists every endpoint with its responses', async () => {
    const response = await env.request('GET', '/openapi.json');
    expect(response.status).toBe(200);
    const doc = response.body as {
      openapi: string;
      info: { title: string; version: string };
      paths: Record<string, Record<string, Operation>>;
      components: { securitySchemes: Record<string, unknown>; schemas?: Record<string, unknown> };
    };
    expect(doc.openapi).toMatch(/^3\.\d+\.\d+$/);
    expect(doc.info.title).toBeTruthy();
    expect(doc.info.version).toMatch(/^\d+\.\d+\.\d+/);

    const listed = Object.entries(doc.paths)
      .flatMap(([url, ops]) =>
        Object.keys(ops)
          .filter((k) => k !== 'parameters')
          .map((method) => `${method} ${url}`),
      )
      .sort();
    expect(listed).toEqual(ENDPOINTS.map(([method, url]) => `${method} ${url}`).sort());

    const httpMethods = new Set(['get', 'put', 'post', 'delete', 'patch', 'head', 'options', 'trace']);
    for (const [url, operations] of Object.entries(doc.paths)) {
      expect(url.startsWith('/')).toBe(true);
      const templateParams = [...url.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]);
      for (const [method, operation] of Object.entries(operations)) {
        expect(httpMethods.has(method)).toBe(true);
        // Every operation documents at least one response, each with a description (required by OpenAPI 3).
        const responses = Object.entries(operation.responses ?? {});
        expect(responses.length).toBeGreaterThan(0);
        for (const [status, body] of responses) {
          expect(status).toMatch(/^([1-5]\d\d|[1-5]XX|default)$/);
          expect(typeof body.description).toBe('string');
        }
        // Path templates are declared as required path parameters.
        const pathParams = (operation.parameters ?? []).filter((p) => p.in === 'path');
        expect(pathParams.map((p) => p.name).sort()).toEqual([...templateParams].sort());
        for (const p of pathParams) expect(p.required).toBe(true);
        // Security requirements name schemes the document defines.
        for (const requirement of operation.security ?? []) {
          for (const scheme of Object.keys(requirement as object))
            expect(doc.components.securitySchemes).toHaveProperty(scheme);
        }
        // The server really serves what the document promises.
        expect(
          env.app.hasRoute({
            method: method.toUpperCase() as 'GET',
            url: url.replace(/\{([^}]+)\}/g, ':$1'),
          }),
        ).toBe(true);
      }
    }

    // Authenticated operations declare security and the 401/403 problems; 4xx bodies are problem+json.
    const submit = doc.paths['/v1/tickets']!.post!;
    expect(submit.security).toEqual([{ bearerAuth: [] }, { apiKeyHeader: [] }]);
    expect(Object.keys(submit.responses!)).toEqual(
      expect.arrayContaining(['200', '202', '400', '401', '403', '413', '415', '429']),
    );
    expect(JSON.stringify(submit.responses!['400'])).toContain('application/problem+json');

    // Every $ref points at something inside the document.
    const refs = [...JSON.stringify(doc).matchAll(/"\$ref":"([^"]+)"/g)].map((m) => m[1]!);
    for (const ref of refs) {
      expect(ref.startsWith('#/')).toBe(true);
      const target = ref
        .slice(2)
        .split('/')
        .reduce<unknown>((node, key) => (node as Record<string, unknown> | undefined)?.[key], doc);
      expect(target).toBeDefined();
    }
  });
});
