import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Connection } from '@temporalio/client';

/**
 * Real processes for reliability tests: the worker, a dedicated Postgres, a dedicated Temporal dev server, a
 * PGlite vector database. Every process is started in its own process group so a kill reaches everything it
 * spawned, is tracked here, and is killed when the test file ends (`stopAllProcesses`) or, as a last resort,
 * when the jest worker exits.
 */

export const REPO_ROOT = path.resolve(__dirname, '..', '..');

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface SpawnOptions {
  /** Shown in error messages. */
  name: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Run as this user (tests running as root start Postgres as the postgres user). */
  uid?: number;
  gid?: number;
  /** Keep stdin open so the test can talk to the process (`writeLine`). */
  stdin?: boolean;
  /** Also append all output to this file (the in-memory tail keeps only the last ~128 KiB). */
  logFile?: string;
}

const OUTPUT_LIMIT = 128 * 1024;
const live = new Set<ManagedProcess>();

/** A child process in its own process group, with its recent output kept for diagnostics. */
export class ManagedProcess {
  readonly name: string;
  readonly child: ChildProcess;
  readonly pid: number;
  readonly exited: Promise<ExitInfo>;
  private recent = '';
  private readonly listeners = new Set<() => void>();

  constructor(command: string, args: string[], options: SpawnOptions) {
    this.name = options.name;
    this.child = spawn(command, args, {
      cwd: options.cwd ?? REPO_ROOT,
      env: options.env ?? process.env,
      detached: true, // own process group: kill(-pid) reaches its children too
      stdio: [options.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'],
      ...(options.uid !== undefined ? { uid: options.uid } : {}),
      ...(options.gid !== undefined ? { gid: options.gid } : {}),
    });
    if (this.child.pid === undefined) throw new Error(`${this.name}: could not spawn ${command}`);
    this.pid = this.child.pid;
    const log = options.logFile ? fs.createWriteStream(options.logFile, { flags: 'a' }) : undefined;
    const collect = (chunk: Buffer) => {
      log?.write(chunk);
      this.recent = (this.recent + chunk.toString('utf8')).slice(-OUTPUT_LIMIT);
      for (const listener of this.listeners) listener();
    };
    this.child.stdin?.on('error', () => undefined); // EPIPE when writing to a process that already died
    this.child.stdout!.on('data', collect);
    this.child.stderr!.on('data', collect);
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        live.delete(this);
        for (const listener of this.listeners) listener();
        resolve({ code, signal });
      });
      this.child.once('error', (error) => {
        this.recent += `\n[spawn error] ${error.message}`;
        live.delete(this);
        resolve({ code: -1, signal: null });
      });
    });
    live.add(this);
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null && live.has(this);
  }

  /** The last ~128 KiB of stdout and stderr, interleaved. */
  output(): string {
    return this.recent;
  }

  /** Resolves with the first match of `pattern` in the output; rejects if the process exits first or on timeout. */
  waitForOutput(pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray> {
    return new Promise((resolve, reject) => {
      const finish = (error?: Error, match?: RegExpMatchArray) => {
        clearTimeout(timer);
        this.listeners.delete(check);
        if (error) reject(error);
        else resolve(match!);
      };
      const check = () => {
        const match = pattern.exec(this.recent);
        if (match) return finish(undefined, match);
        if (!this.running)
          finish(new Error(`${this.name} exited before printing ${pattern}:\n${this.tail()}`));
      };
      const timer = setTimeout(
        () =>
          finish(new Error(`${this.name} did not print ${pattern} within ${timeoutMs} ms:\n${this.tail()}`)),
        timeoutMs,
      );
      this.listeners.add(check);
      check();
    });
  }

  writeLine(line: string): void {
    this.child.stdin?.write(`${line}\n`);
  }

  /** Signal the whole process group (no-op once it has exited). */
  signal(signal: NodeJS.Signals): void {
    if (!this.running) return;
    try {
      process.kill(-this.pid, signal);
    } catch {
      // Already gone.
    }
  }

  /** SIGKILL the group and wait for the exit: the crash a power cut or OOM killer would cause. */
  async kill(): Promise<ExitInfo> {
    this.signal('SIGKILL');
    return this.exited;
  }

  /** Ask politely (SIGTERM by default), then SIGKILL after `graceMs`. */
  async stop(signal: NodeJS.Signals = 'SIGTERM', graceMs = 15_000): Promise<ExitInfo> {
    if (!this.running) return this.exited;
    this.signal(signal);
    const timer = setTimeout(() => this.signal('SIGKILL'), graceMs);
    const info = await this.exited;
    clearTimeout(timer);
    return info;
  }

  tail(lines = 40): string {
    return this.recent.split('\n').slice(-lines).join('\n');
  }
}

/** Kill every process this module started that is still running (for afterAll, also after a failure). */
export async function stopAllProcesses(): Promise<void> {
  await Promise.all([...live].map((p) => p.kill()));
}

// Last resort if a test file dies without its afterAll: never leave orphans behind.
process.once('exit', () => {
  for (const p of live) {
    try {
      process.kill(-p.pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
});

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A TCP port nothing listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ port: 0, host: '127.0.0.1', exclusive: true }, () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export function canConnect(port: number, host = '127.0.0.1', timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** Poll until `check` returns a value other than undefined/false; the last error is in the timeout message. */
export async function waitUntil<T>(
  what: string,
  check: () => Promise<T | undefined | false>,
  timeoutMs: number,
  intervalMs = 250,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value as T;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `${what}: not reached within ${timeoutMs} ms${lastError ? ` (last error: ${String(lastError)})` : ''}`,
      );
    }
    await sleep(intervalMs);
  }
}

export function makeTempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `tf-${prefix}-`));
}

// ── The worker ─────────────────────────────────────────────────────────────────────────────────────────────

/**
 * `workers/main.ts` as its own Node process (tsx loader, as `npx tsx workers/main.ts` runs it), with `env` on
 * top of this process's environment. Resolves once the worker has connected and logged that it started.
 */
export async function spawnWorker(env: Record<string, string>, name = 'worker'): Promise<ManagedProcess> {
  const worker = new ManagedProcess(
    process.execPath,
    ['--import', 'tsx', path.join(REPO_ROOT, 'workers', 'main.ts')],
    {
      name,
      env: { ...process.env, LOG_LEVEL: 'info', ...env },
    },
  );
  try {
    // Bundling the workflow code takes a while on a loaded 2-core machine.
    await worker.waitForOutput(/ticketflow worker started/, 90_000);
  } catch (error) {
    await worker.kill();
    throw error;
  }
  return worker;
}

/** `src/api/main.ts` as its own Node process, returned at once (API_PORT=0 picks a free port unless `env` sets one). */
export function startApiProcess(env: Record<string, string>, name = 'api'): ManagedProcess {
  return new ManagedProcess(
    process.execPath,
    ['--import', 'tsx', path.join(REPO_ROOT, 'src', 'api', 'main.ts')],
    {
      name,
      env: { ...process.env, LOG_LEVEL: 'info', API_HOST: '127.0.0.1', API_PORT: '0', ...env },
    },
  );
}

/** The URL an API process logs once it listens. */
export async function apiUrl(api: ManagedProcess, timeoutMs = 90_000): Promise<string> {
  const match = await api.waitForOutput(
    /"url":"(http:\/\/[^"]+)"[^\n]*"msg":"ticketflow API listening"/,
    timeoutMs,
  );
  return match[1]!;
}

/** An API process that listens: resolves with its URL. */
export async function spawnApi(
  env: Record<string, string>,
  name = 'api',
): Promise<{ api: ManagedProcess; url: string }> {
  const api = startApiProcess(env, name);
  try {
    return { api, url: await apiUrl(api) };
  } catch (error) {
    await api.kill();
    throw error;
  }
}

/** Run a ticketflow entry point to completion (a process expected to fail fast), with its output. */
export async function runToExit(
  entry: string,
  env: Record<string, string>,
  { args = [], timeoutMs = 60_000 }: { args?: string[]; timeoutMs?: number } = {},
): Promise<{ code: number | null; output: string }> {
  const child = new ManagedProcess(
    process.execPath,
    ['--import', 'tsx', path.join(REPO_ROOT, entry), ...args],
    {
      name: entry,
      env: { ...process.env, LOG_LEVEL: 'info', ...env },
    },
  );
  const timer = setTimeout(() => child.signal('SIGKILL'), timeoutMs);
  const { code } = await child.exited;
  clearTimeout(timer);
  return { code, output: child.output() };
}

// ── A dedicated Postgres ───────────────────────────────────────────────────────────────────────────────────

/** Where Postgres server binaries live: $POSTGRES_BIN_DIR, Debian's layout, or `pg_config --bindir`. */
export function postgresBinDir(): string {
  const candidates = [
    process.env.POSTGRES_BIN_DIR,
    ...['17', '16', '15', '14'].map((v) => `/usr/lib/postgresql/${v}/bin`),
  ].filter((c): c is string => Boolean(c));
  try {
    candidates.push(execFileSync('pg_config', ['--bindir'], { encoding: 'utf8' }).trim());
  } catch {
    // pg_config not on PATH.
  }
  const found = candidates.find(
    (dir) => fs.existsSync(path.join(dir, 'initdb')) && fs.existsSync(path.join(dir, 'postgres')),
  );
  if (!found) {
    throw new Error(
      `No Postgres server binaries (initdb, postgres) found in ${candidates.join(', ')}; set POSTGRES_BIN_DIR to run this test.`,
    );
  }
  return found;
}

/** initdb refuses to run as root: when we are root, run Postgres as the `postgres` OS user. */
function postgresOsUser(): { uid?: number; gid?: number } {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return {};
  const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
  const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
  return { uid, gid };
}

export interface DedicatedPostgres {
  port: number;
  /** Superuser URL (trust auth on 127.0.0.1) for the `postgres` database. */
  adminUrl: string;
  urlFor(database: string): string;
  running(): boolean;
  start(): Promise<void>;
  /** Fast shutdown: clients are disconnected, the data stays. */
  stop(): Promise<void>;
  /** Stop and delete the data directory. */
  destroy(): Promise<void>;
}

/**
 * A private Postgres cluster in a temporary directory, on its own port, that a test may stop and start at
 * will without disturbing the shared server other test files use.
 */
export interface DedicatedPostgresOptions {
  /** Serve TLS with this certificate and key; `required` also refuses plaintext connections (pg_hba hostnossl reject). */
  ssl?: { certFile: string; keyFile: string; required?: boolean };
}

export async function createDedicatedPostgres(
  options: DedicatedPostgresOptions = {},
): Promise<DedicatedPostgres> {
  const binDir = postgresBinDir();
  const user = postgresOsUser();
  const root = makeTempDir('pg');
  const dataDir = path.join(root, 'data');
  const socketDir = path.join(root, 'sock');
  fs.mkdirSync(socketDir);
  if (user.uid !== undefined) {
    fs.chownSync(root, user.uid, user.gid!);
    fs.chownSync(socketDir, user.uid, user.gid!);
  }
  const initdb = new ManagedProcess(
    path.join(binDir, 'initdb'),
    ['-D', dataDir, '-U', 'postgres', '--auth=trust', '--encoding=UTF8', '--no-sync', '-N'],
    { name: 'initdb', env: { ...process.env, LC_ALL: 'C' }, cwd: root, ...user },
  );
  const result = await initdb.exited;
  if (result.code !== 0) throw new Error(`initdb failed (${result.code}):\n${initdb.tail()}`);
  const tlsSettings: string[] = [];
  if (options.ssl) {
    // Postgres insists the key is private to the server's OS user.
    const certFile = path.join(root, 'server.crt');
    const keyFile = path.join(root, 'server.key');
    fs.copyFileSync(options.ssl.certFile, certFile);
    fs.copyFileSync(options.ssl.keyFile, keyFile);
    fs.chmodSync(keyFile, 0o600);
    if (user.uid !== undefined) {
      fs.chownSync(certFile, user.uid, user.gid!);
      fs.chownSync(keyFile, user.uid, user.gid!);
    }
    tlsSettings.push('-c', 'ssl=on', '-c', `ssl_cert_file=${certFile}`, '-c', `ssl_key_file=${keyFile}`);
    if (options.ssl.required) {
      fs.writeFileSync(
        path.join(dataDir, 'pg_hba.conf'),
        'local all all trust\nhostssl all all 127.0.0.1/32 trust\nhostnossl all all 127.0.0.1/32 reject\n',
      );
    }
  }

  const port = await freePort();
  let server: ManagedProcess | undefined;
  const adminUrl = `postgres://postgres@127.0.0.1:${port}/postgres`;

  const pg: DedicatedPostgres = {
    port,
    adminUrl,
    urlFor: (database) => `postgres://postgres@127.0.0.1:${port}/${database}`,
    running: () => server?.running ?? false,
    async start() {
      if (server?.running) return;
      server = new ManagedProcess(
        path.join(binDir, 'postgres'),
        [
          '-D',
          dataDir,
          '-p',
          String(port),
          '-k',
          socketDir,
          '-c',
          'listen_addresses=127.0.0.1',
          '-c',
          'fsync=off',
          '-c',
          'max_connections=100',
          ...tlsSettings,
        ],
        { name: 'postgres', env: { ...process.env, LC_ALL: 'C' }, cwd: root, ...user },
      );
      await server.waitForOutput(/database system is ready to accept connections/, 60_000);
    },
    async stop() {
      // SIGINT = fast shutdown: like `pg_ctl stop -m fast`.
      await server?.stop('SIGINT', 30_000);
    },
    async destroy() {
      await server?.stop('SIGINT', 10_000);
      fs.rmSync(root, { recursive: true, force: true });
    },
  };
  await pg.start();
  return pg;
}

// ── A dedicated Temporal dev server ────────────────────────────────────────────────────────────────────────

export const DEV_SERVER_DYNAMIC_CONFIG = [
  'history.transferProcessorMaxPollRPS=1000',
  'history.visibilityProcessorMaxPollRPS=1000',
  'system.enableActivityEagerExecution=true',
];

export const TICKET_SEARCH_ATTRIBUTES = [
  'TicketIntent=Keyword',
  'TicketUrgency=Keyword',
  'TicketEscalated=Bool',
  'EscalationReason=Keyword',
  'TicketStage=Keyword',
];

export function temporalCliPath(): string {
  const candidates = [
    process.env.TEMPORAL_CLI_PATH,
    path.join(REPO_ROOT, '.tools', 'temporal', 'temporal'),
  ].filter((c): c is string => Boolean(c));
  const found = candidates.find((c) => fs.existsSync(c));
  if (!found)
    throw new Error(
      `No Temporal CLI at ${candidates.join(' or ')}; run npm run setup or set TEMPORAL_CLI_PATH.`,
    );
  return found;
}

export interface DedicatedTemporal {
  address: string;
  dbFile: string;
  running(): boolean;
  start(): Promise<void>;
  /** SIGTERM, as an orchestrator would stop it; state stays in the SQLite file. */
  stop(): Promise<void>;
  /** SIGKILL: a crash; whatever reached the SQLite file stays. */
  kill(): Promise<void>;
  destroy(): Promise<void>;
}

/** A Temporal dev server on its own ports with its own SQLite file, restartable on the same file. */
export async function createDedicatedTemporal(): Promise<DedicatedTemporal> {
  const binary = temporalCliPath();
  const root = makeTempDir('temporal');
  const dbFile = path.join(root, 'temporal.sqlite');
  const port = await freePort();
  const uiPort = await freePort();
  const address = `127.0.0.1:${port}`;
  let server: ManagedProcess | undefined;

  const temporal: DedicatedTemporal = {
    address,
    dbFile,
    running: () => server?.running ?? false,
    async start() {
      if (server?.running) return;
      const args = [
        'server',
        'start-dev',
        '--db-filename',
        dbFile,
        '--ip',
        '127.0.0.1',
        '--port',
        String(port),
      ];
      args.push('--ui-port', String(uiPort), '--headless', '--log-level', 'warn');
      for (const attribute of TICKET_SEARCH_ATTRIBUTES) args.push('--search-attribute', attribute);
      // As scripts/lib/temporal.mjs starts it: the one shard's task queues polled without the 20/s cap.
      for (const setting of DEV_SERVER_DYNAMIC_CONFIG) args.push('--dynamic-config-value', setting);
      server = new ManagedProcess(binary, args, { name: 'temporal', cwd: root });
      await waitUntil(
        'Temporal dev server answers',
        async () => {
          if (!server!.running) throw new Error(`temporal exited:\n${server!.tail()}`);
          if (!(await canConnect(port))) return false;
          const connection = await Connection.connect({ address, connectTimeout: 2_000 });
          try {
            await connection.workflowService.describeNamespace({ namespace: 'default' });
            return true;
          } finally {
            await connection.close();
          }
        },
        60_000,
        300,
      );
    },
    async stop() {
      await server?.stop('SIGTERM', 20_000);
    },
    async kill() {
      await server?.kill();
    },
    async destroy() {
      await server?.stop('SIGTERM', 10_000);
      fs.rmSync(root, { recursive: true, force: true });
    },
  };
  await temporal.start();
  return temporal;
}

// ── A PGlite + pgvector server with a persistent data directory ────────────────────────────────────────────

export interface PgliteProcess {
  url: string;
  port: number;
  running(): boolean;
  start(): Promise<void>;
  stop(): Promise<void>;
  destroy(): Promise<void>;
}

/**
 * `scripts/pglite-serve.mjs` on a fixed port with a data directory, so a test can stop the vector database and
 * bring it back on the same address with the same data.
 */
export async function createPgliteProcess(): Promise<PgliteProcess> {
  const root = makeTempDir('pglite');
  const secrets = makeTempDir('pglite-secret');
  const password = crypto.randomBytes(24).toString('base64url');
  const passwordFile = path.join(secrets, 'password');
  fs.writeFileSync(passwordFile, password, { mode: 0o600 });
  const port = await freePort();
  let server: ManagedProcess | undefined;
  const handle: PgliteProcess = {
    url: `postgres://postgres:${password}@127.0.0.1:${port}/postgres`,
    port,
    running: () => server?.running ?? false,
    async start() {
      if (server?.running) return;
      server = new ManagedProcess(
        process.execPath,
        [
          '--import',
          'tsx',
          path.join(REPO_ROOT, 'scripts', 'pglite-serve.mjs'),
          '--port',
          String(port),
          '--data-dir',
          root,
          '--password-file',
          passwordFile,
        ],
        { name: 'pglite' },
      );
      await server.waitForOutput(/READY /, 90_000);
    },
    async stop() {
      await server?.stop('SIGTERM', 20_000);
    },
    async destroy() {
      await server?.stop('SIGTERM', 10_000);
      fs.rmSync(root, { recursive: true, force: true });
      fs.rmSync(secrets, { recursive: true, force: true });
    },
  };
  await handle.start();
  return handle;
}

/**
 * `node scripts/start.mjs` as a user runs it, on free ports and the given data directory, without the settings the
 * test runner made for other suites (`npm start` must bring up its own); resolves once it says it is running.
 */
export async function startNpmStart(options: {
  dataDir: string;
  name: string;
  logFile: string;
  env?: Record<string, string>;
}): Promise<ManagedProcess> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const key of [
    'DATABASE_URL',
    'VECTOR_DATABASE_URL',
    'TEMPORAL_ADDRESS',
    'TEMPORAL_UI_URL',
    'TEMPORAL_TASK_QUEUE',
    'NODE_ENV',
    'LLM_PROVIDER',
    'EMBEDDING_MODEL',
  ])
    delete env[key];
  const ports = [await freePort(), await freePort(), await freePort(), await freePort()];
  const child = new ManagedProcess(process.execPath, [path.join(REPO_ROOT, 'scripts', 'start.mjs')], {
    name: options.name,
    logFile: options.logFile,
    env: {
      ...env,
      TICKETFLOW_ENV_FILE: path.join(options.dataDir, 'no.env'),
      TICKETFLOW_DATA_DIR: options.dataDir,
      TEMPORAL_PORT: String(ports[0]),
      TEMPORAL_UI_PORT: String(ports[1]),
      PGLITE_PORT: String(ports[2]),
      API_PORT: String(ports[3]),
      LOG_LEVEL: 'info',
      ...options.env,
    },
  });
  await child.waitForOutput(/ticketflow is running:/, 420_000);
  return child;
}
