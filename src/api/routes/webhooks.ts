import { createHmac, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { z } from 'zod';
import { customerSchema, type TicketInput } from '../../domain/ticket';
import { temporalAvailability } from '../../temporal/availability';
import { submitTicket } from '../../tickets';
import type { AppDeps, ZodApp } from '../context';
import { ProblemError } from '../problem';
import { problemResponses } from '../schemas';
import { submitResponse } from './tickets';

/**
 * Zendesk "ticket created" webhook (a trigger whose JSON body carries the ticket). Zendesk signs each request:
 * X-Zendesk-Webhook-Signature = base64(HMAC-SHA256(secret, timestamp + rawBody)), with the timestamp in
 * X-Zendesk-Webhook-Signature-Timestamp. We check it against the exact bytes received, before parsing the body.
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

export const zendeskTicketCreatedSchema = z.object({
  ticket: z.object({
    id: z.union([
      z.number().int().nonnegative(),
      z.string().regex(/^\d{1,20}$/, 'a numeric Zendesk ticket id'),
    ]),
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

export function registerWebhookRoutes(app: ZodApp, deps: AppDeps): void {
  const { config } = deps;

  app.post(
    '/v1/webhooks/zendesk',
    {
      schema: {
        tags: ['webhooks'],
        summary: 'Zendesk ticket-created webhook (signed with ZENDESK_WEBHOOK_SECRET)',
        description:
          'Authenticated by the Zendesk signature headers, not an API key. The ticket id becomes external id `zendesk-<id>`, ' +
          'so redeliveries are idempotent (202 first time, 200 after).',
        // Loose: validation replaces request.headers with the parsed object, so unknown headers must survive.
        headers: z.looseObject({
          [ZENDESK_SIGNATURE_HEADER]: z
            .string()
            .optional()
            .describe('base64 HMAC-SHA256 of timestamp + raw body'),
          [ZENDESK_TIMESTAMP_HEADER]: z.string().optional(),
        }),
        body: zendeskTicketCreatedSchema,
        response: {
          200: submitResponse,
          202: submitResponse,
          ...problemResponses(400, 401, 404, 413, 415, 429, 503),
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
      const { ticket } = request.body;
      const email =
        ticket.requester?.email && customerSchema.shape.email.safeParse(ticket.requester.email).success
          ? ticket.requester.email
          : undefined;
      let body = ticket.description;
      if (body.length > config.TICKET_MAX_CHARS) {
        // Zendesk does not retry a 4xx; keeping the start of a very long ticket beats dropping it.
        request.log.warn(
          { zendeskId: ticket.id, length: body.length },
          'Zendesk ticket truncated to TICKET_MAX_CHARS',
        );
        body = body.slice(0, config.TICKET_MAX_CHARS);
      }
      const input: TicketInput = {
        externalId: `zendesk-${ticket.id}`,
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
        submitTicket(deps, input, { submittedBy: 'zendesk-webhook' }),
      );
      request.log.info({ workflowId: result.workflowId, created: result.created }, 'zendesk ticket received');
      return reply.code(result.created ? 202 : 200).send(result);
    },
  );
}
