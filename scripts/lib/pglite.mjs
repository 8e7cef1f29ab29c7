import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { waitUntil } from './ports.mjs';
import { tailFile } from './processes.mjs';
import { repoRoot, tsCommand } from './paths.mjs';

/** A new random password for the embedded database (URL-safe, 32 characters). */
export const newPgPassword = () => crypto.randomBytes(24).toString('base64url');

/**
 * The embedded database's password, kept in `file` (mode 600) like the admin key: generated on first use,
 * read afterwards, so every later start (and the CLI) finds the same one.
 */
export function ensurePasswordFile(file) {
  if (!fs.existsSync(file)) {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, `${newPgPassword()}\n`, { mode: 0o600, flag: 'wx' });
  }
  fs.chmodSync(file, 0o600);
  return fs.readFileSync(file, 'utf8').trim();
}

/**
 * Start PGlite+pgvector (src/db/pglite-server.ts) as a supervised child on host:port; `dataDir` undefined
 * means in-memory. Clients authenticate with the password in `passwordFile` (a throwaway one is made when
 * none is given). Resolves to { url (with the password), entry } once it accepts connections.
 * `onUnexpectedExit(code)` is called if it dies later.
 */
export async function startPgliteProcess(
  supervisor,
  logger,
  { port, host = '127.0.0.1', dataDir, logFile, passwordFile, onUnexpectedExit },
) {
  fs.mkdirSync(path.dirname(logFile), { recursive: true });
  // Appended, not truncated: after a crash and restart the crash's last lines are still there.
  const logStart = fs.existsSync(logFile) ? fs.statSync(logFile).size : 0;
  let secretFile = passwordFile;
  if (!secretFile) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ticketflow-pglite-'));
    secretFile = path.join(dir, 'password');
  }
  const password = ensurePasswordFile(secretFile);
  const [command, args] = tsCommand('scripts/pglite-serve.mjs', [
    '--port',
    String(port),
    '--host',
    host,
    '--password-file',
    secretFile,
    ...(dataDir ? ['--data-dir', dataDir] : []),
  ]);
  logger.info(`starting PGlite + pgvector on ${host}:${port} (${dataDir ? `data ${dataDir}` : 'in memory'})`);
  const entry = supervisor.start('pglite', command, args, {
    cwd: repoRoot,
    output: { file: logFile },
    onUnexpectedExit,
  });
  let shownUrl;
  try {
    await waitUntil(
      () => {
        shownUrl = /^READY (\S+)$/m.exec(fs.readFileSync(logFile).subarray(logStart).toString('utf8'))?.[1];
        return Boolean(shownUrl);
      },
      { timeoutMs: 60_000, intervalMs: 200, what: 'PGlite server', stillAlive: () => !entry.exited },
    );
  } catch (error) {
    throw new Error(`${error.message}; last log lines (${logFile}):\n${tailFile(logFile)}`);
  }
  const url = new URL(shownUrl);
  url.password = password; // base64url: nothing to escape
  logger.ok(`PGlite + pgvector ready at ${shownUrl.replace(/\/\/[^@]*@/, '//')} (password authentication)`);
  return { url: url.toString(), entry, password };
}
