import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { lastJson, runCli, type CliResult } from '../support/cli';
import { checkBookkeeping, waitForAllFinished } from '../support/bookkeeping';
import { startTestStack, uniqueSuffix, type TestStack } from '../support/stack';
import { vectorDatabaseForTests, waitFor } from '../api/helpers';

/**
 * The `ticketflow` CLI end to end, as child processes (`node --import tsx src/cli/main.ts`, what bin/ticketflow.js
 * runs), against the real stack: a worker on its own task queue in this process, Temporal, Postgres, pgvector.
 */

const ROOT = path.resolve(__dirname, '..', '..');

let stack: TestStack;
let stopVectorDb: () => Promise<void>;
let childEnv: NodeJS.ProcessEnv;

function ticketflow(args: string[], input?: string, env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return runCli(args, { ...childEnv, ...env }, input);
}

/** The last stdout line as JSON (`--json` prints exactly one document). */
const json = lastJson;

beforeAll(async () => {
  const vectorDb = await vectorDatabaseForTests();
  stopVectorDb = vectorDb.stop;
  stack = await startTestStack({
    env: {
      VECTOR_STORE: 'pgvector',
      VECTOR_DATABASE_URL: vectorDb.url,
      LLM_PROVIDER: 'local',
      LOG_LEVEL: 'warn',
    },
  });
  const { config } = stack;
  childEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    USER: 'cli-tester',
    DATABASE_URL: config.DATABASE_URL,
    VECTOR_STORE: 'pgvector',
    VECTOR_DATABASE_URL: vectorDb.url,
    KB_COLLECTION: config.KB_COLLECTION,
    TEMPORAL_ADDRESS: config.TEMPORAL_ADDRESS,
    TEMPORAL_NAMESPACE: config.TEMPORAL_NAMESPACE,
    TEMPORAL_TASK_QUEUE: config.TEMPORAL_TASK_QUEUE,
    MODELS_DIR: path.resolve(ROOT, config.MODELS_DIR),
    LLM_PROVIDER: 'local',
    LOG_LEVEL: 'warn',
    // Tickets submitted here close at their first reply unless a test opens a follow-up window.
    FOLLOW_UP_WINDOW_MINUTES: '0',
  };
  // Generous: a fresh database, a worker and the embedding model all start here, on a possibly busy machine.
}, 300_000);

afterAll(async () => {
  await stack?.close();
  await stopVectorDb?.();
});

test('kb ingest, submit → escalations → resolve → status, end to end', async () => {
  const ingested = await ticketflow(['kb', 'ingest', path.join(ROOT, 'test', 'fixtures', 'kb'), '--json']);
  expect(ingested.code).toBe(0);
  expect(json<{ documents: number }>(ingested).documents).toBeGreaterThan(0);

  const ticketId = `cli-e2e-${uniqueSuffix()}`;
  const submitted = await ticketflow([
    'submit',
    'I want to speak to a human about the wrong VAT number on my invoice.',
    '--external-id',
    ticketId,
    '--subject',
    'VAT number',
    '--customer-email',
    'robin@example.com',
    '--wait',
    '--json',
  ]);
  expect(submitted.code).toBe(0);
  const submittedJson = json<{
    ticketId: string;
    created: boolean;
    stage: string;
    ticket: { channel: string };
  }>(submitted);
  expect(submittedJson).toMatchObject({
    ticketId,
    workflowId: `ticket-${ticketId}`,
    created: true,
    stage: 'escalated',
  });
  expect(submittedJson.ticket.channel).toBe('cli');

  const resubmitted = await ticketflow(['submit', 'same id, other text', '--external-id', ticketId]);
  expect(resubmitted.code).toBe(0);
  expect(resubmitted.stdout).toContain('already submitted');

  const queue = await ticketflow(['escalations']);
  expect(queue.code).toBe(0);
  const row = queue.stdout.split('\n').find((line) => line.startsWith(ticketId));
  expect(row).toContain('customer_requested_human');
  expect(row).toContain('VAT number');
  const queueJson = json<Array<{ ticketId: string; reason: string }>>(
    await ticketflow(['escalations', '--json']),
  );
  expect(queueJson.find((e) => e.ticketId === ticketId)).toMatchObject({
    reason: 'customer_requested_human',
  });

  const resolved = await ticketflow([
    'resolve',
    ticketId,
    'The invoice was reissued with the right VAT number.',
    '--agent',
    'alice',
  ]);
  expect(resolved.code).toBe(0);
  expect(resolved.stdout).toContain(`Resolved ${ticketId} as alice`);

  const again = await ticketflow(['resolve', ticketId, 'second answer', '--json']);
  expect(again.code).toBe(3);
  expect(['already_resolved', 'finished']).toContain(json<{ reason: string }>(again).reason);

  const status = await waitFor(async () => {
    const result = await ticketflow(['status', ticketId, '--json']);
    const detail = json<{
      stage: string;
      resolution: { agentId: string } | null;
      reply: { source: string; body: string } | null;
    }>(result);
    return detail.stage === 'resolved' && detail.reply ? detail : undefined;
  }, 90_000);
  expect(status.resolution).toMatchObject({ agentId: 'alice', addToKnowledgeBase: true });
  expect(status.reply).toMatchObject({ source: 'human', body: expect.stringContaining('reissued') });

  const human = await ticketflow(['status', ticketId]);
  expect(human.code).toBe(0);
  expect(human.stdout).toContain(`Ticket ${ticketId} (workflow ticket-${ticketId}): resolved`);
  expect(human.stdout).toContain('Reply (human)');

  const after = json<Array<{ ticketId: string }>>(await ticketflow(['escalations', '--json']));
  expect(after.map((e) => e.ticketId)).not.toContain(ticketId);
  const report = await checkBookkeeping(
    stack.db,
    await waitForAllFinished(stack.client, [`ticket-${ticketId}`], 60_000),
  );
  expect(report.resolved).toHaveLength(1);
  // About a dozen CLI processes plus the workflow: minutes on a busy machine.
}, 300_000);

test('submit reads stdin and generates a cli-<time>-<random> id; resolve --no-kb keeps the answer out of the KB', async () => {
  const submitted = await ticketflow(
    ['submit', '--json', '--wait'],
    'Can a human agent please call me back about my account?\n',
  );
  expect(submitted.code).toBe(0);
  const { ticketId, stage } = json<{ ticketId: string; stage: string }>(submitted);
  expect(ticketId).toMatch(/^cli-\d{13}-[0-9a-f]{6}$/);
  expect(stage).toBe('escalated');

  const resolved = await ticketflow(['resolve', ticketId, 'We called you back.', '--no-kb', '--json']);
  expect(resolved.code).toBe(0);
  expect(json(resolved)).toMatchObject({ accepted: true, addToKnowledgeBase: false, agentId: 'cli-tester' });
  const row = await waitFor(() =>
    stack.db
      .selectFrom('resolutions')
      .selectAll()
      .where('workflow_id', '=', `ticket-${ticketId}`)
      .executeTakeFirst(),
  );
  expect(row).toMatchObject({ add_to_kb: false, kb_document_id: null });
  const report = await checkBookkeeping(
    stack.db,
    await waitForAllFinished(stack.client, [`ticket-${ticketId}`], 60_000),
  );
  expect(report.resolved).toHaveLength(1);
}, 180_000);

test('reply and feedback: a follow-up answered by the AI, a good rating confirms, then the ticket refuses more', async () => {
  const ticketId = `cli-conv-${uniqueSuffix()}`;
  const submitted = await ticketflow(
    [
      'submit',
      'How do I request a refund for my annual plan?',
      '--external-id',
      ticketId,
      '--wait',
      '--json',
    ],
    undefined,
    { FOLLOW_UP_WINDOW_MINUTES: '30' },
  );
  expect(json<{ stage: string }>(submitted).stage).toBe('answered');
  const replied = await ticketflow(['reply', ticketId, 'Can I get a refund on a monthly plan?', '--json']);
  expect(replied.code).toBe(0);
  expect(json(replied)).toMatchObject({ accepted: true, duplicate: false });
  const handle = stack.client.workflow.getHandle(`ticket-${ticketId}`);
  await waitFor(async () => {
    const rows = await stack.db
      .selectFrom('ticket_messages')
      .select('message_id')
      .where('workflow_id', '=', `ticket-${ticketId}`)
      .where('delivered_at', 'is not', null)
      .execute();
    return rows.some((r) => r.message_id === 'ai-2') || undefined;
  });
  const rated = await ticketflow(['feedback', ticketId, 'good', '--comment', 'thanks']);
  expect(rated.code).toBe(0);
  expect(rated.stdout).toContain(`Sent the rating to ${ticketId}`);
  await handle.result();
  const late = await ticketflow(['reply', ticketId, 'one more thing']);
  expect(late.code).toBe(3);
  expect(late.stderr).toMatch(/\(closed\)/);
  const badRating = await ticketflow(['feedback', ticketId, 'meh']);
  expect(badRating.code).toBe(2);
}, 180_000);

test('bad input exits 2 naming the option; unknown tickets exit 1', async () => {
  const empty = await ticketflow(['submit', '   ']);
  expect(empty.code).toBe(2);
  expect(empty.stderr).toMatch(/text: must not be empty/);

  const badEmail = await ticketflow(['submit', 'hello', '--customer-email', 'nope', '--json']);
  expect(badEmail.code).toBe(2);
  expect(json<{ error: string }>(badEmail).error).toMatch(/--customer-email/);

  const unknown = await ticketflow(['status', `missing-${uniqueSuffix()}`]);
  expect(unknown.code).toBe(1);
  expect(unknown.stderr).toMatch(/No ticket with id/);

  const unknownResolve = await ticketflow(['resolve', `missing-${uniqueSuffix()}`, 'answer']);
  expect(unknownResolve.code).toBe(1);

  const badRole = await ticketflow(['keys', 'create', 'x', '--role', 'root']);
  expect(badRole.code).not.toBe(0);
  expect(badRole.stderr).toMatch(/intake, agent, admin/);
}, 180_000);

test('keys create / list / revoke', async () => {
  const created = json<{ id: string; key: string; role: string }>(
    await ticketflow(['keys', 'create', 'support-desk', '--role', 'agent', '--json']),
  );
  expect(created.key).toMatch(/^tf_/);
  expect(created.role).toBe('agent');

  const listed = json<Array<{ id: string; name: string }>>(await ticketflow(['keys', 'list', '--json']));
  expect(listed.find((k) => k.id === created.id)).toMatchObject({ name: 'support-desk' });
  expect(JSON.stringify(listed)).not.toContain(created.key);

  const revoked = await ticketflow(['keys', 'revoke', created.id]);
  expect(revoked.code).toBe(0);
  const again = await ticketflow(['keys', 'revoke', created.id]);
  expect(again.code).toBe(1);
  const table = await ticketflow(['keys', 'list', '--all']);
  expect(table.stdout).toContain(created.id);
}, 180_000);

test('report prints the weekly table and writes a self-contained HTML report with SVG charts', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tf-report-'));
  const file = path.join(dir, 'report.html');
  const result = await ticketflow(['report', '--html', file, '--json']);
  expect(result.code).toBe(0);
  const report = json<{
    summary: { tickets: number; escalated: number };
    weekly: Array<{ tickets: number }>;
  }>(result);
  const logged = await stack.db.selectFrom('interactions').select('escalated').execute();
  expect(report.summary.tickets).toBe(logged.length);
  expect(report.summary.escalated).toBe(logged.filter((r) => r.escalated).length);
  expect(report.weekly.reduce((n, w) => n + w.tickets, 0)).toBe(logged.length);

  const html = fs.readFileSync(file, 'utf8');
  expect(html).toMatch(/^<!doctype html>/);
  expect((html.match(/<svg /g) ?? []).length).toBeGreaterThanOrEqual(3);
  // Self-contained: nothing loaded from elsewhere.
  expect(html).not.toMatch(/<script|<link|src="http|href="http/);

  const table = await ticketflow(['report']);
  expect(table.code).toBe(0);
  expect(table.stdout).toContain('Week of');
  expect(table.stdout).toMatch(/escalation rate \d+\.\d%/);
  fs.rmSync(dir, { recursive: true, force: true });
}, 180_000);
