import fs from 'node:fs';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import { chromium, type Browser, type Page } from 'playwright-core';
import type { AppDeps } from '../../src/api/context';
import { createApiKey, revokeApiKey, type Role } from '../../src/auth/api-keys';
import { ingestPaths } from '../../src/kb/ingest';
import { buildServer } from '../../src/server';
import { startPgliteChild } from '../kb/support';
import { eventually, startTestStack, uniqueSuffix, type TestStack } from '../support/stack';

/**
 * The real stack for browser tests: fresh Postgres database, worker on its own task queue against the Temporal
 * dev server, real embedder with a pgvector store (PGlite unless VECTOR_DATABASE_URL is given) holding a few
 * sample articles, and the API with the inbox listening on a free port. Chromium is Debian's.
 */

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-quic',
  '--no-first-run',
  '--disable-sync',
];
export const SCREENSHOT_DIR = path.resolve(__dirname, '../../test-results/screenshots');
export const ADMIN_KEY = 'tf_bootstrap_admin_key_for_inbox_tests_42';

const SAMPLE_ARTICLES = [
  'refunds.md',
  'invoices.md',
  'failed-payments.md',
  'password-reset.md',
  'plans-and-pricing.md',
  'two-factor-authentication.md',
];

/** Fails (never skips) when Chromium is missing: browser tests that silently do nothing prove nothing. */
export async function launchChromium(): Promise<Browser> {
  if (!fs.existsSync(CHROMIUM_PATH)) {
    throw new Error(
      `Chromium not found at ${CHROMIUM_PATH}. The inbox browser tests need it: install it with ` +
        '`apt-get install -y chromium` (the CI script does), or set CHROMIUM_PATH to a Chromium binary.',
    );
  }
  return chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: CHROMIUM_ARGS });
}

export interface InboxTestEnv {
  stack: TestStack;
  app: FastifyInstance;
  deps: AppDeps;
  baseUrl: string;
  keys: Record<Role | 'revoked', string>;
  close(): Promise<void>;
}

export async function startInboxTestEnv(): Promise<InboxTestEnv> {
  const vectorDb = process.env.VECTOR_DATABASE_URL
    ? { url: process.env.VECTOR_DATABASE_URL, stop: async () => undefined }
    : await startPgliteChild();
  let stack: TestStack;
  try {
    stack = await startTestStack({
      env: {
        VECTOR_STORE: 'pgvector',
        VECTOR_DATABASE_URL: vectorDb.url,
        KB_COLLECTION: `kb_inbox_${uniqueSuffix()}`,
        ADMIN_API_KEY: ADMIN_KEY,
        LLM_PROVIDER: 'local',
        LOG_LEVEL: 'warn',
        TEMPORAL_UI_URL: 'http://localhost:8233',
      },
    });
  } catch (err) {
    await vectorDb.stop();
    throw err;
  }

  const kb = { db: stack.db, store: stack.deps.store, embedder: stack.deps.embedder };
  await ingestPaths(
    kb,
    SAMPLE_ARTICLES.map((file) => path.resolve(__dirname, '../../kb/acme', file)),
  );

  const deps: AppDeps = {
    config: stack.config,
    db: stack.db,
    temporal: stack.client,
    kb: { store: stack.deps.store, embedder: stack.deps.embedder },
    logger: pino({ level: 'error' }),
  };
  const app = await buildServer(deps, { defaultMetrics: false, docsUi: false });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  if (!address || typeof address === 'string') throw new Error('API did not listen on a TCP port');

  const keys = {} as Record<Role | 'revoked', string>;
  for (const role of ['intake', 'agent', 'admin'] as const) {
    keys[role] = (
      await createApiKey(stack.db, { name: `${role === 'agent' ? 'Dana Agent' : `${role}-key`}`, role })
    ).key;
  }
  const revoked = await createApiKey(stack.db, { name: 'former-agent', role: 'agent' });
  await revokeApiKey(stack.db, revoked.id);
  keys.revoked = revoked.key;

  return {
    stack,
    app,
    deps,
    baseUrl: `http://127.0.0.1:${address.port}`,
    keys,
    async close() {
      await app.close();
      await stack.close();
      await vectorDb.stop();
    },
  };
}

export async function screenshot(page: Page, name: string): Promise<string> {
  fs.mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const file = path.join(SCREENSHOT_DIR, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

export async function signIn(page: Page, baseUrl: string, key: string): Promise<void> {
  await page.goto(`${baseUrl}/inbox/login`);
  await page.getByLabel('API key').fill(key);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

/** Poll until `check` returns a value (workflows run asynchronously to the browser). */
export function waitFor<T>(
  check: () => Promise<T | undefined | false>,
  timeoutMs = 60_000,
  intervalMs = 200,
): Promise<T> {
  return eventually(check, timeoutMs, intervalMs);
}

export interface SeededDay {
  day: string;
  intent: string;
  tickets: number;
  escalated: number;
}

/**
 * Interaction-log rows for the six days before today, so the metrics charts have a history to draw (the live
 * stack only produces today's tickets). Deterministic: the test checks the charts show exactly these numbers.
 */
export async function seedInteractionHistory(stack: TestStack, now = new Date()): Promise<SeededDay[]> {
  const plan: Array<{ intent: string; base: number; escalateEvery: number; costUsd: number }> = [
    { intent: 'billing', base: 6, escalateEvery: 3, costUsd: 0.0042 },
    { intent: 'technical', base: 4, escalateEvery: 2, costUsd: 0.0061 },
    { intent: 'account', base: 3, escalateEvery: 4, costUsd: 0.0035 },
  ];
  const seeded: SeededDay[] = [];
  const startOfToday = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate());
  const rows = [];
  for (let daysAgo = 6; daysAgo >= 1; daysAgo--) {
    const day = new Date(startOfToday - daysAgo * 86_400_000 + 10 * 3_600_000);
    for (const { intent, base, escalateEvery, costUsd } of plan) {
      const tickets = base + (daysAgo % 3);
      let escalated = 0;
      for (let i = 0; i < tickets; i++) {
        const isEscalated = (i + daysAgo) % escalateEvery === 0;
        if (isEscalated) escalated++;
        rows.push({
          workflow_id: `history-${uniqueSuffix()}`,
          timestamp: new Date(day.getTime() + i * 60_000),
          ticket_text: `Seeded ${intent} ticket ${i}`,
          intent,
          urgency: 'medium',
          confidence: 0.8,
          sentiment: 'neutral',
          language: 'en',
          escalated: isEscalated,
          reason: isEscalated ? 'no_grounded_context' : null,
          response: 'Seeded reply',
          response_source: isEscalated ? 'human' : 'ai',
          latency_ms: isEscalated ? 3_600_000 + i * 60_000 : 1_500 + i * 400,
          input_tokens: 900,
          cached_input_tokens: 0,
          output_tokens: 200,
          cost_usd: costUsd,
          completed_at: new Date(day.getTime() + i * 60_000 + 5_000),
        });
      }
      seeded.push({ day: day.toISOString().slice(0, 10), intent, tickets, escalated });
    }
  }
  await stack.db.insertInto('interactions').values(rows).execute();
  return seeded;
}
