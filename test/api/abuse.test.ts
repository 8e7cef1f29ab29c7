import http from 'node:http';
import net from 'node:net';
import { cachedFor } from '../../src/api/abuse';
import { startApiTestEnv, type ApiTestEnv } from './helpers';

/**
 * What an unauthenticated or misbehaving client can cost the API: guessing keys is throttled per client address
 * (429 problem+json with Retry-After), /metrics takes a token and is rendered at most once per METRICS_CACHE_MS,
 * /readyz asks its dependencies at most once per READY_CACHE_MS, and slow clients (1 byte a second in the
 * headers or the body, or nothing at all) are disconnected instead of holding a connection open.
 * Each scenario uses its own loopback source address (127.0.0.x), so the per-address budgets do not interfere.
 */

const METRICS_TOKEN = 'metrics-token-for-abuse-tests-0123';
const FAILURE_BUDGET = 5;
let env: ApiTestEnv;
let port: number;

beforeAll(async () => {
  env = await startApiTestEnv({
    AUTH_FAILURES_PER_MINUTE: String(FAILURE_BUDGET),
    METRICS_TOKEN,
    METRICS_CACHE_MS: '600000',
    READY_CACHE_MS: '600000',
    HTTP_HEADERS_TIMEOUT_MS: '2000',
    HTTP_BODY_TIMEOUT_MS: '2000',
    HTTP_REQUEST_TIMEOUT_MS: '6000',
    HTTP_IDLE_TIMEOUT_MS: '1000',
  });
  port = Number(new URL(env.baseUrl).port);
}, 180_000);

afterAll(async () => {
  await env?.close();
});

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** One request from a chosen loopback source address. */
function requestFrom(
  localAddress: string,
  method: string,
  path: string,
  headers: Record<string, string> = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const request = http.request(
      { host: '127.0.0.1', port, method, path, headers, localAddress, agent: false },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () =>
          resolve({
            status: response.statusCode ?? 0,
            headers: response.headers,
            body: Buffer.concat(chunks).toString('utf8'),
          }),
        );
      },
    );
    request.on('error', reject);
    request.end();
  });
}

describe('failed authentication is rate-limited per client address', () => {
  test('after the budget of 401s, every request from that address gets 429 with Retry-After, valid key or not', async () => {
    const from = '127.0.0.2';
    const statuses: number[] = [];
    for (let i = 0; i < FAILURE_BUDGET + 3; i++) {
      const answer = await requestFrom(from, 'GET', '/v1/tickets', { authorization: `Bearer tf_guess_${i}` });
      statuses.push(answer.status);
    }
    expect(statuses).toEqual([
      ...Array.from({ length: FAILURE_BUDGET }, () => 401),
      ...Array.from({ length: 3 }, () => 429),
    ]);
    const limited = await requestFrom(from, 'GET', '/v1/tickets', {
      authorization: `Bearer ${env.keys.agent}`,
    });
    expect(limited.status).toBe(429);
    expect(limited.headers['content-type']).toContain('application/problem+json');
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    expect(JSON.parse(limited.body)).toMatchObject({
      status: 429,
      type: expect.stringContaining('authentication'),
    });

    // Another address is not affected.
    const elsewhere = await requestFrom('127.0.0.3', 'GET', '/v1/tickets', {
      authorization: `Bearer ${env.keys.agent}`,
    });
    expect(elsewhere.status).toBe(200);
  });

  test('403s (a key probing what it may not do) count too; successful requests do not', async () => {
    const from = '127.0.0.4';
    for (let i = 0; i < FAILURE_BUDGET * 2; i++) {
      const ok = await requestFrom(from, 'GET', '/v1/tickets', { authorization: `Bearer ${env.keys.agent}` });
      expect(ok.status).toBe(200);
    }
    const statuses: number[] = [];
    for (let i = 0; i < FAILURE_BUDGET + 1; i++) {
      const answer = await requestFrom(from, 'GET', '/v1/keys', {
        authorization: `Bearer ${env.keys.intake}`,
      });
      statuses.push(answer.status);
    }
    expect(statuses).toEqual([...Array.from({ length: FAILURE_BUDGET }, () => 403), 429]);
  });
});

describe('/metrics and /readyz', () => {
  test('/metrics needs METRICS_TOKEN when it is set; a wrong token counts as a failed authentication', async () => {
    const from = '127.0.0.5';
    const missing = await requestFrom(from, 'GET', '/metrics');
    expect(missing.status).toBe(401);
    expect(missing.headers['content-type']).toContain('application/problem+json');
    const wrong = await requestFrom(from, 'GET', '/metrics', {
      authorization: 'Bearer not-the-metrics-token',
    });
    expect(wrong.status).toBe(401);
    const right = await requestFrom(from, 'GET', '/metrics', { authorization: `Bearer ${METRICS_TOKEN}` });
    expect(right.status).toBe(200);
    expect(right.body).toContain('ticketflow_tickets');
    for (let i = 0; i < FAILURE_BUDGET; i++) await requestFrom(from, 'GET', '/metrics');
    expect(
      (await requestFrom(from, 'GET', '/metrics', { authorization: `Bearer ${METRICS_TOKEN}` })).status,
    ).toBe(429);
  });

  test('scrapes within METRICS_CACHE_MS get the same rendering: the database is not queried per scrape', async () => {
    const scrape = async () =>
      (await requestFrom('127.0.0.6', 'GET', '/metrics', { authorization: `Bearer ${METRICS_TOKEN}` })).body;
    const first = await scrape();
    // Change what the scrape-time gauges read (a ticket row) and what the HTTP counters count (requests).
    await env.stack.db
      .insertInto('tickets')
      .values({
        workflow_id: `ticket-metrics-cache-${Date.now()}`,
        external_id: `metrics-cache-${Date.now()}`,
        channel: 'api',
        subject: '',
        body: 'counted only after the cache expires',
        customer: JSON.stringify({}),
        stage: 'received',
      })
      .execute();
    for (let i = 0; i < 5; i++) await requestFrom('127.0.0.6', 'GET', '/healthz');
    expect(await scrape()).toBe(first);
  });

  test('/readyz answers from its cache within READY_CACHE_MS (same measured latencies)', async () => {
    const first = await requestFrom('127.0.0.7', 'GET', '/readyz');
    const second = await requestFrom('127.0.0.7', 'GET', '/readyz');
    expect(first.status).toBe(200);
    expect(second.body).toBe(first.body);
  });

  test('cachedFor: one load per TTL, concurrent callers share it, failures are not kept', async () => {
    let clock = 0;
    let loads = 0;
    let fail = false;
    const cached = cachedFor(
      1000,
      async () => {
        loads++;
        if (fail) throw new Error('down');
        return loads;
      },
      () => clock,
    );
    expect(await Promise.all([cached(), cached(), cached()])).toEqual([1, 1, 1]);
    clock = 999;
    expect(await cached()).toBe(1);
    clock = 1000;
    fail = true;
    await expect(cached()).rejects.toThrow('down');
    fail = false;
    expect(await cached()).toBe(3);
    expect(loads).toBe(3);
  });
});

interface SlowResult {
  /** What the server wrote before it closed the connection. */
  answer: string;
  closed: boolean;
  bytesSent: number;
}

/** Sends `head` at once, then `trickle` one byte a second; resolves when the server closes (or after `giveUpMs`). */
function slowClient(
  localAddress: string,
  head: string,
  trickle: string,
  giveUpMs = 30_000,
): Promise<SlowResult> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port, localAddress });
    const chunks: Buffer[] = [];
    let bytesSent = 0;
    let interval: NodeJS.Timeout | undefined;
    const finish = (closed: boolean) => {
      clearInterval(interval);
      clearTimeout(giveUp);
      socket.destroy();
      resolve({ answer: Buffer.concat(chunks).toString('utf8'), closed, bytesSent });
    };
    const giveUp = setTimeout(() => finish(false), giveUpMs);
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('close', () => finish(true));
    socket.on('error', () => undefined);
    socket.on('connect', () => {
      if (head) socket.write(head);
      interval = setInterval(() => {
        const next = trickle[bytesSent % trickle.length] ?? 'a';
        if (socket.writable) socket.write(next);
        bytesSent++;
      }, 1000);
    });
  });
}

describe('slow clients are disconnected', () => {
  test('headers at 1 byte a second: 408 problem+json, then the connection is closed (20 such clients at once)', async () => {
    const results = await Promise.all(
      Array.from({ length: 20 }, () =>
        slowClient('127.0.0.8', 'GET /healthz HTTP/1.1\r\nHost: x\r\n', 'X-Slow: aaaaaaaaaaaaaaaaaaaaaaaa'),
      ),
    );
    for (const result of results) {
      expect(result.closed).toBe(true);
      expect(result.answer).toMatch(/^HTTP\/1\.1 408 /);
      expect(result.answer).toContain('application/problem+json');
    }
  }, 60_000);

  test('a body at 1 byte a second: 408 problem+json naming the body timeout, then closed', async () => {
    const result = await slowClient(
      '127.0.0.9',
      `POST /v1/tickets HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${env.keys.intake}\r\n` +
        'Content-Type: application/json\r\nContent-Length: 500\r\n\r\n{"externalId":"slow-body","body":"',
      'a',
    );
    expect(result.closed).toBe(true);
    expect(result.answer).toMatch(/^HTTP\/1\.1 408 /);
    expect(result.answer).toContain('body-timeout');
  }, 60_000);

  test('a connection that sends nothing, and an idle kept-alive one, are closed', async () => {
    const silent = await new Promise<boolean>((resolve) => {
      const socket = net.connect({ host: '127.0.0.1', port, localAddress: '127.0.0.10' });
      const giveUp = setTimeout(() => resolve(false), 30_000);
      socket.resume(); // read what the server says, so its close is seen
      socket.on('close', () => {
        clearTimeout(giveUp);
        resolve(true);
      });
      socket.on('error', () => undefined);
    });
    expect(silent).toBe(true);

    const idle = await new Promise<{ answered: boolean; closed: boolean }>((resolve) => {
      const socket = net.connect({ host: '127.0.0.1', port, localAddress: '127.0.0.10' });
      let answered = false;
      const giveUp = setTimeout(() => resolve({ answered, closed: false }), 30_000);
      socket.on('data', (chunk) => {
        if (/^HTTP\/1\.1 200 /.test(chunk.toString('utf8'))) answered = true;
      });
      socket.on('close', () => {
        clearTimeout(giveUp);
        resolve({ answered, closed: true });
      });
      socket.on('error', () => undefined);
      socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n');
    });
    expect(idle).toEqual({ answered: true, closed: true });
  }, 70_000);
});
