import { WorkflowNotFoundError, type WorkflowExecutionDescription } from '@temporalio/client';
import { roleAllows, type ApiPrincipal } from '../auth/api-keys';
import { parseStoredClassification, type StoredClassification } from '../domain/classification';
import { ticketStageSchema, workflowIdFor, type TicketStage } from '../domain/ticket';
import { statusQuery } from '../../workflows/definitions';
import { iso, type TicketDeps } from './deps';
import { TicketNotFoundError, TicketServiceUnavailableError } from './errors';
import { loadConversation, type TicketConversation } from './thread';

export interface TicketDetail {
  ticketId: string;
  workflowId: string;
  stage: TicketStage;
  /** Temporal execution status (RUNNING, COMPLETED, ...); null if unknown. */
  workflowStatus: string | null;
  awaitingHuman: boolean;
  channel: string | null;
  subject: string | null;
  customer: { id?: string; email?: string; name?: string } | null;
  createdAt: string | null;
  classification: StoredClassification | null;
  reply: { source: string; body: string; deliveredAt: string | null } | null;
  escalation: {
    reason: string;
    createdAt: string;
    slaDueAt: string;
    overdue: boolean;
    resolvedAt: string | null;
    resolvedBy: string | null;
    /** The AI draft a human may start from (null for readers who may only see their own tickets). */
    draft: string | null;
    /** Why the draft was not sent (it failed the grounding check); null if it passed or there is none. */
    draftWithheld: string | null;
  } | null;
  resolution: {
    agentId: string;
    answer: string;
    addToKnowledgeBase: boolean;
    kbDocumentId: string | null;
    kbOutcome: string | null;
    createdAt: string;
  } | null;
  timings: {
    receivedAt: string | null;
    completedAt: string | null;
    /** Received → reply delivered. */
    latencyMs: number | null;
    milestones: Record<string, string>;
    steps: Array<{
      step: string;
      status: string;
      attempts: number;
      model: string | null;
      latencyMs: number | null;
      startedAt: string;
      finishedAt: string | null;
    }>;
  };
  usage: { inputTokens: number; cachedInputTokens: number; outputTokens: number; costUsd: number };
  /** The conversation: every message with author, time and cited passages; feedback; how it ended. */
  thread: TicketConversation['thread'];
  feedback: TicketConversation['feedback'];
  conversation: TicketConversation['conversation'];
}

/** Describe the run, or undefined when Temporal has no such workflow (never started, or past retention). */
async function describeOrUndefined(
  deps: Pick<TicketDeps, 'temporal'>,
  workflowId: string,
): Promise<WorkflowExecutionDescription | undefined> {
  try {
    return await deps.temporal.workflow.getHandle(workflowId).describe();
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return undefined;
    throw err;
  }
}

/** Intake keys see only tickets they submitted; anything else is reported as not found (no existence leak). */
function assertCanRead(
  reader: ApiPrincipal,
  description: WorkflowExecutionDescription | undefined,
  ticketId: string,
) {
  if (roleAllows(reader.role, 'tickets:read')) return;
  if (description?.memo?.submittedBy === reader.keyId) return;
  throw new TicketNotFoundError(ticketId);
}

/**
 * A ticket as its reader may see it, from what the activities recorded in Postgres (the stage has one writer,
 * fed by the workflow at every step) and Temporal's description of the run (status, and the memo that says who
 * submitted it). No status query: a query is a workflow task on a worker, and clients poll this often; Postgres
 * answers without one (bench/README.md). With Temporal down, Postgres still tells most of the story.
 */
export async function getTicketDetail(
  deps: Pick<TicketDeps, 'db' | 'temporal'>,
  ticketId: string,
  reader: ApiPrincipal,
  log: { warn: (obj: object, msg: string) => void },
): Promise<TicketDetail> {
  const workflowId = workflowIdFor(ticketId);
  const { db } = deps;

  let description: WorkflowExecutionDescription | undefined;
  let temporalReachable = true;
  try {
    description = await describeOrUndefined(deps, workflowId);
  } catch (err) {
    // Temporal down: Postgres still tells most of the story; only ownership checks need Temporal.
    if (!roleAllows(reader.role, 'tickets:read')) throw err;
    temporalReachable = false;
    log.warn({ err, workflowId }, 'Temporal describe failed; answering from Postgres only');
  }
  assertCanRead(reader, description, ticketId);

  const [ticket, interaction, steps, escalation, resolution, reply] = await Promise.all([
    db.selectFrom('tickets').selectAll().where('workflow_id', '=', workflowId).executeTakeFirst(),
    db.selectFrom('interactions').selectAll().where('workflow_id', '=', workflowId).executeTakeFirst(),
    db
      .selectFrom('ticket_steps')
      .selectAll()
      .where('workflow_id', '=', workflowId)
      .orderBy('started_at')
      .execute(),
    db.selectFrom('escalations').selectAll().where('workflow_id', '=', workflowId).executeTakeFirst(),
    db.selectFrom('resolutions').selectAll().where('workflow_id', '=', workflowId).executeTakeFirst(),
    db
      .selectFrom('outbox')
      .select(['source', 'body', 'delivered_at'])
      .where('workflow_id', '=', workflowId)
      .where('kind', '=', 'reply')
      .executeTakeFirst(),
  ]);
  if (!description && !ticket) {
    if (!temporalReachable) throw new TicketServiceUnavailableError('Temporal', 'Temporal is unavailable.');
    throw new TicketNotFoundError(ticketId);
  }

  const canSeeInternals = roleAllows(reader.role, 'tickets:read');
  const classifyStep = steps.find((s) => s.step === 'classify' && s.status === 'ok');
  const classification = parseStoredClassification(classifyStep?.detail);
  const stageParse = ticketStageSchema.safeParse(ticket?.stage ?? 'received');
  const receivedAt = iso(ticket?.created_at) ?? iso(description?.startTime);

  // The same milestones the workflow's status query reports, from the rows each step wrote.
  const milestones: Record<string, string> = {};
  const finished = (step: string) =>
    iso(steps.find((s) => s.step === step && s.status === 'ok')?.finished_at);
  const add = (name: string, at: string | null | undefined) => {
    if (at) milestones[name] = at;
  };
  add('received', receivedAt);
  add('classified', finished('classify'));
  add('retrieved', finished('retrieve'));
  add('generated', finished('generate'));
  add('escalated', iso(escalation?.created_at));
  add('replied', iso(reply?.delivered_at));
  add('resolved', iso(escalation?.resolved_at));

  const conversation = await loadConversation(db, workflowId, ticket);
  const usage = steps.reduce(
    (total, s) => ({
      inputTokens: total.inputTokens + s.input_tokens,
      cachedInputTokens: total.cachedInputTokens + s.cached_input_tokens,
      outputTokens: total.outputTokens + s.output_tokens,
      costUsd: total.costUsd + Number(s.cost_usd),
    }),
    { inputTokens: 0, cachedInputTokens: 0, outputTokens: 0, costUsd: 0 },
  );

  return {
    ticketId,
    workflowId,
    stage: stageParse.success ? stageParse.data : 'received',
    workflowStatus: description?.status.name ?? null,
    awaitingHuman: escalation !== undefined && escalation.resolved_at === null,
    channel: ticket?.channel ?? null,
    subject: ticket?.subject ?? null,
    customer: ticket?.customer ?? null,
    createdAt: receivedAt,
    classification,
    reply: reply ? { source: reply.source, body: reply.body, deliveredAt: iso(reply.delivered_at) } : null,
    escalation: escalation
      ? {
          reason: escalation.reason,
          createdAt: iso(escalation.created_at)!,
          slaDueAt: iso(escalation.sla_due_at)!,
          overdue:
            escalation.resolved_at === null
              ? new Date(escalation.sla_due_at).getTime() < Date.now()
              : new Date(escalation.resolved_at).getTime() > new Date(escalation.sla_due_at).getTime(),
          resolvedAt: iso(escalation.resolved_at),
          resolvedBy: escalation.resolved_by,
          draft: canSeeInternals ? escalation.draft : null,
          draftWithheld: canSeeInternals ? escalation.draft_withheld_reason : null,
        }
      : null,
    resolution: resolution
      ? {
          agentId: resolution.agent_id,
          answer: resolution.answer,
          addToKnowledgeBase: resolution.add_to_kb,
          kbDocumentId: resolution.kb_document_id,
          kbOutcome: resolution.kb_outcome,
          createdAt: iso(resolution.created_at)!,
        }
      : null,
    timings: {
      receivedAt,
      completedAt: iso(interaction?.completed_at),
      latencyMs: interaction?.latency_ms ?? null,
      milestones,
      steps: steps.map((s) => ({
        step: s.step,
        status: s.status,
        attempts: s.attempts,
        model: s.model,
        latencyMs: s.latency_ms,
        startedAt: iso(s.started_at)!,
        finishedAt: iso(s.finished_at),
      })),
    },
    usage,
    ...conversation,
  };
}

/** Outcome rows (the interaction log: answered or escalated) the waiters below are waiting for. */
type OutcomeWaiter = { workflowId: string; resolve: (done: boolean) => void };

/**
 * Long-polling for outcomes: every request waiting for its ticket's outcome (`GET /v1/tickets/:id?waitFor=outcome`)
 * shares one query per interval, however many clients wait, instead of each client polling the whole detail.
 */
export class OutcomeWatcher {
  private readonly waiting = new Set<OutcomeWaiter>();
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly db: TicketDeps['db'],
    private readonly intervalMs = 200,
  ) {}

  /** Resolves true once the ticket has an outcome, false when `timeoutMs` passes first. */
  wait(workflowId: string, timeoutMs: number): Promise<boolean> {
    return new Promise((resolve) => {
      const waiter: OutcomeWaiter = {
        workflowId,
        resolve: (done) => {
          clearTimeout(deadline);
          this.waiting.delete(waiter);
          resolve(done);
        },
      };
      const deadline = setTimeout(() => waiter.resolve(false), timeoutMs);
      this.waiting.add(waiter);
      this.timer ??= setTimeout(() => void this.check(), this.intervalMs);
    });
  }

  private async check(): Promise<void> {
    const ids = [...new Set([...this.waiting].map((w) => w.workflowId))];
    try {
      if (ids.length > 0) {
        const done = new Set(
          (
            await this.db
              .selectFrom('interactions')
              .select('workflow_id')
              .where('workflow_id', 'in', ids)
              .execute()
          ).map((r) => r.workflow_id),
        );
        for (const waiter of [...this.waiting]) if (done.has(waiter.workflowId)) waiter.resolve(true);
      }
    } catch {
      // Postgres unavailable: keep waiting; each request still ends at its own deadline.
    } finally {
      this.timer = this.waiting.size > 0 ? setTimeout(() => void this.check(), this.intervalMs) : undefined;
    }
  }

  close(): void {
    clearTimeout(this.timer);
    for (const waiter of [...this.waiting]) waiter.resolve(false);
  }
}

export type LiveStage =
  | { state: 'running'; stage: TicketStage }
  | { state: 'finished' }
  /** Running, but no worker answered the status query (none running on the task queue?). */
  | { state: 'no_answer'; error: unknown };

/** Where a running ticket is right now, from its workflow (a cheap poll for progress displays). */
export async function liveStage(
  deps: Pick<TicketDeps, 'temporal'>,
  ticketId: string,
  timeoutMs = 5_000,
): Promise<LiveStage> {
  const handle = deps.temporal.workflow.getHandle(workflowIdFor(ticketId));
  try {
    const status = await deps.temporal.withDeadline(Date.now() + timeoutMs, () => handle.query(statusQuery));
    return { state: 'running', stage: status.stage };
  } catch (error) {
    // No worker yet, or the run has finished (a finished run needs a worker to answer queries too).
    const description = await handle.describe();
    if (description.status.name !== 'RUNNING') return { state: 'finished' };
    return { state: 'no_answer', error };
  }
}
