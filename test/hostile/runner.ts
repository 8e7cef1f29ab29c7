import { createHmac, randomBytes, randomInt } from 'node:crypto';
import http from 'node:http';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { createApiKey, revokeApiKey } from '../../src/auth/api-keys';
import type { Db } from '../../src/db/database';
import { configFrom, connectClient, faultEnv, ingestFixtureKb, terminateRunning } from '../faults/harness';
import { waitForAllFinished, type Finished } from '../support/bookkeeping';
import { startFakeAnthropic, type FakeAnthropic } from '../support/fake-anthropic';
import {
  createPgliteProcess,
  freePort,
  ManagedProcess,
  REPO_ROOT,
  spawnWorker,
  stopAllProcesses,
  type PgliteProcess,
} from '../support/processes';
import { createTestDatabase, uniqueSuffix } from '../support/stack';
import { materialise, type HostileCase } from './corpus';

/**
 * Runs hostile cases against the real API process over raw HTTP (so invalid bytes, odd content types and
 * framing reach the server untouched), with a real worker process behind it, and judges every answer.
 */

export const ADMIN_KEY = `tf_hostile_admin_${randomBytes(12).toString('hex')}`;
export const ZENDESK_SECRET = `zendesk-hostile-${randomBytes(8).toString('hex')}`;

export interface HostileStack {
  apiPort: number;
  api: ManagedProcess;
  worker: ManagedProcess;
  db: Db;
  client: Client;
  keys: { intake: string; revoked: string };
  env: Record<string, string>;
  fake?: FakeAnthropic;
  close(): Promise<void>;
}

/**
 * Postgres database, private PGlite vector store with the KB fixtures, the worker and the API as processes.
 * `llm: 'anthropic'` puts the wire-level fake behind the worker (cheaper per ticket than the local model).
 */
export async function startHostileStack(options: {
  llm: 'local' | 'anthropic';
  label: string;
}): Promise<HostileStack> {
  const cleanups: Array<() => Promise<unknown>> = [];
  const close = async () => {
    await stopAllProcesses();
    while (cleanups.length) await cleanups.pop()!().catch(() => undefined);
  };
  try {
    const database = await createTestDatabase(configFrom({}).DATABASE_URL);
    cleanups.push(() => database.drop());
    const vectorDb: PgliteProcess = await createPgliteProcess();
    cleanups.push(() => vectorDb.destroy());
    let fake: FakeAnthropic | undefined;
    if (options.llm === 'anthropic') {
      fake = await startFakeAnthropic();
      cleanups.push(() => fake!.close());
    }
    const tag = uniqueSuffix();
    const apiPort = await freePort();
    const env = faultEnv({
      DATABASE_URL: database.url,
      VECTOR_DATABASE_URL: vectorDb.url,
      KB_COLLECTION: `kb_hostile_${options.label}_${tag}`,
      TEMPORAL_TASK_QUEUE: `hostile-${options.label}-${tag}`,
      API_HOST: '127.0.0.1',
      API_PORT: String(apiPort),
      ADMIN_API_KEY: ADMIN_KEY,
      ZENDESK_WEBHOOK_SECRET: ZENDESK_SECRET,
      RATE_LIMIT_PER_MINUTE: '1000000',
      ...(fake
        ? { LLM_PROVIDER: 'anthropic', ANTHROPIC_API_KEY: 'sk-ant-hostile', ANTHROPIC_BASE_URL: fake.url }
        : { LLM_PROVIDER: 'local' }),
    });
    await ingestFixtureKb(database.db, vectorDb.url, env.KB_COLLECTION!);
    const intake = await createApiKey(database.db, { name: 'hostile-intake', role: 'intake' });
    const revoked = await createApiKey(database.db, { name: 'hostile-revoked', role: 'intake' });
    await revokeApiKey(database.db, revoked.id);

    const [worker, api] = await Promise.all([
      spawnWorker(env, 'worker'),
      spawnApi({ ...env, LOG_LEVEL: 'warn' }),
    ]);
    const client = await connectClient(configFrom(env));
    cleanups.push(() => client.connection.close());
    return {
      apiPort,
      api,
      worker,
      db: database.db,
      client,
      keys: { intake: intake.key, revoked: revoked.key },
      env,
      fake,
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}

/** `src/api/main.ts` as its own process; resolves once it accepts connections. */
export async function spawnApi(env: Record<string, string>): Promise<ManagedProcess> {
  const api = new ManagedProcess(
    process.execPath,
    ['--import', 'tsx', path.join(REPO_ROOT, 'src', 'api', 'main.ts')],
    {
      name: 'api',
      env: { ...process.env, ...env },
    },
  );
  const port = Number(env.API_PORT);
  const deadline = Date.now() + 90_000;
  for (;;) {
    if (!api.running) throw new Error(`API exited at start:\n${api.tail()}`);
    const ready = await rawRequest(port, {
      method: 'GET',
      path: '/healthz',
      headers: {},
      body: Buffer.alloc(0),
    }).catch(() => undefined);
    if (ready) return api;
    if (Date.now() > deadline) {
      await api.kill();
      throw new Error(`API did not answer within 90 s:\n${api.tail()}`);
    }
    await new Promise((r) => setTimeout(r, 300));
  }
}

export interface WireRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: Buffer;
  chunked?: boolean;
}

export interface WireResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

const LARGE_BODY_BYTES = 1_000_000;

/** One HTTP/1.1 request with exactly these bytes; a response that arrives before a write error still counts. */
export function rawRequest(port: number, request: WireRequest, timeoutMs = 30_000): Promise<WireResponse> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = { ...request.headers, connection: 'close' };
    if (
      !request.chunked &&
      (request.body.length > 0 || !['GET', 'HEAD', 'DELETE'].includes(request.method))
    ) {
      headers['content-length'] = request.body.length;
    }
    const req = http.request({
      host: '127.0.0.1',
      port,
      method: request.method,
      path: request.path,
      headers,
    });
    let settled = false;
    const timer = setTimeout(() => {
      req.destroy(new Error(`no response within ${timeoutMs} ms`));
    }, timeoutMs);
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        clearTimeout(timer);
        settled = true;
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) });
        req.destroy(); // an oversize body we never finished sending must not keep the socket open
      });
      res.on('error', (error) => {
        clearTimeout(timer);
        if (!settled) reject(error);
      });
    });
    req.on('error', (error) => {
      // The server may answer 413 and close while we are still writing a large body; wait briefly for it.
      setTimeout(() => {
        if (!settled) {
          clearTimeout(timer);
          reject(error);
        }
      }, 500);
    });
    if (request.chunked) {
      const third = Math.ceil(request.body.length / 3);
      for (let i = 0; i < request.body.length; i += third) req.write(request.body.subarray(i, i + third));
      req.end();
    } else if (request.body.length > LARGE_BODY_BYTES) {
      // A server refusing an oversize body answers from the headers and closes; if we were still writing, the
      // reset could destroy its answer in our socket. Give it a moment to answer before sending the body.
      req.flushHeaders();
      const sendBody = setTimeout(() => req.end(request.body), 2_000);
      req.once('response', () => clearTimeout(sendBody));
    } else {
      req.end(request.body);
    }
  });
}

let counter = 0;
const ZENDESK_ID_PREFIX = String(100_000 + randomInt(899_999));

/** Turn a case into bytes on the wire: fresh ids, auth header, Zendesk signature per the case's mode. */
export function wireRequestFor(
  c: HostileCase,
  stack: Pick<HostileStack, 'keys'>,
  runTag: string,
): WireRequest {
  counter += 1;
  // Zendesk ids must stay below 2^53 and be fresh per run: a random prefix per process plus a counter.
  const zendeskId = `${ZENDESK_ID_PREFIX}${String(counter).padStart(6, '0')}`;
  const externalId = `hostile-${runTag}-${counter}`;
  const body = materialise(c.body, externalId, zendeskId);
  const headers: Record<string, string> = {};
  if (c.contentType !== null) headers['content-type'] = c.contentType ?? 'application/json';
  if (c.target !== 'zendesk') {
    const auth: Record<string, string> = {
      admin: `Bearer ${ADMIN_KEY}`,
      intake: `Bearer ${stack.keys.intake}`,
      revoked: `Bearer ${stack.keys.revoked}`,
      garbage: 'Bearer tf_this-key-was-never-issued-0000000000',
    };
    if (auth[c.auth]) headers.authorization = auth[c.auth]!;
  } else {
    Object.assign(headers, zendeskHeaders(c.sign, body));
  }
  Object.assign(headers, c.headers);
  return { method: c.method, path: c.path, headers, body, chunked: c.chunked };
}

function sign(timestamp: string, body: Buffer): string {
  return createHmac('sha256', ZENDESK_SECRET).update(timestamp, 'utf8').update(body).digest('base64');
}

function zendeskHeaders(mode: HostileCase['sign'], body: Buffer): Record<string, string> {
  const now = new Date().toISOString();
  const hour = 3_600_000;
  switch (mode) {
    case 'none':
      return {};
    case 'no-timestamp':
      return { 'x-zendesk-webhook-signature': sign(now, body) };
    case 'wrong':
      return {
        'x-zendesk-webhook-signature': randomBytes(32).toString('base64'),
        'x-zendesk-webhook-signature-timestamp': now,
      };
    case 'other-body':
      return {
        'x-zendesk-webhook-signature': sign(
          now,
          Buffer.from('{"ticket":{"id":1,"description":"something else"}}'),
        ),
        'x-zendesk-webhook-signature-timestamp': now,
      };
    case 'stale': {
      const then = new Date(Date.now() - hour).toISOString();
      return {
        'x-zendesk-webhook-signature': sign(then, body),
        'x-zendesk-webhook-signature-timestamp': then,
      };
    }
    case 'future': {
      const then = new Date(Date.now() + hour).toISOString();
      return {
        'x-zendesk-webhook-signature': sign(then, body),
        'x-zendesk-webhook-signature-timestamp': then,
      };
    }
    case 'garbage-timestamp':
      return {
        'x-zendesk-webhook-signature': sign('yesterday', body),
        'x-zendesk-webhook-signature-timestamp': 'yesterday',
      };
    case 'valid':
      return { 'x-zendesk-webhook-signature': sign(now, body), 'x-zendesk-webhook-signature-timestamp': now };
  }
}

export interface Verdict {
  status: number;
  /** Why the answer is wrong; undefined when it is right. */
  failure?: string;
  /** The ticket a 2xx started (or found). */
  workflowId?: string;
}

interface ProblemShape {
  type?: unknown;
  title?: unknown;
  status?: unknown;
  detail?: unknown;
  errors?: Array<{ field?: unknown; rule?: unknown; message?: unknown }>;
}

/** Right answer = never 5xx; a 2xx with the submit shape; or a problem+json 4xx naming the field and rule. */
export function judge(c: HostileCase, response: WireResponse): Verdict {
  const { status } = response;
  const allowed = Array.isArray(c.expect.status) ? c.expect.status : [c.expect.status];
  const fail = (why: string): Verdict => ({
    status,
    failure: `${why} (got ${status}: ${response.body.toString('utf8').slice(0, 300)})`,
  });
  if (status >= 500) return fail('server error');
  if (!allowed.includes(status)) return fail(`expected ${allowed.join(' or ')}`);
  if (status >= 200 && status < 300) {
    if (c.method !== 'POST') return { status };
    try {
      const parsed = JSON.parse(response.body.toString('utf8')) as {
        ticketId?: unknown;
        workflowId?: unknown;
        created?: unknown;
      };
      if (typeof parsed.workflowId !== 'string' || typeof parsed.created !== 'boolean')
        return fail('2xx without the submit shape');
      return { status, workflowId: parsed.workflowId };
    } catch {
      return fail('2xx body is not JSON');
    }
  }
  if (status < 400 || status >= 500) return fail('unexpected status class');
  if (!String(response.headers['content-type'] ?? '').startsWith('application/problem+json'))
    return fail('4xx without problem+json');
  let problem: ProblemShape;
  try {
    problem = JSON.parse(response.body.toString('utf8')) as ProblemShape;
  } catch {
    return fail('problem body is not JSON');
  }
  if (
    problem.status !== status ||
    typeof problem.type !== 'string' ||
    !problem.type.startsWith('urn:ticketflow:problem:')
  ) {
    return fail('problem without matching status/type');
  }
  if (typeof problem.detail !== 'string' || problem.detail.length === 0)
    return fail('problem without detail');
  if (!Array.isArray(problem.errors)) return fail('problem without errors[]');
  // A client mistake in the request itself must say where: every 400/401/413/415 names a field and a rule.
  if ([400, 401, 413, 415].includes(status)) {
    if (problem.errors.length === 0) return fail('problem names no field');
    const vague = problem.errors.find(
      (e) => typeof e.field !== 'string' || !e.field || typeof e.rule !== 'string' || !e.rule,
    );
    if (vague) return fail('an error entry without field or rule');
  }
  if (c.expect.field && status !== 200 && status !== 202) {
    const named = problem.errors.some(
      (e) => e.field === c.expect.field && (!c.expect.rule || e.rule === c.expect.rule),
    );
    if (!named)
      return fail(`problem does not name ${c.expect.field}${c.expect.rule ? `/${c.expect.rule}` : ''}`);
  }
  return { status };
}

export interface RunSummary {
  cases: number;
  byStatus: Record<string, number>;
  failures: string[];
  accepted: string[];
  /** workflowId → the case that started it, for readable failures later. */
  caseOf: Record<string, string>;
}

/**
 * Send every case, one at a time, and judge each answer. Transport errors are failures too. With
 * `terminateAccepted`, each ticket a case starts is ended at once: the HTTP test judges the API, not the
 * pipeline, and must not queue hundreds of tickets behind its worker.
 */
export async function runCases(
  cases: HostileCase[],
  stack: HostileStack,
  runTag: string,
  options: { terminateAccepted?: boolean; concurrency?: number } = {},
): Promise<RunSummary> {
  const summary: RunSummary = { cases: cases.length, byStatus: {}, failures: [], accepted: [], caseOf: {} };
  const runOne = async (c: HostileCase) => {
    let verdict: Verdict;
    try {
      const request = wireRequestFor(c, stack, runTag);
      if (c.redeliver) {
        const first = await rawRequest(stack.apiPort, request);
        if (first.status !== 202) summary.failures.push(`${c.name}: first delivery answered ${first.status}`);
      }
      verdict = judge(c, await rawRequest(stack.apiPort, request));
    } catch (error) {
      verdict = {
        status: 0,
        failure: `no HTTP answer: ${error instanceof Error ? error.message : String(error)}`,
      };
    }
    summary.byStatus[String(verdict.status)] = (summary.byStatus[String(verdict.status)] ?? 0) + 1;
    if (verdict.failure) summary.failures.push(`[${c.source}] ${c.name}: ${verdict.failure}`);
    if (verdict.workflowId && !(verdict.workflowId in summary.caseOf)) {
      summary.accepted.push(verdict.workflowId);
      summary.caseOf[verdict.workflowId] = c.name;
      if (options.terminateAccepted) {
        await stack.client.workflow
          .getHandle(verdict.workflowId)
          .terminate('hostile HTTP test: judged at the API')
          .catch(() => undefined);
      }
    }
  };
  // A few requests in flight at once, like several clients; each case is still one self-contained exchange.
  const queue = [...cases];
  await Promise.all(
    Array.from({ length: options.concurrency ?? 4 }, async () => {
      for (let c = queue.shift(); c; c = queue.shift()) await runOne(c);
    }),
  );
  return summary;
}

/** The CI log line: how many cases, and what they got. */
export function printSummary(label: string, summary: RunSummary, extra: Record<string, unknown> = {}): void {
  const count = (predicate: (status: number) => boolean) =>
    Object.entries(summary.byStatus)
      .filter(([status]) => predicate(Number(status)))
      .reduce((total, [, n]) => total + n, 0);
  const fourXx = Object.fromEntries(
    Object.entries(summary.byStatus).filter(([status]) => Number(status) >= 400 && Number(status) < 500),
  );
  const line = {
    suite: label,
    cases: summary.cases,
    '2xx': count((s) => s >= 200 && s < 300),
    '4xx': fourXx,
    '5xx': count((s) => s >= 500),
    noAnswer: summary.byStatus['0'] ?? 0,
    acceptedTickets: summary.accepted.length,
    failures: summary.failures.length,
    ...extra,
  };
  process.stdout.write(`[hostile] ${JSON.stringify(line)}\n`);
}

/** Every ticket the API accepted must get through the pipeline: answered or parked for a human. */
export async function waitForAccepted(
  stack: HostileStack,
  workflowIds: string[],
  timeoutMs: number,
): Promise<Finished[]> {
  return waitForAllFinished(stack.client, workflowIds, timeoutMs);
}

export async function cleanupWorkflows(
  stack: HostileStack | undefined,
  workflowIds: string[],
): Promise<void> {
  if (stack) await terminateRunning(stack.client, workflowIds);
}
