import { z } from 'zod';
import { ticketIdSchema } from '../domain/ticket';
import { PROBLEM_CONTENT_TYPE, problemSchema } from './problem';

/** Zod schemas shared by routes; they drive validation, serialization and the OpenAPI document. */

const PROBLEM_DESCRIPTIONS: Record<number, string> = {
  400: 'The request is invalid; `errors[]` names each field and the rule it broke',
  401: 'No API key, or the key is unknown or revoked',
  403: "The API key's role does not allow this",
  404: 'No such resource',
  409: 'The request conflicts with the current state; `reason` says why',
  413: 'The body is larger than API_BODY_LIMIT_BYTES',
  415: 'The body is not application/json',
  429: 'Too many requests for this API key; retry after the `retry-after` seconds',
  503: 'A dependency (Temporal, Postgres, the vector store, the worker) is unavailable',
};

/** Problem+json responses for OpenAPI and serialization, one entry per status code. */
export function problemResponses(...statuses: number[]) {
  return Object.fromEntries(
    statuses.map((status) => [
      status,
      {
        description: PROBLEM_DESCRIPTIONS[status] ?? 'Problem details',
        content: { [PROBLEM_CONTENT_TYPE]: { schema: problemSchema } },
      },
    ]),
  );
}

/** The problems any authenticated JSON endpoint can answer. */
export const AUTHENTICATED_PROBLEMS = [400, 401, 403, 429, 503] as const;

export const isoDateTime = z.string().describe('ISO 8601 date-time');

/** Query-string booleans arrive as text. */
export const queryBoolean = z
  .enum(['true', 'false'])
  .transform((v) => v === 'true')
  .describe('true or false');

export const ticketIdParams = z.object({
  id: ticketIdSchema.describe(
    'The ticket id as returned at submission (an intake key may also give its own external id)',
  ),
});

export const classificationOut = z.object({
  intent: z.string(),
  urgency: z.string(),
  confidence: z.number(),
  summary: z.string().nullable(),
  sentiment: z.string().nullable(),
  language: z.string().nullable(),
});

export const passageOut = z.object({
  passageId: z.string(),
  documentId: z.string(),
  title: z.string(),
  source: z.string(),
  score: z.number(),
  text: z.string(),
});
