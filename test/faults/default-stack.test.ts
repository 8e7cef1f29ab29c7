import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { runLoad, type LoadReport } from '../../bench/lib/load';
import { readLocalStack } from '../../src/cli/local-stack';
import { startFakeAnthropic, type FakeAnthropic, type FakeStep } from '../support/fake-anthropic';
import {
  freePort,
  makeTempDir,
  ManagedProcess,
  REPO_ROOT,
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
  const env: NodeJS.ProcessEnv = { ...process.env };
  // What the test runner set for other suites; `npm start` must bring up its own.
  for (const key of [
    'DATABASE_URL',
    'VECTOR_DATABASE_URL',
    'TEMPORAL_ADDRESS',
    'TEMPORAL_UI_URL',
    'TEMPORAL_TASK_QUEUE',
    'NODE_ENV',
    'LLM_PROVIDER',
  ])
    delete env[key];
  const ports = [await freePort(), await freePort(), await freePort(), await freePort()];
  const child = new ManagedProcess(process.execPath, [path.join(REPO_ROOT, 'scripts', 'start.mjs')], {
    name: 'npm-start',
    logFile,
    env: {
      ...env,
      TICKETFLOW_ENV_FILE: path.join(dataDir, 'no.env'),
      TICKETFLOW_DATA_DIR: dataDir,
      TEMPORAL_PORT: String(ports[0]),
      TEMPORAL_UI_PORT: String(ports[1]),
      PGLITE_PORT: String(ports[2]),
      API_PORT: String(ports[3]),
      LOG_LEVEL: 'info',
      // All load comes from this one client; the per-client rate limit is not what is under test here.
      RATE_LIMIT_PER_MINUTE: '1000000',
      ...extraEnv,
    },
  });
  await child.waitForOutput(/ticketflow is running:/, 420_000);
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
