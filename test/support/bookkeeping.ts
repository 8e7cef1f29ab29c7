import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { sql } from 'kysely';
import type { Db } from '../../src/db/database';
import { TicketStage } from '../../src/temporal/search-attributes';
import type { TicketOutcome } from '../../workflows/definitions';
import { sleep } from './processes';

/**
 * How a ticket ended, and the bookkeeping invariants every suite that answers tickets checks in Postgres: one
 * reply per ticket, judged from the outbox (what the customer got), never from what the workflow reports.
 */

export type FinishedState = 'answered' | 'escalated' | 'resolved';
export type Finished = { workflowId: string; state: FinishedState };

export class WorkflowEndedError extends Error {}

/**
 * Finished = the workflow completed (answered by the AI, or resolved by a human) or is parked waiting for a
 * human (stage `escalated`, which the workflow sets only after the escalation record is written). Read from
 * Temporal (describe, and the result of a completed run), which needs no worker, so it also works while the
 * worker is down.
 */
export async function finishedState(client: Client, workflowId: string): Promise<FinishedState | undefined> {
  const handle = client.workflow.getHandle(workflowId);
  const description = await handle.describe();
  const status = description.status.name;
  if (status === 'COMPLETED') {
    const outcome = (await handle.result()) as TicketOutcome;
    return outcome.replySource === 'human' ? 'resolved' : 'answered';
  }
  if (status === 'RUNNING' && description.typedSearchAttributes.get(TicketStage) === 'escalated')
    return 'escalated';
  if (status !== 'RUNNING') throw new WorkflowEndedError(`${workflowId} ended ${status}`);
  return undefined;
}

/** Wait until every ticket is finished; a ticket that fails, times out or is terminated fails the wait at once. */
export async function waitForAllFinished(
  client: Client,
  workflowIds: string[],
  timeoutMs: number,
): Promise<Finished[]> {
  const done = new Map<string, FinishedState>();
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (done.size < workflowIds.length) {
    for (const workflowId of workflowIds) {
      if (done.has(workflowId)) continue;
      try {
        const state = await finishedState(client, workflowId);
        if (state) done.set(workflowId, state);
      } catch (error) {
        if (error instanceof WorkflowNotFoundError || error instanceof WorkflowEndedError) throw error;
        lastError = error; // Temporal unreachable right now: keep waiting
        break;
      }
    }
    if (done.size === workflowIds.length) break;
    if (Date.now() > deadline) {
      const pending = workflowIds.filter((id) => !done.has(id));
      throw new Error(
        `${pending.length} of ${workflowIds.length} tickets not finished within ${timeoutMs} ms: ${pending.join(', ')}` +
          (lastError ? ` (last error: ${String(lastError)})` : ''),
      );
    }
    await sleep(1000);
  }
  return workflowIds.map((workflowId) => ({ workflowId, state: done.get(workflowId)! }));
}

export interface StuckActivity {
  activity: string;
  attempt: number;
  lastFailure: string;
}

/**
 * An activity of this workflow that has failed at least `minAttempts` times and is still being retried (the
 * bookkeeping activities retry forever): a ticket that will not finish by waiting longer.
 */
export async function stuckActivity(
  client: Client,
  workflowId: string,
  minAttempts: number,
): Promise<StuckActivity | undefined> {
  const description = await client.workflow.getHandle(workflowId).describe();
  const pending = description.raw.pendingActivities ?? [];
  const stuck = pending.find((activity) => (activity.attempt ?? 0) >= minAttempts);
  if (!stuck) return undefined;
  return {
    activity: stuck.activityType?.name ?? '?',
    attempt: stuck.attempt ?? 0,
    lastFailure: stuck.lastFailure?.message ?? '',
  };
}

export interface BookkeepingReport {
  answered: string[];
  escalated: Array<{ workflowId: string; reason: string }>;
  resolved: Array<{ workflowId: string; reason: string }>;
}

/**
 * The invariants, checked in Postgres for the given finished tickets:
 * - no duplicate rows in interactions, ticket_steps, outbox, escalations (GROUP BY … HAVING count(*) > 1);
 * - answered: exactly one delivered AI reply in the outbox, an interaction row saying so, classify/retrieve/
 *   generate all recorded ok, no escalation record;
 * - escalated (waiting): one open escalation record, an interaction row with the same reason, no reply;
 * - resolved: exactly one delivered human reply, the human's resolution, the escalation closed, an interaction
 *   row saying so with the escalation's reason.
 */
export async function checkBookkeeping(db: Db, finished: Finished[]): Promise<BookkeepingReport> {
  const ids = finished.map((f) => f.workflowId);
  expect(ids.length).toBeGreaterThan(0);
  const duplicates = await sql<{ table: string; key: string; n: number }>`
    SELECT 'interactions' AS table, workflow_id AS key, count(*)::int AS n FROM interactions
      WHERE workflow_id = ANY(${ids}) GROUP BY workflow_id HAVING count(*) > 1
    UNION ALL
    SELECT 'ticket_steps', workflow_id || '/' || step, count(*)::int FROM ticket_steps
      WHERE workflow_id = ANY(${ids}) GROUP BY workflow_id, step HAVING count(*) > 1
    UNION ALL
    SELECT 'outbox', workflow_id || '/' || kind, count(*)::int FROM outbox
      WHERE workflow_id = ANY(${ids}) GROUP BY workflow_id, kind HAVING count(*) > 1
    UNION ALL
    SELECT 'escalations', workflow_id, count(*)::int FROM escalations
      WHERE workflow_id = ANY(${ids}) GROUP BY workflow_id HAVING count(*) > 1`.execute(db);
  expect(duplicates.rows).toEqual([]);

  const [outbox, interactions, steps, escalations, resolutions] = await Promise.all([
    db.selectFrom('outbox').selectAll().where('workflow_id', 'in', ids).execute(),
    db.selectFrom('interactions').selectAll().where('workflow_id', 'in', ids).execute(),
    db
      .selectFrom('ticket_steps')
      .select(['workflow_id', 'step', 'status'])
      .where('workflow_id', 'in', ids)
      .execute(),
    db.selectFrom('escalations').selectAll().where('workflow_id', 'in', ids).execute(),
    db.selectFrom('resolutions').select(['workflow_id', 'answer']).where('workflow_id', 'in', ids).execute(),
  ]);
  const report: BookkeepingReport = { answered: [], escalated: [], resolved: [] };
  for (const { workflowId, state } of finished) {
    const replies = outbox
      .filter((r) => r.workflow_id === workflowId)
      .map((r) => ({ kind: r.kind, source: r.source, delivered: r.delivered_at !== null }));
    const interaction = interactions.find((r) => r.workflow_id === workflowId);
    const escalation = escalations.find((r) => r.workflow_id === workflowId);
    if (state === 'answered') {
      expect({ workflowId, replies }).toEqual({
        workflowId,
        replies: [{ kind: 'reply', source: 'ai', delivered: true }],
      });
      expect({
        workflowId,
        escalated: interaction?.escalated,
        source: interaction?.response_source,
        escalation: escalation?.reason,
      }).toEqual({ workflowId, escalated: false, source: 'ai', escalation: undefined });
      const okSteps = steps
        .filter((s) => s.workflow_id === workflowId && s.status === 'ok')
        .map((s) => s.step)
        .sort();
      expect({ workflowId, okSteps }).toEqual({ workflowId, okSteps: ['classify', 'generate', 'retrieve'] });
      report.answered.push(workflowId);
    } else if (state === 'escalated') {
      expect({
        workflowId,
        replies,
        hasEscalation: escalation !== undefined,
        open: !escalation?.resolved_at,
      }).toEqual({ workflowId, replies: [], hasEscalation: true, open: true });
      expect({ workflowId, escalated: interaction?.escalated, reason: interaction?.reason }).toEqual({
        workflowId,
        escalated: true,
        reason: escalation!.reason,
      });
      report.escalated.push({ workflowId, reason: escalation!.reason });
    } else {
      const resolution = resolutions.find((r) => r.workflow_id === workflowId);
      expect({
        workflowId,
        replies,
        hasResolution: resolution !== undefined,
        closed: Boolean(escalation?.resolved_at),
      }).toEqual({
        workflowId,
        replies: [{ kind: 'reply', source: 'human', delivered: true }],
        hasResolution: true,
        closed: true,
      });
      const reply = outbox.find((r) => r.workflow_id === workflowId)!;
      expect({ workflowId, body: reply.body }).toEqual({ workflowId, body: resolution!.answer });
      expect({
        workflowId,
        escalated: interaction?.escalated,
        source: interaction?.response_source,
        reason: interaction?.reason,
      }).toEqual({ workflowId, escalated: true, source: 'human', reason: escalation!.reason });
      report.resolved.push({ workflowId, reason: escalation!.reason });
    }
  }
  return report;
}

/** Finished states of these workflows, now (each must be finished already). */
export async function finishedNow(client: Client, workflowIds: string[]): Promise<Finished[]> {
  return Promise.all(
    workflowIds.map(async (workflowId) => {
      const state = await finishedState(client, workflowId);
      if (!state) throw new Error(`${workflowId} is not finished`);
      return { workflowId, state };
    }),
  );
}

/** Counts per escalation reason, for assertions and the log line. */
export function reasonCounts(report: BookkeepingReport): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const { reason } of report.escalated) counts[reason] = (counts[reason] ?? 0) + 1;
  return counts;
}
