import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
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

async function kb(args: string[], embedder: Embedder = realEmbedder()): Promise<Run> {
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
      const store = new PgvectorStore({ url: vectorServer.url, collection, model: embedder, poolMax: 2 });
      const deps: KbDeps = { db: database.db, store, embedder };
      return {
        deps,
        close: async () => {
          closed++;
          await store.close();
        },
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
  expect(reindexed).toMatchObject({ documents: 3, store: { modelId: 'Xenova/all-MiniLM-L6-v2' } });
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
