import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import Fastify, { type FastifyInstance } from 'fastify';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import { createPayloadCodec, type AesGcmPayloadCodec } from '../../src/security/codec';
import { registerCodecRoutes } from '../../src/security/codec-server';

const TOKEN = 'Bearer codec-test-token-0123456789';
const UI_ORIGIN = 'http://localhost:8233';

interface JsonPayload {
  metadata: Record<string, string>;
  data: string;
}

function toJson(payload: Payload): JsonPayload {
  return {
    metadata: Object.fromEntries(
      Object.entries(payload.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v).toString('base64')]),
    ),
    data: Buffer.from(payload.data ?? []).toString('base64'),
  };
}

function fromJson(payload: JsonPayload): Payload {
  return {
    metadata: Object.fromEntries(
      Object.entries(payload.metadata).map(([k, v]) => [k, Buffer.from(v, 'base64')]),
    ),
    data: Buffer.from(payload.data, 'base64'),
  };
}

describe('codec HTTP endpoint', () => {
  let app: FastifyInstance;
  let codec: AesGcmPayloadCodec;
  let baseUrl: string;
  const authorizeCalls: string[] = [];

  beforeAll(async () => {
    const maybeCodec = createPayloadCodec({
      PAYLOAD_ENCRYPTION_KEYS: `k1:${randomBytes(32).toString('base64')}`,
    });
    if (!maybeCodec) throw new Error('expected a codec');
    codec = maybeCodec;
    app = Fastify();
    await registerCodecRoutes(app, {
      codec,
      config: { CODEC_CORS_ORIGIN: `${UI_ORIGIN}, http://127.0.0.1:8233` },
      authorize: async (request) => {
        authorizeCalls.push(request.method);
        return request.headers.authorization === TOKEN;
      },
    });
    // A real socket rather than app.inject: the UI talks HTTP to this, and light-my-request's ESM-only
    // cookie dependency does not load under jest's CommonJS transform.
    await app.listen({ host: '127.0.0.1', port: 0 });
    baseUrl = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await app.close();
  });

  interface HttpResult {
    statusCode: number;
    headers: Record<string, string | undefined>;
    body: string;
    json<T = unknown>(): T;
  }

  async function send(
    method: 'POST' | 'OPTIONS',
    path: string,
    headers: Record<string, string>,
    body?: unknown,
  ) {
    const response = await fetch(`${baseUrl}${path}`, {
      method,
      headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    const result: HttpResult = {
      statusCode: response.status,
      headers: Object.fromEntries(response.headers.entries()),
      body: text,
      json: <T>() => JSON.parse(text) as T,
    };
    return result;
  }

  const post = (path: string, body: unknown, headers: Record<string, string> = { authorization: TOKEN }) =>
    send('POST', path, { origin: UI_ORIGIN, ...headers }, body);

  it('encodes and decodes through HTTP in the remote codec format', async () => {
    const original = [
      defaultPayloadConverter.toPayload({ body: 'jane@example.com wants a refund' }),
      defaultPayloadConverter.toPayload('second'),
    ];
    const encodeResponse = await post('/codec/encode', { payloads: original.map(toJson) });
    expect(encodeResponse.statusCode).toBe(200);
    const encoded = encodeResponse.json<{ payloads: JsonPayload[] }>().payloads;
    expect(encoded).toHaveLength(2);
    expect(Buffer.from(encoded[0]?.metadata.encoding ?? '', 'base64').toString()).toBe('binary/encrypted');
    for (const payload of encoded) {
      expect(Buffer.from(payload.data, 'base64').includes(Buffer.from('jane@example.com'))).toBe(false);
    }

    // What the endpoint sealed, the in-process codec (i.e. a worker) can open, and vice versa.
    const openedLocally = await codec.decode(encoded.map(fromJson));
    expect(defaultPayloadConverter.fromPayload(openedLocally[0] as Payload)).toEqual({
      body: 'jane@example.com wants a refund',
    });

    const decodeResponse = await post('/codec/decode', { payloads: encoded });
    expect(decodeResponse.statusCode).toBe(200);
    const decoded = decodeResponse.json<{ payloads: JsonPayload[] }>().payloads.map(fromJson);
    expect(decoded.map((p) => defaultPayloadConverter.fromPayload(p))).toEqual([
      { body: 'jane@example.com wants a refund' },
      'second',
    ]);
    expect(decodeResponse.headers['access-control-allow-origin']).toBe(UI_ORIGIN);
  });

  it('decodes what a worker encoded', async () => {
    const sealed = await codec.encode([defaultPayloadConverter.toPayload({ answer: 42 })]);
    const response = await post('/codec/decode', { payloads: sealed.map(toJson) });
    expect(response.statusCode).toBe(200);
    const [payload] = response.json<{ payloads: JsonPayload[] }>().payloads;
    expect(defaultPayloadConverter.fromPayload(fromJson(payload as JsonPayload))).toEqual({ answer: 42 });
  });

  it('answers 401 without valid authorization, with CORS headers so the UI can see it', async () => {
    const body = { payloads: [toJson(defaultPayloadConverter.toPayload('x'))] };
    const missing = await post('/codec/decode', body, {});
    expect(missing.statusCode).toBe(401);
    expect(missing.json()).toEqual({ error: 'unauthorized' });
    expect(missing.headers['access-control-allow-origin']).toBe(UI_ORIGIN);
    const wrong = await post('/codec/encode', body, { authorization: 'Bearer nope' });
    expect(wrong.statusCode).toBe(401);
  });

  it('answers CORS preflights for the configured origins without asking for authorization', async () => {
    authorizeCalls.length = 0;
    for (const [origin, path] of [
      [UI_ORIGIN, '/codec/decode'],
      ['http://127.0.0.1:8233', '/codec/encode'],
    ] as const) {
      const response = await send('OPTIONS', path, {
        origin,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type,authorization,x-namespace',
      });
      expect(response.statusCode).toBe(204);
      expect(response.headers['access-control-allow-origin']).toBe(origin);
      expect(response.headers['access-control-allow-methods']).toContain('POST');
      const allowed = String(response.headers['access-control-allow-headers'])
        .split(',')
        .map((h) => h.trim());
      expect(allowed).toEqual(expect.arrayContaining(['content-type', 'authorization', 'x-namespace']));
      expect(response.headers['access-control-allow-credentials']).toBe('true');
      expect(response.headers.vary).toContain('Origin');
    }
    expect(authorizeCalls).toEqual([]);
  });

  it('gives other origins no CORS grant', async () => {
    const preflight = await send('OPTIONS', '/codec/decode', {
      origin: 'https://evil.example',
      'access-control-request-method': 'POST',
    });
    expect(preflight.statusCode).toBe(403);
    expect(preflight.headers['access-control-allow-origin']).toBeUndefined();
    const sealed = await codec.encode([defaultPayloadConverter.toPayload('x')]);
    const post2 = await post(
      '/codec/decode',
      { payloads: sealed.map(toJson) },
      {
        authorization: TOKEN,
        origin: 'https://evil.example',
      },
    );
    expect(post2.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('rejects malformed bodies and undecryptable payloads with 400', async () => {
    expect((await post('/codec/decode', { nope: [] })).statusCode).toBe(400);
    expect((await post('/codec/decode', { payloads: [{ data: 'not base64!!' }] })).statusCode).toBe(400);

    const [sealed] = await codec.encode([defaultPayloadConverter.toPayload('x')]);
    const tampered = toJson(sealed as Payload);
    const bytes = Buffer.from(tampered.data, 'base64');
    bytes[bytes.length - 1] = (bytes[bytes.length - 1] ?? 0) ^ 0xff;
    const response = await post('/codec/decode', {
      payloads: [{ ...tampered, data: bytes.toString('base64') }],
    });
    expect(response.statusCode).toBe(400);
    expect(response.json<{ error: string }>().error).toMatch(/failed authentication/);
  });

  it('round-trips binary/null, raw binary and data-less payloads (the UI sends all three)', async () => {
    const payloads: Payload[] = [
      defaultPayloadConverter.toPayload(null),
      defaultPayloadConverter.toPayload(undefined),
      defaultPayloadConverter.toPayload(new Uint8Array([0, 255, 128, 10, 13])),
    ];
    const sealed = await codec.encode(payloads);
    const response = await post(
      '/codec/decode',
      { payloads: [...sealed.map(toJson), { metadata: { encoding: btoa('binary/null') } }] },
      { authorization: TOKEN },
    );
    expect(response.statusCode).toBe(200);
    const decoded = response.json<{ payloads: JsonPayload[] }>().payloads.map(fromJson);
    expect(decoded.map((p) => Buffer.from(p.metadata?.encoding ?? []).toString())).toEqual([
      'json/plain',
      'binary/null',
      'binary/plain',
      'binary/null',
    ]);
    expect([...(decoded[2]?.data ?? [])]).toEqual([0, 255, 128, 10, 13]);
    const encoded = await post(
      '/codec/encode',
      { payloads: [{ metadata: { encoding: btoa('binary/null') } }, { metadata: null, data: null }] },
      { authorization: TOKEN },
    );
    expect(encoded.statusCode).toBe(200);
  });
});

describe('codec HTTP endpoint trusting the local UI (npm start)', () => {
  let app: FastifyInstance;
  let codec: AesGcmPayloadCodec;
  let baseUrl: string;

  beforeAll(async () => {
    codec = createPayloadCodec({ PAYLOAD_ENCRYPTION_KEYS: `k1:${randomBytes(32).toString('base64')}` })!;
    app = Fastify();
    await registerCodecRoutes(app, {
      codec,
      config: { CODEC_CORS_ORIGIN: UI_ORIGIN, CODEC_TRUST_LOCAL_UI: true },
      authorize: () => false,
    });
    await app.listen({ host: '127.0.0.1', port: 0 });
    baseUrl = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await app.close();
  });

  it('decodes for a loopback request from the UI origin without a key, and for no other origin', async () => {
    const sealed = (await codec.encode([defaultPayloadConverter.toPayload('card 4111')])).map(toJson);
    const decode = (origin?: string) =>
      fetch(`${baseUrl}/codec/decode`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(origin ? { origin } : {}) },
        body: JSON.stringify({ payloads: sealed }),
      });
    const fromUi = await decode(UI_ORIGIN);
    expect(fromUi.status).toBe(200);
    const [payload] = ((await fromUi.json()) as { payloads: JsonPayload[] }).payloads.map(fromJson);
    expect(defaultPayloadConverter.fromPayload(payload!)).toBe('card 4111');
    expect((await decode('https://evil.example')).status).toBe(401);
    expect((await decode()).status).toBe(401);
  });
});
