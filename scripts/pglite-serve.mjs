// Runs PGlite + pgvector behind the Postgres wire protocol as its own process (started by test.mjs and
// start.mjs with `node --import tsx`). Prints `READY <url>` once it accepts connections; SIGTERM/SIGINT
// close the database cleanly so a persistent data directory is never left half-written.
import { parseArgs } from 'node:util';
import { startPgliteServer } from '../src/db/pglite-server.ts';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    host: { type: 'string', default: '127.0.0.1' },
    'data-dir': { type: 'string' },
    'max-connections': { type: 'string', default: '64' },
  },
});

const server = await startPgliteServer({
  port: Number(values.port),
  host: values.host,
  dataDir: values['data-dir'],
  maxConnections: Number(values['max-connections']),
});
console.log(`READY ${server.url}`);

let stopping = false;
async function stop(signal) {
  if (stopping) return;
  stopping = true;
  try {
    await server.stop();
  } catch (error) {
    console.error(`PGlite did not stop cleanly after ${signal}: ${error?.message ?? error}`);
    process.exit(1);
  }
  process.exit(0);
}
for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP']) process.on(signal, () => void stop(signal));
