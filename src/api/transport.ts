import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import { PassThrough } from 'node:stream';
import type { Server } from 'node:http';
import type { FastifyHttpOptions, FastifyInstance, FastifyRequest } from 'fastify';
import type { Config } from '../config';
import { problemBody, ProblemError } from './problem';

/**
 * The HTTP server below the routes: how long a client may take, and what a client whose request Node's parser
 * refuses (oversized or malformed headers, Transfer-Encoding with Content-Length, bad chunks, too slow) is told.
 * Those never reach Fastify's error handler, so they are answered here, as problem+json like every other error.
 */

export type TransportConfig = Pick<
  Config,
  'HTTP_HEADERS_TIMEOUT_MS' | 'HTTP_BODY_TIMEOUT_MS' | 'HTTP_REQUEST_TIMEOUT_MS' | 'HTTP_IDLE_TIMEOUT_MS'
>;

/** Node parser error codes → the problem a client gets (anything else the parser rejects is a 400). */
const PARSER_PROBLEMS: Record<string, { status: number; slug: string; detail: string }> = {
  HPE_HEADER_OVERFLOW: {
    status: 431,
    slug: 'headers-too-large',
    detail: 'The request headers are larger than this server accepts.',
  },
  ERR_HTTP_REQUEST_TIMEOUT: {
    status: 408,
    slug: 'request-timeout',
    detail: 'The request (headers and body) was not received in time.',
  },
  HPE_UNEXPECTED_CONTENT_LENGTH: {
    status: 400,
    slug: 'bad-request',
    detail: 'Content-Length cannot be combined with Transfer-Encoding.',
  },
};

/** The raw HTTP/1.1 response for a request Node's parser refused; the connection is closed after it. */
export function parserProblemResponse(code: string | undefined): string {
  const known = code ? PARSER_PROBLEMS[code] : undefined;
  const status = known?.status ?? 400;
  const body = JSON.stringify(
    problemBody(
      status,
      known?.slug ?? 'bad-request',
      known?.detail ?? `The request is not valid HTTP/1.1 (${code ?? 'unparseable'}).`,
      { errors: [{ field: 'request', rule: code ?? 'http', message: 'rejected by the HTTP parser' }] },
    ),
  );
  return [
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Bad Request'}`,
    'Content-Type: application/problem+json',
    `Content-Length: ${Buffer.byteLength(body)}`,
    'Connection: close',
    '',
    body,
  ].join('\r\n');
}

/** Fastify server options: timeouts and the parser-level error answer. */
export function transportOptions(config: TransportConfig): FastifyHttpOptions<Server> {
  return {
    // Whole request (headers and body) must arrive within this; Node answers 408 through clientError.
    requestTimeout: config.HTTP_REQUEST_TIMEOUT_MS,
    // Between requests on a kept-alive connection.
    keepAliveTimeout: config.HTTP_IDLE_TIMEOUT_MS,
    http: {
      headersTimeout: Math.min(config.HTTP_HEADERS_TIMEOUT_MS, config.HTTP_REQUEST_TIMEOUT_MS),
      // Node checks the two timeouts above on this interval (30 s by default, which would let a slow client
      // hold its connection for half a minute past its deadline).
      connectionsCheckingInterval: Math.max(
        100,
        Math.min(1000, Math.floor(config.HTTP_HEADERS_TIMEOUT_MS / 4)),
      ),
    },
    clientErrorHandler(error: NodeJS.ErrnoException, socket: Socket) {
      if (error.code === 'ECONNRESET' || socket.destroyed) return;
      // Not when a response has started on this connection: the bytes would land inside it.
      const inFlight = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
      if (socket.writable && !inFlight?.headersSent) socket.write(parserProblemResponse(error.code));
      socket.destroy();
    },
  };
}

/**
 * A connection that sends nothing is closed after HTTP_HEADERS_TIMEOUT_MS. A body that stops arriving (or
 * trickles) is cut after HTTP_BODY_TIMEOUT_MS with a 408 problem, without waiting for the whole-request
 * deadline. Requests without a body are left alone (their handlers may take longer).
 */
export function limitSlowClients(app: FastifyInstance, config: TransportConfig): void {
  // Node's header timeout starts with the first byte: a connection that never sends one would stay open.
  app.server.on('connection', (socket: Socket) => {
    const timer = setTimeout(() => {
      if (socket.writable) socket.write(parserProblemResponse('ERR_HTTP_REQUEST_TIMEOUT'));
      socket.destroy();
    }, config.HTTP_HEADERS_TIMEOUT_MS);
    const done = () => clearTimeout(timer);
    socket.once('data', done);
    socket.once('close', done);
  });
  app.addHook('preParsing', async (request, reply, payload) => {
    const declared = request.headers['content-length'];
    if (request.headers['transfer-encoding'] === undefined && (!declared || declared === '0')) return payload;
    const guarded = new PassThrough();
    const timer = setTimeout(() => {
      reply.header('connection', 'close');
      payload.unpipe(guarded);
      guarded.destroy(
        new ProblemError(
          408,
          'body-timeout',
          `The request body did not arrive within ${config.HTTP_BODY_TIMEOUT_MS} ms.`,
        ),
      );
    }, config.HTTP_BODY_TIMEOUT_MS);
    const done = () => clearTimeout(timer);
    guarded.once('end', done);
    guarded.once('close', done);
    // A request answered without its body being read (415, an early error) must not be cut afterwards.
    reply.raw.once('finish', done);
    reply.raw.once('close', done);
    // Whoever reads the body gets the error; with no reader left it must not become an unhandled 'error'.
    guarded.on('error', () => undefined);
    payload.once('error', (error) => guarded.destroy(error));
    payload.pipe(guarded);
    return guarded;
  });
}

/** Bodies are read as UTF-8: a declared charset that is not UTF-8 would be misread, so it is refused (415). */
export function requireUtf8Charset(request: FastifyRequest): void {
  const contentType = request.headers['content-type'] ?? '';
  const charset = /;\s*charset\s*=\s*"?([^";\s]+)"?/i.exec(contentType)?.[1]?.toLowerCase();
  if (charset === undefined || charset === 'utf-8' || charset === 'utf8') return;
  throw new ProblemError(
    415,
    'unsupported-charset',
    `Bodies must be UTF-8; this one declares charset=${charset.slice(0, 40)}.`,
    {
      errors: [{ field: 'content-type', in: 'headers', rule: 'charset', message: 'charset must be utf-8' }],
    },
  );
}
