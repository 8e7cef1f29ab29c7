import net from 'node:net';
import { startApiTestEnv, type ApiTestEnv } from './helpers';

/**
 * Requests Node's HTTP parser refuses before Fastify sees them (oversized headers, control characters in a
 * header, Transfer-Encoding with Content-Length, malformed chunks), bodies in a charset the API would misread,
 * and list cursors the API never issued: each answered as application/problem+json with a 4xx, never a 500 or
 * Fastify's plain JSON. Sent over raw sockets, since an HTTP client would refuse to send most of them.
 */

let env: ApiTestEnv;
let port: number;

beforeAll(async () => {
  env = await startApiTestEnv();
  port = Number(new URL(env.baseUrl).port);
}, 180_000);

afterAll(async () => {
  await env?.close();
});

interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
  /** The server closed the connection after answering. */
  closed: boolean;
}

/** Writes `request` as bytes and reads until the server closes the connection (or `waitMs` passes). */
function rawRequest(request: string | Buffer, waitMs = 10_000): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let closed = false;
    const finish = () => {
      clearTimeout(timer);
      const text = Buffer.concat(chunks).toString('utf8');
      const [head = '', ...rest] = text.split('\r\n\r\n');
      const [statusLine = '', ...headerLines] = head.split('\r\n');
      const headers: Record<string, string> = {};
      for (const line of headerLines) {
        const colon = line.indexOf(':');
        if (colon > 0) headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
      }
      resolve({
        status: Number(statusLine.split(' ')[1] ?? 0),
        headers,
        body: rest.join('\r\n\r\n'),
        closed,
      });
      socket.destroy();
    };
    const timer = setTimeout(finish, waitMs);
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('close', () => {
      closed = true;
      finish();
    });
    socket.on('error', (error) => (chunks.length > 0 ? undefined : reject(error)));
    socket.write(request);
  });
}

function expectProblem(response: RawResponse, status: number) {
  expect({ status: response.status, type: response.headers['content-type'] }).toEqual({
    status,
    type: expect.stringContaining('application/problem+json'),
  });
  const body = JSON.parse(response.body) as { status: number; type: string; detail: string };
  expect(body.status).toBe(status);
  expect(body.type).toMatch(/^urn:ticketflow:problem:/);
  expect(body.detail.length).toBeGreaterThan(0);
}

describe('requests the HTTP parser refuses', () => {
  test('oversized headers: 431 problem+json, connection closed', async () => {
    const response = await rawRequest(
      `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Padding: ${'a'.repeat(64 * 1024)}\r\n\r\n`,
    );
    expectProblem(response, 431);
    expect(response.closed).toBe(true);
  });

  test.each([
    ['a NUL byte in a header value', 'X-Note: a\u0000b'],
    ['a bare CR in a header value', 'X-Note: a\rb'],
    ['a space before the colon', 'X-Note : b'],
    ['a header name with a control character', 'X-No\u0001te: b'],
  ])('%s: 400 problem+json', async (_label, header) => {
    const response = await rawRequest(`GET /healthz HTTP/1.1\r\nHost: x\r\n${header}\r\n\r\n`);
    expectProblem(response, 400);
  });

  test('Transfer-Encoding with Content-Length (request smuggling shape): 400 problem+json', async () => {
    const body = '{"externalId":"smuggle-1","body":"hello"}';
    const response = await rawRequest(
      `POST /v1/tickets HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${env.keys.intake}\r\n` +
        `Content-Type: application/json\r\nContent-Length: ${body.length}\r\nTransfer-Encoding: chunked\r\n\r\n` +
        `${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`,
    );
    expectProblem(response, 400);
  });

  test('a malformed chunk size: 400 problem+json', async () => {
    const response = await rawRequest(
      `POST /v1/tickets HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${env.keys.intake}\r\n` +
        `Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n`,
    );
    expectProblem(response, 400);
  });

  test('an invalid request line: 400 problem+json', async () => {
    expectProblem(await rawRequest('GET /healthz HTTP/9.9 nonsense\r\n\r\n'), 400);
  });
});

describe('bodies in another charset', () => {
  const ticket = (id: string) => JSON.stringify({ externalId: id, body: 'My invoice is wrong' });

  test.each(['utf-16', 'latin1', 'ISO-8859-1', '"windows-1252"'])(
    'charset=%s: 415 problem+json',
    async (charset) => {
      const response = await env.request('POST', '/v1/tickets', {
        key: env.keys.intake,
        rawBody: ticket(`charset-${charset.replace(/\W/g, '')}`),
        headers: { 'content-type': `application/json; charset=${charset}` },
      });
      expect(response.status).toBe(415);
      expect(response.headers.get('content-type')).toContain('application/problem+json');
      expect(response.body.errors).toEqual([
        expect.objectContaining({ field: 'content-type', rule: 'charset' }),
      ]);
    },
  );

  test('charset=utf-8 (any spelling) and no charset are accepted', async () => {
    for (const [i, contentType] of [
      'application/json; charset=utf-8',
      'application/json;charset=UTF-8',
      'application/json; charset="utf8"',
      'application/json',
    ].entries()) {
      const response = await env.request('POST', '/v1/tickets', {
        key: env.keys.intake,
        rawBody: ticket(`charset-ok-${i}-${Date.now().toString(36)}`),
        headers: { 'content-type': contentType },
      });
      expect({ contentType, status: response.status }).toEqual({ contentType, status: 202 });
    }
  });
});

describe('list cursors the API did not issue', () => {
  const cursorOf = (value: unknown) => Buffer.from(JSON.stringify(value), 'utf8').toString('base64url');

  test.each([
    ['the forged cursor from the report', 'WyIwIiwieCJd'],
    ['a day that does not exist', cursorOf(['2026-02-31T00:00:00+00:00', 'ticket-a'])],
    ['a year out of range', cursorOf(['99999-01-01T00:00:00+00:00', 'ticket-a'])],
    ['year zero', cursorOf(['0000-01-01T00:00:00+00:00', 'ticket-a'])],
    ['a time that is not one', cursorOf(['2026-01-01T25:00:00Z', 'ticket-a'])],
    ['a NUL in the workflow id', cursorOf(['2026-01-01T00:00:00Z', 'ticket-\u0000'])],
    ['not JSON', Buffer.from('{{{').toString('base64url')],
  ])('%s: 400 problem+json naming the cursor', async (_label, cursor) => {
    const response = await env.request('GET', `/v1/tickets?cursor=${encodeURIComponent(cursor)}`, {
      key: env.keys.agent,
    });
    expect(response.status).toBe(400);
    expect(response.headers.get('content-type')).toContain('application/problem+json');
    expect(response.body.errors).toEqual([expect.objectContaining({ field: 'cursor', rule: 'cursor' })]);
  });

  test('a cursor in the format the API issues still pages', async () => {
    const response = await env.request(
      'GET',
      `/v1/tickets?cursor=${cursorOf(['2999-01-01T00:00:00.123456+00:00', 'ticket-zzz'])}`,
      { key: env.keys.agent },
    );
    expect(response.status).toBe(200);
  });
});
