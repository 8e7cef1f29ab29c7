import { sql } from 'kysely';
import { z } from 'zod';
import { createApiKey, listApiKeys, revokeApiKey, roleSchema, apiKeyNameSchema } from '../../auth/api-keys';
import { defaultWindow, metricsSummary } from '../../metrics/queries';
import type { ApiMetrics } from '../../metrics/prometheus';
import { API_KEY_SECURITY, type AppDeps, type ZodApp } from '../context';
import { cachedFor } from '../abuse';
import { ProblemError } from '../problem';
import { AUTHENTICATED_PROBLEMS, isoDateTime, problemResponses } from '../schemas';

const READY_CHECK_TIMEOUT_MS = 3_000;

const checkResult = z.object({ ok: z.boolean(), latencyMs: z.number(), error: z.string().optional() });
const readyResponse = z.object({
  status: z.enum(['ready', 'not_ready']),
  failed: z.array(z.string()).describe('Names of the checks that failed'),
  checks: z.record(z.string(), checkResult),
});

async function timed(check: () => Promise<unknown>): Promise<z.infer<typeof checkResult>> {
  const started = Date.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      check(),
      new Promise((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`timed out after ${READY_CHECK_TIMEOUT_MS} ms`)),
          READY_CHECK_TIMEOUT_MS,
        );
      }),
    ]);
    return { ok: true, latencyMs: Date.now() - started };
  } catch (err) {
    return {
      ok: false,
      latencyMs: Date.now() - started,
      error: err instanceof Error ? err.message : String(err),
    };
  } finally {
    clearTimeout(timer);
  }
}

const summaryQuery = z
  .object({
    from: z.iso.datetime({ offset: true }).optional().describe('ISO date-time; default 7 days before `to`'),
    to: z.iso.datetime({ offset: true }).optional().describe('ISO date-time; default now'),
  })
  .refine((q) => !q.from || !q.to || Date.parse(q.from) < Date.parse(q.to), {
    message: 'must be before `to`',
    path: ['from'],
  });

const rateOrNull = z.number().nullable();
const summaryResponse = z.object({
  from: isoDateTime,
  to: isoDateTime,
  tickets: z.number().int(),
  escalated: z.number().int(),
  escalationRate: rateOrNull,
  escalationRateByIntent: z.array(
    z.object({
      intent: z.string(),
      tickets: z.number().int(),
      escalated: z.number().int(),
      escalationRate: rateOrNull,
      avgConfidence: rateOrNull,
    }),
  ),
  escalationsByReason: z.array(z.object({ reason: z.string(), count: z.number().int() })),
  avgConfidence: rateOrNull,
  p50LatencyMs: z.number().nullable(),
  p95LatencyMs: z.number().nullable(),
  autonomousResolutionRate: rateOrNull,
  humanResolved: z.number().int(),
  openEscalations: z.number().int(),
  totalCostUsd: z.number(),
  costPerTicketUsd: z.number().nullable(),
  costPerDay: z.array(z.object({ day: z.string(), tickets: z.number().int(), costUsd: z.number() })),
  conversations: z
    .object({
      naiveResolutionRate: rateOrNull.describe('Every AI reply counted as resolved: AI-answered / tickets'),
      honestResolutionRate: rateOrNull.describe(
        'Closed without escalation, human reply or negative feedback after the AI answer / tickets',
      ),
      resolvedByAi: z.number().int(),
      confirmedByCustomer: z.number().int(),
      escalatedAfterAi: z.number().int(),
      reopened: z.number().int(),
      awaitingOutcome: z
        .number()
        .int()
        .describe('AI-answered tickets not yet closed (in the window, or FOLLOW_UP_WINDOW_MINUTES=0)'),
      csat: rateOrNull.describe('good / all ratings'),
      ratings: z.number().int(),
      articles: z.array(
        z.object({
          documentId: z.string(),
          cited: z.number().int(),
          unhappy: z.number().int(),
          unhappyRate: rateOrNull,
        }),
      ),
    })
    .describe('Tickets as conversations (docs/CONVERSATIONS.md)'),
  kbGrowth: z.object({
    documentsAtStart: z.number().int(),
    documentsAtEnd: z.number().int(),
    added: z.number().int(),
    addedFromResolutions: z.number().int(),
    perDay: z.array(
      z.object({
        day: z.string(),
        added: z.number().int(),
        fromResolutions: z.number().int(),
        total: z.number().int(),
      }),
    ),
  }),
});

const keyRecord = z.object({
  id: z.string(),
  name: z.string(),
  role: roleSchema,
  createdAt: isoDateTime,
  revokedAt: isoDateTime.nullable(),
  lastUsedAt: isoDateTime.nullable(),
});

export function registerOpsRoutes(app: ZodApp, deps: AppDeps, metrics: ApiMetrics): void {
  const startedAt = Date.now();

  app.get(
    '/healthz',
    {
      config: { rateLimit: false },
      schema: {
        tags: ['operations'],
        summary: 'Liveness: the process is up',
        response: { 200: z.object({ status: z.literal('ok'), uptimeSeconds: z.number() }) },
      },
    },
    async () => ({ status: 'ok' as const, uptimeSeconds: Math.round((Date.now() - startedAt) / 1000) }),
  );

  app.get(
    '/readyz',
    {
      config: { rateLimit: false },
      schema: {
        tags: ['operations'],
        summary: 'Readiness: Temporal, Postgres and the vector store answer',
        description: '503 lists which dependency failed.',
        response: { 200: readyResponse, 503: readyResponse },
      },
    },
    async (_request, reply) => {
      const { statusCode, body } = await readiness();
      return reply.code(statusCode).send(body);
    },
  );

  const renderMetrics = cachedFor(deps.config.METRICS_CACHE_MS, () => metrics.registry.metrics());
  app.get(
    '/metrics',
    {
      config: { rateLimit: false, metricsToken: true },
      schema: {
        tags: ['operations'],
        summary: 'Prometheus metrics (text exposition format)',
        description:
          'Rendered at most once per METRICS_CACHE_MS. With METRICS_TOKEN set, send it as `Authorization: Bearer <token>`.',
        produces: ['text/plain'],
        response: { 200: z.string().describe('Prometheus text format') },
      },
    },
    async (_request, reply) => reply.type(metrics.registry.contentType).send(await renderMetrics()),
  );

  // Probes and load balancers may call /readyz often; the dependencies are asked at most once per READY_CACHE_MS.
  const readiness = cachedFor(deps.config.READY_CACHE_MS, async () => {
    const { temporal, db, kb } = deps;
    const [temporalCheck, postgresCheck, vectorCheck] = await Promise.all([
      timed(() =>
        temporal.withDeadline(Date.now() + READY_CHECK_TIMEOUT_MS, () =>
          temporal.workflowService.getSystemInfo({}),
        ),
      ),
      timed(() => sql`select 1`.execute(db)),
      kb
        ? timed(() => kb.store.count())
        : Promise.resolve({ ok: false, latencyMs: 0, error: 'no vector store configured' }),
    ]);
    const checks = { temporal: temporalCheck, postgres: postgresCheck, vectorStore: vectorCheck };
    const failed = Object.entries(checks)
      .filter(([, result]) => !result.ok)
      .map(([name]) => name);
    const statusCode: 200 | 503 = failed.length ? 503 : 200;
    return {
      statusCode,
      body: { status: failed.length ? ('not_ready' as const) : ('ready' as const), failed, checks },
    };
  });

  app.get(
    '/v1/metrics/summary',
    {
      config: { permission: 'metrics:read' },
      schema: {
        tags: ['operations'],
        summary:
          'Business metrics over a window: escalation rates, confidence, latency, autonomy, cost, KB growth',
        security: API_KEY_SECURITY,
        querystring: summaryQuery,
        response: { 200: summaryResponse, ...problemResponses(...AUTHENTICATED_PROBLEMS) },
      },
    },
    async (request) => {
      const to = request.query.to ? new Date(request.query.to) : new Date();
      const from = request.query.from ? new Date(request.query.from) : defaultWindow(to).from;
      if (from >= to) {
        throw new ProblemError(400, 'validation-error', 'The window is empty: `from` must be before `to`.', {
          errors: [{ field: 'from', in: 'querystring', rule: 'beforeTo', message: 'must be before `to`' }],
        });
      }
      return metricsSummary(deps.db, { from, to });
    },
  );

  app.post(
    '/v1/keys',
    {
      config: { permission: 'keys:manage' },
      schema: {
        tags: ['api keys'],
        summary: 'Create an API key (the key is shown once, in this response)',
        security: API_KEY_SECURITY,
        body: z.object({ name: apiKeyNameSchema, role: roleSchema }),
        response: {
          201: keyRecord.extend({ key: z.string() }),
          ...problemResponses(...AUTHENTICATED_PROBLEMS, 413, 415),
        },
      },
    },
    async (request, reply) => {
      const created = await createApiKey(deps.db, request.body);
      request.log.info({ keyId: created.id, role: created.role }, 'api key created');
      return reply.code(201).send(created);
    },
  );

  app.get(
    '/v1/keys',
    {
      config: { permission: 'keys:manage' },
      schema: {
        tags: ['api keys'],
        summary: 'List API keys (never the keys themselves)',
        security: API_KEY_SECURITY,
        querystring: z.object({
          includeRevoked: z
            .enum(['true', 'false'])
            .transform((v) => v === 'true')
            .optional(),
        }),
        response: {
          200: z.object({ items: z.array(keyRecord) }),
          ...problemResponses(...AUTHENTICATED_PROBLEMS),
        },
      },
    },
    async (request) => ({
      items: await listApiKeys(deps.db, { includeRevoked: request.query.includeRevoked }),
    }),
  );

  app.delete(
    '/v1/keys/:id',
    {
      config: { permission: 'keys:manage' },
      schema: {
        tags: ['api keys'],
        summary: 'Revoke an API key; it stops working at once',
        security: API_KEY_SECURITY,
        params: z.object({ id: z.string().min(1).max(100) }),
        response: {
          200: z.object({ id: z.string(), revoked: z.literal(true) }),
          ...problemResponses(...AUTHENTICATED_PROBLEMS, 404),
        },
      },
    },
    async (request) => {
      if (!(await revokeApiKey(deps.db, request.params.id))) {
        throw new ProblemError(404, 'api-key-not-found', `No active API key with id "${request.params.id}".`);
      }
      request.log.info({ keyId: request.params.id }, 'api key revoked');
      return { id: request.params.id, revoked: true as const };
    },
  );
}
