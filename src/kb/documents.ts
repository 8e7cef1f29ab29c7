import type { Client } from '@temporalio/client';
import { z } from 'zod';
import type { Config } from '../config';
import type { Db } from '../db/database';
import type { LlmProvider } from '../llm/types';
import type { Logger } from '../logger';
import { forgetCachedGapReports, type GapReportDeps } from './gaps';
import { getDocument, type KbDeps } from './ingest';
import { requestIngestion, waitForIngestion, type KbIngestionView } from './ingestion';
import type { Embedder, VectorStore } from './types';

/**
 * The knowledge-base service beneath the API and the inbox (peers that never import each other): writing a curated
 * article and what the knowledge-gap report needs. Errors are in domain terms; the API turns them into
 * problem+json, the inbox into pages.
 */

export interface KbServiceDeps {
  config: Config;
  db: Db;
  temporal: Client;
  /** Without it the knowledge base is not configured on this server. */
  kb?: { store: VectorStore; embedder: Embedder };
  llm?: LlmProvider;
  logger: Logger;
}

export class KbServiceError extends Error {}

export class KbUnavailableError extends KbServiceError {
  constructor() {
    super('The knowledge base is not configured on this server.');
    this.name = 'KbUnavailableError';
  }
}

/** A document learned from a ticket resolution: curated writes may not replace it. */
export class KbDocumentConflictError extends KbServiceError {
  constructor(readonly documentId: string) {
    super(`Document "${documentId}" was learned from a ticket resolution; it cannot be replaced.`);
    this.name = 'KbDocumentConflictError';
  }
}

export class KbIngestionFailedError extends KbServiceError {
  constructor(
    readonly documentId: string,
    readonly ingestionId: string,
    reason: string,
  ) {
    super(`Ingesting "${documentId}" failed: ${reason}`);
    this.name = 'KbIngestionFailedError';
  }
}

export const documentParams = z.object({
  id: z
    .string()
    .min(1)
    .max(200)
    .regex(
      /^[A-Za-z0-9][A-Za-z0-9._:@-]*$/,
      'letters, digits and . _ : @ - only, starting with a letter or digit',
    ),
});

export const intentName = z
  .string()
  .regex(/^[a-z][a-z0-9_]*$/, 'lower-case intent names like billing or feature_request');

export const documentBody = z.object({
  title: z.string().trim().min(1).max(300).describe('Shown with every passage cited from this document'),
  body: z.string().trim().min(1, 'must not be empty').describe('Markdown or plain text'),
  intents: z
    .array(intentName)
    .max(20)
    .default([])
    .describe('Intents this article answers; boosts nothing, filters search'),
});

export interface KbDocumentWritten {
  documentId: string;
  chunks: number;
  created: boolean;
  /** Same content as before: nothing was re-embedded. */
  unchanged: boolean;
}

export type PutKbDocumentResult =
  | { state: 'done'; response: KbDocumentWritten }
  | { state: 'pending'; ingestion: KbIngestionView };

export function requireKb(deps: KbServiceDeps): KbDeps {
  if (!deps.kb) throw new KbUnavailableError();
  return { db: deps.db, store: deps.kb.store, embedder: deps.kb.embedder };
}

/**
 * Add or replace a curated article (`PUT /v1/kb/documents/:id`, and the inbox's "create article from this
 * suggestion"). The embedding runs in the kb-ingestion workflow on a worker; this waits up to `waitMs` for it,
 * then leaves it running (`pending`).
 */
export async function putKbDocument(
  deps: KbServiceDeps,
  id: string,
  body: z.output<typeof documentBody>,
  origin: string,
  waitMs: number = deps.config.KB_INGEST_WAIT_MS,
): Promise<PutKbDocumentResult> {
  const kb = requireKb(deps);
  const existing = await getDocument(deps.db, id);
  if (existing && existing.source !== 'kb') throw new KbDocumentConflictError(id);
  const requested = await requestIngestion(
    { db: deps.db, store: kb.store, temporal: deps.temporal, config: deps.config },
    { id, ...body, source: 'kb', origin },
  );
  if (requested.kind === 'unchanged') {
    return {
      state: 'done',
      response: { documentId: requested.documentId, chunks: requested.chunks, created: false, unchanged: true },
    };
  }
  const seen = (await waitForIngestion(deps.db, requested.ingestion.id, waitMs)) ?? requested.ingestion;
  if (seen.status === 'failed') throw new KbIngestionFailedError(id, seen.id, seen.error ?? 'unknown error');
  if (seen.status !== 'done') return { state: 'pending', ingestion: seen };
  forgetCachedGapReports(deps.db); // a new article can close a gap
  return {
    state: 'done',
    response: {
      documentId: seen.documentId,
      chunks: seen.chunksTotal ?? 0,
      created: !seen.documentExisted,
      unchanged: false,
    },
  };
}

/** What the knowledge-gap report needs; KbUnavailableError without a knowledge base. */
export function gapReportDeps(deps: KbServiceDeps): GapReportDeps {
  const kb = requireKb(deps);
  return {
    db: deps.db,
    store: kb.store,
    embedder: kb.embedder,
    ...(deps.llm ? { llm: deps.llm } : {}),
    llmModel: deps.config.ANTHROPIC_ANSWER_MODEL,
    minRetrievalScore: deps.config.MIN_RETRIEVAL_SCORE,
    logger: deps.logger,
  };
}
