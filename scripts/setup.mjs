#!/usr/bin/env node
// `npm run setup [-- temporal|model|postgres|kustomize|all]`: idempotent installs of what ticketflow needs locally.
// Each step prints where things came from. Safe to re-run; nothing is re-downloaded when already valid.
import path from 'node:path';
import { createLogger } from './lib/log.mjs';
import { ensureTemporalCli } from './lib/temporal.mjs';
import { ensureKustomize } from './lib/kustomize.mjs';
import { DEFAULT_MODEL_ID, ensureModel, modelDir, validateInstalled } from './lib/model.mjs';
import { ensureLocalPostgres, ensureRoleAndDatabase } from './lib/postgres.mjs';
import { repoRoot, tsxNodeFlags } from './lib/paths.mjs';
import { run } from './lib/processes.mjs';
import { ensureDependencies } from './lib/deps.mjs';

const logger = createLogger('setup');
const STEPS = ['temporal', 'model', 'postgres', 'kustomize'];

/** Load the installed model through the application's embedder once: proves transformers.js can use it. */
export async function verifyModelLoads(modelsDir, modelId) {
  const program = `
    const { getEmbedder } = require(${JSON.stringify(path.join(repoRoot, 'src/kb/embedder.ts'))});
    getEmbedder(${JSON.stringify(modelId)}, ${JSON.stringify(modelsDir)}).embed(['refund policy'])
      .then((v) => { console.log(v[0].length); process.exit(0); }, (e) => { console.error(e.message); process.exit(1); });`;
  const result = await run(process.execPath, [...tsxNodeFlags(), '-e', program], {
    cwd: repoRoot,
    capture: true,
    timeoutMs: 120_000,
  });
  if (result.code !== 0)
    throw new Error(`model does not load: ${result.stderr.trim().split('\n').slice(-1)[0]}`);
  return Number(result.stdout.trim());
}

export async function setupModel({ verify = true } = {}) {
  const modelsDir = path.resolve(repoRoot, process.env.MODELS_DIR || 'models');
  const modelId = process.env.EMBEDDING_MODEL || DEFAULT_MODEL_ID;
  if (process.argv.includes('--check')) {
    // Report only; never downloads. Exit 1 when the installed model is missing or altered.
    const check = validateInstalled(modelDir(modelsDir, modelId));
    if (!check.ok)
      throw new Error(`embedding model ${modelId} in ${modelsDir} is not valid: ${check.reason}`);
    logger.ok(`embedding model ${modelId} is valid (source: ${check.manifest.source})`);
    return;
  }
  const { installed, manifest } = await ensureModel(logger, {
    modelsDir,
    modelId,
    force: process.argv.includes('--force'),
  });
  if (verify && (installed || process.argv.includes('--verify'))) {
    const dimension = await verifyModelLoads(modelsDir, modelId);
    if (dimension !== manifest.dimension)
      throw new Error(`model produced dimension ${dimension}, expected ${manifest.dimension}`);
    logger.ok(`model loads with transformers.js and embeds to ${dimension} dimensions`);
  }
}

export async function setupPostgres() {
  try {
    const { port } = await ensureLocalPostgres(logger);
    const url = await ensureRoleAndDatabase({
      role: 'ticketflow',
      password: 'ticketflow',
      database: 'ticketflow',
      port,
      createdb: true,
    });
    logger.ok(`role and database ready: ${url.replace(/:[^:@/]*@/, ':***@')}`);
  } catch (error) {
    logger.warn(
      `no usable local Postgres (${error.message}). That is fine: \`npm start\` serves PGlite+pgvector itself, ` +
        '`npm test` falls back to PGlite, and production uses docker-compose.yml.',
    );
  }
}

async function main() {
  const requested = process.argv.slice(2).filter((a) => !a.startsWith('--'));
  const steps = requested.length === 0 || requested.includes('all') ? STEPS : requested;
  const unknown = steps.filter((s) => !STEPS.includes(s));
  if (unknown.length) {
    logger.error(`unknown step ${unknown.join(', ')}; use one of: ${[...STEPS, 'all'].join(', ')}`);
    process.exit(2);
  }
  // The model check loads the embedder through tsx: npm packages first, as `npm start` and `npm test` do.
  if (steps.includes('model')) await ensureDependencies(logger);
  for (const step of steps) {
    logger.step(`— ${step} —`);
    if (step === 'temporal') await ensureTemporalCli(logger);
    if (step === 'model') await setupModel();
    if (step === 'postgres') await setupPostgres();
    if (step === 'kustomize') await ensureKustomize(logger);
  }
  logger.ok('setup complete');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((error) => {
    logger.error(error.message);
    process.exit(1);
  });
}
