#!/usr/bin/env node
// `npm test [-- <jest args>]`: brings up everything the suite needs on private ports, runs jest with
// results in test-results/jest.json, then stops what it started (also on Ctrl-C, SIGTERM and failure)
// and exits with jest's exit code.
//
//   Temporal   $TEMPORAL_ADDRESS, else a dev server (ports 17233/18233 or free ones, data in a temp dir)
//   Postgres   $DATABASE_URL, else the local cluster with a fresh database ticketflow_test_<pid>
//              (dropped afterwards), else an in-memory PGlite
//   pgvector   $VECTOR_DATABASE_URL, else an in-memory PGlite + pgvector server
//   Model      installed into $MODELS_DIR (default models/) if missing
//   kustomize  $KUSTOMIZE_PATH, else .tools/kustomize, else built with `go install` (renders deploy/k8s)
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { tsCommand } from './lib/paths.mjs';
import { spawn } from 'node:child_process';
import { createLogger } from './lib/log.mjs';
import { Supervisor, run } from './lib/processes.mjs';
import { pickPort } from './lib/ports.mjs';
import { repoRoot, tsxNodeFlags } from './lib/paths.mjs';
import { ensureDependencies } from './lib/deps.mjs';

const logger = createLogger('test');
const supervisor = new Supervisor(logger);
// `--run <file.ts> [args]` (npm run bench / eval): same infrastructure, but run that program instead of jest.
const runTarget = process.argv[2] === '--run' ? process.argv.slice(3) : undefined;
const jestArgs = runTarget ? [] : process.argv.slice(2);
const resultsDir = path.join(repoRoot, 'test-results');
const logsDir = path.join(resultsDir, 'logs');
const runDir = fs.mkdtempSync(path.join(os.tmpdir(), `ticketflow-test-${process.pid}-`));
const TEST_DB_PREFIX = 'ticketflow_test_';
const cleanups = [];
let jestChild;

/** Undo what we set up that outlives processes (the per-run database, the temp dir). */
async function releaseResources() {
  while (cleanups.length)
    await cleanups
      .pop()()
      .catch((error) => logger.warn(error.message));
  fs.rmSync(runDir, { recursive: true, force: true });
}

async function cleanup() {
  await supervisor.stopAll();
  await releaseResources();
}

async function temporal(modules) {
  if (process.env.TEMPORAL_ADDRESS) {
    logger.ok(`Temporal: using TEMPORAL_ADDRESS=${process.env.TEMPORAL_ADDRESS} (not starting a server)`);
    const { binary } = await modules.temporal.ensureTemporalCli(logger, { install: false }).catch(() => ({}));
    return {
      TEMPORAL_ADDRESS: process.env.TEMPORAL_ADDRESS,
      ...(binary ? { TEMPORAL_CLI_PATH: binary } : {}),
    };
  }
  const { binary } = await modules.temporal.ensureTemporalCli(logger);
  const port = await pickPort(17233);
  const uiPort = await pickPort(18233, '127.0.0.1', [port]);
  const { address, uiUrl } = await modules.temporal.startTemporalDevServer(supervisor, logger, {
    binary,
    dbFile: path.join(runDir, 'temporal.sqlite'),
    port,
    uiPort,
    logFile: path.join(logsDir, 'temporal.log'),
  });
  return { TEMPORAL_ADDRESS: address, TEMPORAL_UI_URL: uiUrl, TEMPORAL_CLI_PATH: binary };
}

/** kustomize for the manifest test; a failed install is reported by that test, not fatal for the others. */
async function kustomize(modules) {
  if (runTarget) return {};
  try {
    const { binary } = await modules.kustomize.ensureKustomize(logger);
    return { KUSTOMIZE_PATH: binary };
  } catch (error) {
    logger.warn(`kustomize unavailable: ${error.message}`);
    return { KUSTOMIZE_UNAVAILABLE: error.message };
  }
}

async function pgliteUrl(modules, name) {
  const port = await pickPort(0);
  const { url } = await modules.pglite.startPgliteProcess(supervisor, logger, {
    port,
    logFile: path.join(logsDir, `${name}.log`),
    passwordFile: path.join(runDir, `${name}.password`),
  });
  return url;
}

async function relationalDatabase(modules) {
  if (process.env.DATABASE_URL) {
    logger.ok('Postgres: using DATABASE_URL from the environment');
    return process.env.DATABASE_URL;
  }
  try {
    const pg = modules.postgres;
    const { port } = await pg.ensureLocalPostgres(logger);
    await pg.dropStaleRunDatabases(TEST_DB_PREFIX, port, logger);
    // One database per run: developers and CI may run the suite concurrently on one machine.
    const database = `${TEST_DB_PREFIX}${process.pid}`;
    const url = await pg.ensureRoleAndDatabase({
      role: 'ticketflow_test',
      password: 'ticketflow_test',
      database,
      port,
      recreate: true,
      createdb: true,
    });
    cleanups.push(() => pg.dropDatabase(database, port));
    logger.ok(`Postgres: fresh database ${database} on port ${port}`);
    return url;
  } catch (error) {
    logger.warn(`local Postgres unavailable (${error.message}); using an in-memory PGlite for DATABASE_URL`);
    return pgliteUrl(modules, 'pglite-main');
  }
}

async function vectorDatabase(modules) {
  if (process.env.VECTOR_DATABASE_URL) {
    logger.ok('pgvector: using VECTOR_DATABASE_URL from the environment');
    return process.env.VECTOR_DATABASE_URL;
  }
  return pgliteUrl(modules, 'pglite-vector');
}

async function runMigrations(databaseUrl) {
  const program = `
    const { createDb, migrateToLatest } = require(${JSON.stringify(path.join(repoRoot, 'src/db/database.ts'))});
    const db = createDb(process.env.DATABASE_URL, 1);
    migrateToLatest(db).then((done) => db.destroy().then(() => console.log(done.join(', ') || 'none')),
      (e) => { console.error(e.message); process.exit(1); });`;
  const result = await run(process.execPath, [...tsxNodeFlags(), '-e', program], {
    cwd: repoRoot,
    env: { ...process.env, DATABASE_URL: databaseUrl },
    capture: true,
    timeoutMs: 120_000,
  });
  if (result.code !== 0) throw new Error(`migrations failed: ${result.stderr.trim()}`);
  logger.ok(`migrations applied: ${result.stdout.trim()}`);
}

function runJest(env) {
  if (runTarget) {
    const [command, tsArgs] = tsCommand(runTarget[0], runTarget.slice(1));
    // e.g. TICKETFLOW_RUN_NODE_FLAGS="--cpu-prof --cpu-prof-dir=/tmp/prof" to profile a benchmark (NODE_OPTIONS refuses it).
    const args = [...(process.env.TICKETFLOW_RUN_NODE_FLAGS ?? '').split(' ').filter(Boolean), ...tsArgs];
    logger.step(`${runTarget.join(' ')}`);
    jestChild = spawn(command, args, { cwd: repoRoot, env, stdio: 'inherit' });
    return new Promise((resolve) => {
      jestChild.once('error', () => resolve(1));
      jestChild.once('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
    });
  }
  const jestBin = path.join(repoRoot, 'node_modules', 'jest', 'bin', 'jest.js');
  const args = [jestBin, '--json', `--outputFile=${path.join(resultsDir, 'jest.json')}`, ...jestArgs];
  logger.step(`jest ${jestArgs.join(' ')}`.trim());
  // Same process group as us: Ctrl-C reaches jest directly and its own cleanup runs.
  jestChild = spawn(process.execPath, args, { cwd: repoRoot, env, stdio: 'inherit' });
  return new Promise((resolve) => {
    jestChild.once('error', () => resolve(1));
    jestChild.once('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
  });
}

async function main() {
  supervisor.handleSignals(async () => {
    if (jestChild && jestChild.exitCode === null) {
      jestChild.kill('SIGTERM');
      await new Promise((resolve) => jestChild.once('exit', resolve));
    }
  }, releaseResources);
  fs.mkdirSync(logsDir, { recursive: true });
  // A result file from an earlier run must never be mistaken for this run's.
  fs.rmSync(path.join(resultsDir, 'jest.json'), { force: true });

  if (process.env.TICKETFLOW_SKIP_INSTALL === '1')
    logger.warn('TICKETFLOW_SKIP_INSTALL=1: not checking node_modules');
  else await ensureDependencies(logger);
  // Imported after dependencies exist: these load project TypeScript through tsx.
  const modules = {
    temporal: await import('./lib/temporal.mjs'),
    model: await import('./lib/model.mjs'),
    kustomize: await import('./lib/kustomize.mjs'),
    postgres: await import('./lib/postgres.mjs'),
    pglite: await import('./lib/pglite.mjs'),
  };
  const modelsDir = path.resolve(repoRoot, process.env.MODELS_DIR || 'models');
  const modelId = process.env.EMBEDDING_MODEL || modules.model.DEFAULT_MODEL_ID;

  const [temporalEnv, databaseUrl, vectorDatabaseUrl, , kustomizeEnv] = await Promise.all([
    temporal(modules),
    relationalDatabase(modules),
    vectorDatabase(modules),
    modules.model.ensureModel(logger, { modelsDir, modelId }),
    kustomize(modules),
  ]);
  await runMigrations(databaseUrl);

  const env = {
    ...process.env,
    NODE_ENV: 'test',
    LOG_LEVEL: process.env.LOG_LEVEL || 'warn',
    ...temporalEnv,
    ...kustomizeEnv,
    // Tests, benchmarks and evals measure tickets that close at their first reply (as before conversations);
    // the conversation tests set their own short window.
    FOLLOW_UP_WINDOW_MINUTES: process.env.FOLLOW_UP_WINDOW_MINUTES ?? '0',
    TEMPORAL_TASK_QUEUE: `ticketflow-test-${process.pid}-${Date.now().toString(36)}`,
    DATABASE_URL: databaseUrl,
    VECTOR_DATABASE_URL: vectorDatabaseUrl,
    MODELS_DIR: modelsDir,
    EMBEDDING_MODEL: modelId,
    // Tests never call a paid API; the Anthropic provider is tested against a local stand-in server.
    // Benchmarks and evals (--run) choose their provider themselves (eval: Anthropic when a key is set).
    ...(runTarget ? {} : { LLM_PROVIDER: 'local' }),
  };
  const code = await runJest(env);
  await cleanup();
  process.exit(code);
}

main().catch(async (error) => {
  logger.error(error.message);
  await cleanup().catch(() => undefined);
  process.exit(1);
});
