#!/usr/bin/env node
// `npm start`: runs ticketflow locally with nothing but Node (plus what `npm run setup` caches).
//  1. .env (or $TICKETFLOW_ENV_FILE) if present, under the real environment; the result is validated with src/config.ts and a bad
//     value stops here with one line naming the variable, before anything starts.
//  2. Temporal: $TEMPORAL_ADDRESS, else a dev server on TEMPORAL_PORT/TEMPORAL_UI_PORT (7233/8233) with
//     state in .data/temporal/. Database: $DATABASE_URL, else PGlite+pgvector persisted in .data/pglite/ on
//     PGLITE_PORT (5433). Embedding model installed if missing.
//  3. Worker and API as children, sample KB ingested once, one demo ticket submitted, URLs printed.
//  Ctrl-C / SIGTERM stops every process group it started.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { createLogger } from './lib/log.mjs';
import { Supervisor, run } from './lib/processes.mjs';
import { canConnect, isPortFree, waitForPort } from './lib/ports.mjs';
import { importTs, repoRoot, tsCommand } from './lib/paths.mjs';
import { withDotEnv } from './lib/env.mjs';
import { dependenciesStaleReason, ensureDependencies } from './lib/deps.mjs';
import { ensureSecretFile } from './lib/secrets.mjs';

const logger = createLogger('start');
const supervisor = new Supervisor(logger);
const ENTRY = { worker: 'workers/main.ts', api: 'src/api/main.ts', cli: 'src/cli/main.ts' };
const SAMPLE_KB = 'kb/acme';
const DEMO_TICKET = ['submit', '--external-id', 'demo-1', 'How do I get a refund?'];

/** One line on stderr, exit 2: configuration problems are the user's to fix, not a crash. */
function configFailure(message) {
  console.error(
    message.startsWith('ticketflow:') ? message : `ticketflow: invalid configuration: ${message}`,
  );
  process.exit(2);
}

function portSetting(env, name, fallback) {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 1 || port > 65535)
    configFailure(`${name}: expected a port number 1-65535 (got "${raw}")`);
  return port;
}

const mask = (url) => url.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@');
const present = (relative) => fs.existsSync(path.join(repoRoot, relative));

function startTsChild(name, entry, env, onExit) {
  const [command, args] = tsCommand(entry);
  return supervisor.start(name, command, args, {
    cwd: repoRoot,
    env,
    output: 'prefix',
    onUnexpectedExit: onExit,
  });
}

/** Runs the ticketflow CLI; its last lines are echoed under `label` unless `quiet`. */
async function runCli(args, env, label, { quiet = false } = {}) {
  const [command, cliArgs] = tsCommand(ENTRY.cli, args);
  const result = await run(command, cliArgs, { cwd: repoRoot, env, capture: true, timeoutMs: 10 * 60_000 });
  const output = `${result.stdout}${result.stderr}`.trim();
  if (!quiet)
    for (const line of output.split('\n').filter(Boolean).slice(-5)) console.error(`[${label}] ${line}`);
  return { code: result.code, output, stdout: result.stdout };
}

/** The JSON a `--json` CLI command printed last, or undefined when it printed none. */
function lastJson(stdout) {
  const line = stdout.trim().split('\n').at(-1);
  try {
    return line ? JSON.parse(line) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A knowledge base embedded with another model (an upgrade changed the default EMBEDDING_MODEL) cannot serve
 * retrieval. In the embedded store npm start runs, every document is re-embedded in place, once, from the
 * document registry (nothing is lost); a store you configured is left alone, with the commands that fix it.
 */
async function reembedIfModelChanged(env, config, embeddedStore) {
  const info = await runCli(['kb', 'info', '--json'], env, 'kb', { quiet: true });
  const reply = info.code === 0 ? undefined : lastJson(info.stdout);
  if (!reply?.modelMismatch) return;
  if (!embeddedStore) {
    logger.warn(`${reply.error} See docs/OPERATIONS.md, "Changing the embedding model without downtime".`);
    return;
  }
  logger.info(
    `the embedded knowledge base was built with another model; re-embedding it with ${config.EMBEDDING_MODEL} (once) ...`,
  );
  const { code } = await runCli(['kb', 'reindex'], env, 'reindex');
  if (code === 0) logger.ok(`knowledge base re-embedded with ${config.EMBEDDING_MODEL}`);
  else
    logger.warn(`re-embedding the knowledge base failed (exit ${code}); tickets escalate until it succeeds`);
}

async function main() {
  supervisor.handleSignals();

  // 1. Configuration, before anything is started.
  let env;
  let dotEnvLoaded;
  try {
    ({ env, loaded: dotEnvLoaded } = withDotEnv(
      path.resolve(repoRoot, process.env.TICKETFLOW_ENV_FILE || '.env'),
    ));
  } catch (error) {
    configFailure(error.message);
  }
  const temporalPort = portSetting(env, 'TEMPORAL_PORT', 7233);
  const temporalUiPort = portSetting(env, 'TEMPORAL_UI_PORT', 8233);
  const pglitePort = portSetting(env, 'PGLITE_PORT', 5433);
  // Install only when there is nothing to run with; a stale tree is reported (after validation), never
  // replaced under a running developer.
  const staleReason = dependenciesStaleReason();
  if (staleReason === 'node_modules is missing') await ensureDependencies(logger);
  const { checkConfig } = await import('./lib/config.mjs');
  const checked = await checkConfig(env);
  if (!checked.ok) configFailure(checked.message);
  if (staleReason && staleReason !== 'node_modules is missing')
    logger.warn(`${staleReason}; run \`npm ci\` if start-up fails`);
  const config = checked.config;
  if (dotEnvLoaded) logger.info('loaded .env (variables already in the environment take precedence)');

  const dataDir = path.resolve(repoRoot, env.TICKETFLOW_DATA_DIR || '.data');
  const logsDir = path.join(dataDir, 'logs');
  const startTemporal = !env.TEMPORAL_ADDRESS;
  const startPglite = !env.DATABASE_URL && !env.DATABASE_URL_FILE;
  const apiHost = config.API_HOST === '0.0.0.0' || config.API_HOST === '::' ? '127.0.0.1' : config.API_HOST;
  const apiUrl = `http://${apiHost}:${config.API_PORT}`;

  // Fail early and clearly on busy ports, before starting the first process.
  const wanted = [
    ...(startTemporal
      ? [
          [temporalPort, 'TEMPORAL_PORT'],
          [temporalUiPort, 'TEMPORAL_UI_PORT'],
        ]
      : []),
    ...(startPglite ? [[pglitePort, 'PGLITE_PORT']] : []),
    [config.API_PORT, 'API_PORT'],
  ];
  for (const [port, name] of wanted) {
    if (!(await isPortFree(port))) {
      const hint = name === 'TEMPORAL_PORT' ? ' (or TEMPORAL_ADDRESS to use the server already there)' : '';
      logger.error(`port ${port} is already in use; set ${name} to another port${hint}`);
      process.exit(1);
    }
  }

  // On a terminal the children's JSON log lines are shown readable (pino-pretty); LOG_FORMAT=json keeps them
  // raw. Log files and containers always get JSON: only this terminal view is formatted.
  const logFormat = env.LOG_FORMAT || (process.stderr.isTTY ? 'pretty' : 'json');
  if (logFormat === 'pretty') {
    const { prettyFactory } = await import('pino-pretty');
    const pretty = prettyFactory({
      colorize: process.stderr.isTTY && !env.NO_COLOR,
      singleLine: true,
      ignore: 'pid,hostname',
      translateTime: 'SYS:HH:MM:ss',
      // Errors are already one-line summaries (src/log-lines.ts): keep them on the line.
      errorLikeObjectKeys: [],
    });
    supervisor.formatLine = (line) => (line.startsWith('{') ? pretty(line).trimEnd() : line);
  }

  const temporal = await import('./lib/temporal.mjs');
  const { ensureModel } = await import('./lib/model.mjs');
  const { startPgliteProcess } = await import('./lib/pglite.mjs');
  const childEnv = { ...env };

  // Ticket text is encrypted in Temporal's history from the first start: a key is generated once and kept in
  // the data dir like the admin key; the worker, the API (codec endpoint) and the CLI read it from there.
  const encryptPayloads = !env.PAYLOAD_ENCRYPTION_KEYS && !env.PAYLOAD_ENCRYPTION_KEYS_FILE;
  if (encryptPayloads) {
    const keyFile = path.join(dataDir, 'payload-encryption-keys');
    ensureSecretFile(
      keyFile,
      () => `local-${new Date().toISOString().slice(0, 10)}:${crypto.randomBytes(32).toString('base64')}`,
    );
    childEnv.PAYLOAD_ENCRYPTION_KEYS_FILE = keyFile;
  }

  // A child that dies on its own is restarted with a growing pause while the rest keeps running; only a
  // crash loop (more than 5 crashes in 2 minutes) stops everything, saying which process and where its log is.
  const processes = {};
  const keepAlive = (name, label, logFile, launch) =>
    supervisor.keepAlive(
      name,
      async (onExit) => {
        const result = await launch(onExit);
        processes[name] = result.entry.pid;
        return result;
      },
      {
        label,
        onRestart: () => updateStackNote?.(),
        onGiveUp: async (message) => {
          logger.error(
            `${message}${logFile ? `; see ${path.relative(repoRoot, logFile)}` : ''}; stopping everything`,
          );
          await supervisor.stopAll();
          process.exit(1);
        },
      },
    );
  let updateStackNote;

  // 2. Infrastructure (model in parallel with the servers).
  const modelsDir = path.resolve(repoRoot, config.MODELS_DIR);
  const modelReady = ensureModel(logger, { modelsDir, modelId: config.EMBEDDING_MODEL });
  childEnv.MODELS_DIR = modelsDir;

  let temporalUiUrl = config.TEMPORAL_UI_URL;
  if (startTemporal) {
    const { binary } = await temporal.ensureTemporalCli(logger);
    const logFile = path.join(logsDir, 'temporal.log');
    const { address } = await keepAlive('temporal', 'Temporal dev server', logFile, (onUnexpectedExit) =>
      temporal.startTemporalDevServer(supervisor, logger, {
        binary,
        dbFile: path.join(dataDir, 'temporal', 'temporal.sqlite'),
        port: temporalPort,
        uiPort: temporalUiPort,
        uiCodecEndpoint:
          childEnv.PAYLOAD_ENCRYPTION_KEYS_FILE || env.PAYLOAD_ENCRYPTION_KEYS
            ? `${apiUrl}/codec`
            : undefined,
        logFile,
        onUnexpectedExit,
      }),
    );
    childEnv.TEMPORAL_ADDRESS = address;
    if (!env.TEMPORAL_UI_URL) temporalUiUrl = childEnv.TEMPORAL_UI_URL = `http://localhost:${temporalUiPort}`;
    // The UI calls the API's payload codec endpoint from its own origin (under either local name). It has no
    // login to pass a key from, so the endpoint trusts loopback requests from that origin (never in production).
    if (!env.CODEC_CORS_ORIGIN)
      childEnv.CODEC_CORS_ORIGIN = [temporalUiUrl, `http://127.0.0.1:${temporalUiPort}`].join(',');
    if (!env.CODEC_TRUST_LOCAL_UI && config.NODE_ENV !== 'production') childEnv.CODEC_TRUST_LOCAL_UI = 'true';
  } else {
    const [host, port] = [
      env.TEMPORAL_ADDRESS.replace(/:\d+$/, ''),
      Number(env.TEMPORAL_ADDRESS.split(':').pop()),
    ];
    if (!(await canConnect(port, host, 3000)))
      logger.warn(`TEMPORAL_ADDRESS=${env.TEMPORAL_ADDRESS} does not answer yet`);
    else logger.ok(`Temporal: using TEMPORAL_ADDRESS=${env.TEMPORAL_ADDRESS}`);
  }

  let freshDatabase = false;
  if (startPglite) {
    const pgliteDir = path.join(dataDir, 'pglite');
    freshDatabase = !fs.existsSync(pgliteDir);
    const logFile = path.join(logsDir, 'pglite.log');
    const { url } = await keepAlive('pglite', 'PGlite', logFile, (onUnexpectedExit) =>
      startPgliteProcess(supervisor, logger, {
        port: pglitePort,
        dataDir: pgliteDir,
        // Generated on first start, like the admin key; the API, the worker and the CLI get it from here.
        passwordFile: path.join(dataDir, 'pglite-password'),
        logFile,
        onUnexpectedExit,
      }),
    );
    childEnv.DATABASE_URL = url;
    if (!env.VECTOR_DATABASE_URL_FILE) childEnv.VECTOR_DATABASE_URL = env.VECTOR_DATABASE_URL || url;
  } else {
    logger.ok(`database: using DATABASE_URL=${mask(config.DATABASE_URL)}`);
  }
  await modelReady;

  // A local admin key, so the inbox and API can be used at once; generated once and kept in the data dir.
  let adminKeyNote = '';
  let adminKeyFile; // in the note for the CLI: its key commands go through the API with this key
  if (!env.ADMIN_API_KEY && !env.ADMIN_API_KEY_FILE) {
    const keyFile = path.join(dataDir, 'admin-api-key');
    adminKeyFile = keyFile;
    childEnv.ADMIN_API_KEY = ensureSecretFile(
      keyFile,
      () => `tf_local_${crypto.randomBytes(24).toString('base64url')}`,
    );
    adminKeyNote = `  Admin API key ${childEnv.ADMIN_API_KEY}   (local only; kept in ${path.relative(repoRoot, keyFile)})`;
  }

  const final = await checkConfig(childEnv);
  if (!final.ok) throw new Error(`internal: derived configuration is invalid: ${final.message}`);
  // Ctrl-C must not SIGKILL a draining worker or API: wait past the worker's forced shutdown (its grace + 5 s,
  // workers/main.ts) and the API's grace.
  supervisor.stopGraceMs =
    Math.max(final.config.WORKER_SHUTDOWN_GRACE_MS + 5_000, final.config.API_SHUTDOWN_GRACE_MS) + 2_000;
  const provider = final.api.resolveLlmProvider(final.config);
  logger.info(
    `LLM provider: ${provider}${provider === 'local' && config.LLM_PROVIDER === 'auto' ? ' (offline; set ANTHROPIC_API_KEY for Claude)' : ''}`,
  );

  // 3. Application processes: the worker and the API, each restarted if it crashes.
  await keepAlive('worker', 'worker', undefined, async (onUnexpectedExit) => ({
    entry: startTsChild('worker', ENTRY.worker, childEnv, onUnexpectedExit),
  }));
  await keepAlive('api', 'API', undefined, async (onUnexpectedExit) => {
    const entry = startTsChild('api', ENTRY.api, childEnv, onUnexpectedExit);
    await waitForPort(config.API_PORT, apiHost, {
      timeoutMs: 180_000,
      what: `API on ${apiHost}:${config.API_PORT}`,
    });
    return { entry };
  });
  logger.ok(`API listening on ${apiUrl}`);

  {
    if (!freshDatabase)
      await reembedIfModelChanged(
        childEnv,
        final.config,
        startPglite &&
          !env.VECTOR_DATABASE_URL &&
          !env.VECTOR_DATABASE_URL_FILE &&
          final.config.VECTOR_STORE !== 'qdrant',
      );
    await seedKnowledgeBaseOnce(childEnv, final.config, dataDir, freshDatabase);
    const { code } = await runCli(DEMO_TICKET, childEnv, 'demo');
    if (code === 0)
      logger.ok(
        `demo ticket demo-1 is in Temporal (temporal workflow list --address ${childEnv.TEMPORAL_ADDRESS ?? config.TEMPORAL_ADDRESS})`,
      );
    else logger.warn(`demo ticket not submitted (exit ${code}); it may exist from an earlier run`);
  }

  // `ticketflow` commands run beside this stack find its embedded database (and Temporal) through this note;
  // with a DATABASE_URL of the user's own, the CLI needs that same DATABASE_URL. It also lists the pids of the
  // processes (kept current across restarts) for operators and tests.
  if (startPglite) {
    const localStack = await importTs('src/cli/local-stack.ts');
    const stackFile = localStack.localStackPath(env);
    const withoutPassword = (url) => url.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1@');
    updateStackNote = () =>
      localStack.writeLocalStack(stackFile, {
        pid: process.pid,
        databaseUrl: withoutPassword(childEnv.DATABASE_URL),
        ...(env.VECTOR_DATABASE_URL
          ? {}
          : { vectorDatabaseUrl: withoutPassword(childEnv.VECTOR_DATABASE_URL) }),
        passwordFile: path.join(dataDir, 'pglite-password'),
        temporalAddress: childEnv.TEMPORAL_ADDRESS ?? config.TEMPORAL_ADDRESS,
        ...(encryptPayloads ? { payloadKeysFile: childEnv.PAYLOAD_ENCRYPTION_KEYS_FILE } : {}),
        temporalUiUrl,
        apiUrl,
        ...(adminKeyFile ? { adminKeyFile } : {}),
        processes,
      });
    updateStackNote();
    process.once('exit', () => fs.rmSync(stackFile, { force: true }));
  }

  console.log(
    [
      '',
      'ticketflow is running:',
      `  API           ${apiUrl}`,
      `  API docs      ${apiUrl}/docs`,
      `  Inbox         ${apiUrl}/inbox`,
      `  Temporal UI   ${temporalUiUrl}`,
      `  Temporal      ${childEnv.TEMPORAL_ADDRESS ?? config.TEMPORAL_ADDRESS}`,
      `  Database      ${mask(childEnv.DATABASE_URL ?? config.DATABASE_URL)}`,
      ...(adminKeyNote ? [adminKeyNote] : []),
      '',
      'Press Ctrl-C to stop.',
    ].join('\n'),
  );
  setInterval(() => undefined, 1 << 30);
}

/** Ingest kb/acme once per knowledge-base location; a marker in .data remembers it was done. */
async function seedKnowledgeBaseOnce(env, config, dataDir, freshDatabase) {
  if (!present(SAMPLE_KB)) return;
  const target = [
    config.VECTOR_STORE,
    config.VECTOR_STORE === 'qdrant' ? config.QDRANT_URL : env.VECTOR_DATABASE_URL || env.DATABASE_URL,
    config.KB_COLLECTION,
  ].join('|');
  const markerDir = path.join(dataDir, 'seeded');
  const marker = path.join(
    markerDir,
    `${crypto.createHash('sha256').update(target).digest('hex').slice(0, 16)}.json`,
  );
  if (freshDatabase) fs.rmSync(markerDir, { recursive: true, force: true });
  if (fs.existsSync(marker)) {
    logger.ok(`sample knowledge base already ingested (marker ${marker})`);
    return;
  }
  logger.info(`ingesting the sample knowledge base ${SAMPLE_KB} ...`);
  const { code } = await runCli(['kb', 'ingest', SAMPLE_KB], env, 'seed');
  if (code !== 0) {
    logger.warn(`sample KB ingestion failed (exit ${code}); will retry on the next start`);
    return;
  }
  fs.mkdirSync(markerDir, { recursive: true });
  fs.writeFileSync(marker, `${JSON.stringify({ target: mask(target), at: new Date().toISOString() })}\n`);
  logger.ok('sample knowledge base ingested');
}

main().catch(async (error) => {
  logger.error(error.message);
  await supervisor.stopAll().catch(() => undefined);
  process.exit(1);
});
