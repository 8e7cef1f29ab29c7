import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { KbDocumentConflictError, KbIngestionFailedError, KbUnavailableError } from '../kb/documents';
import { InvalidCursorError, TicketNotFoundError, TicketServiceUnavailableError } from '../tickets/errors';

/**
 * RFC 9457 problem details. Every 4xx (and the rare 5xx) ticketflow answers is one of these, with
 * `errors[]` naming the offending field and the rule it broke so clients can show the message next to it.
 */

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

export const fieldErrorSchema = z.object({
  field: z
    .string()
    .describe(
      'Dotted path of the offending value, e.g. `customer.email`; the location when there is no field',
    ),
  in: z.enum(['body', 'querystring', 'params', 'headers']).optional(),
  rule: z.string().describe('The rule that failed: required, type, minLength, maxLength, pattern, enum, ...'),
  message: z.string(),
});

export const problemSchema = z.object({
  type: z.string(),
  title: z.string(),
  status: z.number().int(),
  detail: z.string(),
  instance: z.string().optional(),
  requestId: z.string().optional(),
  errors: z.array(fieldErrorSchema),
  reason: z.string().optional().describe('Machine-readable cause, e.g. why a resolution was refused'),
});

export type FieldError = z.infer<typeof fieldErrorSchema>;
export type Problem = z.infer<typeof problemSchema>;

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  408: 'Request Timeout',
  409: 'Conflict',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Content',
  429: 'Too Many Requests',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

export function problemType(slug: string): string {
  return `urn:ticketflow:problem:${slug}`;
}

/** Thrown by handlers and hooks; the error handler renders it. */
export class ProblemError extends Error {
  constructor(
    public readonly status: number,
    public readonly slug: string,
    public readonly detail: string,
    public readonly options: {
      errors?: FieldError[];
      reason?: string;
      headers?: Record<string, string>;
    } = {},
  ) {
    super(detail);
    this.name = 'ProblemError';
  }
}

export function problemBody(
  status: number,
  slug: string,
  detail: string,
  extra: { errors?: FieldError[]; reason?: string; requestId?: string; instance?: string } = {},
): Problem {
  return {
    type: problemType(slug),
    title: TITLES[status] ?? (status >= 500 ? 'Server Error' : 'Client Error'),
    status,
    detail,
    ...(extra.instance ? { instance: extra.instance } : {}),
    ...(extra.requestId ? { requestId: extra.requestId } : {}),
    errors: extra.errors ?? [],
    ...(extra.reason ? { reason: extra.reason } : {}),
  };
}

export function sendProblem(
  request: FastifyRequest,
  reply: FastifyReply,
  status: number,
  slug: string,
  detail: string,
  extra: { errors?: FieldError[]; reason?: string; headers?: Record<string, string> } = {},
): FastifyReply {
  if (extra.headers) reply.headers(extra.headers);
  return reply
    .code(status)
    .type(PROBLEM_CONTENT_TYPE)
    .send(
      problemBody(status, slug, detail, {
        ...extra,
        requestId: request.id,
        instance: request.url.split('?')[0],
      }),
    );
}

type ValidationLocation = NonNullable<FieldError['in']>;

interface ZodIssueLike {
  keyword: string;
  instancePath: string;
  message?: string;
  params: Record<string, unknown>;
}

function valueAt(root: unknown, segments: string[]): unknown {
  let current = root;
  for (const segment of segments) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<string, unknown>)[segment];
  }
  return current;
}

/** zod issue code (+ its details) → the short rule name clients see. */
function ruleFor(issue: ZodIssueLike, value: unknown): string {
  const origin = issue.params.origin;
  switch (issue.keyword) {
    case 'invalid_type':
      return value === undefined ? 'required' : 'type';
    case 'too_small':
      if (origin === 'string') return 'minLength';
      if (origin === 'array' || origin === 'set') return 'minItems';
      return 'minimum';
    case 'too_big':
      if (origin === 'string') return 'maxLength';
      if (origin === 'array' || origin === 'set') return 'maxItems';
      return 'maximum';
    case 'invalid_format':
      return issue.params.format === 'regex' ? 'pattern' : String(issue.params.format ?? 'format');
    case 'invalid_value':
      return 'enum';
    case 'unrecognized_keys':
      return 'unknownKeys';
    case 'not_multiple_of':
      return 'multipleOf';
    case 'invalid_union':
      // Missing fails every option; a discriminated union's tag (a webhook's `type`) may name none of them.
      if (value === undefined) return 'required';
      return issue.params.note === 'No matching discriminator' ? 'enum' : 'oneOf';
    default:
      return issue.keyword;
  }
}

function fieldErrorsFromValidation(error: FastifyError, request: FastifyRequest): FieldError[] {
  const location = (error.validationContext ?? 'body') as ValidationLocation;
  const source: unknown =
    location === 'body'
      ? request.body
      : location === 'querystring'
        ? request.query
        : location === 'params'
          ? request.params
          : request.headers;
  return (error.validation ?? []).map((raw) => {
    const issue = raw as unknown as ZodIssueLike;
    const segments = issue.instancePath.split('/').filter(Boolean);
    const field = segments.join('.') || location;
    const params = issue.params ?? {};
    const value = valueAt(source, segments);
    // Zod's own message for a missing value ("expected string, received undefined") reads oddly to API users.
    const rule = ruleFor({ ...issue, params }, value);
    const message = rule === 'required' ? 'is required' : (issue.message ?? 'is invalid');
    return { field, in: location, rule, message };
  });
}

/** Maps fastify's own client-error codes to problems; anything not listed with a 4xx status is passed through. */
const FASTIFY_CLIENT_ERRORS: Record<string, { status: number; slug: string; rule: string }> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { status: 415, slug: 'unsupported-media-type', rule: 'contentType' },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { status: 400, slug: 'invalid-content-length', rule: 'contentLength' },
  FST_ERR_CTP_BODY_TOO_LARGE: { status: 413, slug: 'body-too-large', rule: 'maxBytes' },
  FST_ERR_CTP_EMPTY_JSON_BODY: { status: 400, slug: 'malformed-json', rule: 'json' },
  FST_ERR_CTP_INVALID_JSON_BODY: { status: 400, slug: 'malformed-json', rule: 'json' },
};

/** The tickets and knowledge-base services' errors, as the API says them. */
function serviceProblem(error: unknown): ProblemError | undefined {
  if (error instanceof KbUnavailableError) return new ProblemError(503, 'kb-unavailable', error.message);
  if (error instanceof KbDocumentConflictError) {
    return new ProblemError(409, 'kb-document-conflict', error.message, { reason: 'resolution_document' });
  }
  if (error instanceof KbIngestionFailedError) {
    return new ProblemError(500, 'kb-ingestion-failed', error.message, {
      headers: { location: `/v1/kb/ingestions/${error.ingestionId}` },
    });
  }
  if (error instanceof TicketNotFoundError) {
    return new ProblemError(404, 'ticket-not-found', `No ticket with id "${error.ticketId}".`);
  }
  if (error instanceof TicketServiceUnavailableError) {
    return error.dependency === 'worker'
      ? new ProblemError(503, 'worker-unavailable', error.message, { headers: { 'retry-after': '5' } })
      : new ProblemError(503, 'dependency-unavailable', error.message, { headers: { 'retry-after': '2' } });
  }
  if (error instanceof InvalidCursorError) {
    return new ProblemError(400, 'validation-error', 'The cursor is not one this API issued.', {
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
  return undefined;
}

/**
 * The single error handler: client mistakes become 4xx problems naming the field and rule; everything else is
 * a bug or an outage and is logged with the request id.
 */
export function handleError(error: FastifyError, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const problem = error instanceof ProblemError ? error : serviceProblem(error);
  if (problem) {
    return sendProblem(request, reply, problem.status, problem.slug, problem.detail, problem.options);
  }
  if (hasZodFastifySchemaValidationErrors(error) || error.validation) {
    const errors = fieldErrorsFromValidation(error, request);
    const summary = errors.map((e) => `${e.field}: ${e.message}`).join('; ');
    return sendProblem(request, reply, 400, 'validation-error', `The request is invalid. ${summary}`, {
      errors,
    });
  }
  const known = error.code ? FASTIFY_CLIENT_ERRORS[error.code] : undefined;
  if (known) {
    const detail =
      known.status === 400 && known.slug === 'malformed-json'
        ? `The body is not valid JSON: ${error.message}`
        : known.status === 413
          ? `The body is larger than this server accepts (${error.message}).`
          : error.message;
    return sendProblem(request, reply, known.status, known.slug, detail, {
      errors: [
        {
          field: known.status === 415 ? 'content-type' : 'body',
          in: known.status === 415 ? 'headers' : 'body',
          rule: known.rule,
          message: error.message,
        },
      ],
    });
  }
  // JSON.parse errors that escaped the parser wrapper, and any other error fastify tagged as a client error.
  if (error instanceof SyntaxError) {
    return sendProblem(
      request,
      reply,
      400,
      'malformed-json',
      `The body is not valid JSON: ${error.message}`,
      {
        errors: [{ field: 'body', in: 'body', rule: 'json', message: error.message }],
      },
    );
  }
  const status = typeof error.statusCode === 'number' ? error.statusCode : 500;
  if (status >= 400 && status < 500) {
    return sendProblem(request, reply, status, `http-${status}`, error.message);
  }
  const dependency = unavailableDependency(error);
  if (dependency) {
    request.log.warn({ err: error, dependency }, 'Dependency unavailable');
    return sendProblem(
      request,
      reply,
      503,
      'dependency-unavailable',
      `${dependency} is unavailable; retry shortly.`,
      {
        headers: { 'retry-after': '5' },
      },
    );
  }
  request.log.error({ err: error }, 'Unhandled error');
  return sendProblem(
    request,
    reply,
    500,
    'internal-error',
    'An unexpected error occurred; it has been logged with the request id.',
  );
}

/** Network-level errno codes and Postgres "connection exception / shutdown" SQLSTATEs. */
const POSTGRES_OUTAGE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EHOSTUNREACH',
  '57P01',
  '57P02',
  '57P03',
  '53300',
]);
const GRPC_UNAVAILABLE = 14;
const GRPC_DEADLINE_EXCEEDED = 4;

/** An outage of Temporal or Postgres (not a bug): answered with 503 + retry-after instead of 500. */
export function unavailableDependency(error: unknown): 'Temporal' | 'Postgres' | undefined {
  for (let current: unknown = error, depth = 0; current && depth < 5; depth++) {
    const candidate = current as { name?: string; code?: unknown; message?: string; cause?: unknown };
    if (candidate.name === 'ServiceError' || candidate.name === 'WorkflowUpdateRPCTimeoutOrCancelledError')
      return 'Temporal';
    if (
      typeof candidate.code === 'number' &&
      [GRPC_UNAVAILABLE, GRPC_DEADLINE_EXCEEDED].includes(candidate.code)
    )
      return 'Temporal';
    if (
      typeof candidate.code === 'string' &&
      (POSTGRES_OUTAGE_CODES.has(candidate.code) || candidate.code.startsWith('08'))
    ) {
      return 'Postgres';
    }
    if (typeof candidate.message === 'string' && /^Connection terminated/.test(candidate.message))
      return 'Postgres';
    // AggregateError (e.g. connecting to several addresses) carries the real causes in `errors`.
    const nested = (current as { errors?: unknown[] }).errors;
    current = candidate.cause ?? (Array.isArray(nested) ? nested[0] : undefined);
  }
  return undefined;
}
