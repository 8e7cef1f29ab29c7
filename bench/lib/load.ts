import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { z } from 'zod';
import { loadAcmeTickets } from './datasets';

/**
 * A load run as customers and their integrations make it, through the HTTP API only: `concurrency` clients
 * submit `tickets` tickets (POST /v1/tickets) while `pollers` clients poll each open ticket
 * (GET /v1/tickets/:id) until it is answered or waiting for a human. Afterwards the database is checked:
 * every ticket has exactly one outcome (one delivered reply, or one open escalation that the queue lists),
 * nothing else. Used by `bench/load.ts` and by the test of the `npm start` configuration.
 */

export interface LoadOptions {
  apiUrl: string;
  apiKey: string;
  databaseUrl: string;
  tickets: number;
  concurrency: number;
  pollers: number;
  pollIntervalMs?: number;
  timeoutMs?: number;
  /** Prefix of external ids, unique per run. */
  runTag: string;
}

export interface LoadReport {
  tickets: number;
  answered: number;
  escalated: number;
  unfinished: string[];
  /** HTTP status → count, over every request made. */
  statuses: Record<string, number>;
  /** 5xx responses, with their problem detail, for the report. */
  serverErrors: string[];
  /** Tickets whose bookkeeping breaks the one-outcome rule, with why. */
  violations: string[];
  escalationReasons: Record<string, number>;
  submitMs: { p50: number; p95: number };
  /** Submission → answered/escalated as the polling client saw it. */
  outcomeMs: { p50: number; p95: number };
  wallSeconds: number;
  ticketsPerSecond: number;
}

const detailSchema = z.object({
  workflowId: z.string(),
  stage: z.string(),
  awaitingHuman: z.boolean(),
  reply: z.object({ source: z.string() }).nullable(),
});

const percentile = (values: number[], p: number) => {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return Math.round(sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!);
};

export async function runLoad(options: LoadOptions): Promise<LoadReport> {
  const pollIntervalMs = options.pollIntervalMs ?? 150;
  const timeoutMs = options.timeoutMs ?? 10 * 60_000;
  const statuses: Record<string, number> = {};
  const serverErrors: string[] = [];
  const headers = { authorization: `Bearer ${options.apiKey}`, 'content-type': 'application/json' };

  async function call(method: string, path: string, body?: unknown) {
    const response = await fetch(`${options.apiUrl}${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(30_000),
    });
    statuses[response.status] = (statuses[response.status] ?? 0) + 1;
    const text = await response.text();
    // A well-behaved client waits as long as a 429 asks before it sends anything else.
    if (response.status === 429) await sleep(Number(response.headers.get('retry-after') ?? 1) * 1000);
    if (response.status >= 500)
      serverErrors.push(`${method} ${path} → ${response.status}: ${text.slice(0, 300)}`);
    return { status: response.status, text };
  }

  const texts = loadAcmeTickets();
  const queue = Array.from({ length: options.tickets }, (_, i) => i);
  const open = new Map<string, number>(); // ticket id → submitted at
  const done = new Map<string, { state: 'answered' | 'escalated'; ms: number }>();
  const submitMs: number[] = [];
  const started = Date.now();
  let submitting = true;

  async function submitter() {
    for (let i = queue.shift(); i !== undefined; i = queue.shift()) {
      const source = texts[i % texts.length]!;
      const externalId = `${options.runTag}-${i}`;
      const sent = Date.now();
      for (;;) {
        const { status } = await call('POST', '/v1/tickets', {
          externalId,
          subject: source.subject,
          body: `${source.body}\n\n(ref ${externalId})`,
          customer: { email: `customer${i}@example.com` },
        });
        if (status === 202 || status === 200) break;
        if (status === 429 || status >= 500) {
          await sleep(500); // a well-behaved client retries; the idempotent externalId keeps it one ticket
          continue;
        }
        throw new Error(`POST /v1/tickets answered ${status} for ${externalId}`);
      }
      submitMs.push(Date.now() - sent);
      open.set(externalId, sent);
    }
  }

  async function poller() {
    while (submitting || open.size > 0) {
      if (Date.now() - started > timeoutMs) return;
      const next = [...open.keys()].find((id) => !claimed.has(id));
      if (!next) {
        await sleep(20);
        continue;
      }
      claimed.add(next);
      try {
        const { status, text } = await call('GET', `/v1/tickets/${encodeURIComponent(next)}`);
        if (status === 200) {
          const detail = detailSchema.parse(JSON.parse(text));
          const state =
            detail.stage === 'answered' && detail.reply
              ? 'answered'
              : detail.awaitingHuman
                ? 'escalated'
                : undefined;
          if (state) {
            done.set(next, { state, ms: Date.now() - open.get(next)! });
            open.delete(next);
          }
        }
      } finally {
        claimed.delete(next);
      }
      await sleep(pollIntervalMs);
    }
  }
  const claimed = new Set<string>();

  const pollers = Array.from({ length: options.pollers }, () => poller());
  await Promise.all(Array.from({ length: options.concurrency }, () => submitter()));
  submitting = false;
  await Promise.all(pollers);
  const wallSeconds = (Date.now() - started) / 1000;

  // The database's view: exactly one outcome per ticket.
  const ids = Array.from({ length: options.tickets }, (_, i) => `${options.runTag}-${i}`);
  const client = new pg.Client({ connectionString: options.databaseUrl });
  await client.connect();
  const violations: string[] = [];
  const escalationReasons: Record<string, number> = {};
  try {
    const { rows } = await client.query<{
      external_id: string;
      workflow_id: string;
      replies: number;
      delivered: number;
      ai_replies: number;
      escalations: number;
      open_escalations: number;
      reason: string | null;
    }>(
      `SELECT t.external_id, t.workflow_id,
              (SELECT count(*)::int FROM outbox o WHERE o.workflow_id = t.workflow_id AND o.kind = 'reply') AS replies,
              (SELECT count(*)::int FROM outbox o WHERE o.workflow_id = t.workflow_id AND o.kind = 'reply' AND o.delivered_at IS NOT NULL) AS delivered,
              (SELECT count(*)::int FROM outbox o WHERE o.workflow_id = t.workflow_id AND o.source = 'ai') AS ai_replies,
              (SELECT count(*)::int FROM escalations e WHERE e.workflow_id = t.workflow_id) AS escalations,
              (SELECT count(*)::int FROM escalations e WHERE e.workflow_id = t.workflow_id AND e.resolved_at IS NULL) AS open_escalations,
              (SELECT e.reason FROM escalations e WHERE e.workflow_id = t.workflow_id) AS reason
         FROM tickets t WHERE t.external_id = ANY($1)`,
      [ids],
    );
    const byId = new Map(rows.map((r) => [r.external_id, r]));
    // What a human sees: the open queue (GET /v1/escalations lists up to 200, most urgent first).
    const queue = await call('GET', '/v1/escalations?limit=200');
    const listed = new Set(
      z
        .object({ items: z.array(z.object({ ticketId: z.string() })) })
        .parse(JSON.parse(queue.text))
        .items.map((item) => item.ticketId),
    );
    const queueComplete = listed.size < 200;
    for (const id of ids) {
      const row = byId.get(id);
      if (!row) {
        violations.push(`${id}: no ticket row`);
        continue;
      }
      const answered = row.delivered === 1 && row.ai_replies === 1 && row.escalations === 0;
      const escalated = row.escalations === 1 && row.open_escalations === 1 && row.replies === 0;
      if (!answered && !escalated) {
        violations.push(
          `${id}: replies ${row.replies} (delivered ${row.delivered}), escalations ${row.escalations} (open ${row.open_escalations})`,
        );
      }
      const seen = done.get(id)?.state;
      if (seen && ((seen === 'answered') !== answered || (seen === 'escalated') !== escalated)) {
        violations.push(`${id}: the API said ${seen}, the database disagrees`);
      }
      if (escalated) {
        escalationReasons[row.reason ?? '?'] = (escalationReasons[row.reason ?? '?'] ?? 0) + 1;
        if (queueComplete && !listed.has(id)) violations.push(`${id}: escalated but not in the human queue`);
      }
    }
  } finally {
    await client.end();
  }

  const outcomes = [...done.values()];
  return {
    tickets: options.tickets,
    answered: outcomes.filter((o) => o.state === 'answered').length,
    escalated: outcomes.filter((o) => o.state === 'escalated').length,
    unfinished: ids.filter((id) => !done.has(id)),
    statuses,
    serverErrors,
    violations,
    escalationReasons,
    submitMs: { p50: percentile(submitMs, 50), p95: percentile(submitMs, 95) },
    outcomeMs: {
      p50: percentile(
        outcomes.map((o) => o.ms),
        50,
      ),
      p95: percentile(
        outcomes.map((o) => o.ms),
        95,
      ),
    },
    wallSeconds,
    ticketsPerSecond: Number((options.tickets / wallSeconds).toFixed(2)),
  };
}
