// The embedded-database session stress load (test/db/session-stress.ts: 3 processes x 10 connections of mixed
// statements) against our server (src/db/pglite-server.ts) or against @electric-sql/pglite-socket's, so the
// difference can be seen, not just asserted:
//   npx tsx bench/pglite-sessions.ts --server ticketflow|upstream [--processes 3 --connections 10 --rounds 60]
// Prints operations, wrong replies, protocol errors by message, and the table check, as JSON.
import crypto from 'node:crypto';
import { parseArgs } from 'node:util';
import { PGlite } from '@electric-sql/pglite';
import { vector } from '@electric-sql/pglite-pgvector';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';
import { startPgliteServer } from '../src/db/pglite-server';
import { runStressProcesses, summarise, verifyStressTable } from '../test/db/session-stress';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      server: { type: 'string', default: 'ticketflow' },
      processes: { type: 'string', default: '3' },
      connections: { type: 'string', default: '10' },
      rounds: { type: 'string', default: '60' },
    },
  });
  let url: string;
  let stop: () => Promise<void>;
  if (values.server === 'upstream') {
    const db = await PGlite.create(undefined, { extensions: { vector } });
    const server = new PGLiteSocketServer({ db, host: '127.0.0.1', port: 0, maxConnections: 64 });
    await server.start();
    const port = Number(server.getServerConn().split(':').pop());
    url = `postgres://postgres:any@127.0.0.1:${port}/postgres`; // it accepts any password
    stop = async () => {
      await server.stop();
      await db.close();
    };
  } else if (values.server === 'ticketflow') {
    const server = await startPgliteServer({ password: crypto.randomBytes(24).toString('base64url') });
    url = server.url;
    stop = () => server.stop();
  } else {
    throw new Error('--server must be ticketflow or upstream');
  }
  const started = Date.now();
  const results = await runStressProcesses(url, {
    processes: Number(values.processes),
    connections: Number(values.connections),
    rounds: Number(values.rounds),
  });
  const tableCheck = await verifyStressTable(url, results).catch((error: Error) => ({
    error: error.message,
  }));
  console.log(
    JSON.stringify(
      { server: values.server, seconds: (Date.now() - started) / 1000, ...summarise(results), tableCheck },
      null,
      2,
    ),
  );
  await stop();
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
