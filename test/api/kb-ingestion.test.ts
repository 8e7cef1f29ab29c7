import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import { registerKbCommands, type KbCliIo } from '../../src/cli/kb';
import { putDocumentViaApi } from '../../src/cli/kb-put';
import { recordHistory } from '../support/histories';
import { uniqueSuffix } from '../support/stack';
import { startApiTestEnv, waitFor, type ApiResponse, type ApiTestEnv } from './helpers';

/**
 * Knowledge-base writes off the request path (issue 14, row 6): PUT /v1/kb/documents/:id starts the kb-ingestion
 * workflow on the worker, waits briefly, and otherwise answers 202 with a status URL. Real Temporal, Postgres,
 * pgvector and embeddings; no timing is asserted.
 */

let env: ApiTestEnv;

beforeAll(async () => {
  // A 1 s default wait: far shorter than embedding hundreds of chunks takes on any CPU this model runs on.
  env = await startApiTestEnv({ KB_INGEST_WAIT_MS: '1000' });
}, 300_000);

afterAll(async () => {
  await env?.close();
});

const TOPICS = [
  'billing',
  'exports',
  'webhooks',
  'single sign-on',
  'audit logs',
  'rate limits',
  'mobile app',
  'backups',
];

/** A ~245 KB manual (under the 256 KB body limit) of distinct sections, with one unique sentence. */
function bigManual(uniqueSentence: string): string {
  const sections: string[] = ['# Operations manual'];
  let size = 0;
  for (let i = 0; size < 245_000; i++) {
    const topic = TOPICS[i % TOPICS.length]!;
    const section =
      `## ${topic} procedure ${i}\n\n` +
      `Step ${i}.1: open the ${topic} settings page for workspace ${i * 7} and check the ${topic} status shows ` +
      `green for region ${i % 13}. Step ${i}.2: if the ${topic} status is amber, wait ${i % 9} minutes and ` +
      `retry before contacting the on-call engineer for ${topic}. Step ${i}.3: record ticket ${1000 + i} in the ` +
      `${topic} log with the time, the region and the operator initials, then notify the account owner.` +
      (i === 321 ? ` ${uniqueSentence}` : '');
    sections.push(section);
    size += section.length + 2;
  }
  return sections.join('\n\n');
}

const STALE = 'The legacy fax gateway accepts signed invoices only on Tuesday mornings.';
const FRESH = 'Quartz lanterns recalibrate the telemetry beacon whenever the ferry timetable changes.';

async function search(q: string): Promise<Array<{ documentId: string; text: string }>> {
  const response = await env.request('GET', `/v1/kb/search?q=${encodeURIComponent(q)}&limit=10`, {
    key: env.keys.agent,
  });
  expect(response.status).toBe(200);
  return response.body.results;
}

async function ingestion(id: string): Promise<ApiResponse> {
  return env.request('GET', `/v1/kb/ingestions/${id}`, { key: env.keys.agent });
}

describe('PUT /v1/kb/documents/:id through the kb-ingestion workflow', () => {
  test('a 250 KB document: 202 with a status URL, /healthz answers meanwhile, progress reaches done, no stale chunk', async () => {
    const docId = `manual-${uniqueSuffix()}`;
    const small = await env.request('PUT', `/v1/kb/documents/${docId}`, {
      key: env.keys.admin,
      headers: { prefer: 'wait=60' },
      json: { title: 'Operations manual', body: `# Operations manual\n\n## Fax\n\n${STALE}` },
    });
    expect(small.status).toBe(201);

    const body = bigManual(FRESH);
    expect(body.length).toBeGreaterThan(240_000);
    const put = await env.request('PUT', `/v1/kb/documents/${docId}`, {
      key: env.keys.admin,
      json: { title: 'Operations manual', body },
    });
    expect(put.status).toBe(202);
    expect(put.body).toMatchObject({ documentId: docId, documentExisted: true, error: null });
    expect(['queued', 'embedding']).toContain(put.body.status);
    const ingestionId: string = put.body.id;
    expect(put.headers.get('location')).toBe(`/v1/kb/ingestions/${ingestionId}`);

    // The same content again joins the running ingestion instead of starting a second one.
    const again = await env.request('PUT', `/v1/kb/documents/${docId}`, {
      key: env.keys.admin,
      headers: { prefer: 'respond-async' },
      json: { title: 'Operations manual', body },
    });
    expect(again.status).toBe(202);
    expect(again.body.id).toBe(ingestionId);

    // The API stays responsive while the worker embeds: health checks answer, progress only moves forward.
    const health = await env.request('GET', '/healthz');
    expect(health.status).toBe(200);
    const seen: Array<{ status: string; chunksDone: number; chunksTotal: number | null }> = [];
    const done = await waitFor(
      async () => {
        const response = await ingestion(ingestionId);
        expect(response.status).toBe(200);
        seen.push(response.body);
        expect(response.body.status).not.toBe('failed');
        return response.body.status === 'done' ? response.body : undefined;
      },
      600_000,
      300,
    );
    expect(seen.some((view) => view.status !== 'done')).toBe(true);
    const progress = seen.map((view) => view.chunksDone);
    expect(progress).toEqual([...progress].sort((a, b) => a - b));
    expect(done.chunksTotal).toBeGreaterThan(200);
    expect(done.chunksDone).toBe(done.chunksTotal);
    expect(done.finishedAt).not.toBeNull();

    const stored = await env.request('GET', `/v1/kb/documents/${docId}`, { key: env.keys.agent });
    expect(stored.body).toMatchObject({ body, chunks: done.chunksTotal });
    expect(await env.stack.deps.store.count({ documentId: docId })).toBe(done.chunksTotal);
    expect((await search(FRESH))[0]).toMatchObject({ documentId: docId });
    expect((await search(STALE)).filter((hit) => hit.text.includes('fax gateway'))).toEqual([]);

    // Nothing is left staged, and the pending copy of the body is gone (kb_documents holds it now).
    const staged = await env.stack.db
      .selectFrom('kb_ingestion_chunks')
      .select(({ fn }) => fn.countAll<number>().as('n'))
      .where('ingestion_id', '=', ingestionId)
      .executeTakeFirstOrThrow();
    expect(Number(staged.n)).toBe(0);
    const row = await env.stack.db
      .selectFrom('kb_ingestions')
      .select(['body', 'status'])
      .where('id', '=', ingestionId)
      .executeTakeFirstOrThrow();
    expect(row).toEqual({ body: null, status: 'done' });
  }, 900_000);

  test('a small document is answered synchronously; respond-async gets 202 and finishes', async () => {
    const docId = `refunds-${uniqueSuffix()}`;
    const article = {
      title: 'Refunds',
      intents: ['billing'],
      body: '# Refunds\n\nRefunds reach the original card within 5 business days of approval.',
    };
    const created = await env.request('PUT', `/v1/kb/documents/${docId}`, {
      key: env.keys.admin,
      headers: { prefer: 'wait=60' },
      json: article,
    });
    expect(created.status).toBe(201);
    expect(created.body).toEqual({ documentId: docId, chunks: 1, created: true, unchanged: false });

    const unchanged = await env.request('PUT', `/v1/kb/documents/${docId}`, {
      key: env.keys.admin,
      json: article,
    });
    expect(unchanged.status).toBe(200);
    expect(unchanged.body).toMatchObject({ created: false, unchanged: true });

    const changed = { ...article, body: `${article.body}\n\nAnnual plans are refunded pro rata.` };
    const accepted = await env.request('PUT', `/v1/kb/documents/${docId}`, {
      key: env.keys.admin,
      headers: { prefer: 'respond-async' },
      json: changed,
    });
    expect(accepted.status).toBe(202);
    const ingestionId: string = accepted.body.id;
    await waitFor(async () => (await ingestion(ingestionId)).body.status === 'done', 300_000);
    const stored = await env.request('GET', `/v1/kb/documents/${docId}`, { key: env.keys.agent });
    expect(stored.body.body).toBe(changed.body);

    await recordHistory(env.stack.client.workflow.getHandle(`kb-ingestion-${ingestionId}`), 'kb-ingestion');
  }, 600_000);

  test('invalid documents get problem+json and start nothing; unknown ingestions are 404', async () => {
    const docId = `invalid-${uniqueSuffix()}`;
    const cases = [
      { path: `/v1/kb/documents/${docId}`, json: { title: 'Empty', body: '   ' }, status: 400 },
      { path: `/v1/kb/documents/${docId}`, json: { body: 'no title' }, status: 400 },
      { path: '/v1/kb/documents/-bad id', json: { title: 'Bad id', body: 'text' }, status: 400 },
      {
        path: `/v1/kb/documents/${docId}`,
        json: { title: 'Too big', body: 'x'.repeat(300_000) },
        status: 413,
      },
    ];
    for (const { path, json, status } of cases) {
      const response = await env.request('PUT', path, { key: env.keys.admin, json });
      expect({ path, status: response.status }).toEqual({ path, status });
      expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    }
    const rows = await env.stack.db
      .selectFrom('kb_ingestions')
      .select('id')
      .where('document_id', '=', docId)
      .execute();
    expect(rows).toEqual([]);

    const unknown = await ingestion(`kbi_${'0'.repeat(32)}`);
    expect(unknown.status).toBe(404);
    expect(unknown.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect((await ingestion('not-an-id')).status).toBe(400);
    expect((await env.request('GET', `/v1/kb/ingestions/kbi_${'0'.repeat(32)}`)).status).toBe(401);
  });

  test('ticketflow kb put follows a 202 to the end, reporting progress; refusals set the exit code', async () => {
    const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'tf-kb-put-'));
    try {
      const file = path.join(folder, 'field-guide.md');
      fs.writeFileSync(file, `---\nintents: [technical]\n---\n${bigManual(FRESH).slice(0, 40_000)}`);
      const docId = `guide-${uniqueSuffix()}`;
      const progress: Array<[number, number]> = [];
      const result = await putDocumentViaApi(
        { file, id: docId, apiUrl: env.baseUrl, key: env.keys.admin, async: true, pollMs: 100 },
        {
          start: (total) => progress.push([0, total]),
          update: (done, total) => progress.push([done, total]),
          stop: () => undefined,
        },
      );
      expect(result).toMatchObject({ documentId: docId, created: true, unchanged: false });
      expect(result.chunks).toBeGreaterThan(32);
      for (const [done, total] of progress) expect({ done, total }).toEqual({ done, total: result.chunks });
      const dones = progress.map(([done]) => done);
      expect(dones).toEqual([...dones].sort((a, b) => a - b));
      const stored = await env.request('GET', `/v1/kb/documents/${docId}`, { key: env.keys.agent });
      expect(stored.body).toMatchObject({
        title: 'Operations manual',
        intents: ['technical'],
        chunks: result.chunks,
      });

      // Through the command: the same content again is unchanged; a key without kb:write is refused (exit 1); a
      // file type the KB cannot read is invalid input (exit 2).
      const run = async (args: string[], target = file) => {
        const output = { out: '', err: '', exitCode: 0 };
        const io: KbCliIo = {
          out: (text) => (output.out += `${text}\n`),
          err: (text) => (output.err += `${text}\n`),
          interactive: false,
          setExitCode: (code) => (output.exitCode = code),
        };
        const program = new Command('ticketflow').exitOverride();
        registerKbCommands(program, () => Promise.reject(new Error('kb put must not open the database')), io);
        await program.parseAsync([
          'node',
          'ticketflow',
          'kb',
          'put',
          target,
          '--id',
          docId,
          '--api-url',
          env.baseUrl,
          ...args,
        ]);
        return output;
      };
      const again = await run(['--key', env.keys.admin, '--json']);
      expect(again.exitCode).toBe(0);
      expect(JSON.parse(again.out)).toEqual({
        documentId: docId,
        chunks: result.chunks,
        created: false,
        unchanged: true,
      });
      const refused = await run(['--key', env.keys.agent]);
      expect(refused.exitCode).toBe(1);
      expect(refused.err).toMatch(/^error: 403/);
      fs.writeFileSync(path.join(folder, 'notes.pdf'), 'not a document');
      const unsupported = await run(['--key', env.keys.admin], path.join(folder, 'notes.pdf'));
      expect(unsupported.exitCode).toBe(2);
      expect(unsupported.err).toMatch(/expected \.md/);
    } finally {
      fs.rmSync(folder, { recursive: true, force: true });
    }
  }, 600_000);
});
