import { z } from 'zod';
import type { ApiPrincipal } from '../../auth/api-keys';
import { TICKET_STAGES, ticketInputSchema, type TicketInput } from '../../domain/ticket';
import {
  getTicketDetail,
  OutcomeWatcher,
  listTickets,
  resolveTicket,
  sendCustomerFeedback,
  sendCustomerMessage,
  submitTicket,
  submitsInOwnScope,
  ticketIdsForReader,
  TicketNotFoundError,
  type ConversationUpdateOutcome,
} from '../../tickets';
import { temporalAvailability } from '../../temporal/availability';
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

export const submitResponse = z.object({
  ticketId: z
    .string()
    .describe(
      'Use it in /v1/tickets/{id}: the external id, or for an intake key `<keyId>:<externalId>` (ids are per key)',
    ),
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

const citationOut = z.object({
  passageId: z.string(),
  documentId: z.string(),
  title: z.string(),
  score: z.number(),
});

const threadMessageOut = z.object({
  messageId: z
    .string()
    .describe(
      '`initial` (the ticket), `reply` (the first reply), `ai-<turn>`/`human-<turn>`, or the customer’s id',
    ),
  author: z.enum(['customer', 'ai', 'human']),
  turn: z
    .number()
    .int()
    .describe('Reply turn: 0 the ticket, 1 the first reply; a customer message carries the turn it followed'),
  body: z.string(),
  at: isoDateTime,
  deliveredAt: isoDateTime.nullable(),
  citations: z.array(citationOut).describe('AI replies: the knowledge-base passages cited'),
});

const feedbackOut = z.object({
  rating: z.enum(['good', 'bad']),
  comment: z.string().nullable(),
  turn: z.number().int(),
  at: isoDateTime,
});

const conversationOut = z.object({
  outcome: z.string().nullable().describe('resolved_by_ai | confirmed | resolved_by_human; null while open'),
  aiTurns: z.number().int(),
  humanTurns: z.number().int(),
  reopened: z.number().int(),
  escalatedAfterAi: z.boolean(),
  closedAt: isoDateTime.nullable(),
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
  thread: z.array(threadMessageOut),
  feedback: z.array(feedbackOut),
  conversation: conversationOut.nullable().describe('null for tickets that closed at their first reply'),
});

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

const CONFLICT_DETAIL: Record<string, string> = {
  finished: 'The ticket workflow has already finished.',
  not_awaiting_human: 'The ticket is not waiting for a human answer (it was not escalated, or not yet).',
  already_resolved: 'The ticket has already been resolved.',
  invalid: 'The resolution was rejected by the workflow as invalid.',
};

const conversationIdSchema = z.string().trim().min(1).max(200);

/** Longest follow-up message or rating comment the workflow takes (workflows/conversation.ts). */
export const CONVERSATION_TEXT_MAX_CHARS = 20_000;

const messageBody = z.object({
  messageId: conversationIdSchema.describe('Your id for this message: sending it again changes nothing'),
  text: z.string().trim().min(1, 'must not be empty').max(CONVERSATION_TEXT_MAX_CHARS),
});

const feedbackBody = z.object({
  feedbackId: conversationIdSchema.describe('Your id for this rating: sending it again changes nothing'),
  rating: z.enum(['good', 'bad']),
  comment: z.string().trim().max(CONVERSATION_TEXT_MAX_CHARS).optional(),
});

export const conversationResponse = z.object({
  ticketId: z.string(),
  workflowId: z.string(),
  accepted: z.literal(true),
  duplicate: z.boolean().describe('true when this id was taken before (nothing new happened)'),
  turn: z.number().int().describe('Replies sent so far'),
  phase: z.enum(['ai', 'human', 'human_answered', 'closed']),
});

const CONVERSATION_CONFLICT_DETAIL: Record<string, string> = {
  closed:
    'The conversation has ended (the follow-up window is over, or it was confirmed); open a new ticket.',
  not_conversational: 'This ticket was started before conversations and takes no follow-ups.',
  nothing_to_rate: 'There is no reply to rate yet.',
  invalid: 'The workflow rejected it as invalid.',
};

/**
 * A message's or rating's outcome as the API answers it: the accepted result, or TicketNotFoundError (404) /
 * a 409 problem naming the refusal's reason. Shared by the ticket routes and the Zendesk webhook.
 */
export function conversationReply(ticketId: string, outcome: ConversationUpdateOutcome) {
  if (outcome.accepted) {
    const { duplicate, turn, phase, workflowId } = outcome;
    return { ticketId, workflowId, accepted: true as const, duplicate, turn, phase };
  }
  if (outcome.reason === 'not_found') throw new TicketNotFoundError(ticketId);
  throw new ProblemError(
    409,
    'conversation-rejected',
    CONVERSATION_CONFLICT_DETAIL[outcome.reason] ?? outcome.reason,
    {
      reason: outcome.reason,
    },
  );
}

/** Longest a client may hold `GET /v1/tickets/:id?waitFor=outcome` open (under common proxies' 30 s idle limit). */
export const MAX_WAIT_MS = 25_000;

const detailQuery = z.object({
  waitFor: z
    .enum(['outcome'])
    .optional()
    .describe(
      '`outcome`: answer once the ticket is answered or escalated (or at timeoutMs), instead of at once',
    ),
  timeoutMs: z.coerce
    .number()
    .int()
    .min(0)
    .max(MAX_WAIT_MS)
    .default(MAX_WAIT_MS)
    .describe('How long to wait with waitFor; the ticket as it stands is returned then'),
});

export function registerTicketRoutes(app: ZodApp, deps: AppDeps): void {
  const outcomes = new OutcomeWatcher(deps.db);
  // Temporal down: writes answer 503 within API_TEMPORAL_TIMEOUT_MS (at once while it is known down).
  const temporal = temporalAvailability(deps.temporal, deps.config.API_TEMPORAL_TIMEOUT_MS);
  app.addHook('onClose', async () => outcomes.close());

  const submitBody = ticketInputSchema(deps.config.TICKET_MAX_CHARS);

  app.post(
    '/v1/tickets',
    {
      config: { permission: 'tickets:submit' },
      schema: {
        tags: ['tickets'],
        summary: 'Submit a ticket (idempotent by externalId)',
        description:
          'Starts the ticket workflow. 202 the first time an externalId is seen; 200 with the same ids on any repeat. ' +
          "An intake key's external ids are its own: another client's use of the same id is invisible to it " +
          '(its ticket id is `<keyId>:<externalId>`); ids starting `key_…:` are reserved.',
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
      const principal = request.principal!;
      const result = await temporal.call(() =>
        submitTicket(deps, input, { submittedBy: principal.keyId, ownScope: submitsInOwnScope(principal) }),
      );
      request.log.info({ workflowId: result.workflowId, created: result.created }, 'ticket submitted');
      return reply.code(result.created ? 202 : 200).send(result);
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
          'What the workflow and its activities recorded, from Postgres, with the run status from Temporal. ' +
          'With `waitFor=outcome` the request is held until the ticket is answered or escalated (at most ' +
          '`timeoutMs`), so clients need not poll.',
        security: API_KEY_SECURITY,
        params: ticketIdParams,
        querystring: detailQuery,
        response: { 200: ticketDetailSchema, ...problemResponses(...AUTHENTICATED_PROBLEMS, 404) },
      },
    },
    async (request) => {
      const reader = request.principal!;
      // A deadline, but no fail-fast: with Temporal down, agents still get the ticket from Postgres.
      const read = () =>
        forReader(reader, request.params.id, (ticketId) =>
          deps.temporal.withDeadline(Date.now() + temporal.timeoutMs, () =>
            getTicketDetail(deps, ticketId, reader, request.log),
          ),
        );
      const first = await read(); // also checks that the reader may see it
      const decided = first.reply !== null || first.escalation !== null;
      if (request.query.waitFor !== 'outcome' || decided || first.workflowStatus !== 'RUNNING') return first;
      const arrived = await outcomes.wait(first.workflowId, request.query.timeoutMs);
      return arrived ? read() : first;
    },
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
      return listTickets(deps, { stage: status, intent, escalated, limit, cursor });
    },
  );

  /** Runs `action` on the first ticket the reader's id may name (an intake key's own ids are scoped: see ids.ts). */
  async function forReader<T>(reader: ApiPrincipal, id: string, action: (ticketId: string) => Promise<T>) {
    const candidates = ticketIdsForReader(reader, id);
    for (const [index, ticketId] of candidates.entries()) {
      try {
        return await action(ticketId);
      } catch (err) {
        if (!(err instanceof TicketNotFoundError) || index === candidates.length - 1) throw err;
      }
    }
    throw new TicketNotFoundError(id);
  }

  app.post(
    '/v1/tickets/:id/messages',
    {
      config: { permission: 'tickets:submit' },
      schema: {
        tags: ['tickets'],
        summary: "A customer's follow-up message (idempotent by messageId)",
        description:
          'Runs the workflow update `customerMessage`. While the AI has the ticket a question gets a new AI turn; ' +
          '"that didn\'t help" hands it to a human (`customer_unsatisfied`), thanks closes it as confirmed; after a ' +
          "human's answer a reply reopens it to the human queue. Intake keys may write only to tickets they " +
          'submitted. 409 with `reason` on a closed ticket.',
        security: API_KEY_SECURITY,
        params: ticketIdParams,
        body: messageBody,
        response: {
          200: conversationResponse,
          ...problemResponses(...AUTHENTICATED_PROBLEMS, 404, 409, 413, 415),
        },
      },
    },
    async (request) => {
      const ticketId = request.params.id;
      const outcome = await forReader(request.principal!, ticketId, (id) =>
        sendCustomerMessage(deps, id, request.principal!, request.body),
      );
      request.log.info({ workflowId: outcome.workflowId, accepted: outcome.accepted }, 'customer message');
      return conversationReply(ticketId, outcome);
    },
  );

  app.post(
    '/v1/tickets/:id/feedback',
    {
      config: { permission: 'tickets:submit' },
      schema: {
        tags: ['tickets'],
        summary: 'Rate the latest reply (idempotent by feedbackId)',
        description:
          'Runs the workflow update `customerFeedback`. `good` closes the conversation as confirmed; `bad` hands an ' +
          'AI-answered ticket to a human (`customer_unsatisfied`, with the cited articles) or reopens a human-answered ' +
          'one. 409 with `reason` on a closed ticket or before any reply.',
        security: API_KEY_SECURITY,
        params: ticketIdParams,
        body: feedbackBody,
        response: {
          200: conversationResponse,
          ...problemResponses(...AUTHENTICATED_PROBLEMS, 404, 409, 413, 415),
        },
      },
    },
    async (request) => {
      const ticketId = request.params.id;
      const outcome = await forReader(request.principal!, ticketId, (id) =>
        sendCustomerFeedback(deps, id, request.principal!, request.body),
      );
      request.log.info({ workflowId: outcome.workflowId, accepted: outcome.accepted }, 'customer feedback');
      return conversationReply(ticketId, outcome);
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
      const outcome = await temporal.call(() =>
        resolveTicket(deps, ticketId, {
          agentId,
          answer: request.body.answer,
          addToKnowledgeBase: request.body.addToKnowledgeBase,
        }),
      );
      if (!outcome.accepted) {
        if (outcome.reason === 'not_found') throw new TicketNotFoundError(ticketId);
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
