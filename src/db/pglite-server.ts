import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { vector } from '@electric-sql/pglite-pgvector';

/**
 * PGlite (Postgres compiled to WebAssembly) with pgvector, served over the Postgres wire protocol so `pg` and
 * kysely connect to it by URL exactly as to a real server. It is the embedded default of `npm start`.
 *
 * PGlite is ONE backend session, so every client shares it. Two things make that safe here:
 *
 * - **Session ownership.** A client owns the session from its first message until the server is idle again: the
 *   last backend message was ReadyForQuery with status `I`, no extended-protocol unit (Parse … Sync) is open and
 *   no COPY is in progress. Only then does the next client run. So one client's unnamed statement or portal is
 *   never bound by another's, and a transaction is never shared. (`@electric-sql/pglite-socket` 0.2.17 queues
 *   single messages and keeps a client's messages together only inside a transaction: electric-sql/pglite#977
 *   and #1046 describe the interleaving this server exists to prevent. When upstream fixes it, this wire layer
 *   could shrink to the authentication below.)
 * - **Authentication.** Clients log in with SCRAM-SHA-256 against one password (generated on first start by
 *   `npm start`), and are refused with the error Postgres gives (28P01) otherwise.
 *
 * Limits kept on purpose: one query at a time for all clients (PGlite's nature), session settings (`SET`
 * without LOCAL, named prepared statements, temp tables) are shared by all clients; ticketflow uses none.
 */

export interface PgliteServerOptions {
  /** Password clients must present (SCRAM-SHA-256). */
  password: string;
  /** Login role name accepted (default `postgres`). */
  user?: string;
  /** Directory for persistent data; undefined keeps everything in memory (tests, benchmarks). */
  dataDir?: string;
  host?: string;
  /** 0 picks any free port. */
  port?: number;
  /** Concurrent client connections accepted (a pg pool holds several). */
  maxConnections?: number;
  /**
   * A client that owns the session (open transaction or unfinished Parse…Sync) and sends nothing for this
   * long is disconnected, as Postgres's idle_in_transaction_session_timeout does, so it cannot stall the rest.
   */
  idleOwnerTimeoutMs?: number;
  /** Time a new connection has to log in (Postgres: authentication_timeout). */
  authenticationTimeoutMs?: number;
}

export interface PgliteServer {
  /** postgres:// URL (with the password) for pg/kysely. */
  url: string;
  host: string;
  port: number;
  /** The underlying database, for in-process use (e.g. benchmarks). */
  pglite: PGlite;
  stats(): { connections: number; waiting: number };
  stop(): Promise<void>;
}

export const PGLITE_DATABASE = 'postgres';
const PROTOCOL_3 = 196608;
const SSL_REQUEST = 80877103;
const GSSENC_REQUEST = 80877104;
const CANCEL_REQUEST = 80877102;
const SCRAM_ITERATIONS = 4096;
/** Frontend messages that belong to an extended-protocol unit, which only Sync ends. */
const EXTENDED = new Set(['P', 'B', 'D', 'E', 'C', 'H', 'F']);

/** Local URL for a running embedded server. */
export function pgliteUrl(host: string, port: number, password: string, user = 'postgres'): string {
  return `postgres://${encodeURIComponent(user)}:${encodeURIComponent(password)}@${host}:${port}/${PGLITE_DATABASE}`;
}

/** Backend ErrorResponse (severity, SQLSTATE, message), as Postgres writes it. */
function errorResponse(severity: 'FATAL' | 'ERROR', code: string, message: string): Buffer {
  const fields = Buffer.from(`S${severity}\0V${severity}\0C${code}\0M${message}\0\0`, 'utf8');
  return backendMessage('E', fields);
}

function backendMessage(type: string, body: Buffer): Buffer {
  const header = Buffer.alloc(5);
  header.write(type, 0, 'latin1');
  header.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([header, body]);
}

function authMessage(code: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const head = Buffer.alloc(4);
  head.writeInt32BE(code, 0);
  return backendMessage('R', Buffer.concat([head, payload]));
}

const hmac = (key: Buffer, data: string) => crypto.createHmac('sha256', key).update(data).digest();
const sha256 = (data: Buffer) => crypto.createHash('sha256').update(data).digest();

/** The server's SCRAM-SHA-256 secrets for one password (what Postgres keeps in pg_authid). */
function scramSecret(password: string) {
  const salt = crypto.randomBytes(16);
  const salted = crypto.pbkdf2Sync(password.normalize('NFKC'), salt, SCRAM_ITERATIONS, 32, 'sha256');
  return { salt, storedKey: sha256(hmac(salted, 'Client Key')), serverKey: hmac(salted, 'Server Key') };
}
type ScramSecret = ReturnType<typeof scramSecret>;

/** Parses `a=1,b=2` SCRAM attribute lists. */
function scramAttributes(text: string): Map<string, string> {
  const map = new Map<string, string>();
  for (const part of text.split(',')) {
    const eq = part.indexOf('=');
    if (eq === 1) map.set(part[0]!, part.slice(2));
  }
  return map;
}

/**
 * Reads the backend's output for one client: passes complete messages on (holding back a partial one until it
 * is whole), keeps the last message's type and the last ReadyForQuery status, and takes out
 * NotificationResponses, which belong to whichever clients LISTEN on that channel, not to the one whose
 * statement happened to deliver them.
 */
class BackendTracker {
  private pending: Buffer = Buffer.alloc(0);
  lastType = '';
  status = 'I';
  copyIn = false;

  feed(chunk: Uint8Array): { forward: Buffer; notifications: Array<{ channel: string; message: Buffer }> } {
    this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : Buffer.from(chunk);
    const forward: Buffer[] = [];
    const notifications: Array<{ channel: string; message: Buffer }> = [];
    while (this.pending.length >= 5) {
      const length = this.pending.readInt32BE(1);
      if (this.pending.length < 1 + length) break;
      const message = this.pending.subarray(0, 1 + length);
      const type = String.fromCharCode(message[0]!);
      this.pending = this.pending.subarray(1 + length);
      if (type === 'A') {
        // NotificationResponse: int32 pid, channel\0, payload\0.
        const channel = message.subarray(9, message.indexOf(0, 9)).toString('utf8');
        notifications.push({ channel, message });
        continue;
      }
      if (type === 'Z') this.status = String.fromCharCode(message[5]!);
      if (type === 'G') this.copyIn = true; // CopyInResponse: the client now streams CopyData until done
      if (type === 'Z' || type === 'E') this.copyIn = false;
      this.lastType = type;
      forward.push(message);
    }
    return { forward: Buffer.concat(forward), notifications };
  }

  /** The backend has finished everything it was asked and is outside any transaction. */
  get idle(): boolean {
    return this.pending.length === 0 && this.lastType === 'Z' && this.status === 'I' && !this.copyIn;
  }
}

/** `LISTEN x` / `UNLISTEN x` / `UNLISTEN *` in a Query or Parse message, to route notifications per client. */
const LISTEN_STATEMENT = /^\s*(UN)?LISTEN\s+(\*|"((?:[^"]|"")+)"|([A-Za-z_][\w$]*))\s*;?\s*$/i;
function listenStatement(message: Buffer): { listen: boolean; channel: string } | undefined {
  const type = String.fromCharCode(message[0]!);
  let text: string;
  if (type === 'Q') text = message.subarray(5, message.length - 1).toString('utf8');
  else if (type === 'P') {
    const nameEnd = message.indexOf(0, 5);
    text = message.subarray(nameEnd + 1, message.indexOf(0, nameEnd + 1)).toString('utf8');
  } else return undefined;
  if (text.length > 200) return undefined;
  const match = LISTEN_STATEMENT.exec(text);
  if (!match) return undefined;
  const channel = match[3] !== undefined ? match[3].replaceAll('""', '"') : (match[4]?.toLowerCase() ?? '*');
  return { listen: !match[1], channel };
}

type Phase = 'startup' | 'sasl-initial' | 'sasl-final' | 'ready' | 'closed';

class ClientSession {
  phase: Phase = 'startup';
  private input: Buffer = Buffer.alloc(0);
  private typedFraming = false;
  /** What the backend last said to this client (only the owner talks to it). */
  readonly backend = new BackendTracker();
  /** Channels this client LISTENs on. */
  readonly channels = new Set<string>();
  /** Complete frontend messages not yet run. */
  readonly pending: Buffer[] = [];
  /** An extended-protocol unit was started and its Sync not yet run. */
  extendedOpen = false;
  running = false;
  user = '';
  database = '';
  startupPacket?: Buffer;
  clientFirstBare = '';
  serverFirst = '';
  gs2Header = '';
  nonce = '';
  ownerTimer?: NodeJS.Timeout;
  authTimer?: NodeJS.Timeout;

  constructor(
    readonly socket: net.Socket,
    readonly id: number,
  ) {}

  /** Frames incoming bytes into messages: untyped (length first) until the startup packet, typed after. */
  take(chunk: Buffer): Buffer[] {
    this.input = this.input.length ? Buffer.concat([this.input, chunk]) : chunk;
    const messages: Buffer[] = [];
    for (;;) {
      const typed = this.typedFraming;
      if (this.input.length < (typed ? 5 : 8)) break;
      const length = this.input.readInt32BE(typed ? 1 : 0);
      if (length < (typed ? 4 : 8) || length > 1 << 30) throw new Error('invalid message length');
      const total = (typed ? 1 : 0) + length;
      if (this.input.length < total) break;
      const message = this.input.subarray(0, total);
      messages.push(message);
      this.input = this.input.subarray(total);
      if (!typed && message.readInt32BE(4) === PROTOCOL_3) this.typedFraming = true;
    }
    return messages;
  }

  send(data: Uint8Array | Buffer): void {
    if (this.phase !== 'closed' && this.socket.writable) this.socket.write(data);
  }
}

export async function startPgliteServer(options: PgliteServerOptions): Promise<PgliteServer> {
  if (!options.password) throw new Error('startPgliteServer: a password is required');
  const host = options.host ?? '127.0.0.1';
  const user = options.user ?? 'postgres';
  const maxConnections = options.maxConnections ?? 64;
  const idleOwnerTimeoutMs = options.idleOwnerTimeoutMs ?? 60_000;
  const authenticationTimeoutMs = options.authenticationTimeoutMs ?? 10_000;
  let dataDir: string | undefined;
  if (options.dataDir !== undefined) {
    dataDir = path.resolve(options.dataDir);
    fs.mkdirSync(dataDir, { recursive: true });
  }
  const db = await PGlite.create(dataDir, { extensions: { vector } });
  try {
    await db.exec('CREATE EXTENSION IF NOT EXISTS vector');
  } catch (error) {
    await db.close().catch(() => undefined);
    throw error;
  }

  const secret: ScramSecret = scramSecret(options.password);
  const sessions = new Set<ClientSession>();
  /** The client whose turn it is on the one backend session, and those waiting for it, in arrival order. */
  let owner: ClientSession | undefined;
  const waiting: ClientSession[] = [];
  /** Channels to LISTEN on again once the backend is idle (another client's UNLISTEN stopped them). */
  const relisten = new Set<string>();
  let nextId = 1;
  let stopping = false;

  const exec = async (message: Uint8Array, onData: (chunk: Uint8Array) => void) =>
    db.runExclusive(() => db.execProtocolRawStream(message, { onRawData: onData }));

  /** Return the backend to a clean idle state after its owner left mid-unit or mid-transaction. */
  async function resetBackend(session: ClientSession): Promise<void> {
    const discard = () => undefined;
    if (session.backend.copyIn) await exec(backendMessage('f', Buffer.from('client left\0')), discard);
    if (session.extendedOpen) await exec(backendMessage('S', Buffer.alloc(0)), discard);
    if (db.isInTransaction()) {
      await exec(backendMessage('Q', Buffer.from('ROLLBACK\0')), discard);
    }
    session.extendedOpen = false;
  }

  function release(session: ClientSession): void {
    if (owner !== session) return;
    clearTimeout(session.ownerTimer);
    owner = undefined;
    while (waiting.length > 0) {
      const next = waiting.shift()!;
      if (next.phase === 'closed' || next.pending.length === 0) continue;
      owner = next;
      void drive(next);
      return;
    }
  }

  function schedule(session: ClientSession): void {
    if (owner === undefined) {
      owner = session;
      void drive(session);
    } else if (owner === session) {
      clearTimeout(session.ownerTimer);
      if (!session.running) void drive(session);
    } else if (!waiting.includes(session)) {
      waiting.push(session);
    }
  }

  /** Run the owner's pending messages; keep the session while it is mid-unit or in a transaction. */
  async function drive(session: ClientSession): Promise<void> {
    session.running = true;
    const tracker = session.backend;
    try {
      while (session.pending.length > 0 && session.phase !== 'closed') {
        const batch = session.pending.splice(0);
        let terminate = false;
        const toRun: Buffer[] = [];
        for (const message of batch) {
          const type = String.fromCharCode(message[0]!);
          if (type === 'X') {
            terminate = true;
            break;
          }
          if (EXTENDED.has(type)) session.extendedOpen = true;
          else if (type === 'S' || type === 'Q') session.extendedOpen = false;
          const listen = listenStatement(message);
          if (listen?.listen) session.channels.add(listen.channel);
          else if (listen) {
            const dropped = listen.channel === '*' ? [...session.channels] : [listen.channel];
            for (const channel of dropped) session.channels.delete(channel);
            // The backend is shared: UNLISTEN stops it for everyone, so listen again for the clients still on it.
            for (const other of sessions) for (const channel of other.channels) relisten.add(channel);
          }
          toRun.push(message);
        }
        if (toRun.length > 0) {
          await exec(Buffer.concat(toRun), (chunk) => {
            const { forward, notifications } = tracker.feed(chunk);
            if (forward.length > 0) session.send(forward);
            for (const { channel, message } of notifications) {
              for (const listener of sessions) if (listener.channels.has(channel)) listener.send(message);
            }
          });
        }
        if (terminate) closeSession(session);
      }
    } catch (error) {
      // PGlite itself failed (not an SQL error, which it reports in-band): tell this client, drop it, carry on.
      session.send(errorResponse('FATAL', 'XX000', `embedded database error: ${(error as Error).message}`));
      closeSession(session);
    } finally {
      session.running = false;
    }
    if (session.phase === 'closed') {
      await resetBackend(session).catch(() => undefined);
      release(session);
      return;
    }
    if (session.pending.length > 0) return void drive(session);
    if (!session.extendedOpen && tracker.idle) {
      for (const channel of relisten) {
        const sqlText = `LISTEN "${channel.replaceAll('"', '""')}"\0`;
        await exec(backendMessage('Q', Buffer.from(sqlText)), () => undefined).catch(() => undefined);
      }
      relisten.clear();
      release(session);
    } else {
      clearTimeout(session.ownerTimer);
      session.ownerTimer = setTimeout(() => {
        if (owner !== session || session.running) return;
        session.send(
          errorResponse(
            'FATAL',
            '25P03',
            'terminating connection: it held the embedded database idle in a transaction or unfinished query',
          ),
        );
        closeSession(session);
      }, idleOwnerTimeoutMs);
      session.ownerTimer.unref();
    }
  }

  function closeSession(session: ClientSession): void {
    if (session.phase === 'closed') return;
    session.phase = 'closed';
    clearTimeout(session.authTimer);
    clearTimeout(session.ownerTimer);
    sessions.delete(session);
    const at = waiting.indexOf(session);
    if (at >= 0) waiting.splice(at, 1);
    session.socket.end();
    setTimeout(() => session.socket.destroy(), 1000).unref();
    // An owner that is not mid-run leaves the backend as it was: clean it up for the next client.
    if (owner === session && !session.running) {
      void resetBackend(session)
        .catch(() => undefined)
        .finally(() => release(session));
    }
  }

  function refuse(session: ClientSession, code: string, message: string): void {
    session.send(errorResponse('FATAL', code, message));
    closeSession(session);
  }

  function onStartupMessage(session: ClientSession, message: Buffer): void {
    const code = message.readInt32BE(4);
    if (code === SSL_REQUEST || code === GSSENC_REQUEST) {
      session.send(Buffer.from('N')); // no TLS on this loopback server; the client decides whether to go on
      return;
    }
    if (code === CANCEL_REQUEST) return closeSession(session);
    if (code !== PROTOCOL_3) {
      return refuse(session, '0A000', `unsupported frontend protocol ${code >> 16}.${code & 0xffff}`);
    }
    const parts = message.subarray(8).toString('utf8').split('\0');
    const params = new Map<string, string>();
    for (let i = 0; i + 1 < parts.length && parts[i]; i += 2) params.set(parts[i]!, parts[i + 1]!);
    session.user = params.get('user') ?? '';
    session.database = params.get('database') || session.user;
    session.startupPacket = message;
    session.phase = 'sasl-initial';
    session.send(authMessage(10, Buffer.from('SCRAM-SHA-256\0\0')));
  }

  const authFailed = (session: ClientSession) =>
    refuse(session, '28P01', `password authentication failed for user "${session.user}"`);

  function onSaslMessage(session: ClientSession, message: Buffer): void {
    if (message[0] !== 'p'.charCodeAt(0)) return authFailed(session);
    const body = message.subarray(5);
    if (session.phase === 'sasl-initial') {
      const end = body.indexOf(0);
      const mechanism = body.subarray(0, end).toString('utf8');
      if (mechanism !== 'SCRAM-SHA-256') {
        return refuse(session, '28000', 'SCRAM-SHA-256 is the only authentication method offered');
      }
      const length = body.readInt32BE(end + 1);
      const clientFirst = body.subarray(end + 5, end + 5 + length).toString('utf8');
      // gs2 header: "n,," or "y,," (no channel binding); "p=…" asks for binding, which is not offered.
      const match = /^([ny]),[^,]*,(.*)$/.exec(clientFirst);
      const nonce = match ? scramAttributes(match[2]!).get('r') : undefined;
      if (!match || !nonce) return refuse(session, '08P01', 'malformed SCRAM message');
      session.gs2Header = clientFirst.slice(0, clientFirst.length - match[2]!.length);
      session.clientFirstBare = match[2]!;
      session.nonce = nonce + crypto.randomBytes(18).toString('base64');
      session.serverFirst = `r=${session.nonce},s=${secret.salt.toString('base64')},i=${SCRAM_ITERATIONS}`;
      session.phase = 'sasl-final';
      session.send(authMessage(11, Buffer.from(session.serverFirst)));
      return;
    }
    const clientFinal = body.toString('utf8');
    const proofAt = clientFinal.lastIndexOf(',p=');
    if (proofAt < 0) return refuse(session, '08P01', 'malformed SCRAM message');
    const withoutProof = clientFinal.slice(0, proofAt);
    const attributes = scramAttributes(withoutProof);
    const proof = Buffer.from(clientFinal.slice(proofAt + 3), 'base64');
    if (
      attributes.get('r') !== session.nonce ||
      attributes.get('c') !== Buffer.from(session.gs2Header).toString('base64')
    ) {
      return authFailed(session);
    }
    const signed = `${session.clientFirstBare},${session.serverFirst},${withoutProof}`;
    const signature = hmac(secret.storedKey, signed);
    if (proof.length !== signature.length) return authFailed(session);
    const clientKey = Buffer.from(proof.map((byte, i) => byte ^ signature[i]!));
    // Same answer for a wrong user as for a wrong password, like Postgres: no hint which one was wrong.
    if (!crypto.timingSafeEqual(sha256(clientKey), secret.storedKey) || session.user !== user) {
      return authFailed(session);
    }
    session.send(authMessage(12, Buffer.from(`v=${hmac(secret.serverKey, signed).toString('base64')}`)));
    if (session.database !== PGLITE_DATABASE) {
      return refuse(session, '3D000', `database "${session.database}" does not exist`);
    }
    clearTimeout(session.authTimer);
    session.phase = 'ready';
    // PGlite answers the startup packet with AuthenticationOk, its parameters and ReadyForQuery.
    session.pending.push(session.startupPacket!);
    schedule(session);
  }

  function onConnection(socket: net.Socket): void {
    socket.setNoDelay(true);
    const session = new ClientSession(socket, nextId++);
    socket.on('error', () => closeSession(session));
    socket.on('close', () => closeSession(session));
    if (stopping || sessions.size >= maxConnections) {
      return refuse(session, '53300', 'sorry, too many clients already');
    }
    sessions.add(session);
    session.authTimer = setTimeout(
      () => refuse(session, '08006', 'authentication timed out'),
      authenticationTimeoutMs,
    );
    session.authTimer.unref();
    socket.on('data', (chunk: Buffer) => {
      let messages: Buffer[];
      try {
        messages = session.take(chunk);
      } catch (error) {
        return refuse(session, '08P01', `invalid frontend message: ${(error as Error).message}`);
      }
      for (const message of messages) {
        if (session.phase === 'closed') return;
        if (session.phase === 'startup') onStartupMessage(session, message);
        else if (session.phase === 'sasl-initial' || session.phase === 'sasl-final') {
          onSaslMessage(session, message);
        } else {
          session.pending.push(message);
        }
      }
      if (session.phase === 'ready' && session.pending.length > 0) schedule(session);
    });
  }

  const server = net.createServer(onConnection);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as net.AddressInfo).port;
  let stopped = false;
  return {
    url: pgliteUrl(host, port, options.password, user),
    host,
    port,
    pglite: db,
    stats: () => ({ connections: sessions.size, waiting: waiting.length }),
    async stop() {
      if (stopped) return;
      stopped = true;
      stopping = true;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const session of [...sessions]) closeSession(session);
      await closed;
      // Let an owner's statement in flight finish before the data directory is closed.
      await db.runExclusive(async () => undefined);
      await db.close();
    },
  };
}
