import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { makeTempDir } from './processes';

/**
 * Throwaway certificates for TLS tests, made with the openssl CLI: a CA, server certificates for the names the
 * tests connect with, an mTLS client certificate, and a second CA nobody's certificate chains to ("wrong CA").
 * ECDSA P-256 keys (fast to make), two-day validity, all files in a temp dir the caller removes.
 */
export interface TestPki {
  dir: string;
  caFile: string;
  wrongCaFile: string;
  /** A server certificate for DNS:temporal.test only: connecting by IP needs TEMPORAL_TLS_SERVER_NAME. */
  temporalServer: { certFile: string; keyFile: string };
  /** A server certificate for 127.0.0.1 and localhost (Postgres, Qdrant). */
  localServer: { certFile: string; keyFile: string };
  /** A client certificate (clientAuth) for mTLS. */
  client: { certFile: string; keyFile: string };
  remove(): void;
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

interface KeyPair {
  certFile: string;
  keyFile: string;
}

/** `openssl req` with a new P-256 key: a self-signed CA (`caExtensions`) or a signing request. */
function newKeyRequest(dir: string, name: string, selfSigned: boolean): KeyPair & { csrFile: string } {
  const keyFile = path.join(dir, `${name}.key`);
  const out = path.join(dir, `${name}.${selfSigned ? 'pem' : 'csr'}`);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', keyFile];
  const ca = ['-x509', '-days', '2', '-addext', 'basicConstraints=critical,CA:TRUE'];
  const caUsage = ['-addext', 'keyUsage=critical,keyCertSign,cRLSign'];
  const subject = ['-subj', selfSigned ? `/CN=ticketflow test ${name}` : `/CN=${name}`];
  openssl(['req', ...(selfSigned ? [...ca, ...caUsage] : []), ...ec, '-out', out, ...subject], dir);
  return { keyFile, certFile: out, csrFile: out };
}

function issue(dir: string, ca: KeyPair, name: string, extensions: string): KeyPair {
  const { keyFile, csrFile } = newKeyRequest(dir, name, false);
  const certFile = path.join(dir, `${name}.pem`);
  const extFile = path.join(dir, `${name}.ext`);
  fs.writeFileSync(extFile, `${extensions}\n`);
  const signing = ['-CA', ca.certFile, '-CAkey', ca.keyFile, '-CAcreateserial', '-days', '2'];
  openssl(['x509', '-req', '-in', csrFile, ...signing, '-out', certFile, '-extfile', extFile], dir);
  return { certFile, keyFile };
}

export function createTestPki(): TestPki {
  const dir = makeTempDir('pki');
  const ca = newKeyRequest(dir, 'ca', true);
  const wrong = newKeyRequest(dir, 'wrong-ca', true);
  const server = 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth';
  return {
    dir,
    caFile: ca.certFile,
    wrongCaFile: wrong.certFile,
    temporalServer: issue(dir, ca, 'temporal.test', `${server}\nsubjectAltName=DNS:temporal.test`),
    localServer: issue(dir, ca, 'localhost', `${server}\nsubjectAltName=IP:127.0.0.1,DNS:localhost`),
    client: issue(
      dir,
      ca,
      'ticketflow-worker',
      'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth',
    ),
    remove: () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}

export interface TlsFrontOptions {
  /** host:port of the plaintext Temporal frontend behind it. */
  target: string;
  certFile: string;
  keyFile: string;
  /** Require a client certificate signed by this CA (mTLS). */
  clientCaFile?: string;
  /** Require `authorization: Bearer <apiKey>` on every call (as Temporal Cloud does for API keys). */
  apiKey?: string;
  /** Listen on this port (e.g. to come back where a closed front was); default: a free one. */
  port?: number;
}

export interface TlsFront {
  address: string;
  /** Calls refused for a missing or wrong API key. */
  refusedCalls: number;
  /** Calls passed through to Temporal. */
  forwardedCalls: number;
  close(): Promise<void>;
}

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
  'host',
]);

/**
 * A TLS-terminating gRPC front for a plaintext Temporal dev server: the CLI's `temporal server start-dev` has no
 * TLS options (CLI 1.5.1), so this plays the part of the TLS listener a real cluster or Temporal Cloud has. The
 * handshake, certificate checks (server name, chain, client certificate) and the API-key check are real; every
 * gRPC call is relayed as HTTP/2 streams, trailers included.
 */
export async function startTemporalTlsFront(options: TlsFrontOptions): Promise<TlsFront> {
  const upstream = http2.connect(`http://${options.target}`);
  upstream.on('error', () => undefined);
  const front: TlsFront = { address: '', refusedCalls: 0, forwardedCalls: 0, close: async () => undefined };
  const server = http2.createSecureServer({
    key: fs.readFileSync(options.keyFile),
    cert: fs.readFileSync(options.certFile),
    ...(options.clientCaFile
      ? { ca: fs.readFileSync(options.clientCaFile), requestCert: true, rejectUnauthorized: true }
      : {}),
    allowHTTP1: false,
  });
  server.on('stream', (stream, headers) => {
    if (options.apiKey !== undefined && headers.authorization !== `Bearer ${options.apiKey}`) {
      front.refusedCalls++;
      stream.respond(
        {
          ':status': 200,
          'content-type': 'application/grpc',
          'grpc-status': '16', // UNAUTHENTICATED
          'grpc-message': 'invalid API key',
        },
        { endStream: true },
      );
      return;
    }
    front.forwardedCalls++;
    const forward: http2.OutgoingHttpHeaders = {};
    for (const [name, value] of Object.entries(headers)) {
      if (name === ':scheme' || name === ':authority' || HOP_BY_HOP.has(name) || value === undefined)
        continue;
      forward[name] = value;
    }
    const call = upstream.request(forward);
    let trailers: http2.OutgoingHttpHeaders = {};
    call.on('response', (responseHeaders) => {
      const reply: http2.OutgoingHttpHeaders = {};
      for (const [name, value] of Object.entries(responseHeaders))
        if (value !== undefined) reply[name] = value;
      if ('grpc-status' in responseHeaders) {
        // Trailers-only response (an error before any message): headers and end of stream at once.
        stream.respond(reply, { endStream: true });
        return;
      }
      stream.respond(reply, { waitForTrailers: true });
      stream.on('wantTrailers', () => stream.sendTrailers(trailers));
      call.pipe(stream);
    });
    call.on('trailers', (received) => {
      trailers = {};
      for (const [name, value] of Object.entries(received)) {
        if (typeof value === 'string' || typeof value === 'number' || Array.isArray(value))
          trailers[name] = value;
      }
    });
    stream.pipe(call);
    call.on('error', () => stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR));
    stream.on('error', () => call.close(http2.constants.NGHTTP2_CANCEL));
    stream.on('close', () => {
      if (!call.closed) call.close(http2.constants.NGHTTP2_CANCEL);
    });
  });
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on('session', (session) => {
    sessions.add(session);
    session.on('close', () => sessions.delete(session));
  });
  server.on('secureConnection', (socket) => socket.on('error', () => undefined));
  server.on('tlsClientError', () => undefined);
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', resolve));
  front.address = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  front.close = async () => {
    // Long polls would keep the server open: end every session.
    for (const session of sessions) session.destroy();
    upstream.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return front;
}
