import fs from 'node:fs';
import path from 'node:path';
import { waitUntil } from './ports.mjs';
import { tailFile } from './processes.mjs';
import { repoRoot, tsCommand } from './paths.mjs';

/**
 * Start PGlite+pgvector (src/db/pglite-server.ts) as a supervised child on host:port; `dataDir` undefined
 * means in-memory. Resolves to { url, entry } once it accepts connections. `onUnexpectedExit(code)` is
 * called if it dies later.
 */
export async function startPgliteProcess(
  supervisor,
  logger,
  { port, host = '127.0.0.1', dataDir, logFile, onUnexpectedExit },
) {
  fs.mkdirSync(path.dirname(logFile), { recursive: true });
  fs.writeFileSync(logFile, '');
  const [command, args] = tsCommand('scripts/pglite-serve.mjs', [
    '--port',
    String(port),
    '--host',
    host,
    ...(dataDir ? ['--data-dir', dataDir] : []),
  ]);
  logger.info(`starting PGlite + pgvector on ${host}:${port} (${dataDir ? `data ${dataDir}` : 'in memory'})`);
  const entry = supervisor.start('pglite', command, args, {
    cwd: repoRoot,
    output: { file: logFile },
    onUnexpectedExit,
  });
  let url;
  try {
    await waitUntil(
      () => {
        url = /^READY (\S+)$/m.exec(fs.readFileSync(logFile, 'utf8'))?.[1];
        return Boolean(url);
      },
      { timeoutMs: 60_000, intervalMs: 200, what: 'PGlite server', stillAlive: () => !entry.exited },
    );
  } catch (error) {
    throw new Error(`${error.message}; last log lines (${logFile}):\n${tailFile(logFile)}`);
  }
  logger.ok(`PGlite + pgvector ready at ${url.replace(/\/\/[^@]*@/, '//')}`);
  return { url, entry };
}
