import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { TransformersEmbedder } from '../../src/kb/embedder';
import { MODEL_ID, MODELS_DIR, dot, realEmbedder } from './support';

/**
 * A model we did not ship (one you fine-tuned and exported, bench/finetune) is used from its folder when its
 * ticketflow-model.json declares the dimension (and pooling); setup accepts it when the manifest's checksums hold,
 * and says what is wrong otherwise. Here the folder holds copies of the shipped MiniLM files under another id.
 */

const CUSTOM_ID = 'acme/support-minilm';
const MODEL_FILES = ['config.json', 'special_tokens_map.json', 'tokenizer.json', 'tokenizer_config.json', 'vocab.txt', 'onnx/model_quantized.onnx'];

function customModelsDir(manifest: (files: Record<string, string>) => unknown): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'tf-custom-model-'));
  const dir = path.join(root, CUSTOM_ID);
  fs.mkdirSync(path.join(dir, 'onnx'), { recursive: true });
  const shipped = JSON.parse(fs.readFileSync(path.join(MODELS_DIR, MODEL_ID, 'ticketflow-model.json'), 'utf8')) as {
    files: Record<string, string>;
  };
  for (const file of MODEL_FILES) fs.copyFileSync(path.join(MODELS_DIR, MODEL_ID, file), path.join(dir, file));
  fs.writeFileSync(path.join(dir, 'ticketflow-model.json'), JSON.stringify(manifest(shipped.files)));
  return root;
}

function setupModel(modelsDir: string): { status: number | null; output: string } {
  const run = spawnSync(process.execPath, [path.join(__dirname, '../../scripts/setup.mjs'), 'model'], {
    env: { ...process.env, EMBEDDING_MODEL: CUSTOM_ID, MODELS_DIR: modelsDir },
    encoding: 'utf8',
  });
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
}

test('a custom model with a valid manifest is accepted by setup and embeds like the same weights under their own id', async () => {
  const dir = customModelsDir((files) => ({ modelId: CUSTOM_ID, dimension: 384, pooling: 'mean', files }));
  const setup = setupModel(dir);
  expect(setup).toMatchObject({ status: 0 });
  expect(setup.output).toContain(`embedding model ${CUSTOM_ID} present`);

  const custom = new TransformersEmbedder(CUSTOM_ID, dir);
  expect(custom.dimension).toBe(384);
  const texts = ['How do I reset my password?', 'The invoice total is wrong'];
  const [ours, shipped] = await Promise.all([custom.embed(texts), realEmbedder().embed(texts)]);
  ours.forEach((vector, i) => expect(dot(vector, shipped[i]!)).toBeGreaterThan(0.9999));
}, 120_000);

test('a custom model whose files do not match its manifest is refused by setup, naming the file', () => {
  const dir = customModelsDir((files) => ({
    modelId: CUSTOM_ID,
    dimension: 384,
    files: { ...files, 'vocab.txt': '0'.repeat(64) },
  }));
  const setup = setupModel(dir);
  expect(setup.status).not.toBe(0);
  expect(setup.output).toContain('vocab.txt does not match its recorded sha256');
});

test('an unknown model without a manifest, or with a manifest that gives no dimension, fails with what to fix', () => {
  const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'tf-custom-model-'));
  expect(() => new TransformersEmbedder(CUSTOM_ID, empty)).toThrow(/ticketflow-model\.json that gives its dimension/);

  const noDimension = customModelsDir((files) => ({ modelId: CUSTOM_ID, files }));
  expect(() => new TransformersEmbedder(CUSTOM_ID, noDimension)).toThrow(/ticketflow-model\.json: dimension: /);
});
