import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FastifyBaseLogger, FastifyInstance, RawServerDefault } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { ApiPrincipal, Permission } from '../auth/api-keys';
import type { KbServiceDeps } from '../kb/documents';

/** What the API is built from: the same dependencies the services beneath it take. */
export type AppDeps = KbServiceDeps;

export type ZodApp = FastifyInstance<
  RawServerDefault,
  IncomingMessage,
  ServerResponse,
  FastifyBaseLogger,
  ZodTypeProvider
>;

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The permission a route needs; routes without one are public (health, docs, signed webhooks). */
    permission?: Permission;
    /** Needs METRICS_TOKEN when that is set (Prometheus scrapes). */
    metricsToken?: boolean;
  }
  interface FastifyRequest {
    principal?: ApiPrincipal;
    /** The exact bytes of a JSON body, for signature checks (webhooks). */
    rawBody?: string;
  }
}

/** Security requirement for OpenAPI: either header works. */
export const API_KEY_SECURITY: Array<Record<string, string[]>> = [{ bearerAuth: [] }, { apiKeyHeader: [] }];
