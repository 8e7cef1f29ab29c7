import { createHmac, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { ApiPrincipal } from '../../auth/api-keys';
import { customerSchema, type TicketInput } from '../../domain/ticket';
import { temporalAvailability } from '../../temporal/availability';
import { sendCustomerFeedback, sendCustomerMessage, submitTicket } from '../../tickets';
import type { AppDeps, ZodApp } from '../context';
import { ProblemError } from '../problem';
import { problemResponses } from '../schemas';
import {
  CONVERSATION_TEXT_MAX_CHARS,
  conversationReply,
  conversationResponse,
  submitResponse,
} from './tickets';

/**
 * The Zendesk webhook: one endpoint (one Zendesk webhook, i.e. one URL and one signing secret) that several
 * Zendesk triggers notify, each with its own JSON body template. The body's `type` says which event it is:
 *
 * - `ticket.created` (or no `type`: the original template) — starts the ticket as external id `zendesk-<id>`:
 *   `{"ticket": {"id": {{ticket.id}}, "subject": "...", "description": "...",
 *   "requester": {"id": ..., "email": "...", "name": "..."}}}`. 202 the first time, 200 on a redelivery.
 * - `ticket.comment_added` — a comment on a ticket this webhook started:
 *   `{"type": "ticket.comment_added", "ticket": {"id": 35436, "requester": {"id": 20978392}},
 *   "comment": {"id": 9001, "body": "...", "public": true, "author_id": 20978392}}`.
 *   A public comment whose author is the requester is the customer's follow-up message (POST
 *   /v1/tickets/:id/messages, idempotent by the comment id: a redelivery answers as the first delivery did and
 *   starts no second turn). A private note, or a comment by anyone else (an agent, a CC), is answered 200
 *   `{"accepted": false, "ignored": ...}` and changes nothing: agents answer through resolutions.
 * - `ticket.satisfaction_rated` — the requester rated the ticket:
 *   `{"type": "ticket.satisfaction_rated", "ticket": {"id": 35436},
 *   "satisfaction_rating": {"id": 7001, "score": "bad", "comment": "..."}}` (score `good`/`bad`, Zendesk's older
 *   `good_with_comment`/`bad_with_comment` too). Feedback, as POST /v1/tickets/:id/feedback: `bad` hands an
 *   AI-answered ticket to a human as `customer_unsatisfied`, `good` closes it as confirmed. Idempotent by the
 *   rating id and score (Zendesk keeps one rating per ticket and updates it when the customer changes their mind,
 *   so a changed score is new feedback, a redelivery is not).
 *
 * Field names follow Zendesk's REST objects (ticket, comment, satisfaction_rating); ids may be numbers or numeric
 * strings (quoted placeholders). Comments and ratings answer 404 for a ticket this webhook did not start, 409 with
 * `reason` once the conversation has closed, as the ticket routes do. An unknown `type` is 400 (field `type`).
 *
 * Zendesk signs each request: X-Zendesk-Webhook-Signature = base64(HMAC-SHA256(secret, timestamp + rawBody)),
 * with the timestamp in X-Zendesk-Webhook-Signature-Timestamp. We check it against the exact bytes received,
 * before parsing the body.
 */

export const ZENDESK_SIGNATURE_HEADER = 'x-zendesk-webhook-signature';
export const ZENDESK_TIMESTAMP_HEADER = 'x-zendesk-webhook-signature-timestamp';
/** Reject signatures older (or further in the future) than this: limits replay of a captured request. */
const MAX_CLOCK_SKEW_MS = 5 * 60_000;

export function zendeskSignature(secret: string, timestamp: string, rawBody: string): string {
  return createHmac('sha256', secret)
    .update(timestamp + rawBody, 'utf8')
    .digest('base64');
}

function headerValue(request: FastifyRequest, name: string): string | undefined {
  const value = request.headers[name];
  return typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined;
}

/** Zendesk sends ISO 8601 timestamps; accept Unix seconds too. Undefined when unparseable. */
function timestampMs(value: string): number | undefined {
  if (/^\d{9,11}$/.test(value)) return Number(value) * 1000;
  const parsed = Date.parse(value);
  return Number.isNaN(parsed) ? undefined : parsed;
}

function unauthorized(detail: string, field: string, rule: string): ProblemError {
  return new ProblemError(401, 'invalid-webhook-signature', detail, {
    errors: [{ field, in: 'headers', rule, message: detail }],
  });
}

export function verifyZendeskRequest(secret: string, request: FastifyRequest, now = Date.now()): void {
  const signature = headerValue(request, ZENDESK_SIGNATURE_HEADER);
  const timestamp = headerValue(request, ZENDESK_TIMESTAMP_HEADER);
  if (!signature)
    throw unauthorized(
      'The X-Zendesk-Webhook-Signature header is missing.',
      ZENDESK_SIGNATURE_HEADER,
      'required',
    );
  if (!timestamp) {
    throw unauthorized(
      'The X-Zendesk-Webhook-Signature-Timestamp header is missing.',
      ZENDESK_TIMESTAMP_HEADER,
      'required',
    );
  }
  const expected = Buffer.from(zendeskSignature(secret, timestamp, request.rawBody ?? ''), 'utf8');
  const given = Buffer.from(signature, 'utf8');
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) {
    throw unauthorized(
      'The webhook signature does not match the body.',
      ZENDESK_SIGNATURE_HEADER,
      'signature',
    );
  }
  // Checked after the signature so an attacker learns nothing about the clock from unsigned requests.
  const signedAt = timestampMs(timestamp);
  if (signedAt === undefined || Math.abs(now - signedAt) > MAX_CLOCK_SKEW_MS) {
    throw unauthorized(
      'The webhook timestamp is too old or not a date; replayed requests are refused.',
      ZENDESK_TIMESTAMP_HEADER,
      'freshness',
    );
  }
}

const looseEmail = z.string().trim().max(320).optional();

/** Who submits the tickets the webhook starts (their workflow memo): comments and ratings may reach only those. */
export const ZENDESK_SUBMITTER = 'zendesk-webhook';
/** The webhook writes as an intake client would: to its own tickets only (src/tickets/conversation.ts). */
const ZENDESK_PRINCIPAL: ApiPrincipal = { keyId: ZENDESK_SUBMITTER, name: 'Zendesk webhook', role: 'intake' };

const zendeskId = (what: string) =>
  z.union([z.number().int().nonnegative(), z.string().regex(/^\d{1,20}$/, `a numeric Zendesk ${what} id`)]);

/** Quoted placeholders render booleans as strings. */
const zendeskBoolean = z.union([z.boolean(), z.enum(['true', 'false']).transform((v) => v === 'true')]);

/** Our external id for a Zendesk ticket: the one its creation started, and its comments and ratings address. */
const zendeskExternalId = (zendeskTicketId: string | number) => `zendesk-${zendeskTicketId}`;

export const ZENDESK_EVENT_TYPES = [
  'ticket.created',
  'ticket.comment_added',
  'ticket.satisfaction_rated',
] as const;

export const zendeskTicketCreatedSchema = z.object({
  type: z
    .literal('ticket.created')
    .optional()
    .describe('Optional: a body without `type` is a created ticket'),
  ticket: z.object({
    id: zendeskId('ticket'),
    subject: z.string().max(2000).nullish(),
    description: z.string().trim().min(1, 'must not be empty'),
    requester: z
      .object({
        email: looseEmail.nullable(),
        name: z.string().trim().max(200).nullish(),
        id: z.union([z.number(), z.string()]).nullish(),
      })
      .nullish(),
  }),
});

export const zendeskCommentAddedSchema = z.object({
  type: z.literal('ticket.comment_added'),
  ticket: z.object({
    id: zendeskId('ticket'),
    requester: z.object({ id: zendeskId('user').describe('Compared with the comment author') }),
  }),
  comment: z.object({
    id: zendeskId('comment').describe('Idempotency: a redelivered comment id changes nothing'),
    body: z.string().trim().min(1, 'must not be empty'),
    public: zendeskBoolean.describe('Private notes are ignored'),
    author_id: zendeskId('user').describe("Only the requester's comments are the customer's messages"),
  }),
});

export const zendeskSatisfactionRatedSchema = z.object({
  type: z.literal('ticket.satisfaction_rated'),
  ticket: z.object({ id: zendeskId('ticket') }),
  satisfaction_rating: z.object({
    id: zendeskId('satisfaction rating').describe('Idempotency, with the score'),
    score: z.enum(['good', 'bad', 'good_with_comment', 'bad_with_comment']),
    comment: z.string().trim().nullish(),
  }),
});

export const zendeskWebhookSchema = z.discriminatedUnion(
  'type',
  [zendeskTicketCreatedSchema, zendeskCommentAddedSchema, zendeskSatisfactionRatedSchema],
  {
    error: () =>
      `unknown event type: expected ${ZENDESK_EVENT_TYPES.join(', ')} (or none, for a created ticket)`,
  },
);

const ignoredResponse = z.object({
  ticketId: z.string(),
  accepted: z.literal(false),
  ignored: z
    .enum(['private_comment', 'not_requester'])
    .describe('Why nothing happened: a private note, or a comment by someone other than the requester'),
  detail: z.string(),
});

const IGNORED_DETAIL: Record<z.infer<typeof ignoredResponse>['ignored'], string> = {
  private_comment: 'A private (internal) comment is not a customer message; nothing was done.',
  not_requester:
    "The comment's author is not the ticket's requester (an agent or a CC); nothing was done. Agents answer " +
    'escalated tickets through POST /v1/tickets/{id}/resolution.',
};

/** Zendesk does not retry a 4xx: keeping the start of a very long text beats dropping it. */
function truncated(request: FastifyRequest, what: string, text: string, max: number): string {
  if (text.length <= max) return text;
  request.log.warn({ length: text.length, max }, `Zendesk ${what} truncated`);
  return text.slice(0, max);
}

export function registerWebhookRoutes(app: ZodApp, deps: AppDeps): void {
  const { config } = deps;

  app.post(
    '/v1/webhooks/zendesk',
    {
      schema: {
        tags: ['webhooks'],
        summary: 'Zendesk webhook: ticket created, requester comment, satisfaction rating (signed)',
        description:
          "Authenticated by the Zendesk signature headers (ZENDESK_WEBHOOK_SECRET), not an API key. The body's " +
          '`type` picks the event. `ticket.created` (or no `type`) starts external id `zendesk-<id>` (202 first time, ' +
          '200 after). `ticket.comment_added`: a public comment by the requester is a follow-up message on ' +
          '`zendesk-<ticket.id>` (idempotent by comment id); other comments are ignored (200, `ignored`). ' +
          '`ticket.satisfaction_rated`: `good`/`bad` feedback (idempotent by rating id and score). 404 for a ticket ' +
          'the webhook did not start, 409 with `reason` once its conversation is closed.',
        // Loose: validation replaces request.headers with the parsed object, so unknown headers must survive.
        headers: z.looseObject({
          [ZENDESK_SIGNATURE_HEADER]: z
            .string()
            .optional()
            .describe('base64 HMAC-SHA256 of timestamp + raw body'),
          [ZENDESK_TIMESTAMP_HEADER]: z.string().optional(),
        }),
        body: zendeskWebhookSchema,
        response: {
          200: z.union([submitResponse, conversationResponse, ignoredResponse]),
          202: submitResponse,
          ...problemResponses(400, 401, 404, 409, 413, 415, 429, 503),
        },
      },
      // Signature first: an unsigned request must not learn anything about the expected body shape.
      preValidation: async (request) => {
        if (!config.ZENDESK_WEBHOOK_SECRET) {
          throw new ProblemError(
            404,
            'webhook-not-configured',
            'The Zendesk webhook is not enabled (ZENDESK_WEBHOOK_SECRET is unset).',
          );
        }
        verifyZendeskRequest(config.ZENDESK_WEBHOOK_SECRET, request);
      },
    },
    async (request, reply) => {
      const event = request.body;
      if (event.type === 'ticket.comment_added') {
        const ticketId = zendeskExternalId(event.ticket.id);
        const { comment } = event;
        const ignored = !comment.public
          ? ('private_comment' as const)
          : BigInt(comment.author_id) !== BigInt(event.ticket.requester.id) // 42, "42" and "042" alike
            ? ('not_requester' as const)
            : undefined;
        if (ignored) {
          request.log.info({ ticketId, commentId: comment.id, ignored }, 'zendesk comment ignored');
          return reply
            .code(200)
            .send({ ticketId, accepted: false as const, ignored, detail: IGNORED_DETAIL[ignored] });
        }
        const outcome = await sendCustomerMessage(deps, ticketId, ZENDESK_PRINCIPAL, {
          messageId: `zendesk-comment-${comment.id}`,
          text: truncated(request, 'comment', comment.body, CONVERSATION_TEXT_MAX_CHARS),
        });
        request.log.info(
          { workflowId: outcome.workflowId, accepted: outcome.accepted },
          'zendesk requester comment',
        );
        return reply.code(200).send(conversationReply(ticketId, outcome));
      }
      if (event.type === 'ticket.satisfaction_rated') {
        const ticketId = zendeskExternalId(event.ticket.id);
        const rating = event.satisfaction_rating;
        const score = rating.score.startsWith('good') ? ('good' as const) : ('bad' as const);
        const comment = rating.comment
          ? truncated(request, 'rating comment', rating.comment, CONVERSATION_TEXT_MAX_CHARS)
          : undefined;
        const outcome = await sendCustomerFeedback(deps, ticketId, ZENDESK_PRINCIPAL, {
          feedbackId: `zendesk-rating-${rating.id}-${score}`,
          rating: score,
          ...(comment ? { comment } : {}),
        });
        request.log.info(
          { workflowId: outcome.workflowId, accepted: outcome.accepted, rating: score },
          'zendesk satisfaction rating',
        );
        return reply.code(200).send(conversationReply(ticketId, outcome));
      }
      const { ticket } = event;
      const email =
        ticket.requester?.email && customerSchema.shape.email.safeParse(ticket.requester.email).success
          ? ticket.requester.email
          : undefined;
      const body = truncated(request, 'ticket', ticket.description, config.TICKET_MAX_CHARS);
      const input: TicketInput = {
        externalId: zendeskExternalId(ticket.id),
        subject: (ticket.subject ?? '').trim().slice(0, 300),
        body,
        customer: {
          ...(email ? { email } : {}),
          ...(ticket.requester?.name ? { name: ticket.requester.name } : {}),
          ...(ticket.requester?.id !== undefined && ticket.requester?.id !== null
            ? { id: String(ticket.requester.id) }
            : {}),
        },
        channel: 'zendesk',
      };
      const result = await temporalAvailability(deps.temporal, deps.config.API_TEMPORAL_TIMEOUT_MS).call(() =>
        submitTicket(deps, input, { submittedBy: ZENDESK_SUBMITTER }),
      );
      request.log.info({ workflowId: result.workflowId, created: result.created }, 'zendesk ticket received');
      return reply.code(result.created ? 202 : 200).send(result);
    },
  );
}
