import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Run a command to completion. `capture` collects output instead of showing it. */
export function run(command, args = [], { cwd, env, capture = false, input, timeoutMs } = {}) {
  return new Promise((resolve) => {
    const child = spawn(command, args, {
      cwd,
      env: env ?? process.env,
      stdio: [
        input === undefined ? 'ignore' : 'pipe',
        capture ? 'pipe' : 'inherit',
        capture ? 'pipe' : 'inherit',
      ],
    });
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (chunk) => (stdout += chunk));
    child.stderr?.on('data', (chunk) => (stderr += chunk));
    if (input !== undefined) child.stdin.end(input);
    const timer = timeoutMs ? setTimeout(() => child.kill('SIGKILL'), timeoutMs) : undefined;
    child.once('error', (error) => {
      clearTimeout(timer);
      resolve({ code: 127, stdout, stderr: stderr + String(error.message) });
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr });
    });
  });
}

function groupAlive(pid) {
  try {
    process.kill(-pid, 0);
    return true;
  } catch (error) {
    return error.code === 'EPERM';
  }
}

function signalGroup(pid, signal) {
  try {
    process.kill(-pid, signal);
  } catch {
    // Already gone.
  }
}

function pipeLines(stream, write) {
  let pending = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk) => {
    pending += chunk;
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) write(line);
  });
  stream.on('end', () => {
    if (pending) write(pending);
  });
}

/**
 * Starts long-running children each in its own process group (so grandchildren such as a tsx-spawned node
 * die with them) and stops them all, newest first, on request, on a signal, or when this process exits.
 */
export class Supervisor {
  constructor(logger) {
    this.logger = logger;
    this.children = [];
    this.stopping = false;
    /** How long each process may take to stop after SIGTERM before it is killed (longer than its own drain). */
    this.stopGraceMs = 10_000;
    // Last resort (uncaught error, process.exit somewhere): no orphaned servers.
    process.on('exit', () => {
      for (const child of this.children) signalGroup(child.pid, 'SIGKILL');
    });
  }

  /**
   * @param output 'inherit' | 'prefix' (lines on stderr as `[name] ...`) | { file } (appended to a log file)
   * @param onUnexpectedExit called if the child exits while we are not stopping
   */
  start(name, command, args, { cwd, env, output = 'prefix', onUnexpectedExit } = {}) {
    let logFd;
    let stdio = ['ignore', 'pipe', 'pipe'];
    if (output === 'inherit') stdio = ['ignore', 'inherit', 'inherit'];
    else if (typeof output === 'object' && output.file) {
      fs.mkdirSync(path.dirname(output.file), { recursive: true });
      logFd = fs.openSync(output.file, 'a');
      stdio = ['ignore', logFd, logFd];
    }
    const child = spawn(command, args, { cwd, env: env ?? process.env, stdio, detached: true });
    if (logFd !== undefined) fs.closeSync(logFd);
    if (output === 'prefix') {
      const write = (line) => process.stderr.write(`[${name}] ${this.formatLine?.(line) ?? line}\n`);
      pipeLines(child.stdout, write);
      pipeLines(child.stderr, write);
    }
    const entry = { name, child, pid: child.pid, exited: false, exitCode: null, logFile: output?.file };
    entry.exitPromise = new Promise((resolve) => {
      child.once('error', (error) => {
        this.logger?.error(`${name}: could not start ${command}: ${error.message}`);
        entry.exited = true;
        entry.exitCode = 127;
        resolve();
      });
      child.once('exit', (code, signal) => {
        entry.exited = true;
        entry.exitCode = code ?? (signal ? 128 : 1);
        resolve();
        if (!this.stopping) {
          this.children = this.children.filter((c) => c !== entry);
          onUnexpectedExit?.(entry.exitCode, signal);
        }
      });
    });
    if (child.pid) this.children.push(entry);
    return entry;
  }

  /**
   * Keep a service running. `launch(onExit)` starts the child named `name` through this supervisor (passing
   * `onExit` as its `onUnexpectedExit`) and resolves once it is ready. When it dies on its own it is launched
   * again after a growing pause; more than `maxRestarts` crashes within `windowMs` is a crash loop and calls
   * `onGiveUp(message)` instead. `onRestart(result)` runs after each successful relaunch.
   * Resolves with the first launch's result.
   */
  keepAlive(
    name,
    launch,
    {
      label = name,
      onRestart,
      onGiveUp,
      maxRestarts = 5,
      windowMs = 120_000,
      backoffMs = [1000, 2000, 4000, 8000, 15000],
    } = {},
  ) {
    const crashes = [];
    let relaunching = false;
    const onExit = async (code, signal) => {
      if (this.stopping || relaunching) return;
      relaunching = true;
      const now = Date.now();
      crashes.push(now);
      while (crashes.length > 0 && now - crashes[0] > windowMs) crashes.shift();
      const how = signal ? `killed by ${signal}` : `exit code ${code}`;
      if (crashes.length > maxRestarts) {
        onGiveUp?.(
          `${label} crashed ${crashes.length} times within ${Math.round(windowMs / 1000)} s (last: ${how}); not restarting it again`,
        );
        return;
      }
      const delay = backoffMs[Math.min(crashes.length - 1, backoffMs.length - 1)];
      this.logger?.warn(
        `${label} exited unexpectedly (${how}); restarting it in ${delay / 1000} s (crash ${crashes.length} of ${maxRestarts} allowed within ${Math.round(windowMs / 1000)} s); everything else keeps running`,
      );
      await sleep(delay);
      if (this.stopping) return;
      let failure;
      try {
        const result = await launch(onExit);
        this.logger?.ok?.(`${label} restarted`);
        onRestart?.(result);
      } catch (error) {
        failure = error;
      }
      if (failure) {
        this.logger?.error(`${label} did not come back: ${failure.message}`);
        // Stop whatever half-started (its exit is not a separate crash), then count this as the next one.
        const halfStarted = this.children.filter((c) => c.name === name && !c.exited);
        for (const entry of halfStarted) signalGroup(entry.pid, 'SIGKILL');
        await Promise.all(halfStarted.map((entry) => entry.exitPromise));
        relaunching = false;
        return onExit(1, null);
      }
      relaunching = false;
    };
    return launch(onExit);
  }

  /** SIGTERM each process group (newest first), then SIGKILL whatever is left after `graceMs`. */
  async stopAll(graceMs = this.stopGraceMs) {
    this.stopping = true;
    for (const entry of [...this.children].reverse()) {
      if (!groupAlive(entry.pid)) continue;
      signalGroup(entry.pid, 'SIGTERM');
      const startedAt = Date.now();
      const deadline = startedAt + graceMs;
      while (groupAlive(entry.pid) && Date.now() < deadline) await sleep(100);
      if (groupAlive(entry.pid)) {
        this.logger?.warn(`${entry.name} (pid ${entry.pid}) ignored SIGTERM; killing it`);
        signalGroup(entry.pid, 'SIGKILL');
        while (groupAlive(entry.pid)) await sleep(50);
      }
      this.logger?.info(`stopped ${entry.name} (${((Date.now() - startedAt) / 1000).toFixed(1)} s)`);
    }
    this.children = [];
  }

  /**
   * On SIGINT/SIGTERM/SIGHUP: run `beforeStop` (e.g. forward to a foreground child), stop every child,
   * run `afterStop` (e.g. drop a database), exit 130/143. A second signal while stopping kills immediately.
   */
  handleSignals(beforeStop, afterStop) {
    let received = false;
    const onSignal = async (signal) => {
      if (received) {
        for (const entry of this.children) signalGroup(entry.pid, 'SIGKILL');
        process.exit(130);
      }
      received = true;
      this.logger?.info(`${signal} received; stopping everything this script started...`);
      try {
        await beforeStop?.(signal);
        await this.stopAll();
        await afterStop?.(signal);
      } catch (error) {
        this.logger?.warn(`cleanup after ${signal} was incomplete: ${error.message}`);
      } finally {
        process.exit(signal === 'SIGINT' ? 130 : 143);
      }
    };
    for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, onSignal);
  }
}

/** The last `lines` lines of a log file, for error messages when a service fails to start. */
export function tailFile(file, lines = 20) {
  try {
    return fs.readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log output)';
  }
}
