import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { Config } from '../config';

/**
 * Events ticketflow pushes to the ticketing system (OUTBOUND_WEBHOOK_URL): a reply to post to the customer,
 * an escalation to route to a human queue, an SLA breach. Sent by the worker's activities, which retry on
 * anything but a 2xx, so receivers must dedupe by `X-Ticketflow-Event-Id` (stable across retries).
 */
export type OutboundWebhookEvent =
  | {
      type: 'reply';
      workflowId: string;
      externalId: string;
      source: 'ai' | 'human';
      body: string;
      /** The reply's turn in the conversation: 1 for the first reply (whose event id has no turn in it), then 2, 3… */
      turn?: number;
    }
  | {
      type: 'escalation';
      workflowId: string;
      externalId: string;
      reason: string;
      slaDueAt: string;
      /** Set when a conversation is handed (back) to a human after turn 1. */
      turn?: number;
    }
  | { type: 'overdue'; workflowId: string; externalId: string; slaDueAt: string };

/** Sends one event; resolves with the receiver's HTTP status. */
export type SendOutboundWebhook = (event: OutboundWebhookEvent) => Promise<{ status: number }>;

export const SIGNATURE_HEADER = 'x-ticketflow-signature';
export const TIMESTAMP_HEADER = 'x-ticketflow-timestamp';
export const EVENT_ID_HEADER = 'x-ticketflow-event-id';

const TIMEOUT_MS = 10_000;

/** `sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">`; the timestamp is signed so a captured request can't be replayed later. */
export function signOutboundPayload(secret: string, timestamp: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`, 'utf8').digest('hex')}`;
}

/** For receivers (and tests): constant-time check of a signature produced by `signOutboundPayload`. */
export function verifyOutboundSignature(
  secret: string,
  timestamp: string,
  body: string,
  signature: string,
): boolean {
  const expected = Buffer.from(signOutboundPayload(secret, timestamp, body), 'utf8');
  const given = Buffer.from(signature, 'utf8');
  return expected.length === given.length && timingSafeEqual(expected, given);
}

/** The same event always gets the same id, so a retried delivery is recognisable as a duplicate. */
export function outboundEventId(event: OutboundWebhookEvent): string {
  // Later turns of a conversation are new events; the first keeps the id it always had.
  const turn = 'turn' in event && event.turn !== undefined && event.turn > 1 ? `:${event.turn}` : '';
  return createHash('sha256').update(`${event.type}:${event.workflowId}${turn}`).digest('hex').slice(0, 32);
}

/**
 * POST one event. Returns the receiver's HTTP status (the caller decides whether to retry); network errors
 * and timeouts throw, which Temporal retries too.
 */
export async function sendOutboundWebhook(
  config: Config,
  event: OutboundWebhookEvent,
): Promise<{ status: number }> {
  if (!config.OUTBOUND_WEBHOOK_URL) throw new Error('OUTBOUND_WEBHOOK_URL is not configured');
  const eventId = outboundEventId(event);
  const body = JSON.stringify({ id: eventId, sentAt: new Date().toISOString(), ...event });
  const timestamp = String(Math.floor(Date.now() / 1000));
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'user-agent': 'ticketflow-webhook/1',
    [EVENT_ID_HEADER]: eventId,
    [TIMESTAMP_HEADER]: timestamp,
  };
  if (config.OUTBOUND_WEBHOOK_SECRET) {
    headers[SIGNATURE_HEADER] = signOutboundPayload(config.OUTBOUND_WEBHOOK_SECRET, timestamp, body);
  }
  const response = await fetch(config.OUTBOUND_WEBHOOK_URL, {
    method: 'POST',
    headers,
    body,
    signal: AbortSignal.timeout(TIMEOUT_MS),
  });
  // Drain the body so the connection is released back to the pool.
  await response.arrayBuffer().catch(() => undefined);
  return { status: response.status };
}
