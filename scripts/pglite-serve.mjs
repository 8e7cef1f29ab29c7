// Runs PGlite + pgvector behind the Postgres wire protocol as its own process (started by test.mjs and
// start.mjs with `node --import tsx`). Clients must log in with the password in --password-file (SCRAM-SHA-256);
// it is read from a file, never from argv, so `ps` does not show it. Prints `READY <url without password>` once
// it accepts connections; SIGTERM/SIGINT close the database cleanly so a persistent data directory is never left
// half-written.
import fs from 'node:fs';
import { parseArgs } from 'node:util';
import { startPgliteServer } from '../src/db/pglite-server.ts';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    host: { type: 'string', default: '127.0.0.1' },
    'data-dir': { type: 'string' },
    'max-connections': { type: 'string', default: '64' },
    'password-file': { type: 'string' },
  },
});

if (!values['password-file']) {
  console.error('pglite-serve: --password-file is required (clients authenticate with that password)');
  process.exit(2);
}
const password = fs.readFileSync(values['password-file'], 'utf8').trim();
if (password.length < 16) {
  console.error(`pglite-serve: the password in ${values['password-file']} is shorter than 16 characters`);
  process.exit(2);
}

const server = await startPgliteServer({
  port: Number(values.port),
  host: values.host,
  dataDir: values['data-dir'],
  maxConnections: Number(values['max-connections']),
  password,
});
console.log(`READY ${server.url.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1@')}`);

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
