import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Db } from '../../src/db/database';
import { PgvectorStore } from '../../src/kb/pgvector-store';
import {
  createKbTestDatabase,
  MODELS_DIR,
  realEmbedder,
  startPgliteChild,
  TEST_DATABASE_URL,
  uniqueName,
} from '../kb/support';
import { runCli, type CliResult } from '../support/cli';
import { ingestFixtureKb, seedEscalations, seedHealthSignals } from './fixture';

/** `ticketflow kb gaps` (table and --json) and the gap section of `ticketflow report --html`, as child processes. */

const ROOT = path.resolve(__dirname, '..', '..');

let database: { db: Db; drop: () => Promise<void>; url: string };
let vectorServer: { url: string; stop: () => Promise<void> };
let collection: string;

function ticketflow(args: string[]): Promise<CliResult> {
  return runCli(args, {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    DATABASE_URL: database.url,
    VECTOR_STORE: 'pgvector',
    VECTOR_DATABASE_URL: vectorServer.url,
    KB_COLLECTION: collection,
    MODELS_DIR: path.resolve(ROOT, MODELS_DIR),
    LLM_PROVIDER: 'local',
    LOG_LEVEL: 'warn',
  });
}

beforeAll(async () => {
  const [created, server] = await Promise.all([createKbTestDatabase(), startPgliteChild()]);
  vectorServer = server;
  // The child processes need the database's URL: same server, the database the helper created.
  const name = (
    await created.db
      .selectNoFrom((eb) => eb.fn<string>('current_database', []).as('name'))
      .executeTakeFirstOrThrow()
  ).name;
  const url = new URL(TEST_DATABASE_URL);
  url.pathname = `/${name}`;
  database = { ...created, url: url.toString() };
  collection = uniqueName('gapscli');
  const embedder = realEmbedder();
  const store = new PgvectorStore({ url: vectorServer.url, collection, model: embedder, poolMax: 2 });
  await ingestFixtureKb({ db: database.db, store, embedder }, { small: true });
  await store.close();
  await seedEscalations(database.db, 'cli');
  await seedHealthSignals(database.db, 'cli');
}, 600_000);

afterAll(async () => {
  await vectorServer?.stop();
  await database?.drop();
});

describe('ticketflow kb gaps', () => {
  it('--json prints the report: both gaps suggested, the covered topic not, the contradiction', async () => {
    const result = await ticketflow(['kb', 'gaps', '--days', '7', '--json']);
    expect(result.code).toBe(0);
    const report = JSON.parse(result.stdout.trim());
    expect(report.gaps).toBe(2);
    expect(report.clusters.filter((c: { suggestion: unknown }) => c.suggestion)).toHaveLength(2);
    expect(
      report.clusters.find((c: { status: string }) => c.status === 'covered').nearestArticle.documentId,
    ).toBe('password-reset');
    expect(report.health.contradictions).toHaveLength(1);
  });

  it('prints tables for people', async () => {
    const result = await ticketflow(['kb', 'gaps']);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/STATUS\s+SIZE\s+NEAREST ARTICLE \(SCORE\)\s+HUMAN ANSWERS/);
    expect(result.stdout).toMatch(/^gap\s+\d/m);
    expect(result.stdout).toMatch(/^covered\s+\d\s+password-reset/m);
    expect(result.stdout).toContain('Suggested article');
    expect(result.stdout).toContain('cites: #cli-dep-');
    expect(result.stdout).toMatch(
      /different figures for the same thing:\s+\n\s+billing-faq|refunds: .*vs billing-faq/,
    );
    expect(result.stdout).toContain('notifications: cited in 0 of 6 tickets that retrieved it');
  });

  it('refuses a bad option with a clear message', async () => {
    const result = await ticketflow(['kb', 'gaps', '--days', '0']);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('expected a whole number from 1 to 365');
  });

  it('the weekly HTML report has a Knowledge gaps section', async () => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'tf-report-')), 'report.html');
    const result = await ticketflow(['report', '--html', file]);
    expect(result.code).toBe(0);
    const htmlText = fs.readFileSync(file, 'utf8');
    expect(htmlText).toContain('<h2>Knowledge gaps</h2>');
    expect(htmlText).toMatch(/Suggested: /);
    expect(htmlText).toContain('give different figures');
    expect(htmlText).not.toContain('jo.bloggs@example.com');
  });
});
