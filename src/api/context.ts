import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Client } from '@temporalio/client';
import type { FastifyBaseLogger, FastifyInstance, RawServerDefault } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { ApiPrincipal, Permission } from '../auth/api-keys';
import type { Config } from '../config';
import type { Db } from '../db/database';
import type { Embedder, VectorStore } from '../kb/types';
import type { LlmProvider } from '../llm/types';
import type { Logger } from '../logger';

export interface AppDeps {
  config: Config;
  db: Db;
  temporal: Client;
  /** The knowledge base; without it the KB endpoints answer 503 and /readyz reports it. */
  kb?: { store: VectorStore; embedder: Embedder };
  /** Drafts suggested articles in the knowledge-gap report; without it they are extractive. */
  llm?: LlmProvider;
  logger: Logger;
}

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
