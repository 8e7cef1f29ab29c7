import {
  ApplicationFailure,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  WorkflowUpdateRPCTimeoutOrCancelledError,
  type WorkflowExecutionDescription,
} from '@temporalio/client';
import { sql } from 'kysely';
import { z } from 'zod';
import { roleAllows, type ApiPrincipal } from '../../auth/api-keys';
import { TICKET_STAGES, ticketInputSchema, workflowIdFor, type TicketInput } from '../../domain/ticket';
import { startTicket } from '../../temporal/client';
import { resolveUpdate, statusQuery, type TicketStatus } from '../../../workflows/definitions';
import { API_KEY_SECURITY, type AppDeps, type ZodApp } from '../context';
import { ProblemError } from '../problem';
import {
  AUTHENTICATED_PROBLEMS,
  classificationOut,
  isoDateTime,
  problemResponses,
  queryBoolean,
  ticketIdParams,
} from '../schemas';

/** A status query needs a worker; don't let a missing worker hang a read. */
const QUERY_TIMEOUT_MS = 3_000;
/** An update waits for a worker to run the validator and handler. */
const UPDATE_TIMEOUT_MS = 30_000;

export const submitResponse = z.object({
  ticketId: z.string().describe('The external id; use it in /v1/tickets/{id}'),
  workflowId: z.string(),
  created: z
    .boolean()
    .describe('false when this external id was already submitted (nothing new was started)'),
});

const replyOut = z.object({ source: z.string(), body: z.string(), deliveredAt: isoDateTime.nullable() });

const escalationOut = z.object({
  reason: z.string(),
  createdAt: isoDateTime,
  slaDueAt: isoDateTime,
  overdue: z.boolean(),
  resolvedAt: isoDateTime.nullable(),
  resolvedBy: z.string().nullable(),
  draft: z.string().nullable().describe('The AI draft a human may start from (hidden from intake keys)'),
  draftWithheld: z
    .string()
    .nullable()
    .describe(
      'Why the draft was not sent to the customer (it failed the grounding check); null if it passed or there is none',
    ),
});

const resolutionOut = z.object({
  agentId: z.string(),
  answer: z.string(),
  addToKnowledgeBase: z.boolean(),
  kbDocumentId: z.string().nullable(),
  kbOutcome: z.string().nullable(),
  createdAt: isoDateTime,
});

const stepOut = z.object({
  step: z.string(),
  status: z.string(),
  attempts: z.number().int(),
  model: z.string().nullable(),
  latencyMs: z.number().nullable(),
  startedAt: isoDateTime,
  finishedAt: isoDateTime.nullable(),
});

export const ticketDetailSchema = z.object({
  ticketId: z.string(),
  workflowId: z.string(),
  stage: z.enum(TICKET_STAGES),
  workflowStatus: z
    .string()
    .nullable()
    .describe('Temporal execution status (RUNNING, COMPLETED, ...); null if unknown'),
  awaitingHuman: z.boolean(),
  channel: z.string().nullable(),
  subject: z.string().nullable(),
  customer: z
    .object({ id: z.string().optional(), email: z.string().optional(), name: z.string().optional() })
    .nullable(),
  createdAt: isoDateTime.nullable(),
  classification: classificationOut.nullable(),
  reply: replyOut.nullable(),
  escalation: escalationOut.nullable(),
  resolution: resolutionOut.nullable(),
  timings: z.object({
    receivedAt: isoDateTime.nullable(),
    completedAt: isoDateTime.nullable(),
    latencyMs: z.number().nullable().describe('Received → reply delivered'),
    milestones: z.record(z.string(), isoDateTime),
    steps: z.array(stepOut),
  }),
  usage: z.object({
    inputTokens: z.number(),
    cachedInputTokens: z.number(),
    outputTokens: z.number(),
    costUsd: z.number(),
  }),
});
export type TicketDetail = z.infer<typeof ticketDetailSchema>;

const ticketSummarySchema = z.object({
  ticketId: z.string(),
  workflowId: z.string(),
  stage: z.string(),
  channel: z.string(),
  subject: z.string(),
  createdAt: isoDateTime,
  intent: z.string().nullable(),
  urgency: z.string().nullable(),
  confidence: z.number().nullable(),
  escalated: z.boolean().nullable().describe('null while the outcome is not decided yet'),
  escalationReason: z.string().nullable(),
  replySource: z.string().nullable(),
  latencyMs: z.number().nullable(),
  costUsd: z.number().nullable(),
});

const listQuery = z.object({
  status: z.enum(TICKET_STAGES).optional().describe('Pipeline stage'),
  intent: z.string().min(1).max(64).optional(),
  escalated: queryBoolean.optional(),
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z.string().min(1).max(500).optional().describe('`nextCursor` of the previous page'),
});

const resolutionBody = z.object({
  agentId: z.string().trim().min(1).max(200).optional().describe("Defaults to the API key's name"),
  answer: z.string().trim().min(1, 'must not be empty').max(20000),
  addToKnowledgeBase: z.boolean().default(true),
});

const resolutionResponse = z.object({
  ticketId: z.string(),
  workflowId: z.string(),
  accepted: z.literal(true),
  agentId: z.string(),
  addToKnowledgeBase: z.boolean(),
});

function iso(value: Date | string | null | undefined): string | null {
  return value === null || value === undefined ? null : new Date(value).toISOString();
}

function toClassification(detail: Record<string, unknown> | null | undefined) {
  const parsed = z
    .object({
      intent: z.string(),
      urgency: z.string(),
      confidence: z.coerce.number(),
      summary: z.string().nullish(),
      sentiment: z.string().nullish(),
      language: z.string().nullish(),
    })
    .safeParse(detail ?? {});
  if (!parsed.success) return null;
  const c = parsed.data;
  return {
    intent: c.intent,
    urgency: c.urgency,
    confidence: c.confidence,
    summary: c.summary ?? null,
    sentiment: c.sentiment ?? null,
    language: c.language ?? null,
  };
}

interface Cursor {
  createdAt: string;
  workflowId: string;
}

function encodeCursor(cursor: Cursor): string {
  return Buffer.from(JSON.stringify([cursor.createdAt, cursor.workflowId]), 'utf8').toString('base64url');
}

function decodeCursor(raw: string): Cursor {
  try {
    const parsed = z
      .tuple([z.string().min(1), z.string().min(1)])
      .parse(JSON.parse(Buffer.from(raw, 'base64url').toString('utf8')));
    if (Number.isNaN(Date.parse(parsed[0]))) throw new Error('bad date');
    return { createdAt: parsed[0], workflowId: parsed[1] };
  } catch {
    throw new ProblemError(400, 'validation-error', 'The cursor is not one this API issued.', {
      errors: [
        {
          field: 'cursor',
          in: 'querystring',
          rule: 'cursor',
          message: 'must be a nextCursor value returned by this endpoint',
        },
      ],
    });
  }
}

/** Describe the run, or undefined when Temporal has no such workflow (never started, or past retention). */
async function describeOrUndefined(
  deps: Pick<AppDeps, 'temporal'>,
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
  principal: ApiPrincipal,
  description: WorkflowExecutionDescription | undefined,
  ticketId: string,
) {
  if (roleAllows(principal.role, 'tickets:read')) return;
  if (description?.memo?.submittedBy === principal.keyId) return;
  throw new ProblemError(404, 'ticket-not-found', `No ticket with id "${ticketId}".`);
}

export async function loadTicketDetail(
  deps: Pick<AppDeps, 'db' | 'temporal'>,
  ticketId: string,
  principal: ApiPrincipal,
  log: { warn: (obj: object, msg: string) => void },
): Promise<TicketDetail> {
  const workflowId = workflowIdFor(ticketId);
  const { db, temporal } = deps;

  let description: WorkflowExecutionDescription | undefined;
  let temporalReachable = true;
  try {
    description = await describeOrUndefined(deps, workflowId);
  } catch (err) {
    // Temporal down: Postgres still tells most of the story; only ownership checks need Temporal.
    if (!roleAllows(principal.role, 'tickets:read')) throw err;
    temporalReachable = false;
    log.warn({ err, workflowId }, 'Temporal describe failed; answering from Postgres only');
  }
  assertCanRead(principal, description, ticketId);

  let live: TicketStatus | undefined;
  if (description?.status.name === 'RUNNING') {
    try {
      live = await temporal.withDeadline(Date.now() + QUERY_TIMEOUT_MS, () =>
        temporal.workflow.getHandle(workflowId).query(statusQuery),
      );
    } catch (err) {
      log.warn({ err, workflowId }, 'Status query failed (no worker?); answering from Postgres');
    }
  }

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
    if (!temporalReachable) throw new ProblemError(503, 'dependency-unavailable', 'Temporal is unavailable.');
    throw new ProblemError(404, 'ticket-not-found', `No ticket with id "${ticketId}".`);
  }

  const canSeeInternals = roleAllows(principal.role, 'tickets:read');
  const classifyStep = steps.find((s) => s.step === 'classify' && s.status === 'ok');
  const classification = live?.classification
    ? toClassification({ ...live.classification })
    : toClassification(classifyStep?.detail);
  const stageParse = z.enum(TICKET_STAGES).safeParse(live?.stage ?? ticket?.stage ?? 'received');
  const receivedAt = iso(ticket?.created_at) ?? live?.timestamps.received ?? iso(description?.startTime);

  const milestones: Record<string, string> = {};
  for (const [name, value] of Object.entries(live?.timestamps ?? {})) if (value) milestones[name] = value;
  if (!live) {
    if (receivedAt) milestones.received = receivedAt;
    if (escalation) milestones.escalated = iso(escalation.created_at)!;
    if (reply?.delivered_at) milestones.replied = iso(reply.delivered_at)!;
    if (escalation?.resolved_at) milestones.resolved = iso(escalation.resolved_at)!;
  }

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
    awaitingHuman: live?.awaitingHuman ?? (escalation !== undefined && escalation.resolved_at === null),
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
            live?.overdue ??
            (escalation.resolved_at === null
              ? new Date(escalation.sla_due_at).getTime() < Date.now()
              : new Date(escalation.resolved_at).getTime() > new Date(escalation.sla_due_at).getTime()),
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
  };
}

export type ResolutionOutcome =
  | { accepted: true; workflowId: string; agentId: string; addToKnowledgeBase: boolean }
  | {
      accepted: false;
      workflowId: string;
      reason: 'not_found' | 'finished' | 'not_awaiting_human' | 'already_resolved' | 'invalid';
    };

/**
 * Send a human's answer through the workflow's `resolveWithResult` update so the caller learns at once whether
 * it was taken. Shared by the API and the CLI.
 */
export async function resolveTicket(
  deps: Pick<AppDeps, 'temporal'>,
  ticketId: string,
  resolution: { agentId: string; answer: string; addToKnowledgeBase: boolean },
  timeoutMs = UPDATE_TIMEOUT_MS,
): Promise<ResolutionOutcome> {
  const workflowId = workflowIdFor(ticketId);
  const handle = deps.temporal.workflow.getHandle(workflowId);
  let description: WorkflowExecutionDescription;
  try {
    description = await handle.describe();
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return { accepted: false, workflowId, reason: 'not_found' };
    throw err;
  }
  if (description.status.name !== 'RUNNING') return { accepted: false, workflowId, reason: 'finished' };
  try {
    const result = await deps.temporal.withDeadline(Date.now() + timeoutMs, () =>
      handle.executeUpdate(resolveUpdate, { args: [resolution] }),
    );
    if (!result.accepted) return { accepted: false, workflowId, reason: result.reason };
    return { accepted: true, workflowId, ...resolution };
  } catch (err) {
    if (err instanceof WorkflowUpdateFailedError && err.cause instanceof ApplicationFailure) {
      const reason = z
        .enum(['not_awaiting_human', 'already_resolved', 'invalid'])
        .safeParse(err.cause.message);
      if (reason.success) return { accepted: false, workflowId, reason: reason.data };
    }
    // Finished between describe and update.
    if (err instanceof WorkflowNotFoundError) return { accepted: false, workflowId, reason: 'finished' };
    if (err instanceof WorkflowUpdateRPCTimeoutOrCancelledError) {
      throw new ProblemError(
        503,
        'worker-unavailable',
        'No worker took the resolution in time; retry shortly.',
        {
          headers: { 'retry-after': '5' },
        },
      );
    }
    throw err;
  }
}

const CONFLICT_DETAIL: Record<string, string> = {
  finished: 'The ticket workflow has already finished.',
  not_awaiting_human: 'The ticket is not waiting for a human answer (it was not escalated, or not yet).',
  already_resolved: 'The ticket has already been resolved.',
  invalid: 'The resolution was rejected by the workflow as invalid.',
};

export function registerTicketRoutes(app: ZodApp, deps: AppDeps): void {
  const { config, db, temporal } = deps;
  const submitBody = ticketInputSchema(config.TICKET_MAX_CHARS);

  app.post(
    '/v1/tickets',
    {
      config: { permission: 'tickets:submit' },
      schema: {
        tags: ['tickets'],
        summary: 'Submit a ticket (idempotent by externalId)',
        description:
          'Starts the ticket workflow. 202 the first time an externalId is seen; 200 with the same ids on any repeat.',
        security: API_KEY_SECURITY,
        body: submitBody,
        response: {
          200: submitResponse,
          202: submitResponse,
          ...problemResponses(...AUTHENTICATED_PROBLEMS, 413, 415),
        },
      },
    },
    async (request, reply) => {
      const input: TicketInput = request.body;
      const result = await startTicket(temporal, config, input, { submittedBy: request.principal?.keyId });
      request.log.info({ workflowId: result.workflowId, created: result.created }, 'ticket submitted');
      return reply.code(result.created ? 202 : 200).send({ ticketId: input.externalId, ...result });
    },
  );

  app.get(
    '/v1/tickets/:id',
    {
      config: { permission: 'tickets:read_own' },
      schema: {
        tags: ['tickets'],
        summary: 'A ticket: stage, classification, reply or escalation, timings',
        description:
          'Live workflow status while it runs (status query), plus what the activities recorded in Postgres.',
        security: API_KEY_SECURITY,
        params: ticketIdParams,
        response: { 200: ticketDetailSchema, ...problemResponses(...AUTHENTICATED_PROBLEMS, 404) },
      },
    },
    async (request) => loadTicketDetail(deps, request.params.id, request.principal!, request.log),
  );

  app.get(
    '/v1/tickets',
    {
      config: { permission: 'tickets:read' },
      schema: {
        tags: ['tickets'],
        summary: 'List tickets, newest first (cursor-paginated)',
        security: API_KEY_SECURITY,
        querystring: listQuery,
        response: {
          200: z.object({ items: z.array(ticketSummarySchema), nextCursor: z.string().nullable() }),
          ...problemResponses(...AUTHENTICATED_PROBLEMS),
        },
      },
    },
    async (request) => {
      const { status, intent, escalated, limit, cursor } = request.query;
      let query = db
        .selectFrom('tickets as t')
        .leftJoin('interactions as i', 'i.workflow_id', 't.workflow_id')
        .select([
          't.workflow_id',
          't.external_id',
          't.stage',
          't.channel',
          't.subject',
          't.created_at',
          'i.intent',
          'i.urgency',
          'i.confidence',
          'i.escalated',
          'i.reason',
          'i.response_source',
          'i.latency_ms',
          'i.cost_usd',
          sql<string>`to_json(t.created_at) #>> '{}'`.as('created_at_exact'),
        ]);
      if (status) query = query.where('t.stage', '=', status);
      if (intent) query = query.where('i.intent', '=', intent);
      if (escalated !== undefined) query = query.where('i.escalated', '=', escalated);
      if (cursor) {
        const after = decodeCursor(cursor);
        query = query.where((eb) =>
          eb(
            eb.refTuple('t.created_at', 't.workflow_id'),
            '<',
            eb.tuple(sql<Date>`${after.createdAt}::timestamptz`, after.workflowId),
          ),
        );
      }
      const rows = await query
        .orderBy('t.created_at', 'desc')
        .orderBy('t.workflow_id', 'desc')
        .limit(limit + 1)
        .execute();
      const page = rows.slice(0, limit);
      const last = page[page.length - 1];
      return {
        items: page.map((r) => ({
          ticketId: r.external_id,
          workflowId: r.workflow_id,
          stage: r.stage,
          channel: r.channel,
          subject: r.subject,
          createdAt: iso(r.created_at)!,
          intent: r.intent,
          urgency: r.urgency,
          confidence: r.confidence === null ? null : Number(r.confidence),
          escalated: r.escalated,
          escalationReason: r.reason,
          replySource: r.response_source,
          latencyMs: r.latency_ms,
          costUsd: r.cost_usd === null ? null : Number(r.cost_usd),
        })),
        nextCursor:
          rows.length > limit && last
            ? encodeCursor({ createdAt: last.created_at_exact, workflowId: last.workflow_id })
            : null,
      };
    },
  );

  app.post(
    '/v1/tickets/:id/resolution',
    {
      config: { permission: 'tickets:resolve' },
      schema: {
        tags: ['escalations'],
        summary: "Resolve an escalated ticket with a human's answer",
        description:
          'Runs the workflow update `resolveWithResult`. 409 with `reason` when the ticket is not awaiting a human, ' +
          'already resolved, or finished. With addToKnowledgeBase (default) the answer is indexed into the KB.',
        security: API_KEY_SECURITY,
        params: ticketIdParams,
        body: resolutionBody,
        response: {
          200: resolutionResponse,
          ...problemResponses(...AUTHENTICATED_PROBLEMS, 404, 409, 413, 415),
        },
      },
    },
    async (request) => {
      const ticketId = request.params.id;
      const agentId = request.body.agentId ?? request.principal!.name;
      const outcome = await resolveTicket(deps, ticketId, {
        agentId,
        answer: request.body.answer,
        addToKnowledgeBase: request.body.addToKnowledgeBase,
      });
      if (!outcome.accepted) {
        if (outcome.reason === 'not_found')
          throw new ProblemError(404, 'ticket-not-found', `No ticket with id "${ticketId}".`);
        throw new ProblemError(
          409,
          'resolution-rejected',
          CONFLICT_DETAIL[outcome.reason] ?? outcome.reason,
          {
            reason: outcome.reason,
          },
        );
      }
      request.log.info({ workflowId: outcome.workflowId, agentId }, 'ticket resolved');
      return {
        ticketId,
        workflowId: outcome.workflowId,
        accepted: true as const,
        agentId: outcome.agentId,
        addToKnowledgeBase: outcome.addToKnowledgeBase,
      };
    },
  );
}
