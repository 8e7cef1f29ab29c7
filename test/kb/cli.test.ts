import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import pg from 'pg';
import { registerKbCommands, type KbCliIo } from '../../src/cli/kb';
import type { Db } from '../../src/db/database';
import type { KbDeps } from '../../src/kb/ingest';
import { PgvectorStore } from '../../src/kb/pgvector-store';
import type { Embedder } from '../../src/kb/types';
import { aliasEmbedder, createKbTestDatabase, realEmbedder, startPgliteChild, uniqueName } from './support';

/** `ticketflow kb …` driven through commander against the real registry, pgvector and embeddings. */

const SAMPLE_KB = path.resolve(__dirname, '../../kb/acme');

let database: { db: Db; drop: () => Promise<void> };
let vectorServer: { url: string; stop: () => Promise<void> };
let collection: string;
let folder: string;

interface Run {
  out: string;
  err: string;
  exitCode: number;
}

async function kb(args: string[], embedder: Embedder = realEmbedder(), inService = collection): Promise<Run> {
  const result: Run = { out: '', err: '', exitCode: 0 };
  const io: KbCliIo = {
    out: (text) => (result.out += `${text}\n`),
    err: (text) => (result.err += `${text}\n`),
    interactive: false,
    setExitCode: (code) => (result.exitCode = code),
  };
  const program = new Command('ticketflow').exitOverride().configureOutput({
    writeOut: (s) => (result.out += s),
    writeErr: (s) => (result.err += s),
  });
  let opened = 0;
  let closed = 0;
  registerKbCommands(
    program,
    async () => {
      opened++;
      const store = new PgvectorStore({ url: vectorServer.url, collection: inService, model: embedder, poolMax: 2 });
      const deps: KbDeps = { db: database.db, store, embedder };
      return {
        deps,
        close: async () => {
          closed++;
          await store.close();
        },
        collection: inService,
        storeFor: (other) => new PgvectorStore({ url: vectorServer.url, collection: other, model: embedder, poolMax: 2 }),
      };
    },
    io,
  );
  try {
    await program.parseAsync(['node', 'ticketflow', 'kb', ...args]);
  } catch (error) {
    result.exitCode = (error as { exitCode?: number }).exitCode ?? 1;
  }
  // Whatever happened, what was opened was closed.
  expect(closed).toBe(opened);
  return result;
}

beforeAll(async () => {
  [database, vectorServer] = await Promise.all([createKbTestDatabase(), startPgliteChild()]);
  collection = uniqueName('cli');
  folder = fs.mkdtempSync(path.join(os.tmpdir(), 'tf-kb-cli-'));
  for (const file of ['refunds.md', 'cancellation.md', 'webhooks.md']) {
    fs.copyFileSync(path.join(SAMPLE_KB, file), path.join(folder, file));
  }
  fs.writeFileSync(path.join(folder, 'diagram.png'), 'binary');
});

afterAll(async () => {
  await vectorServer?.stop();
  await database?.drop();
});

test('kb ingest prints a summary, and --json the same numbers; a second run finds everything unchanged', async () => {
  const human = await kb(['ingest', folder]);
  expect(human.exitCode).toBe(0);
  expect(human.out).toMatch(/^Documents: 3 \(3 ingested, 0 unchanged\)\nChunks: +(\d+)\nSkipped: +1 file\(s\) — .*diagram\.png\n$/);
  const chunks = Number(/Chunks: +(\d+)/.exec(human.out)![1]);

  const json = await kb(['ingest', folder, '--json']);
  expect(JSON.parse(json.out)).toMatchObject({ documents: 3, chunks, skipped: 1, unchanged: 3 });
});

test('kb list, show and info describe what is stored', async () => {
  const list = JSON.parse((await kb(['list', '--json'])).out) as Array<{ id: string; chunks: number }>;
  expect(list.map((d) => d.id)).toEqual(['cancellation', 'refunds', 'webhooks']);
  const human = await kb(['list']);
  expect(human.out).toContain('Refund policy and how to request a refund');
  expect(human.out).toMatch(/3 document\(s\), \d+ chunk\(s\)/);
  expect((await kb(['list', '--source', 'resolution', '--json'])).out.trim()).toBe('[]');

  const show = JSON.parse((await kb(['show', 'webhooks', '--json'])).out);
  expect(show).toMatchObject({ id: 'webhooks', title: 'Webhooks', source: 'kb', intents: ['technical'] });
  expect(show.body).toContain('X-Acme-Signature');
  expect((await kb(['show', 'webhooks'])).out).toMatch(/^Webhooks\nid: webhooks {3}source: kb/);

  const info = JSON.parse((await kb(['info', '--json'])).out);
  expect(info).toMatchObject({ kind: 'pgvector', collection, modelId: realEmbedder().modelId, dimension: 384, documents: 3 });
  expect(info.count).toBe(list.reduce((n, d) => n + d.chunks, 0));
});

test('kb info --json names a model mismatch in fields a script can read, not only in its message', async () => {
  await kb(['ingest', folder]);
  const run = await kb(['info', '--json'], aliasEmbedder());
  expect(run.exitCode).toBe(1);
  const reply = JSON.parse(run.out);
  expect(reply.error).toMatch(/was built with embedding model/);
  expect(reply.modelMismatch).toEqual({
    collection,
    storedModel: realEmbedder().modelId,
    storedDimension: 384,
    configuredModel: 'acme/minilm-alias',
    configuredDimension: 384,
  });
  // Other failures carry no such field.
  const missing = JSON.parse((await kb(['show', 'no-such-document', '--json'])).out);
  expect(missing.error).toBeDefined();
  expect(missing.modelMismatch).toBeUndefined();
});

test('kb search shows the top hits with score and title', async () => {
  const human = await kb(['search', 'how do I get a refund', '--limit', '2']);
  expect(human.exitCode).toBe(0);
  const lines = human.out.split('\n').filter((l) => /^\d+\. /.test(l));
  expect(lines).toHaveLength(2);
  expect(lines[0]).toMatch(/^1\. 0\.\d{3} {2}Refund policy and how to request a refund › .*\(refunds\)$/);

  const json = JSON.parse((await kb(['search', 'webhook signature', '--json', '--intent', 'technical'])).out);
  expect(json[0]).toMatchObject({ documentId: 'webhooks', source: 'kb' });
  expect(typeof json[0].score).toBe('number');
});

test('kb calibrate fits the answerability thresholds to labelled questions and says what to expect', async () => {
  const labels = path.join(folder, 'labels.json');
  fs.writeFileSync(
    labels,
    JSON.stringify([
      { question: 'How do I get my money back for the annual plan?', answeredBy: 'refunds' },
      { question: 'I forgot my password, how can I reset it?', answeredBy: 'password-reset' },
      { question: 'Where do I download our invoices as PDF?', answeredBy: 'invoices' },
      { question: 'How do I verify the signature of a webhook?', answeredBy: 'webhooks' },
      { question: 'How do I create a new API key?', answeredBy: 'api-keys' },
      { question: 'Can I bring my dog to your office?', answeredBy: null },
      { question: 'Do you sell garden furniture and ship it to Norway?', answeredBy: null },
    ]),
  );
  const human = await kb(['calibrate', '--labels', labels, '--no-resolved']);
  expect(human.exitCode).toBe(0);
  expect(human.out).toMatch(/^ANSWER_MIN_SCORE=0\.\d+$/m);
  expect(human.out).toMatch(/^ANSWER_MIN_MARGIN=0(\.\d+)?$/m);
  expect(human.out).toContain('7 labelled questions (7 from --labels, 0 resolved tickets)');

  const report = JSON.parse((await kb(['calibrate', '--labels', labels, '--no-resolved', '--json'])).out);
  expect(report.fitted.counts.wrong).toBe(0);
  expect(report.fitted.counts.correct).toBeGreaterThan(0);
  expect(report.fitted.counts.uncoveredHandedOff).toBe(2);

  const nothing = await kb(['calibrate', '--no-resolved']);
  expect(nothing.exitCode).toBe(1);
  expect(nothing.err).toContain('Nothing to calibrate on');
});

test('mistakes are reported with a non-zero exit code', async () => {
  const missing = await kb(['show', 'no-such-doc']);
  expect(missing.exitCode).toBe(1);
  expect(missing.err).toContain('No knowledge-base document with id "no-such-doc"');

  const missingJson = await kb(['show', 'no-such-doc', '--json']);
  expect(missingJson.exitCode).toBe(1);
  expect(JSON.parse(missingJson.out)).toEqual({ error: expect.stringContaining('no-such-doc') });

  const badLimit = await kb(['search', 'refund', '--limit', '0']);
  expect(badLimit.exitCode).not.toBe(0);
  expect(badLimit.err).toContain('expected a whole number from 1 to 100');

  const badPath = await kb(['ingest', path.join(folder, 'nope'), '--json']);
  expect(badPath.exitCode).toBe(1);
  expect(JSON.parse(badPath.out).error).toMatch(/No such file or directory/);
});

test('a model change is explained, and kb reindex fixes it', async () => {
  const alias = aliasEmbedder();
  const refused = await kb(['search', 'refund'], alias);
  expect(refused.exitCode).toBe(1);
  expect(refused.err).toMatch(/^error: Knowledge-base collection ".*" was built with embedding model .*ticketflow kb reindex/);

  const reindexed = JSON.parse((await kb(['reindex', '--json'], alias)).out);
  expect(reindexed).toMatchObject({ documents: 3, store: { modelId: 'acme/minilm-alias' } });
  expect(reindexed.chunks).toBe(reindexed.store.count);
  const [top] = JSON.parse((await kb(['search', 'how do I get a refund', '--json'], alias)).out);
  expect(top.documentId).toBe('refunds');
});

test('kb delete removes a document; deleting it again is an error', async () => {
  const alias = aliasEmbedder(); // the collection belongs to the alias model since the reindex above
  const deleted = await kb(['delete', 'webhooks'], alias);
  expect(deleted.out).toMatch(/^Deleted "webhooks" \(\d+ chunk\(s\)\)\.\n$/);
  const again = await kb(['delete', 'webhooks', '--json'], alias);
  expect(again.exitCode).toBe(1);
  expect(JSON.parse(again.out)).toEqual({ id: 'webhooks', deleted: false, chunks: 0 });
  expect(JSON.parse((await kb(['list', '--json'], alias)).out).map((d: { id: string }) => d.id)).toEqual([
    'cancellation',
    'refunds',
  ]);
});

test('zero-downtime model change: build another collection, switch, catch up what changed meanwhile, drop the old', async () => {
  // In service: `collection`, built with the alias model since the reindex above. The target model: the real one.
  const oldModel = aliasEmbedder();
  const next = uniqueName('cli_next');
  const built = JSON.parse((await kb(['reindex', '--into', next, '--json'])).out);
  expect(built).toMatchObject({
    documents: 2,
    embedded: 2,
    unchanged: 0,
    removed: 0,
    store: { collection: next, modelId: realEmbedder().modelId },
  });
  // The collection in service was not touched and still answers with its own model.
  const [served] = JSON.parse((await kb(['search', 'how do I get a refund', '--json'], oldModel)).out);
  expect(served.documentId).toBe('refunds');

  // While the new collection waits for the switch, the old one keeps taking writes: one added, one deleted, one edited.
  expect((await kb(['ingest', path.join(folder, 'webhooks.md')], oldModel)).exitCode).toBe(0);
  expect((await kb(['delete', 'cancellation'], oldModel)).exitCode).toBe(0);
  const edited = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'tf-kb-edit-')), 'refunds.md');
  fs.writeFileSync(edited, `${fs.readFileSync(path.join(folder, 'refunds.md'), 'utf8')}\n\nRefunds for annual plans are prorated by month.\n`);
  expect((await kb(['ingest', edited], oldModel)).exitCode).toBe(0);

  // Switched (KB_COLLECTION=next, EMBEDDING_MODEL=the real model), then the catch-up run.
  const caughtUp = JSON.parse((await kb(['reindex', '--into', next, '--json'], realEmbedder(), next)).out);
  expect(caughtUp).toMatchObject({ documents: 2, embedded: 2, unchanged: 0, removed: 1 });
  const again = JSON.parse((await kb(['reindex', '--into', next, '--json'], realEmbedder(), next)).out);
  expect(again).toMatchObject({ documents: 2, embedded: 0, unchanged: 2, removed: 0, chunks: 0 });
  const hits = JSON.parse((await kb(['search', 'are annual plan refunds prorated', '--json'], realEmbedder(), next)).out);
  expect(hits[0]).toMatchObject({ documentId: 'refunds' });
  expect(hits.some((h: { text: string }) => h.text.includes('prorated by month'))).toBe(true);
  const documents = new Set(
    JSON.parse((await kb(['search', 'webhook signature', '--json', '--limit', '20'], realEmbedder(), next)).out).map(
      (h: { documentId: string }) => h.documentId,
    ),
  );
  expect([...documents].sort()).toEqual(['refunds', 'webhooks']);

  // The collection in service cannot be dropped; the old one can, with --yes.
  const refused = await kb(['drop', next, '--yes'], realEmbedder(), next);
  expect(refused.err).toMatch(/is KB_COLLECTION, the collection in service/);
  expect((await kb(['drop', collection], realEmbedder(), next)).err).toMatch(/add --yes/);
  expect((await kb(['drop', collection, '--yes'], realEmbedder(), next)).out).toBe(`Dropped collection "${collection}".\n`);
  const check = new pg.Client({ connectionString: vectorServer.url });
  await check.connect();
  const gone = await check.query<{ old: string | null; current: string | null }>(
    'SELECT to_regclass($1)::text AS old, to_regclass($2)::text AS current',
    [`${collection}_chunks`, `${next}_chunks`],
  );
  await check.end();
  expect(gone.rows[0]).toEqual({ old: null, current: `${next}_chunks` });
});
