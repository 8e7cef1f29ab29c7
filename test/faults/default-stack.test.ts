import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { Client, Connection } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { runLoad, type LoadReport } from '../../bench/lib/load';
import { readLocalStack } from '../../src/cli/local-stack';
import { createPayloadCodec, ENCRYPTED_ENCODING } from '../../src/security/codec';
import { collect, encodingOf } from '../security/history-scan';
import { startFakeAnthropic, type FakeAnthropic, type FakeStep } from '../support/fake-anthropic';
import {
  makeTempDir,
  ManagedProcess,
  startNpmStart,
  stopAllProcesses,
  waitUntil,
} from '../support/processes';

/**
 * The configuration `npm start` runs, started by `scripts/start.mjs` itself: a Temporal dev server, PGlite
 * (+pgvector) for everything behind its password, the worker and the API as separate processes under the
 * supervisor. Only the LLM is the Anthropic stand-in (so LLM faults can be injected). Every phase goes through
 * the HTTP API like a customer integration and then checks, in the database, that each ticket has exactly one
 * outcome: one delivered reply, or one open escalation that the human queue lists.
 */

interface DefaultStack {
  process: ManagedProcess;
  dataDir: string;
  logFile: string;
  api: { url: string; key: string; databaseUrl: string };
  /** The pids `npm start` runs right now (kept current across restarts). */
  pids(): Record<string, number>;
  /** "Activity failed" blocks the worker logged since `offset` (bytes into the log). */
  failedActivities(offset: number): string[];
  logSize(): number;
  load(tickets: number, concurrency: number, tag: string): Promise<LoadReport>;
  stop(): Promise<void>;
}

/** `node scripts/start.mjs` as a user runs it, on free ports and a fresh data directory. */
async function startDefaultStack(extraEnv: Record<string, string>): Promise<DefaultStack> {
  const dataDir = makeTempDir('default-stack');
  const logFile = path.join(dataDir, 'npm-start.log');
  const child = await startNpmStart({
    dataDir,
    name: 'npm-start',
    logFile,
    // All load comes from this one client; the per-client rate limit is not what is under test here.
    env: { RATE_LIMIT_PER_MINUTE: '1000000', ...extraEnv },
  });
  const note = () =>
    JSON.parse(fs.readFileSync(path.join(dataDir, 'local-stack.json'), 'utf8')) as {
      apiUrl: string;
      processes: Record<string, number>;
    };
  const api = {
    url: note().apiUrl,
    key: fs.readFileSync(path.join(dataDir, 'admin-api-key'), 'utf8').trim(),
    databaseUrl: readLocalStack({ TICKETFLOW_DATA_DIR: dataDir })!.DATABASE_URL!,
  };
  return {
    process: child,
    dataDir,
    logFile,
    api,
    pids: () => note().processes,
    failedActivities(offset) {
      const lines = fs.readFileSync(logFile).subarray(offset).toString('utf8').split('\n');
      return lines
        .map((line, i) => (/Activity failed/.test(line) ? lines.slice(i, i + 16).join('\n') : ''))
        .filter(Boolean);
    },
    logSize: () => fs.statSync(logFile).size,
    load: (tickets, concurrency, tag) =>
      runLoad({
        apiUrl: api.url,
        apiKey: api.key,
        databaseUrl: api.databaseUrl,
        tickets,
        concurrency,
        pollers: 20,
        timeoutMs: 240_000,
        runTag: `${tag}-${Date.now().toString(36)}`,
      }),
    async stop() {
      await child.stop('SIGINT', 30_000);
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

function expectEveryTicketOnce(report: LoadReport) {
  expect(report.unfinished).toEqual([]);
  expect(report.violations).toEqual([]);
  expect(report.answered + report.escalated).toBe(report.tickets);
}

afterAll(async () => {
  await stopAllProcesses();
}, 60_000);

describe('npm start as shipped (offline LLM provider)', () => {
  let stack: DefaultStack | undefined;
  beforeAll(async () => {
    stack = await startDefaultStack({});
  }, 480_000);

  afterAll(async () => {
    await stack?.stop();
  }, 60_000);

  test('200 tickets at concurrency 20 with 20 polling clients: no 5xx, one outcome each, no failed activity', async () => {
    const before = stack!.logSize();
    const report = await stack!.load(200, 20, 'load');
    console.log(`npm start (offline), 200 tickets at c=20: ${JSON.stringify(report)}`);
    expect(report.serverErrors).toEqual([]);
    expectEveryTicketOnce(report);
    // The mix has tickets for both outcomes, so both bookkeeping paths were exercised under load.
    expect(report.answered).toBeGreaterThan(40);
    expect(report.escalated).toBeGreaterThan(20);
    expect(stack!.failedActivities(before)).toEqual([]);
  }, 420_000);

  test('ticket text is encrypted in Temporal history with the generated key; the UI reads it through the codec endpoint', async () => {
    const secrets = [
      'Bartholomew Quincy',
      'bq.private@example.org',
      '4111 1111 1111 1111',
      'zanzibar-orchid',
    ];
    const externalId = `sealed-${Date.now().toString(36)}`;
    const submitted = await fetch(`${stack!.api.url}/v1/tickets`, {
      method: 'POST',
      headers: { authorization: `Bearer ${stack!.api.key}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        externalId,
        subject: 'Refund the zanzibar-orchid order',
        body: 'Please refund the charge on card 4111 1111 1111 1111, my email is bq.private@example.org.',
        customer: { name: 'Bartholomew Quincy', email: 'bq.private@example.org' },
      }),
    });
    expect(submitted.status).toBeLessThan(300);
    await waitUntil(
      'the ticket answered or escalated',
      async () => {
        const response = await fetch(`${stack!.api.url}/v1/tickets/${externalId}`, {
          headers: { authorization: `Bearer ${stack!.api.key}` },
        });
        const detail = (await response.json()) as { timings?: { milestones?: Record<string, string> } };
        const milestones = detail.timings?.milestones;
        return Boolean(milestones?.replied ?? milestones?.escalated);
      },
      120_000,
      500,
    );

    const note = JSON.parse(fs.readFileSync(path.join(stack!.dataDir, 'local-stack.json'), 'utf8')) as {
      temporalAddress: string;
      temporalUiUrl: string;
    };
    const connection = await Connection.connect({ address: note.temporalAddress });
    try {
      const history = await new Client({ connection }).workflow
        .getHandle(`ticket-${externalId}`)
        .fetchHistory();
      const { found } = collect(history.events ?? []);
      const application = found.filter(({ path: at }) => !at.includes('searchAttributes'));
      // Payload bytes as a reader of the history JSON sees them once the base64 is decoded.
      const decodedText = (payloads: typeof found) =>
        payloads.map((f) => Buffer.from(f.payload.data ?? []).toString('utf8')).join('\n');
      for (const secret of secrets)
        expect({ secret, clear: decodedText(application).includes(secret) }).toEqual({
          secret,
          clear: false,
        });
      const inputs = application.filter((f) => f.path[0] === 'workflowExecutionStartedEventAttributes');
      expect(inputs.length).toBeGreaterThan(0);
      expect(inputs.map((f) => encodingOf(f.payload))).toEqual(inputs.map(() => ENCRYPTED_ENCODING));

      // The control: the key npm start generated opens the same payloads, and the text is there.
      const keys = fs.readFileSync(path.join(stack!.dataDir, 'payload-encryption-keys'), 'utf8').trim();
      const opened = await createPayloadCodec({ PAYLOAD_ENCRYPTION_KEYS: keys })!.decode(
        inputs.map((f) => f.payload as never),
      );
      const openedText = opened.map((p) => Buffer.from(p.data ?? []).toString('utf8')).join('\n');
      for (const secret of secrets) expect(openedText).toContain(secret);
      // The memo (shown by the UI without decoding) names only the submitting key.
      const memo = history.events?.[0]?.workflowExecutionStartedEventAttributes?.memo?.fields ?? {};
      expect(Object.keys(memo)).toEqual(['submittedBy']);

      // The dev server's UI is started with our codec endpoint, and that endpoint decodes for the UI's page.
      const settings = (await (await fetch(`${note.temporalUiUrl}/api/v1/settings`)).json()) as {
        Codec?: { Endpoint?: string };
      };
      expect(settings.Codec?.Endpoint).toBe(`${stack!.api.url}/codec`);
      const toJson = (p: temporal.api.common.v1.IPayload) => ({
        metadata: Object.fromEntries(
          Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v).toString('base64')]),
        ),
        data: Buffer.from(p.data ?? []).toString('base64'),
      });
      const decoded = await fetch(`${stack!.api.url}/codec/decode`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', origin: note.temporalUiUrl },
        body: JSON.stringify({ payloads: inputs.map((f) => toJson(f.payload)) }),
      });
      expect(decoded.status).toBe(200);
      const body = (await decoded.json()) as { payloads: Array<{ data: string }> };
      expect(body.payloads.map((p) => Buffer.from(p.data, 'base64').toString('utf8')).join('\n')).toContain(
        'zanzibar-orchid',
      );
    } finally {
      await connection.close();
    }
  }, 240_000);

  test('the worker SIGKILLed twice mid-load: the supervisor restarts it, every ticket finishes once', async () => {
    const tag = 'worker-kill';
    const running = stack!.load(30, 5, tag);
    for (let kill = 1; kill <= 2; kill++) {
      await midBatch(stack!, tag, kill * 8);
      const pid = stack!.pids().worker!;
      process.kill(pid, 'SIGKILL');
      await waitUntil('the worker restarted', async () => stack!.pids().worker !== pid, 60_000, 200);
    }
    const report = await running;
    expect(report.serverErrors).toEqual([]);
    expectEveryTicketOnce(report);
    expect(fs.readFileSync(stack!.logFile, 'utf8')).toMatch(
      /worker exited unexpectedly \(killed by SIGKILL\); restarting it/,
    );
  }, 300_000);

  test('PGlite SIGKILLed mid-load: restarted on its data, every ticket finishes once, 5xx only while it is down', async () => {
    const tag = 'pglite-kill';
    const running = stack!.load(30, 5, tag);
    await midBatch(stack!, tag, 10);
    const pid = stack!.pids().pglite!;
    process.kill(pid, 'SIGKILL');
    await waitUntil('PGlite restarted', async () => stack!.pids().pglite !== pid, 90_000, 200);
    const report = await running;
    expectEveryTicketOnce(report);
    // While the database was gone the API said so (503, retry later); nothing else went wrong.
    for (const error of report.serverErrors) expect(error).toMatch(/→ 503: .*unavailable/i);
  }, 300_000);

  test('the Temporal dev server SIGKILLed mid-load: restarted, clients get 503 meanwhile (no hang, no reset), every ticket finishes once', async () => {
    const tag = 'temporal-kill';
    const running = stack!.load(30, 5, tag);
    await midBatch(stack!, tag, 10);
    const pid = stack!.pids().temporal!;
    process.kill(pid, 'SIGKILL');
    await waitUntil('Temporal restarted', async () => stack!.pids().temporal !== pid, 120_000, 200);
    // The load's clients retry a 503 after a pause; a reset connection or a 30 s hang would reject the run.
    const report = await running;
    expectEveryTicketOnce(report);
    for (const error of report.serverErrors) expect(error).toMatch(/→ 503: .*unavailable/i);
    expect(fs.readFileSync(stack!.logFile, 'utf8')).toMatch(/Temporal dev server exited unexpectedly/);
  }, 300_000);
});

describe('npm start with Claude (the Anthropic stand-in) under LLM faults', () => {
  let stack: DefaultStack | undefined;
  let fake: FakeAnthropic;

  beforeAll(async () => {
    fake = await startFakeAnthropic({ classifyLatencyMs: 60, answerLatencyMs: 150 });
    stack = await startDefaultStack({
      LLM_PROVIDER: 'anthropic',
      ANTHROPIC_API_KEY: 'sk-ant-test-default-stack',
      ANTHROPIC_BASE_URL: fake.url,
      // A hung LLM call gives up after 3 s and is retried soon, so the phase stays short.
      LLM_TIMEOUT_MS: '3000',
      LLM_RETRY_INITIAL_INTERVAL_MS: '300',
      LLM_RETRY_MAX_INTERVAL_MS: '2000',
    });
  }, 480_000);

  afterAll(async () => {
    await stack?.stop();
    await fake?.close();
  }, 60_000);

  test('429, 529, hangs and dropped connections mid-load: delayed, never lost or doubled', async () => {
    const before = fake.requests.length;
    const trouble: FakeStep[] = [
      ...Array.from({ length: 3 }, (): FakeStep => ({ kind: 'error', status: 429, retryAfter: 1 })),
      ...Array.from({ length: 4 }, (): FakeStep => ({ kind: 'error', status: 529 })),
      { kind: 'hang' },
      { kind: 'hang' },
      { kind: 'drop' },
      { kind: 'error', status: 500 },
    ];
    fake.setScript(trouble);
    const report = await stack!.load(20, 5, 'llm-faults');
    expect(report.serverErrors).toEqual([]);
    expectEveryTicketOnce(report);
    expect(fake.pendingSteps()).toBe(0);
    expect(fake.requests.slice(before).filter((r) => r.handledBy !== 'smart').length).toBe(trouble.length);
    // Transient LLM trouble costs retries, not escalations.
    expect(report.escalationReasons.llm_unavailable ?? 0).toBe(0);
  }, 300_000);
});

/** Wait until at least `steps` pipeline steps of this run's tickets are logged and some ticket is still open. */
async function midBatch(stack: DefaultStack, tag: string, steps: number): Promise<void> {
  const client = new pg.Client({ connectionString: stack.api.databaseUrl });
  await client.connect();
  try {
    await waitUntil(
      `${steps} steps of the ${tag} batch logged`,
      async () => {
        const { rows } = await client.query<{ steps: number; open: number }>(
          `SELECT (SELECT count(*)::int FROM ticket_steps s JOIN tickets t USING (workflow_id)
                    WHERE t.external_id LIKE $1) AS steps,
                  (SELECT count(*)::int FROM tickets t LEFT JOIN interactions i USING (workflow_id)
                    WHERE t.external_id LIKE $1 AND i.workflow_id IS NULL) AS open`,
          [`${tag}-%`],
        );
        return rows[0]!.steps >= steps && rows[0]!.open > 0;
      },
      120_000,
      100,
    );
  } finally {
    await client.end();
  }
}
