import { spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { REPO_ROOT } from './datasets';

/**
 * A private PGlite + pgvector server for one run, in its own process (scripts/pglite-serve.mjs, in memory).
 * PGlite executes one query at a time for all its clients, so a server shared with other users (a dev
 * machine running test suites) would make retrieval times depend on their load, not on ticketflow.
 */
export interface PrivateVectorDb {
  url: string;
  stop(): Promise<void>;
}

export async function startPrivateVectorDb(timeoutMs = 60_000): Promise<PrivateVectorDb> {
  const loader = pathToFileURL(require.resolve('tsx')).href;
  const script = path.join(REPO_ROOT, 'scripts', 'pglite-serve.mjs');
  const secrets = fs.mkdtempSync(path.join(os.tmpdir(), 'tf-bench-pglite-'));
  const password = crypto.randomBytes(24).toString('base64url');
  const passwordFile = path.join(secrets, 'password');
  fs.writeFileSync(passwordFile, password, { mode: 0o600 });
  const child: ChildProcess = spawn(
    process.execPath,
    ['--import', loader, script, '--port', '0', '--password-file', passwordFile],
    { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  child.once('exit', () => fs.rmSync(secrets, { recursive: true, force: true }));
  let output = '';
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGTERM');
      reject(new Error(`PGlite server did not start within ${timeoutMs} ms:\n${output.slice(-2000)}`));
    }, timeoutMs);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const ready = /^READY (\S+)$/m.exec(output);
      if (ready) {
        clearTimeout(timer);
        const withPassword = new URL(ready[1]!);
        withPassword.password = password;
        resolve(withPassword.toString());
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(
        new Error(`PGlite server exited with code ${code} before it was ready:\n${output.slice(-2000)}`),
      );
    });
  });
  return {
    url,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}
