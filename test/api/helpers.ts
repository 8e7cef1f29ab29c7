import { Writable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import { zendeskSignature } from '../../src/api/routes/webhooks';
import { createApiKey, revokeApiKey, type Role } from '../../src/auth/api-keys';
import { buildServer } from '../../src/server';
import { startPgliteChild } from '../kb/support';
import { eventually, startTestStack, uniqueSuffix, type TestStack } from '../support/stack';

/**
 * The real stack for API tests: a fresh Postgres database, a worker on its own task queue against the Temporal
 * dev server, the real embedder and a pgvector store (PGlite, unless VECTOR_DATABASE_URL points at one), and the
 * API built on top. Log lines are captured so tests can check request ids.
 */

export const ADMIN_KEY = 'tf_bootstrap_admin_key_for_tests_0123456789';
export const ZENDESK_SECRET = 'zendesk-test-secret-value';

export interface ApiResponse {
  status: number;
  headers: Headers;
  text: string;
  /** Parsed JSON body (undefined when the body is not JSON). */
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any -- test assertions poke into arbitrary response shapes
}

export interface RequestOptions {
  key?: string;
  /** Serialized as JSON with content-type application/json unless `rawBody` is given. */
  json?: unknown;
  rawBody?: string;
  headers?: Record<string, string>;
}

export interface ApiTestEnv {
  stack: TestStack;
  app: FastifyInstance;
  /** http://127.0.0.1:<port> of the listening app. */
  baseUrl: string;
  request(method: string, path: string, options?: RequestOptions): Promise<ApiResponse>;
  keys: Record<Role | 'revoked', string>;
  keyIds: Record<Role | 'revoked', string>;
  logLines: Array<Record<string, unknown>>;
  close(): Promise<void>;
}

/**
 * The pgvector database tests use: the one scripts/test.mjs provides, else an in-memory PGlite in a child
 * process (PGlite cannot load inside jest's module sandbox). Collections are unique per test file.
 */
export async function vectorDatabaseForTests(): Promise<{ url: string; stop: () => Promise<void> }> {
  if (process.env.VECTOR_DATABASE_URL)
    return { url: process.env.VECTOR_DATABASE_URL, stop: async () => undefined };
  return startPgliteChild();
}

export async function startApiTestEnv(env: Record<string, string> = {}): Promise<ApiTestEnv> {
  const vectorDb = await vectorDatabaseForTests();
  const stack = await startTestStack({
    env: {
      VECTOR_STORE: 'pgvector',
      VECTOR_DATABASE_URL: vectorDb.url,
      KB_COLLECTION: `kb_api_${uniqueSuffix()}`,
      ADMIN_API_KEY: ADMIN_KEY,
      ZENDESK_WEBHOOK_SECRET: ZENDESK_SECRET,
      LLM_PROVIDER: 'local',
      LOG_LEVEL: 'warn',
      // Tests assert outcomes, not timings: a small KB document is answered synchronously however busy the machine.
      KB_INGEST_WAIT_MS: '60000',
      ...env,
    },
  }).catch(async (err: unknown) => {
    await vectorDb.stop();
    throw err;
  });

  const logLines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim()) logLines.push(JSON.parse(line));
      done();
    },
  });
  const logger = pino({ level: 'info' }, sink);
  const app = await buildServer(
    {
      config: stack.config,
      db: stack.db,
      temporal: stack.client,
      kb: { store: stack.deps.store, embedder: stack.deps.embedder },
      logger,
    },
    { defaultMetrics: false, docsUi: false },
  );

  const keys = {} as Record<Role | 'revoked', string>;
  const keyIds = {} as Record<Role | 'revoked', string>;
  for (const role of ['intake', 'agent', 'admin'] as const) {
    const created = await createApiKey(stack.db, { name: `${role}-bot`, role });
    keys[role] = created.key;
    keyIds[role] = created.id;
  }
  const revoked = await createApiKey(stack.db, { name: 'former-agent', role: 'agent' });
  await revokeApiKey(stack.db, revoked.id);
  keys.revoked = revoked.key;
  keyIds.revoked = revoked.id;

  // A real socket: fastify's inject() depends on an ES-module-only package (cookie@2) that jest cannot load
  // under the current jest config, and a real listen exercises the full HTTP path anyway.
  const baseUrl = await app.listen({ host: '127.0.0.1', port: 0 });

  return {
    stack,
    app,
    baseUrl,
    request: (method, path, options) => httpRequest(baseUrl, method, path, options),
    keys,
    keyIds,
    logLines,
    async close() {
      await app.close();
      await stack.close();
      await vectorDb.stop();
    },
  };
}

/** Request options for a Zendesk webhook delivery of `rawBody`, signed as Zendesk signs (with `secret`). */
export function zendeskSigned(
  rawBody: string,
  timestamp = new Date().toISOString(),
  secret = ZENDESK_SECRET,
) {
  return {
    rawBody,
    headers: {
      'content-type': 'application/json',
      'x-zendesk-webhook-signature': zendeskSignature(secret, timestamp, rawBody),
      'x-zendesk-webhook-signature-timestamp': timestamp,
    },
  };
}

export function bearer(key: string): Record<string, string> {
  return { authorization: `Bearer ${key}` };
}

/** Poll until `check` returns a value (the workflow runs asynchronously to the request). */
export function waitFor<T>(
  check: () => Promise<T | undefined | false>,
  timeoutMs = 60_000,
  intervalMs = 200,
): Promise<T> {
  return eventually(check, timeoutMs, intervalMs);
}

export async function httpRequest(
  baseUrl: string,
  method: string,
  path: string,
  options: RequestOptions = {},
): Promise<ApiResponse> {
  const headers: Record<string, string> = { ...(options.key ? bearer(options.key) : {}) };
  let body: string | undefined;
  if (options.rawBody !== undefined) body = options.rawBody;
  else if (options.json !== undefined) {
    body = JSON.stringify(options.json);
    headers['content-type'] = 'application/json';
  }
  Object.assign(headers, options.headers);
  const response = await fetch(`${baseUrl}${path}`, { method, headers, body });
  const text = await response.text();
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  return { status: response.status, headers: response.headers, text, body: parsed };
}
