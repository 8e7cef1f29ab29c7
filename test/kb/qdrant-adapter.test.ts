import type { Schemas } from '@qdrant/js-client-rest';
import { pointIdForChunk, QdrantStore } from '../../src/kb/qdrant-store';
import { ModelMismatchError, type ChunkRecord } from '../../src/kb/types';
import { startQdrantStandin, type QdrantStandin, type RecordedRequest } from '../support/qdrant-standin';
import { MODEL_ID, uniqueName } from './support';
import { vectorStoreContract } from './vector-store-contract';

/**
 * The Qdrant adapter against a local stand-in that speaks Qdrant's REST API: the requests it sends must have
 * the shapes of Qdrant's OpenAPI schema, and it must behave correctly on Qdrant's responses.
 */

const model = { modelId: MODEL_ID, dimension: 4 };

function unit(values: number[]): number[] {
  const norm = Math.hypot(...values);
  return values.map((v) => v / norm);
}

function chunk(id: string, documentId: string, vector: number[], extra: Partial<ChunkRecord['payload']> = {}): ChunkRecord {
  return {
    id,
    vector: unit(vector),
    payload: {
      documentId,
      title: `Doc ${documentId}`,
      headingPath: ['Top', 'Sub'],
      source: 'kb',
      intents: ['billing'],
      createdAt: '2025-03-04T05:06:07.000Z',
      text: `text of ${id}`,
      ...extra,
    },
  };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('QdrantStore contract on the Qdrant stand-in (real embeddings)', () => {
  let standin: QdrantStandin;
  vectorStoreContract('qdrant', async () => {
    standin = await startQdrantStandin();
    return {
      make: (collection, identity) => new QdrantStore({ url: standin.url, collection, model: identity }),
      teardown: () => standin.close(),
    };
  });
});

describe('QdrantStore wire protocol', () => {
  let standin: QdrantStandin;
  let collection: string;
  let store: QdrantStore;
  const since = (from: number): RecordedRequest[] => standin.requests.slice(from);

  beforeEach(async () => {
    standin = await startQdrantStandin();
    collection = uniqueName('wire');
    store = new QdrantStore({ url: standin.url, collection, model, batchSize: 2 });
  });
  afterEach(async () => {
    await store.close();
    await standin.close();
  });

  test('open creates a cosine collection carrying the model record, then keyword payload indexes', async () => {
    await store.open();
    const calls = standin.requests.map((r) => `${r.method} ${r.path}`);
    expect(calls).toEqual([
      `GET /collections/${collection}/exists`,
      `PUT /collections/${collection}`,
      `GET /collections/${collection}`,
      `PUT /collections/${collection}/index`,
      `PUT /collections/${collection}/index`,
      `PUT /collections/${collection}/index`,
      `PUT /collections/${collection}/index`,
    ]);
    const create: Schemas['CreateCollection'] = {
      vectors: { size: 4, distance: 'Cosine' },
      metadata: { ticketflow_embedding_model: MODEL_ID, ticketflow_embedding_dimension: 4 },
    };
    expect(standin.requests[1]!.body).toEqual(create);
    const indexes = standin.requests.slice(3).map((r) => r.body as Schemas['CreateFieldIndex']);
    expect(indexes).toEqual(
      ['document_id', 'source', 'ticket_id', 'intents'].map((field) => ({ field_name: field, field_schema: 'keyword' })),
    );
    for (const r of standin.requests.slice(3)) expect(r.query.wait).toBe('true');

    // A second process opening the same collection only reads it.
    const again = new QdrantStore({ url: standin.url, collection, model });
    const from = standin.requests.length;
    await again.open();
    expect(since(from).map((r) => `${r.method} ${r.path}`)).toEqual([
      `GET /collections/${collection}/exists`,
      `GET /collections/${collection}`,
    ]);
  });

  test('upsert sends batches of PointStructs with deterministic UUIDs and snake_case payloads, waiting for commit', async () => {
    await store.open();
    const from = standin.requests.length;
    const records = [
      chunk('a1', 'doc-a', [1, 0, 0, 0]),
      chunk('a2', 'doc-a', [0, 1, 0, 0]),
      chunk('r1', 'res-1', [0, 0, 1, 0], { source: 'resolution', ticketId: 'ticket-9', intents: ['account', 'billing'] }),
    ];
    await store.upsert(records);
    const upserts = since(from);
    expect(upserts.map((r) => `${r.method} ${r.path} wait=${r.query.wait}`)).toEqual([
      `PUT /collections/${collection}/points wait=true`,
      `PUT /collections/${collection}/points wait=true`,
    ]);
    const points = upserts.flatMap((r) => (r.body as Schemas['PointsList']).points);
    expect(points).toHaveLength(3);
    expect(points[2]).toEqual({
      id: pointIdForChunk('r1'),
      vector: records[2]!.vector,
      payload: {
        chunk_id: 'r1',
        document_id: 'res-1',
        title: 'Doc res-1',
        heading_path: ['Top', 'Sub'],
        source: 'resolution',
        ticket_id: 'ticket-9',
        intents: ['account', 'billing'],
        created_at: '2025-03-04T05:06:07.000Z',
        text: 'text of r1',
      },
    });
    expect(points[0]!.payload).toMatchObject({ ticket_id: null });
    for (const p of points) expect(String(p.id)).toMatch(UUID);
    // Same chunk id → same point id (re-ingestion overwrites instead of duplicating); different ids differ.
    expect(pointIdForChunk('a1')).toBe(points[0]!.id);
    expect(new Set(points.map((p) => p.id)).size).toBe(3);

    await store.upsert(records);
    expect(await store.count()).toBe(3);
  });

  test('search uses the query endpoint with payloads and maps filters to must conditions', async () => {
    await store.upsert([
      chunk('a1', 'doc-a', [1, 0, 0, 0]),
      chunk('a2', 'doc-a', [0.8, 0.6, 0, 0]),
      chunk('b1', 'doc-b', [0, 1, 0, 0], { intents: ['technical'] }),
      chunk('r1', 'res-1', [0.9, 0, 0.1, 0], { source: 'resolution', ticketId: 'ticket-9' }),
    ]);
    const from = standin.requests.length;
    const hits = await store.search(unit([1, 0.1, 0, 0]), 3, {
      source: 'kb',
      documentId: 'doc-a',
      ticketId: undefined,
      intentsAny: ['billing', 'account'],
    });
    const [request] = since(from);
    expect(request!.method).toBe('POST');
    expect(request!.path).toBe(`/collections/${collection}/points/query`);
    const expected: Schemas['QueryRequest'] = {
      query: unit([1, 0.1, 0, 0]),
      limit: 3,
      with_payload: true,
      filter: {
        must: [
          { key: 'source', match: { value: 'kb' } },
          { key: 'document_id', match: { value: 'doc-a' } },
          { key: 'intents', match: { any: ['billing', 'account'] } },
        ],
      },
    };
    expect(request!.body).toEqual(expected);
    expect(hits.map((h) => h.id)).toEqual(['a1', 'a2']);
    expect(hits[0]!.score).toBeGreaterThan(hits[1]!.score);
    expect(hits[0]!.payload).toEqual(chunk('a1', 'doc-a', [1, 0, 0, 0]).payload);

    const byTicket = await store.search(unit([1, 0, 0, 0]), 5, { ticketId: 'ticket-9' });
    expect(since(from).at(-1)!.body).toMatchObject({ filter: { must: [{ key: 'ticket_id', match: { value: 'ticket-9' } }] } });
    expect(byTicket.map((h) => h.id)).toEqual(['r1']);
    expect(byTicket[0]!.payload.ticketId).toBe('ticket-9');

    const unfiltered = standin.requests.length;
    expect((await store.search(unit([0, 1, 0, 0]), 1))[0]!.id).toBe('b1');
    expect(since(unfiltered)[0]!.body).not.toHaveProperty('filter');
  });

  test('deleteDocument counts exactly, then deletes by filter and waits', async () => {
    await store.upsert([chunk('a1', 'doc-a', [1, 0, 0, 0]), chunk('a2', 'doc-a', [0, 1, 0, 0]), chunk('b1', 'doc-b', [0, 0, 1, 0])]);
    const from = standin.requests.length;
    expect(await store.deleteDocument('doc-a')).toBe(2);
    const [count, del] = since(from);
    const filter: Schemas['Filter'] = { must: [{ key: 'document_id', match: { value: 'doc-a' } }] };
    expect(count).toMatchObject({ method: 'POST', path: `/collections/${collection}/points/count`, body: { filter, exact: true } });
    expect(del).toMatchObject({ method: 'POST', path: `/collections/${collection}/points/delete`, body: { filter } });
    expect(del!.query.wait).toBe('true');
    expect(await store.count()).toBe(1);

    const none = standin.requests.length;
    expect(await store.deleteDocument('doc-a')).toBe(0);
    expect(since(none).map((r) => r.path)).toEqual([`/collections/${collection}/points/count`]);
  });

  test('storedDocuments pages through the collection by point id, asking for payload fields only', async () => {
    const paged = new QdrantStore({ url: standin.url, collection, model, scrollPageSize: 2 });
    await paged.upsert([
      chunk('a1', 'doc-a', [1, 0, 0, 0]),
      chunk('a2', 'doc-a', [0, 1, 0, 0]),
      chunk('b1', 'doc-b', [0, 0, 1, 0], { source: 'resolution', ticketId: 'T-9', intents: ['account', 'billing'] }),
      chunk('c1', 'doc-c', [0, 0, 0, 1]),
      chunk('c2', 'doc-c', [1, 1, 0, 0]),
    ]);
    const from = standin.requests.length;
    const stored = await paged.storedDocuments();
    const scrolls = since(from).filter((r) => r.path.endsWith('/points/scroll'));
    expect(scrolls).toHaveLength(3);
    expect(scrolls[0]!.body).toEqual({
      limit: 2,
      with_payload: ['chunk_id', 'document_id', 'title', 'source', 'ticket_id', 'intents'],
      with_vector: false,
    });
    expect(scrolls.slice(1).every((r) => typeof (r.body as { offset?: unknown }).offset === 'string')).toBe(true);
    expect(new Map([...stored].map(([id, d]) => [id, { ...d, chunkIds: [...d.chunkIds].sort() }]))).toEqual(
      new Map([
        ['doc-a', { chunkIds: ['a1', 'a2'], title: 'Doc doc-a', source: 'kb', intents: ['billing'] }],
        ['doc-b', { chunkIds: ['b1'], title: 'Doc doc-b', source: 'resolution', ticketId: 'T-9', intents: ['account', 'billing'] }],
        ['doc-c', { chunkIds: ['c1', 'c2'], title: 'Doc doc-c', source: 'kb', intents: ['billing'] }],
      ]),
    );
  });

  test('describe reads the model record back from the collection', async () => {
    await store.upsert([chunk('a1', 'doc-a', [1, 0, 0, 0])]);
    expect(await store.describe()).toEqual({
      kind: 'qdrant',
      collection,
      modelId: MODEL_ID,
      dimension: 4,
      distance: 'cosine',
      count: 1,
    });
  });

  test('a collection recorded with another model fails the guard with ModelMismatchError', async () => {
    await store.open();
    const other = new QdrantStore({ url: standin.url, collection, model: { modelId: 'BAAI/bge-small-en-v1.5', dimension: 4 } });
    const error = await other.count().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ModelMismatchError);
    expect((error as Error).message).toContain(`built with embedding model ${MODEL_ID} (dimension 4)`);
    expect((error as Error).message).toMatch(/configured with BAAI\/bge-small-en-v1\.5.*ticketflow kb reindex/);

    // reset deletes the collection; the next open recreates it for the new model.
    await other.reset();
    expect(standin.requests.at(-1)).toMatchObject({ method: 'DELETE', path: `/collections/${collection}` });
    await other.open();
    expect(standin.collections.get(collection)!.metadata).toEqual({
      ticketflow_embedding_model: 'BAAI/bge-small-en-v1.5',
      ticketflow_embedding_dimension: 4,
    });
    // reset of a collection that no longer exists is not an error (Qdrant answers 404).
    await other.reset();
    await other.reset();
  });

  test('a vector size that disagrees with the configured dimension is a mismatch even with matching metadata', async () => {
    standin.collections.set(collection, {
      size: 8,
      distance: 'Cosine',
      metadata: { ticketflow_embedding_model: MODEL_ID, ticketflow_embedding_dimension: 4 },
      payloadIndexes: new Map(),
      points: new Map(),
    });
    await expect(store.open()).rejects.toThrow(/dimension 8\).*dimension 4\)/);
  });

  test('a Qdrant that drops collection metadata (< 1.16) is reported, not silently trusted', async () => {
    const old = await startQdrantStandin({ ignoreCollectionMetadata: true });
    const oldStore = new QdrantStore({ url: old.url, collection, model });
    try {
      await expect(oldStore.open()).rejects.toThrow(/no ticketflow model record.*older than 1\.16/);
    } finally {
      await old.close();
    }
  });

  test('a create that loses a race (409) goes on to verify the collection the other process made', async () => {
    await store.open();
    // The racer's existence check happened before our create landed: it still believes there is none.
    standin.answerNext('GET', /\/exists$/, { exists: false });
    const racer = new QdrantStore({ url: standin.url, collection, model });
    await racer.open();
    const creates = standin.requests.filter((r) => r.method === 'PUT' && r.path === `/collections/${collection}`);
    expect(creates).toHaveLength(2); // the second one was answered 409 and tolerated
    expect(await racer.count()).toBe(0);

    // The same 409 for a collection that does not exist (a confused server) is not papered over.
    standin.failNext('PUT', new RegExp(`^/collections/${collection}_x$`), 409, 'Wrong input: Collection already exists!');
    const confused = new QdrantStore({ url: standin.url, collection: `${collection}_x`, model });
    await expect(confused.open()).rejects.toThrow(/404|Not Found/i);
  });

  test('server errors surface as rejections and a failed open is retried on the next call', async () => {
    standin.failNext('GET', /\/exists$/, 503, 'Service unavailable');
    await expect(store.open()).rejects.toThrow();
    await store.open();
    standin.failNext('PUT', /\/points$/, 500, 'Service internal error: disk full');
    await expect(store.upsert([chunk('a1', 'doc-a', [1, 0, 0, 0])])).rejects.toThrow();
    expect(await store.count()).toBe(0);
  });

  test('a point whose payload is not a ticketflow chunk is rejected with a clear error', async () => {
    await store.open();
    standin.collections.get(collection)!.points.set('u:x', {
      id: '00000000-0000-5000-8000-000000000001',
      vector: unit([1, 0, 0, 0]),
      payload: { something: 'else' },
      version: 1,
    });
    await expect(store.search(unit([1, 0, 0, 0]), 1)).rejects.toThrow(/unexpected payload/);
  });
});
