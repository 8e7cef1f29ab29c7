import { ADMIN_KEY, startApiTestEnv, type ApiTestEnv } from '../api/helpers';
import { ingestFixtureKb, seedEscalations } from './fixture';

/** GET /v1/kb/gaps on the real API (Postgres, pgvector, embeddings): roles, validation, publishing a suggestion. */

let env: ApiTestEnv;

beforeAll(async () => {
  env = await startApiTestEnv();
  const { db, deps } = env.stack;
  await ingestFixtureKb({ db, store: deps.store, embedder: deps.embedder }, { small: true });
  await seedEscalations(db, 'api');
}, 600_000);

afterAll(async () => env?.close());

describe('GET /v1/kb/gaps', () => {
  it('gives agents the report: two gaps with suggestions, the covered topic without one, the contradiction', async () => {
    const response = await env.request('GET', '/v1/kb/gaps?days=7', { key: env.keys.agent });
    expect(response.status).toBe(200);
    const report = response.body;
    expect(report.gaps).toBe(2);
    const gaps = report.clusters.filter((c: { status: string }) => c.status === 'gap');
    const ids = gaps.map((c: { ticketIds: string[] }) => c.ticketIds.map((id) => id.replace(/-\d$/, '')));
    expect(ids.map((list: string[]) => [...new Set(list)]).sort()).toEqual([['api-dep'], ['api-self']]);
    const covered = report.clusters.find((c: { status: string }) => c.status === 'covered');
    expect(covered.nearestArticle.documentId).toBe('password-reset');
    expect(covered.suggestion).toBeNull();
    expect(
      report.health.contradictions.map((c: { a: { documentId: string }; b: { documentId: string } }) =>
        [c.a.documentId, c.b.documentId].sort(),
      ),
    ).toEqual([['billing-faq', 'refunds']]);
    expect(report.window.days).toBe(7);
  });

  it('admins may read it; intake keys and anonymous callers may not', async () => {
    expect((await env.request('GET', '/v1/kb/gaps', { key: env.keys.admin })).status).toBe(200);
    const intake = await env.request('GET', '/v1/kb/gaps', { key: env.keys.intake });
    expect(intake.status).toBe(403);
    expect((await env.request('GET', '/v1/kb/gaps')).status).toBe(401);
  });

  it('validates the query with a clear error', async () => {
    const response = await env.request('GET', '/v1/kb/gaps?days=0&minSize=abc', { key: env.keys.agent });
    expect(response.status).toBe(400);
    expect(response.headers.get('content-type')).toContain('application/problem+json');
    const fields = response.body.errors.map((e: { field: string }) => e.field);
    expect(fields).toEqual(expect.arrayContaining(['days', 'minSize']));
  });

  it('a suggestion PUT as written closes its gap in the next report', async () => {
    const before = (await env.request('GET', '/v1/kb/gaps?days=7', { key: ADMIN_KEY })).body;
    const deps = before.clusters.find((c: { ticketIds: string[] }) => c.ticketIds.includes('api-dep-1'));
    const { documentId, title, draft, intents } = deps.suggestion;
    const put = await env.request('PUT', `/v1/kb/documents/${documentId}`, {
      key: env.keys.admin,
      json: { title, body: draft.body, intents },
    });
    expect(put.status).toBe(201);
    const after = (await env.request('GET', '/v1/kb/gaps?days=7', { key: env.keys.agent })).body;
    const now = after.clusters.find((c: { ticketIds: string[] }) => c.ticketIds.includes('api-dep-1'));
    expect(now.status).toBe('covered');
    expect(now.nearestArticle.documentId).toBe(documentId);
    expect(now.suggestion).toBeNull();
    expect(after.gaps).toBe(1);
  });

  it('is in the OpenAPI document', async () => {
    const spec = (await env.request('GET', '/openapi.json')).body;
    expect(spec.paths['/v1/kb/gaps'].get.parameters.map((p: { name: string }) => p.name)).toEqual(
      expect.arrayContaining(['days', 'limit', 'minSize', 'maxClusters']),
    );
  });
});
