import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import { writeLocalStack } from '../../src/cli/local-stack';
import { loadConfig } from '../../src/config';
import { buildServer } from '../../src/server';
import { connectTemporal } from '../../src/temporal/client';
import { lastJson, runCli } from '../support/cli';
import { createTestDatabase } from '../support/stack';

/**
 * Issue 14, row 13: `ticketflow keys …` beside a running `npm start`, with no DATABASE_URL, goes through that
 * stack's API with its admin key (named in .data/local-stack.json), not to localhost:5432. The note here points
 * its database at a port where nothing listens, so a command that went to the database would fail.
 */

const ADMIN_KEY = `tf_local_admin_${Date.now()}_0123456789`;

let database: Awaited<ReturnType<typeof createTestDatabase>>;
let temporal: Client;
let app: FastifyInstance;
let dataDir: string;
let stackEnv: NodeJS.ProcessEnv;

const ticketflow = runCli;
const json = lastJson;

beforeAll(async () => {
  database = await createTestDatabase(process.env.DATABASE_URL!);
  const config = loadConfig({ ...process.env, DATABASE_URL: database.url, ADMIN_API_KEY: ADMIN_KEY });
  temporal = await connectTemporal(config);
  app = await buildServer(
    { config, db: database.db, temporal, logger: pino({ level: 'silent' }) },
    { defaultMetrics: false, docsUi: false },
  );
  const apiUrl = await app.listen({ host: '127.0.0.1', port: 0 });

  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tf-local-stack-'));
  const adminKeyFile = path.join(dataDir, 'admin-api-key');
  fs.writeFileSync(adminKeyFile, `${ADMIN_KEY}\n`, { mode: 0o600 });
  writeLocalStack(path.join(dataDir, 'local-stack.json'), {
    pid: process.pid, // "npm start" is this test process: alive while the test runs
    databaseUrl: 'postgres://ticketflow@127.0.0.1:1/not-the-stack',
    temporalAddress: '127.0.0.1:1',
    apiUrl,
    adminKeyFile,
  });
  const { DATABASE_URL: _ignored, ...rest } = process.env;
  stackEnv = { ...rest, TICKETFLOW_DATA_DIR: dataDir, LOG_LEVEL: 'warn' };
}, 120_000);

afterAll(async () => {
  await app?.close();
  await temporal?.connection.close();
  await database?.drop();
  if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
});

test('keys create, list and revoke beside a running stack go through its API with the admin key', async () => {
  const created = await ticketflow(['keys', 'create', 'agent-dana', '--role', 'agent', '--json'], stackEnv);
  expect(created.code).toBe(0);
  const key = json(created);
  expect(key).toMatchObject({ name: 'agent-dana', role: 'agent', key: expect.stringMatching(/^tf_/) });
  // It is in the stack's database (the one the API uses), though the CLI was given no database at all.
  const row = await database.db
    .selectFrom('api_keys')
    .selectAll()
    .where('id', '=', String(key.id))
    .executeTakeFirst();
  expect(row).toMatchObject({ name: 'agent-dana', role: 'agent', revoked_at: null });

  const listed = await ticketflow(['keys', 'list', '--json'], stackEnv);
  expect(listed.code).toBe(0);
  expect(JSON.parse(listed.stdout.trim())).toEqual([
    expect.objectContaining({ id: key.id, name: 'agent-dana' }),
  ]);

  const revoked = await ticketflow(['keys', 'revoke', String(key.id), '--json'], stackEnv);
  expect({ code: revoked.code, body: json(revoked) }).toEqual({
    code: 0,
    body: { id: key.id, revoked: true },
  });
  const after = await database.db
    .selectFrom('api_keys')
    .select('revoked_at')
    .where('id', '=', String(key.id))
    .executeTakeFirstOrThrow();
  expect(after.revoked_at).not.toBeNull();

  const again = await ticketflow(['keys', 'revoke', String(key.id), '--json'], stackEnv);
  expect({ code: again.code, body: json(again) }).toEqual({ code: 1, body: { id: key.id, revoked: false } });

  // The key was that API's own: revoked there, it is refused there.
  const probe = await fetch(
    new URL('/v1/tickets?limit=1', `http://127.0.0.1:${(app.server.address() as { port: number }).port}`),
    {
      headers: { authorization: `Bearer ${String(key.key)}` },
    },
  );
  expect(probe.status).toBe(401);
}, 120_000);

test('a wrong admin key is reported, never worked around through the database', async () => {
  const wrongDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tf-local-stack-'));
  try {
    const note = JSON.parse(fs.readFileSync(path.join(dataDir, 'local-stack.json'), 'utf8')) as Record<
      string,
      unknown
    >;
    const wrongKey = path.join(wrongDir, 'admin-api-key');
    fs.writeFileSync(wrongKey, 'tf_local_not_the_admin_key_000000000\n', { mode: 0o600 });
    writeLocalStack(path.join(wrongDir, 'local-stack.json'), {
      ...(note as unknown as Parameters<typeof writeLocalStack>[1]),
      adminKeyFile: wrongKey,
    });
    const result = await ticketflow(['keys', 'list', '--json'], {
      ...stackEnv,
      TICKETFLOW_DATA_DIR: wrongDir,
    });
    expect(result.code).toBe(1);
    expect(String(json(result).error)).toMatch(/401/);
  } finally {
    fs.rmSync(wrongDir, { recursive: true, force: true });
  }
}, 60_000);

test('with DATABASE_URL given, keys commands use that database directly (the stack note is ignored)', async () => {
  const created = await ticketflow(['keys', 'create', 'direct', '--role', 'intake', '--json'], {
    ...stackEnv,
    DATABASE_URL: database.url,
  });
  expect(created.code).toBe(0);
  const key = json(created);
  const row = await database.db
    .selectFrom('api_keys')
    .selectAll()
    .where('id', '=', String(key.id))
    .executeTakeFirst();
  expect(row).toMatchObject({ name: 'direct', role: 'intake' });
}, 60_000);
