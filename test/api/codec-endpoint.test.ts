import { randomBytes } from 'node:crypto';
import { startApiTestEnv, type ApiTestEnv } from './helpers';

/**
 * With payload encryption on, the API serves Temporal's remote codec so operators with permission to read
 * tickets can decode them in the Temporal UI / CLI; everyone else gets 401.
 */

let env: ApiTestEnv;

beforeAll(async () => {
  env = await startApiTestEnv({ PAYLOAD_ENCRYPTION_KEYS: `k1:${randomBytes(32).toString('base64')}` });
});

afterAll(async () => {
  await env?.close();
});

const plain = {
  payloads: [
    {
      metadata: { encoding: Buffer.from('json/plain').toString('base64') },
      data: Buffer.from('"refund please"').toString('base64'),
    },
  ],
};

test('an agent key encodes and decodes through /codec; the round trip is lossless and the ciphertext is not clear text', async () => {
  const encoded = await env.request('POST', '/codec/encode', { key: env.keys.agent, json: plain });
  expect(encoded.status).toBe(200);
  const payload = (encoded.body as typeof plain).payloads[0]!;
  expect(Buffer.from(payload.data, 'base64').toString('utf8')).not.toContain('refund please');
  const decoded = await env.request('POST', '/codec/decode', { key: env.keys.agent, json: encoded.body });
  expect(decoded.status).toBe(200);
  expect(decoded.body).toEqual(plain);
});

test('no key, an intake key or a revoked key cannot decode', async () => {
  for (const key of [undefined, env.keys.intake, env.keys.revoked]) {
    const response = await env.request('POST', '/codec/decode', { key, json: plain });
    expect(response.status).toBe(401);
  }
});
