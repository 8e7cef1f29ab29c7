import crypto from 'node:crypto';
import { startPgliteServer } from '../../src/db/pglite-server';

/**
 * PGlite loads its WebAssembly through dynamic import(), which jest's module sandbox refuses; tests
 * therefore run the server in a child process (like `npm start` does) and talk to it over the wire.
 * Prints `READY <url>` (with its throwaway password); exits when its parent closes stdin or sends SIGTERM.
 */
async function main(): Promise<void> {
  const server = await startPgliteServer({
    maxConnections: 32,
    password: crypto.randomBytes(24).toString('base64url'),
  });
  process.stdout.write(`READY ${server.url}\n`);
  const stop = () => {
    server.stop().finally(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.stdin.on('end', stop);
  process.stdin.resume();
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
