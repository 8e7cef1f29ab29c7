import net from 'node:net';
import pg from 'pg';
import { createPgliteProcess, stopAllProcesses, waitUntil, type PgliteProcess } from '../support/processes';
import { runStressProcesses, summarise, verifyStressTable } from './session-stress';

/**
 * The embedded database (PGlite behind our wire server, as `npm start` runs it) under concurrent clients:
 * three processes of ten connections each, mixing extended-protocol statements of different parameter
 * counts, simple queries and transactions. Before the server kept each client's Parse…Sync unit and
 * transaction together, this produced "bind message supplies N parameters", "unnamed prepared statement
 * does not exist" and silently wrong rows (bench/pglite-sessions.ts runs the same load against
 * @electric-sql/pglite-socket for comparison).
 */
let server: PgliteProcess;

beforeAll(async () => {
  server = await createPgliteProcess();
}, 120_000);

afterAll(async () => {
  await server?.destroy();
  await stopAllProcesses();
});

describe('embedded database: sessions under concurrent clients', () => {
  test('3 processes x 10 connections: every reply is its own query, no protocol errors, writes land once', async () => {
    const results = await runStressProcesses(server.url, { processes: 3, connections: 10, rounds: 60 });
    const totals = summarise(results);
    expect(totals.operations).toBe(3 * 10 * 60);
    expect(totals.errors).toEqual({});
    expect(totals.wrong).toBe(0);
    // Each client committed some writes and rolled some back, so the table check below has work to do.
    for (const r of results) {
      expect(r.committed.length).toBeGreaterThan(50);
      expect(r.rolledBack.length).toBeGreaterThan(20);
    }
    expect(await verifyStressTable(server.url, results)).toEqual({ missing: 0, unexpected: 0 });
  }, 300_000);

  test('a client that dies inside a transaction does not hold up or leak into the others', async () => {
    const owner = new pg.Client({ connectionString: server.url });
    owner.on('error', () => undefined); // its own socket is cut below
    await owner.connect();
    await owner.query('CREATE TABLE IF NOT EXISTS abandoned (id int)');
    await owner.query('BEGIN');
    await owner.query('INSERT INTO abandoned VALUES (1)');
    // Kill the connection without a word, as a crashed process would.
    (owner as unknown as { connection: { stream: net.Socket } }).connection.stream.destroy();
    const other = new pg.Client({ connectionString: server.url });
    await other.connect();
    try {
      const { rows } = await other.query('SELECT count(*)::int AS n FROM abandoned');
      expect(rows[0].n).toBe(0); // rolled back, not committed by the next client's statements
      const tx = await other.query('SELECT pg_current_xact_id_if_assigned() IS NULL AS idle');
      expect(tx.rows[0].idle).toBe(true);
    } finally {
      await other.end();
    }
  }, 60_000);
});

describe('embedded database: authentication', () => {
  const connectError = async (url: string) => {
    const client = new pg.Client({ connectionString: url });
    client.on('error', () => undefined);
    try {
      await client.connect();
      await client.end();
      return undefined;
    } catch (error) {
      return error as Error & { code?: string };
    }
  };

  test('the right password connects', async () => {
    expect(await connectError(server.url)).toBeUndefined();
  });

  // Postgres answers a wrong user exactly like a wrong password: no hint which part was wrong.
  test.each([
    ['a wrong password', { password: 'not-the-password' }, 'postgres'],
    ['another user name', { username: 'nobody' }, 'nobody'],
  ])('%s is refused with the error Postgres gives (28P01)', async (_, change, user) => {
    const url = Object.assign(new URL(server.url), change);
    const error = await connectError(url.toString());
    expect(error?.code).toBe('28P01');
    expect(error?.message).toBe(`password authentication failed for user "${user}"`);
  });

  test('no password: the server asks for one and the client cannot go on', async () => {
    const none = new URL(server.url);
    none.password = '';
    const error = await connectError(none.toString());
    expect(error).toBeDefined();
    expect(error?.message).toMatch(/password/i);
  });

  test('skipping authentication at the wire level gets a FATAL 28P01 and no data', async () => {
    const socket = net.connect(server.port, '127.0.0.1');
    await new Promise((resolve) => socket.once('connect', resolve));
    const received: Buffer[] = [];
    socket.on('data', (chunk) => received.push(chunk));
    const closed = new Promise((resolve) => socket.once('close', resolve));
    const params = Buffer.from('user\0postgres\0database\0postgres\0\0');
    const startup = Buffer.alloc(8);
    startup.writeInt32BE(8 + params.length, 0);
    startup.writeInt32BE(196608, 4);
    // Straight to a query, as if authentication were not asked for.
    const sql = Buffer.from('SELECT 1\0');
    const query = Buffer.alloc(5);
    query.write('Q', 0);
    query.writeInt32BE(4 + sql.length, 1);
    socket.write(Buffer.concat([startup, params, query, sql]));
    await closed;
    const reply = Buffer.concat(received);
    const types: string[] = [];
    for (let at = 0; at < reply.length; at += 1 + reply.readInt32BE(at + 1))
      types.push(String.fromCharCode(reply[at]!));
    // AuthenticationSASL (R, code 10), then the refusal; never a RowDescription, DataRow or ReadyForQuery.
    expect(types).toEqual(['R', 'E']);
    expect(reply.readInt32BE(5)).toBe(10);
    expect(reply.toString('latin1')).toContain('C28P01');
  });
});

describe('embedded database: LISTEN/NOTIFY on a shared backend', () => {
  test('a notification reaches the clients that LISTEN on its channel, and only them', async () => {
    const connect = async () => {
      const client = new pg.Client({ connectionString: server.url });
      await client.connect();
      const got: string[] = [];
      client.on('notification', (n) => got.push(`${n.channel}:${n.payload}`));
      return { client, got };
    };
    const [a, b, notifier] = [await connect(), await connect(), await connect()];
    try {
      await a.client.query('LISTEN orders');
      await b.client.query('LISTEN orders');
      await notifier.client.query("NOTIFY orders, 'one'");
      // One listener leaves: the shared backend must keep listening for the other.
      await b.client.query('UNLISTEN orders');
      await notifier.client.query("SELECT pg_notify('orders', 'two')");
      await notifier.client.query("NOTIFY elsewhere, 'nobody listens'");
      // The notifications ride on the notifier's replies; give the sockets a moment to deliver them.
      await waitUntil('notifications delivered', async () => a.got.length >= 2, 5_000, 20);
      expect(a.got).toEqual(['orders:one', 'orders:two']);
      expect(b.got).toEqual(['orders:one']);
      expect(notifier.got).toEqual([]);
    } finally {
      await Promise.all([a, b, notifier].map(({ client }) => client.end()));
    }
  });
});
