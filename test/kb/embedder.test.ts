import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { inEmbeddingScope, ModelNotInstalledError, TransformersEmbedder } from '../../src/kb/embedder';
import { dot, MODEL_ID, MODELS_DIR } from './support';

/** The real MiniLM model: vectors, and how concurrent callers share model runs. */

const TEXTS = [
  'I was charged twice for my subscription this month',
  'How do I reset my password?',
  'The mobile app crashes when I open settings',
  'Can you add a dark mode?',
  'Please cancel my account and delete my data',
  'My invoice shows the wrong VAT number',
  '',
  'Where can I download last year’s receipts?',
];

test('vectors have the model dimension, unit length, and put paraphrases closer than unrelated text', async () => {
  const embedder = new TransformersEmbedder(MODEL_ID, MODELS_DIR);
  const [refund, paraphrase, unrelated] = await embedder.embed([
    'I want my money back for the duplicate charge',
    'Please refund the payment you took twice',
    'The app crashes when I upload a photo',
  ]);
  for (const vector of [refund!, paraphrase!, unrelated!]) {
    expect(vector).toHaveLength(384);
    expect(Math.sqrt(dot(vector, vector))).toBeCloseTo(1, 5);
  }
  expect(dot(refund!, paraphrase!)).toBeGreaterThan(dot(refund!, unrelated!) + 0.2);
});

test('concurrent callers share model runs and get the same vectors as one caller alone', async () => {
  const embedder = new TransformersEmbedder(MODEL_ID, MODELS_DIR);
  const alone: number[][] = [];
  for (const text of TEXTS) alone.push((await embedder.embed([text]))[0]!);
  const runsBefore = embedder.modelRuns;
  expect(runsBefore).toBe(TEXTS.length);

  const together = await Promise.all(TEXTS.map((text) => embedder.embed([text]).then((v) => v[0]!)));
  // All eight arrived in the same tick: one model run (the batch size is 32), padded to the longest text.
  expect(embedder.modelRuns - runsBefore).toBe(1);
  together.forEach((vector, i) => {
    // Padding is masked out of the mean, so only float rounding differs.
    expect(dot(vector, alone[i]!)).toBeGreaterThan(0.9999);
  });
});

test('a caller arriving while the model is busy joins the next batch; results keep each caller’s order', async () => {
  const embedder = new TransformersEmbedder(MODEL_ID, MODELS_DIR, 4);
  await embedder.embed(['warm up']);
  const runsBefore = embedder.modelRuns;
  const first = embedder.embed(TEXTS.slice(0, 2));
  await new Promise((resolve) => setImmediate(resolve)); // the first run is under way
  const second = embedder.embed(TEXTS.slice(2, 8)); // six texts, batch size four: two more runs
  const [a, b] = await Promise.all([first, second]);
  expect(a).toHaveLength(2);
  expect(b).toHaveLength(6);
  expect(embedder.modelRuns - runsBefore).toBe(3);
  const [check] = await embedder.embed([TEXTS[3]!]);
  expect(dot(b[1]!, check!)).toBeGreaterThan(0.9999);
});

test('a missing model rejects every waiting caller with the fix, and the next call tries again', async () => {
  const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'tf-no-model-'));
  const embedder = new TransformersEmbedder(MODEL_ID, empty);
  const results = await Promise.allSettled([embedder.embed(['a']), embedder.embed(['b', 'c'])]);
  for (const result of results) {
    expect(result.status).toBe('rejected');
    expect((result as PromiseRejectedResult).reason).toBeInstanceOf(ModelNotInstalledError);
    expect(String((result as PromiseRejectedResult).reason.message)).toMatch(/npm run setup/);
  }
  fs.cpSync(path.join(MODELS_DIR, MODEL_ID), path.join(empty, MODEL_ID), { recursive: true }); // `npm run setup`
  const [vector] = await embedder.embed(['now it is installed']);
  expect(vector).toHaveLength(384);
});

test('EMBEDDER_THREADS takes effect (one OS thread per compute thread) and changes no vector', async () => {
  // Linux: each thread of this process is a directory here. The embedder's own worker thread is one of them.
  const threadsNow = () => fs.readdirSync('/proc/self/task').length;
  const embedWith = async (threads: number) => {
    const before = threadsNow();
    const embedder = new TransformersEmbedder(MODEL_ID, MODELS_DIR, 32, threads);
    const vectors = await embedder.embed(TEXTS.slice(0, 3));
    return { vectors, added: threadsNow() - before };
  };
  const single = await embedWith(1);
  const three = await embedWith(3);
  const runtimeDefault = await embedWith(0);
  expect(single.added).toBe(1); // the worker thread computes alone: no onnxruntime pool
  expect(three.added).toBe(3); // the worker thread and a pool of two
  for (const other of [three, runtimeDefault]) {
    other.vectors.forEach((vector, i) => expect(dot(vector, single.vectors[i]!)).toBeGreaterThan(0.99999));
  }
});

test('within one ticket an input is computed once (up to whitespace, which the tokenizer drops); tickets never share', async () => {
  const embedder = new TransformersEmbedder(MODEL_ID, MODELS_DIR);
  const ticket = 'Card stolen\n\nSomeone used my card   in another country.';
  const collapsed = 'Card stolen Someone used my card in another country.';
  // The critical-meaning check and retrieval embed one ticket at the same moment, one with collapsed whitespace.
  const [[a], [b]] = await inEmbeddingScope('ticket-1', () =>
    Promise.all([embedder.embed([ticket]), embedder.embed([collapsed])]),
  );
  expect(embedder.modelRuns).toBe(1);
  expect(a).toEqual(b);
  a![0] = 42; // a caller's copy is its own
  const [again] = await inEmbeddingScope('ticket-1', () => embedder.embed([` ${ticket} `, 'How do I reset my password?']));
  expect(again![0]).not.toBe(42);
  expect(again).toEqual(b);
  expect(embedder.modelRuns).toBe(2); // only the new text ran
  // Another ticket with the same text, and a caller outside any ticket, compute it themselves.
  await inEmbeddingScope('ticket-2', () => embedder.embed([ticket]));
  expect(embedder.modelRuns).toBe(3);
  const [unscoped] = await embedder.embed([ticket]);
  expect(embedder.modelRuns).toBe(4);
  // The claim the sharing rests on: whitespace does not change the model's vector.
  expect(dot(unscoped!, b!)).toBeGreaterThan(0.999999);
});
