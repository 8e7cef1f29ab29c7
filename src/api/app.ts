import { randomUUID } from 'node:crypto';
import fastifyRateLimit from '@fastify/rate-limit';
import fastifySwagger from '@fastify/swagger';
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import {
  createJsonSchemaTransform,
  serializerCompiler,
  validatorCompiler,
  type ZodTypeProvider,
} from 'fastify-type-provider-zod';
import { authenticateApiKey, extractApiKey, roleAllows } from '../auth/api-keys';
import { createApiMetrics, type ApiMetrics } from '../metrics/prometheus';
import type { AppDeps, ZodApp } from './context';
import { handleError, ProblemError, sendProblem } from './problem';
import { registerEscalationRoutes } from './routes/escalations';
import { registerGapRoutes } from './routes/gaps';
import { registerKbRoutes } from './routes/kb';
import { registerOpsRoutes } from './routes/ops';
import { registerTicketRoutes } from './routes/tickets';
import { registerWebhookRoutes } from './routes/webhooks';
import { createAuthFailureLimiter, requireMetricsToken } from './abuse';
import { limitSlowClients, requireUtf8Charset, transportOptions } from './transport';
import { createPayloadCodec } from '../security/codec';
import { registerCodecRoutes } from '../security/codec-server';
import packageJson from '../../package.json';

export type { AppDeps } from './context';

/** Honour a caller's request id only if it looks like one (it ends up in logs and response headers). */
const REQUEST_ID_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;

export interface BuildAppOptions {
  /** Process metrics (event loop, heap) in /metrics; tests building many apps turn them off. */
  defaultMetrics?: boolean;
  /**
   * Serve the interactive docs at /docs (default true). In-process jest tests turn it off: @fastify/swagger-ui
   * pulls in an ES-module-only dependency jest cannot load; they check /openapi.json instead and test /docs
   * against a real `src/api/main.ts` process.
   */
  docsUi?: boolean;
}

/**
 * The ticketflow HTTP API (JSON under /v1, problem+json errors). Does not listen, and does not mount the inbox:
 * `src/server.ts` puts both on one server, `src/api/main.ts` runs it. Closing the app does not close `deps`
 * (the caller owns them).
 */
export async function buildApp(deps: AppDeps, options: BuildAppOptions = {}): Promise<FastifyInstance> {
  const { config } = deps;
  const app = Fastify({
    loggerInstance: deps.logger,
    bodyLimit: config.API_BODY_LIMIT_BYTES,
    requestIdHeader: false,
    genReqId: (request) => {
      const given = request.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID_PATTERN.test(given) ? given : randomUUID();
    },
    return503OnClosing: true,
    ...transportOptions(config),
    // Errors fastify raises before routing (e.g. a malformed percent-encoded URL) get problem+json too.
    frameworkErrors: (error, request, reply) => {
      sendProblem(request, reply, 400, 'bad-request', error.message, {
        errors: [{ field: 'url', rule: 'valid_url_encoding', message: error.message }],
      });
    },
  }).withTypeProvider<ZodTypeProvider>();

  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  app.setErrorHandler(handleError);
  app.setNotFoundHandler((request, reply) =>
    sendProblem(
      request,
      reply,
      404,
      'route-not-found',
      `No route ${request.method} ${request.url.split('?')[0]}.`,
    ),
  );

  // Keep the exact body bytes next to the parsed JSON: webhook signatures are computed over them.
  const parseJson = app.getDefaultJsonParser('error', 'ignore');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    try {
      requireUtf8Charset(request);
    } catch (error) {
      return done(error as Error, undefined);
    }
    const text = typeof body === 'string' ? body : body.toString('utf8');
    request.rawBody = text;
    parseJson(request, text, done);
  });

  limitSlowClients(app as unknown as FastifyInstance, config);

  const metrics = createApiMetrics(deps.db, {
    defaultMetrics: options.defaultMetrics,
    llmMonthlyBudgetUsd: config.LLM_MONTHLY_BUDGET_USD,
  });

  const authFailures = createAuthFailureLimiter(config);
  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id);
    await authFailures.guard(request, async () => {
      await authenticate(deps, request);
      requireMetricsToken(config, request);
    });
  });
  app.addHook('onResponse', async (request, reply) => {
    const labels = {
      method: request.method,
      route: request.routeOptions.url ?? 'unmatched',
      status_code: String(reply.statusCode),
    };
    metrics.httpRequests.inc(labels);
    metrics.httpDuration.observe(labels, reply.elapsedTime / 1000);
  });

  await app.register(fastifyRateLimit, {
    global: true,
    max: config.RATE_LIMIT_PER_MINUTE,
    timeWindow: 60_000,
    hook: 'onRequest', // route-level, so it runs after the global authentication hook above
    keyGenerator: (request) => (request.principal ? `key:${request.principal.keyId}` : `ip:${request.ip}`),
    errorResponseBuilder: (_request, context) =>
      new ProblemError(
        429,
        'rate-limited',
        `Rate limit of ${context.max} requests per minute exceeded; retry in ${context.after}.`,
      ),
  });

  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'ticketflow API',
        version: packageJson.version,
        description:
          'Submit support tickets to the durable AI agent, follow them, work the escalation queue, curate the knowledge base. ' +
          'Every error is application/problem+json naming the field and the rule.',
      },
      components: {
        securitySchemes: {
          bearerAuth: { type: 'http', scheme: 'bearer', description: 'Authorization: Bearer tf_…' },
          apiKeyHeader: { type: 'apiKey', in: 'header', name: 'X-Api-Key' },
        },
      },
      tags: [
        { name: 'tickets' },
        { name: 'escalations' },
        { name: 'knowledge base' },
        { name: 'webhooks' },
        { name: 'api keys' },
        { name: 'operations' },
      ],
    },
    transform: createJsonSchemaTransform({ skipList: [] }),
  });
  if (options.docsUi !== false) {
    // Required lazily so that turning the UI off also avoids loading it.
    const { default: fastifySwaggerUi } = await import('@fastify/swagger-ui');
    await app.register(fastifySwaggerUi, { routePrefix: '/docs' });
  }
  app.get('/openapi.json', { schema: { hide: true }, config: { rateLimit: false } }, async () =>
    app.swagger(),
  );

  const routes = app as unknown as ZodApp;
  registerTicketRoutes(routes, deps);
  registerEscalationRoutes(routes, deps);
  registerKbRoutes(routes, deps);
  registerGapRoutes(routes, deps);
  registerWebhookRoutes(routes, deps);
  registerOpsRoutes(routes, deps, metrics);

  // Temporal UI / CLI decode encrypted payloads here; reading them is reading tickets, so the same permission.
  const codec = createPayloadCodec(deps.config);
  if (codec) {
    await registerCodecRoutes(app as unknown as FastifyInstance, {
      codec,
      config: deps.config,
      authorize: async (request) => {
        const key = extractApiKey(request.headers);
        if (!key) return false;
        const result = await authenticateApiKey(deps.db, deps.config, key);
        return result.ok && roleAllows(result.principal.role, 'tickets:read');
      },
    });
  }

  return app as unknown as FastifyInstance;
}

/** 401 when no usable key is presented, 403 when the key's role lacks the route's permission. */
async function authenticate(deps: AppDeps, request: FastifyRequest): Promise<void> {
  const permission = request.routeOptions.config?.permission;
  if (!permission) return;
  const challenge = { 'www-authenticate': 'Bearer realm="ticketflow"' };
  const presented = extractApiKey(request.headers);
  if (!presented) {
    throw new ProblemError(
      401,
      'missing-api-key',
      'Send an API key: `Authorization: Bearer <key>` or `X-Api-Key: <key>`.',
      {
        headers: challenge,
        errors: [
          { field: 'authorization', in: 'headers', rule: 'required', message: 'an API key is required' },
        ],
      },
    );
  }
  const result = await authenticateApiKey(deps.db, deps.config, presented);
  if (!result.ok) {
    const detail =
      result.reason === 'revoked_key' ? 'This API key has been revoked.' : 'This API key is not valid.';
    throw new ProblemError(
      401,
      result.reason === 'revoked_key' ? 'revoked-api-key' : 'invalid-api-key',
      detail,
      {
        headers: challenge,
        reason: result.reason,
        errors: [{ field: 'authorization', in: 'headers', rule: result.reason, message: detail }],
      },
    );
  }
  request.principal = result.principal;
  request.log = request.log.child({ keyId: result.principal.keyId });
  if (!roleAllows(result.principal.role, permission)) {
    throw new ProblemError(
      403,
      'forbidden',
      `The "${result.principal.role}" role may not do this (needs permission ${permission}).`,
      { reason: 'insufficient_role' },
    );
  }
}

export type { ApiMetrics };
