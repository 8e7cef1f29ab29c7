import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Db } from '../../src/db/database';
import {
  deleteKbDocument,
  findNearDuplicate,
  getDocument,
  DOCUMENTS_PER_GROUP,
  inEmbeddingGroups,
  ingestDocument,
  ingestDocuments,
  ingestPaths,
  listDocuments,
  reindexAll,
  searchKnowledgeBase,
  type KbDeps,
} from '../../src/kb/ingest';
import { PgvectorStore } from '../../src/kb/pgvector-store';
import { ModelMismatchError } from '../../src/kb/types';
import { aliasEmbedder, createKbTestDatabase, MODEL_ID, realEmbedder, startPgliteChild, uniqueName } from './support';

/** Ingestion and retrieval end to end: real Postgres registry, pgvector on PGlite, real embeddings. */

const SAMPLE_KB = path.resolve(__dirname, '../../kb/acme');
const sampleFiles = fs.readdirSync(SAMPLE_KB).filter((f) => f.endsWith('.md'));

let database: { db: Db; drop: () => Promise<void> };
let vectorServer: { url: string; stop: () => Promise<void> };
const stores: PgvectorStore[] = [];

function pgvectorStore(collection: string, model = realEmbedder()): PgvectorStore {
  const store = new PgvectorStore({ url: vectorServer.url, collection, model, poolMax: 2 });
  stores.push(store);
  return store;
}

function tempDir(files: Record<string, string>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tf-kb-'));
  for (const [name, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    fs.writeFileSync(path.join(dir, name), content);
  }
  return dir;
}

beforeAll(async () => {
  [database, vectorServer] = await Promise.all([createKbTestDatabase(), startPgliteChild()]);
});

afterAll(async () => {
  for (const store of stores) await store.close().catch(() => undefined);
  await vectorServer?.stop();
  await database?.drop();
});

describe('the sample knowledge base', () => {
  let deps: KbDeps;

  beforeAll(() => {
    deps = { db: database.db, store: pgvectorStore(uniqueName('sample')), embedder: realEmbedder() };
  });

  test('has at least 30 articles, each with intents from the default set', () => {
    expect(sampleFiles.length).toBeGreaterThanOrEqual(30);
    for (const file of sampleFiles) {
      const head = fs.readFileSync(path.join(SAMPLE_KB, file), 'utf8').split('\n').slice(0, 4);
      expect(head[0]).toBe('---');
      const intents = /^intents: (.+)$/.exec(head[1] ?? '')?.[1]?.split(',').map((s) => s.trim());
      expect(intents?.length).toBeGreaterThan(0);
      for (const intent of intents ?? []) {
        expect(['billing', 'technical', 'account', 'feature_request', 'complaint', 'other']).toContain(intent);
      }
      expect(head[3]).toMatch(/^# \S/);
    }
  });

  test('ingesting it twice gives identical counts, and the second run embeds nothing', async () => {
    const progress: string[] = [];
    const first = await ingestPaths(deps, [SAMPLE_KB], (p) => progress.push(`${p.done}/${p.total} ${p.outcome}`));
    expect(first.documents).toBe(sampleFiles.length);
    expect(first.unchanged).toBe(0);
    expect(first.skipped).toBe(0);
    expect(first.chunks).toBeGreaterThan(first.documents);
    expect(progress).toHaveLength(sampleFiles.length);
    expect(progress.at(-1)).toBe(`${sampleFiles.length}/${sampleFiles.length} ingested`);
    const storedAfterFirst = await deps.store.count();
    expect(storedAfterFirst).toBe(first.chunks);

    const second = await ingestPaths(deps, [SAMPLE_KB]);
    expect({ documents: second.documents, chunks: second.chunks, skipped: second.skipped }).toEqual({
      documents: first.documents,
      chunks: first.chunks,
      skipped: first.skipped,
    });
    expect(second.unchanged).toBe(second.documents);
    expect(await deps.store.count()).toBe(storedAfterFirst);

    const registry = await listDocuments(deps.db);
    expect(registry).toHaveLength(first.documents);
    expect(registry.reduce((sum, d) => sum + d.chunks, 0)).toBe(first.chunks);
    const refunds = registry.find((d) => d.id === 'refunds');
    expect(refunds).toMatchObject({
      title: 'Refund policy and how to request a refund',
      source: 'kb',
      intents: ['billing', 'complaint'],
      origin: 'file:kb/acme/refunds.md',
    });
  });

  test('"how do I get a refund" ranks the refund article first', async () => {
    const passages = await searchKnowledgeBase(deps, 'how do I get a refund', { limit: 5 });
    expect(passages).toHaveLength(5);
    expect(passages[0]).toMatchObject({ documentId: 'refunds', title: 'Refund policy and how to request a refund', source: 'kb' });
    expect(passages[0]!.text).toMatch(/refund/i);
    expect(passages[0]!.intents).toEqual(['billing', 'complaint']);
    for (let i = 1; i < passages.length; i++) expect(passages[i - 1]!.score).toBeGreaterThanOrEqual(passages[i]!.score);
  });

  test.each([
    ['I forgot my password', 'password-reset'],
    ['the API keeps answering 429 too many requests', 'api-rate-limits'],
    ['how do I cancel my subscription', 'cancellation'],
    ['I lost my phone and cannot get my two-factor code', 'two-factor-authentication'],
  ])('"%s" finds %s first', async (query, documentId) => {
    const [top] = await searchKnowledgeBase(deps, query, { limit: 1 });
    expect(top?.documentId).toBe(documentId);
  });

  test('search filters and minimum score are applied', async () => {
    const technical = await searchKnowledgeBase(deps, 'how do I get a refund', { limit: 5, filter: { intentsAny: ['technical'] } });
    expect(technical.length).toBeGreaterThan(0);
    for (const p of technical) expect(p.intents).toContain('technical');
    const strict = await searchKnowledgeBase(deps, 'how do I get a refund', { limit: 10, minScore: 0.6 });
    // Some passages pass the bar (the refunds article), not all ten: the minimum score is what cut the list.
    expect(strict.length).toBeGreaterThan(0);
    expect(strict.length).toBeLessThan(10);
    for (const p of strict) expect(p.score).toBeGreaterThanOrEqual(0.6);
    const unfiltered = await searchKnowledgeBase(deps, 'how do I get a refund', { limit: 10 });
    expect(unfiltered.some((p) => p.score < 0.6)).toBe(true);
    await expect(searchKnowledgeBase(deps, '   ')).rejects.toThrow(/must not be empty/);
  });
});

describe('ingestDocument', () => {
  let deps: KbDeps;

  beforeAll(() => {
    deps = { db: database.db, store: pgvectorStore(uniqueName('docs')), embedder: realEmbedder() };
  });

  test('a changed document replaces its old chunks; an unchanged one is skipped', async () => {
    const id = uniqueName('doc').replace('_', '-');
    const v1 = await ingestDocument(deps, {
      id,
      title: 'Office plants',
      body: '## Watering\n\nWater the ficus every Tuesday.\n\n## Light\n\nKeep cacti near the window.',
      source: 'kb',
      intents: ['other'],
    });
    expect(v1).toEqual({ documentId: id, chunks: 2, skipped: false });
    expect(await ingestDocument(deps, { id, title: 'Office plants', body: '## Watering\n\nWater the ficus every Tuesday.\n\n## Light\n\nKeep cacti near the window.', source: 'kb', intents: ['other'] })).toEqual({
      documentId: id,
      chunks: 2,
      skipped: true,
    });
    const created = (await getDocument(deps.db, id))!.createdAt;

    const v2 = await ingestDocument(deps, {
      id,
      title: 'Office plants',
      body: '## Watering\n\nWater the ficus every Friday, never on Tuesday.',
      source: 'kb',
      intents: ['other'],
    });
    expect(v2).toEqual({ documentId: id, chunks: 1, skipped: false });
    expect(await deps.store.count({ documentId: id })).toBe(1);
    const [hit] = await searchKnowledgeBase(deps, 'when should the ficus be watered', { limit: 1, filter: { documentId: id } });
    expect(hit?.text).toBe('Water the ficus every Friday, never on Tuesday.');
    expect(hit?.headingPath).toEqual(['Watering']);
    const detail = await getDocument(deps.db, id);
    expect(detail).toMatchObject({ chunks: 1, body: '## Watering\n\nWater the ficus every Friday, never on Tuesday.' });
    expect(detail!.createdAt).toBe(created);
  });

  test('an unchanged document whose chunks vanished from the store is re-ingested, not skipped', async () => {
    const doc = { id: uniqueName('gone').replace('_', '-'), title: 'Parking', body: 'Visitors park on level -2.', source: 'kb' as const };
    await ingestDocument(deps, doc);
    await deps.store.deleteDocument(doc.id);
    expect(await ingestDocument(deps, doc)).toEqual({ documentId: doc.id, chunks: 1, skipped: false });
    expect(await deps.store.count({ documentId: doc.id })).toBe(1);
  });

  test('the title defaults to the first heading, then the id', async () => {
    const id = uniqueName('untitled').replace('_', '-');
    await ingestDocument(deps, { id, body: '# Lunch menu\n\nSoup on Mondays.', source: 'kb' });
    expect((await getDocument(deps.db, id))?.title).toBe('Lunch menu');
    const bare = uniqueName('bare').replace('_', '-');
    await ingestDocument(deps, { id: bare, title: '', body: 'No heading at all.', source: 'kb' });
    expect((await getDocument(deps.db, bare))?.title).toBe(bare);
  });

  test('invalid input is rejected before anything is written', async () => {
    await expect(ingestDocument(deps, { id: 'bad id with spaces', body: 'x', source: 'kb' })).rejects.toThrow(/letters, digits/);
    await expect(ingestDocument(deps, { id: 'empty', body: '   ', source: 'kb' })).rejects.toThrow(/must not be empty/);
    await expect(
      ingestDocument(deps, { id: 'intent', body: 'x', source: 'kb', intents: ['Not An Intent'] }),
    ).rejects.toThrow(/lower-case intent/);
    expect(await getDocument(deps.db, 'empty')).toBeUndefined();
  });

  test('resolutions are found again as near-duplicates; unrelated text and kb articles are not', async () => {
    const ticketId = `ticket-${uniqueName('T')}`;
    const answer =
      'Customer was charged twice for the March invoice. We refunded the duplicate charge of $240; it appears on the card within 5-10 business days.';
    const id = `resolution-${ticketId}`;
    await ingestDocument(deps, { id, title: 'Charged twice for March', body: answer, source: 'resolution', ticketId, intents: ['billing'] });
    await ingestDocument(deps, { id: uniqueName('kbdoc').replace('_', '-'), title: 'Duplicate charges', body: answer, source: 'kb' });

    const duplicate = await findNearDuplicate(deps, answer, { minScore: 0.9 });
    expect(duplicate).toMatchObject({ documentId: id, source: 'resolution', ticketId, intents: ['billing'] });
    expect(duplicate!.score).toBeGreaterThanOrEqual(0.9);
    expect(await findNearDuplicate(deps, answer, { minScore: 0.9, excludeDocumentId: id })).toBeUndefined();
    expect(await findNearDuplicate(deps, 'How do I add a team member to a project board?', { minScore: 0.9 })).toBeUndefined();

    const byTicket = await searchKnowledgeBase(deps, 'duplicate charge', { limit: 5, filter: { ticketId } });
    expect(byTicket.map((p) => p.documentId)).toEqual([id]);
  });

  test('deleteKbDocument removes chunks and the registry row', async () => {
    const id = uniqueName('del').replace('_', '-');
    await ingestDocument(deps, { id, title: 'Temporary', body: 'Short-lived article about badges.', source: 'kb' });
    expect(await deleteKbDocument(deps, id)).toEqual({ deleted: true, chunks: 1 });
    expect(await getDocument(deps.db, id)).toBeUndefined();
    expect(await deps.store.count({ documentId: id })).toBe(0);
    expect(await deleteKbDocument(deps, id)).toEqual({ deleted: false, chunks: 0 });
  });
});

describe('ingestDocuments (kb ingest and kb reindex, in groups)', () => {
  test('over several groups it stores what ingestDocument stores one document at a time, reporting in input order', async () => {
    const articles = sampleFiles.slice(0, 4).map((f) => fs.readFileSync(path.join(SAMPLE_KB, f), 'utf8'));
    // More documents than one group, with varied lengths so each group's model calls mix them.
    const count = DOCUMENTS_PER_GROUP + 5;
    const docs = (prefix: string) =>
      Array.from({ length: count }, (_, i) => ({
        id: `${prefix}-${i}`,
        title: '',
        body: articles[i % articles.length]!.slice(0, 200 + ((i * 97) % 1500)),
        source: 'kb' as const,
      }));
    const single: KbDeps = { db: database.db, store: pgvectorStore(uniqueName('single')), embedder: realEmbedder() };
    const grouped: KbDeps = { db: database.db, store: pgvectorStore(uniqueName('grouped')), embedder: realEmbedder() };
    const prefixA = uniqueName('one');
    const prefixB = uniqueName('grp');
    const one = [];
    for (const doc of docs(prefixA)) one.push(await ingestDocument(single, doc));
    const order: number[] = [];
    const many = await ingestDocuments(grouped, docs(prefixB), (_, index) => order.push(index));

    expect(order).toEqual(Array.from({ length: count }, (_, i) => i));
    expect(many.map((r) => r.chunks)).toEqual(one.map((r) => r.chunks));
    expect(many.every((r) => !r.skipped)).toBe(true);
    expect(await grouped.store.count({})).toBe(await single.store.count({}));
    for (const query of ['how do I get a refund', 'reset my password', 'rate limit exceeded']) {
      const a = await searchKnowledgeBase(single, query, { limit: 5 });
      const b = await searchKnowledgeBase(grouped, query, { limit: 5 });
      expect(b.map((p) => p.documentId.slice(prefixB.length))).toEqual(a.map((p) => p.documentId.slice(prefixA.length)));
      b.forEach((p, i) => expect(p.score).toBeCloseTo(a[i]!.score, 4));
    }
    // A second run finds everything unchanged and embeds nothing.
    const again = await ingestDocuments(grouped, docs(prefixB));
    expect(again.every((r) => r.skipped)).toBe(true);
  });
});

describe('inEmbeddingGroups', () => {
  test('each group is written in order, while the next one embeds', async () => {
    const events: string[] = [];
    let releaseWrite!: () => void;
    const firstWriteHeld = new Promise<void>((resolve) => (releaseWrite = resolve));
    await inEmbeddingGroups(
      [1, 2, 3, 4, 5],
      2,
      async (group) => {
        events.push(`embed ${group.join(',')}`);
        if (group[0] === 3) releaseWrite(); // the second group embeds while the first is still being written
        return group;
      },
      async (group) => {
        if (group[0] === 1) await firstWriteHeld;
        await new Promise((resolve) => setImmediate(resolve)); // a write takes a while
        events.push(`write ${group.join(',')}`);
      },
    );
    expect(events).toEqual(['embed 1,2', 'embed 3,4', 'write 1,2', 'embed 5', 'write 3,4', 'write 5']);
  });

  test('a failure stops it after the write in flight; what was written stays, and the error is thrown', async () => {
    const written: number[][] = [];
    await expect(
      inEmbeddingGroups(
        [1, 2, 3, 4, 5, 6],
        2,
        async (group) => {
          if (group[0] === 3) throw new Error('model crashed');
          return group;
        },
        async (group) => {
          await new Promise((resolve) => setTimeout(resolve, 20));
          written.push(group);
        },
      ),
    ).rejects.toThrow('model crashed');
    expect(written).toEqual([[1, 2]]);

    const attempted: number[][] = [];
    await expect(
      inEmbeddingGroups(
        [1, 2, 3, 4, 5, 6],
        2,
        async (group) => group,
        async (group) => {
          attempted.push(group);
          if (group[0] === 1) throw new Error('database down');
        },
      ),
    ).rejects.toThrow('database down');
    // The second group may have been embedded meanwhile, but nothing after the failed write is written.
    expect(attempted).toEqual([[1, 2]]);
  });
});

describe('ingestPaths file handling', () => {
  test('supported formats are ingested, others and READMEs skipped, ids are slugs of relative paths', async () => {
    const deps: KbDeps = { db: database.db, store: pgvectorStore(uniqueName('files')), embedder: realEmbedder() };
    const prefix = uniqueName('f');
    const dir = tempDir({
      [`${prefix}/Getting Started.md`]: '---\nintents: other\n---\n# Getting started\n\nCreate a project first.',
      [`${prefix}/guides/export.html`]:
        '<html><body><h1>Export guide</h1><p>Use Settings, Data, Export.</p><h2>Formats</h2><p>CSV or JSON.</p></body></html>',
      [`${prefix}/notes.txt`]: 'Plain text notes about shortcuts: press K to search.',
      [`${prefix}/README.md`]: '# About this folder',
      [`${prefix}/logo.png`]: 'not really a png',
      [`${prefix}/.hidden.md`]: '# hidden',
      [`${prefix}/empty.md`]: '---\nintents: other\n---\n',
    });
    const summary = await ingestPaths(deps, [dir]);
    expect(summary).toMatchObject({ documents: 3, skipped: 4, unchanged: 0 });
    expect(summary.skippedFiles.map((f) => path.basename(f)).sort()).toEqual(['.hidden.md', 'README.md', 'empty.md', 'logo.png']);

    const ids = (await listDocuments(deps.db)).map((d) => d.id).filter((id) => id.startsWith(prefix.replace('_', '-')));
    const slug = prefix.replace('_', '-');
    expect(ids.sort()).toEqual([`${slug}-getting-started`, `${slug}-guides-export`, `${slug}-notes`]);
    const html = await getDocument(deps.db, `${slug}-guides-export`);
    expect(html).toMatchObject({ title: 'Export guide', chunks: 2 });
    expect((await getDocument(deps.db, `${slug}-notes`))?.title).toBe('Notes');
    expect((await getDocument(deps.db, `${slug}-getting-started`))?.intents).toEqual(['other']);

    // A single file given directly: its id is its own slugged name.
    const single = await ingestPaths(deps, [path.join(dir, prefix, 'notes.txt')]);
    expect(single).toMatchObject({ documents: 1, unchanged: 0 });
    expect(await getDocument(deps.db, 'notes')).toBeDefined();
    await deleteKbDocument(deps, 'notes');
  });

  test('two files that would get the same id are refused before anything is ingested', async () => {
    const deps: KbDeps = { db: database.db, store: pgvectorStore(uniqueName('clash')), embedder: realEmbedder() };
    const dir = tempDir({ 'faq.md': '# FAQ\n\nA.', 'faq.txt': 'B.' });
    await expect(ingestPaths(deps, [dir])).rejects.toThrow(/would both become KB document "faq"/);
    await expect(ingestPaths(deps, [path.join(dir, 'missing')])).rejects.toThrow(/No such file or directory/);
  });
});

describe('model change and reindex', () => {
  // Its own registry database: reindex re-embeds every registered document.
  let own: { db: Db; drop: () => Promise<void> };
  beforeAll(async () => {
    own = await createKbTestDatabase();
  });
  afterAll(async () => {
    await own?.drop();
  });

  test('another model is refused with ModelMismatchError until `kb reindex` rebuilds the collection', async () => {
    const collection = uniqueName('reindex');
    const before: KbDeps = { db: own.db, store: pgvectorStore(collection), embedder: realEmbedder() };
    const dir = tempDir(
      Object.fromEntries(
        ['refunds.md', 'password-reset.md', 'api-rate-limits.md'].map((f) => [f, fs.readFileSync(path.join(SAMPLE_KB, f), 'utf8')]),
      ),
    );
    const ingested = await ingestPaths(before, [dir]);

    const alias = aliasEmbedder();
    const after: KbDeps = { db: own.db, store: pgvectorStore(collection, alias), embedder: alias };
    const error = await searchKnowledgeBase(after, 'how do I get a refund').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ModelMismatchError);
    expect((error as Error).message).toContain(`built with embedding model ${MODEL_ID}`);
    expect((error as Error).message).toContain('configured with acme/minilm-alias');
    expect((error as Error).message).toContain('ticketflow kb reindex');

    const registered = await listDocuments(own.db);
    const reindexed = await reindexAll(after);
    expect(reindexed).toEqual({ documents: 3, chunks: ingested.chunks });
    expect(await after.store.describe()).toMatchObject({ modelId: 'acme/minilm-alias', count: reindexed.chunks });
    expect(await after.store.count({ documentId: 'refunds' })).toBe(
      registered.find((d) => d.id === 'refunds')!.chunks,
    );
    expect(ingested.documents).toBe(3);
    const [top] = await searchKnowledgeBase(after, 'how do I get a refund', { limit: 1 });
    expect(top?.documentId).toBe('refunds');

    // Now the old model is the stranger.
    const stale: KbDeps = { db: own.db, store: pgvectorStore(collection), embedder: realEmbedder() };
    await expect(searchKnowledgeBase(stale, 'refund')).rejects.toBeInstanceOf(ModelMismatchError);
  });
});
