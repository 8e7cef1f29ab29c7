import { ModelMismatchError, type ChunkRecord, type Embedder, type VectorStore } from '../../src/kb/types';
import { dot, MODEL_ID, realEmbedder, uniqueName } from './support';

/**
 * One behavioural contract for every VectorStore, with real embeddings. Used by
 * vector-store.contract.test.ts (pgvector, real Qdrant) and qdrant-adapter.test.ts (Qdrant stand-in).
 */

export type ModelIdentity = Pick<Embedder, 'modelId' | 'dimension'>;

export interface StoreHarness {
  make(collection: string, model: ModelIdentity): VectorStore;
  teardown(): Promise<void>;
}

const CORPUS = [
  { id: 'c-refund', doc: 'refunds', source: 'kb', intents: ['billing'], text: 'Refunds are issued to the original card within 5 to 10 business days after approval.' },
  { id: 'c-refund-2', doc: 'refunds', source: 'kb', intents: ['billing'], text: 'Annual plans can be refunded pro rata within 30 days of renewal.' },
  { id: 'c-password', doc: 'password-reset', source: 'kb', intents: ['account'], text: 'To reset your password, click "Forgot password" on the sign-in page and follow the emailed link.' },
  { id: 'c-ratelimit', doc: 'rate-limits', source: 'kb', intents: ['technical'], text: 'The API allows 600 requests per minute per key; excess requests receive HTTP 429.' },
  { id: 'c-slack', doc: 'slack', source: 'kb', intents: ['technical', 'feature_request'], text: 'Connect Slack under Settings > Integrations to receive ticket notifications in a channel.' },
  { id: 'c-res-1', doc: 'resolution-t1', source: 'resolution', intents: ['billing'], ticketId: 'ticket-T1', text: 'We refunded the duplicate charge; it will appear on your statement in a few days.' },
  { id: 'c-res-2', doc: 'resolution-t2', source: 'resolution', intents: ['account'], ticketId: 'ticket-T2', text: 'Your account was unlocked after too many failed sign-in attempts.' },
] as const;

let vectors: Map<string, number[]>;
let queryVectors: Record<'refund' | 'password' | 'slack', number[]>;
let corpusEmbedded = false;

function record(id: (typeof CORPUS)[number]['id'], overrides: Partial<ChunkRecord['payload']> = {}): ChunkRecord {
  const item = CORPUS.find((c) => c.id === id)!;
  return {
    id: item.id,
    vector: vectors.get(item.id)!,
    payload: {
      documentId: item.doc,
      title: `Title of ${item.doc}`,
      headingPath: ['Section'],
      source: item.source,
      ...('ticketId' in item ? { ticketId: item.ticketId } : {}),
      intents: [...item.intents],
      createdAt: '2025-01-02T03:04:05.000Z',
      text: item.text,
      ...overrides,
    },
  };
}

const allRecords = () => CORPUS.map((c) => record(c.id));

async function embedCorpus(): Promise<void> {
  if (corpusEmbedded) return;
  corpusEmbedded = true;
  const embedder = realEmbedder();
  const embedded = await embedder.embed(CORPUS.map((c) => c.text));
  vectors = new Map(CORPUS.map((c, i) => [c.id, embedded[i]!]));
  const [refund, password, slack] = await embedder.embed([
    'how do I get my money back',
    'I forgot my password and cannot log in',
    'send alerts to our Slack channel',
  ]);
  queryVectors = { refund: refund!, password: password!, slack: slack! };
}

/** Registers the contract's tests in the current describe block. */
export function vectorStoreContract(kind: 'pgvector' | 'qdrant', setup: () => Promise<StoreHarness>): void {
  let harness: StoreHarness;
  let store: VectorStore;
  let collection: string;
  const model: ModelIdentity = { modelId: MODEL_ID, dimension: 384 };

  beforeAll(async () => {
    await embedCorpus();
    harness = await setup();
  });
  afterAll(async () => {
    await harness?.teardown();
  });
  beforeEach(async () => {
    collection = uniqueName('contract');
    store = harness.make(collection, model);
    await store.open();
  });
  afterEach(async () => {
    await store.reset();
    await store.close();
  });

  test('a new collection describes itself with the configured model and no chunks', async () => {
    expect(await store.describe()).toEqual({
      kind,
      collection,
      modelId: MODEL_ID,
      dimension: 384,
      distance: 'cosine',
      count: 0,
    });
  });

  test('search ranks by cosine similarity of real embeddings, best first, and returns payloads intact', async () => {
    await store.upsert(allRecords());
    const hits = await store.search(queryVectors.refund, 3);
    expect(hits).toHaveLength(3);
    expect(hits[0]!.payload.documentId).toBe('refunds');
    const scores = hits.map((h) => h.score);
    expect([...scores].sort((a, b) => b - a)).toEqual(scores);
    // The score is the cosine similarity (vectors are unit length, so the dot product).
    for (const hit of hits) expect(hit.score).toBeCloseTo(dot(queryVectors.refund, vectors.get(hit.id)!), 4);
    const everything = await store.search(queryVectors.refund, 50);
    expect(everything.find((h) => h.id === 'c-res-1')?.payload).toEqual(record('c-res-1').payload);
    expect(everything.find((h) => h.id === 'c-slack')?.payload).toEqual(record('c-slack').payload);

    expect((await store.search(queryVectors.password, 1))[0]!.id).toBe('c-password');
    expect((await store.search(queryVectors.slack, 1))[0]!.id).toBe('c-slack');
    expect(await store.search(queryVectors.slack, 50)).toHaveLength(CORPUS.length);
  });

  test('storedDocuments lists each document with its chunk ids and metadata (what reindex --into compares)', async () => {
    await store.upsert(allRecords());
    const stored = await store.storedDocuments();
    expect([...stored.keys()].sort()).toEqual([...new Set(CORPUS.map((c) => c.doc))].sort());
    const refunds = stored.get('refunds')!;
    expect({ ...refunds, chunkIds: [...refunds.chunkIds].sort() }).toEqual({
      chunkIds: ['c-refund', 'c-refund-2'],
      title: 'Title of refunds',
      source: 'kb',
      intents: ['billing'],
    });
    expect(stored.get('resolution-t1')).toEqual({
      chunkIds: ['c-res-1'],
      title: 'Title of resolution-t1',
      source: 'resolution',
      ticketId: 'ticket-T1',
      intents: ['billing'],
    });
  });

  test('filters on source, documentId, ticketId and intentsAny', async () => {
    await store.upsert(allRecords());
    const ids = async (filter: Parameters<VectorStore['search']>[2]) =>
      (await store.search(queryVectors.refund, 10, filter)).map((h) => h.id).sort();

    expect(await ids({ source: 'resolution' })).toEqual(['c-res-1', 'c-res-2']);
    expect(await ids({ source: 'kb' })).toEqual(['c-password', 'c-ratelimit', 'c-refund', 'c-refund-2', 'c-slack']);
    expect(await ids({ documentId: 'refunds' })).toEqual(['c-refund', 'c-refund-2']);
    expect(await ids({ ticketId: 'ticket-T2' })).toEqual(['c-res-2']);
    expect(await ids({ intentsAny: ['account', 'feature_request'] })).toEqual(['c-password', 'c-res-2', 'c-slack']);
    expect(await ids({ source: 'kb', intentsAny: ['billing'] })).toEqual(['c-refund', 'c-refund-2']);
    expect(await ids({ documentId: 'no-such-document' })).toEqual([]);

    expect(await store.count({ source: 'resolution' })).toBe(2);
    expect(await store.count({ intentsAny: ['technical'] })).toBe(2);
    expect(await store.count({ documentId: 'refunds', source: 'kb' })).toBe(2);
  });

  test('upsert is idempotent by chunk id, and an upsert of an existing id replaces its payload', async () => {
    await store.upsert(allRecords());
    await store.upsert(allRecords());
    expect(await store.count()).toBe(CORPUS.length);

    await store.upsert([record('c-slack', { text: 'Slack integration moved to Settings > Apps.', intents: ['other'] })]);
    expect(await store.count()).toBe(CORPUS.length);
    const [hit] = await store.search(queryVectors.slack, 1, { documentId: 'slack' });
    expect(hit?.payload.text).toBe('Slack integration moved to Settings > Apps.');
    expect(hit?.payload.intents).toEqual(['other']);
  });

  test('deleteDocument removes exactly that document and reports how many chunks went', async () => {
    await store.upsert(allRecords());
    expect(await store.deleteDocument('refunds')).toBe(2);
    expect(await store.count()).toBe(CORPUS.length - 2);
    expect((await store.search(queryVectors.refund, 10)).map((h) => h.payload.documentId)).not.toContain('refunds');
    expect(await store.deleteDocument('refunds')).toBe(0);
    expect(await store.deleteDocument('never-existed')).toBe(0);
  });

  test('replaceDocument swaps one document for its new chunks, keeps a shared chunk, and leaves the others alone', async () => {
    await store.upsert(allRecords());
    const kept = record('c-refund');
    const added = { ...record('c-refund-2'), id: 'c-refund-3', payload: { ...record('c-refund-2').payload, text: 'Refund policy v2.' } };
    expect(await store.replaceDocument('refunds', [kept, added])).toBe(1);
    const stored = await store.storedDocuments();
    expect([...stored.get('refunds')!.chunkIds].sort()).toEqual(['c-refund', 'c-refund-3']);
    expect(await store.count()).toBe(CORPUS.length);
    expect(await store.count({ documentId: 'password-reset' })).toBe(1);
    expect(await store.replaceDocument('refunds', [])).toBe(2);
    expect(await store.count({ documentId: 'refunds' })).toBe(0);
    expect(await store.replaceDocument('brand-new', [{ ...record('c-slack'), id: 'c-new', payload: { ...record('c-slack').payload, documentId: 'brand-new' } }])).toBe(0);
    expect(await store.count({ documentId: 'brand-new' })).toBe(1);
  });

  test('the model guard rejects another model or dimension, naming both and the reindex command', async () => {
    await store.upsert(allRecords());
    const otherModel = harness.make(collection, { modelId: 'BAAI/bge-small-en-v1.5', dimension: 384 });
    const otherDimension = harness.make(collection, { modelId: MODEL_ID, dimension: 768 });
    try {
      const error = await otherModel.open().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ModelMismatchError);
      const message = (error as Error).message;
      expect(message).toContain(MODEL_ID);
      expect(message).toContain('BAAI/bge-small-en-v1.5');
      expect(message).toContain('ticketflow kb reindex');
      // Every operation goes through the guard, not just an explicit open().
      await expect(otherModel.search(queryVectors.refund, 1)).rejects.toBeInstanceOf(ModelMismatchError);
      await expect(otherDimension.count()).rejects.toThrow(/dimension 384.*dimension 768/);
      // The original store still works: the failed opens changed nothing.
      expect(await store.count()).toBe(CORPUS.length);

      // reset() is the way out: afterwards the other model owns the collection.
      await otherModel.reset();
      await otherModel.open();
      expect(await otherModel.describe()).toMatchObject({ modelId: 'BAAI/bge-small-en-v1.5', count: 0 });
    } finally {
      await otherModel.close();
      await otherDimension.close();
    }
  });

  test('rejects vectors of the wrong dimension instead of storing them', async () => {
    const bad = { ...record('c-refund'), vector: [0.1, 0.2, 0.3] };
    await expect(store.upsert([bad])).rejects.toThrow(/dimension 3/);
    await expect(store.search([1, 0], 1)).rejects.toThrow(/dimension 2/);
    expect(await store.count()).toBe(0);
  });
}
