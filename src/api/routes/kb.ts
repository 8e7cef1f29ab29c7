import { z } from 'zod';
import { passageSourceSchema } from '../../domain/ticket';
import { documentBody, documentParams, intentName, putKbDocument, requireKb } from '../../kb/documents';
import { deleteKbDocument, getDocument, listDocuments, searchKnowledgeBase } from '../../kb/ingest';
import { getIngestion } from '../../kb/ingestion';
import { forgetCachedGapReports } from '../../kb/gaps';
import { API_KEY_SECURITY, type AppDeps, type ZodApp } from '../context';
import { ProblemError } from '../problem';
import { AUTHENTICATED_PROBLEMS, isoDateTime, problemResponses } from '../schemas';

const documentSummary = z.object({
  id: z.string(),
  title: z.string(),
  source: passageSourceSchema,
  ticketId: z.string().nullable(),
  intents: z.array(z.string()),
  chunks: z.number().int(),
  origin: z.string().nullable(),
  updatedAt: isoDateTime,
});

const documentDetail = documentSummary.extend({
  body: z.string(),
  contentHash: z.string(),
  createdAt: isoDateTime,
});

const upsertResponse = z.object({
  documentId: z.string(),
  chunks: z.number().int(),
  created: z.boolean(),
  unchanged: z.boolean().describe('Same content as before: nothing was re-embedded'),
});

const ingestionParams = z.object({ id: z.string().regex(/^kbi_[0-9a-f]{32}$/, 'an ingestion id (kbi_…)') });

const ingestionView = z.object({
  id: z.string(),
  documentId: z.string(),
  status: z
    .enum(['queued', 'embedding', 'done', 'failed'])
    .describe('queued → embedding (chunksDone of chunksTotal) → done, or failed with `error`'),
  chunksTotal: z.number().int().nullable().describe('Null until the worker has chunked the document'),
  chunksDone: z.number().int(),
  documentExisted: z.boolean().describe('The document was in the KB before this ingestion'),
  error: z.string().nullable(),
  createdAt: isoDateTime,
  updatedAt: isoDateTime,
  finishedAt: isoDateTime.nullable(),
});

const searchQuery = z.object({
  q: z.string().trim().min(1, 'must not be empty').max(2000),
  limit: z.coerce.number().int().min(1).max(50).default(5),
  source: passageSourceSchema.optional(),
  intent: intentName.optional(),
});

const searchResult = z.object({
  passageId: z.string(),
  documentId: z.string(),
  title: z.string(),
  headingPath: z.array(z.string()),
  source: passageSourceSchema,
  score: z.number(),
  text: z.string(),
});

/** Longest wait a client may ask for with `Prefer: wait=N` (seconds). */
const MAX_PREFERRED_WAIT_MS = 60_000;

/**
 * RFC 7240 preferences: `Prefer: respond-async` answers 202 at once, `Prefer: wait=N` waits up to N seconds (at
 * most 60) for the ingestion; without either, KB_INGEST_WAIT_MS. Unknown or malformed preferences are ignored.
 */
export function preferredWaitMs(header: string | string[] | undefined, defaultMs: number): number {
  const tokens = (Array.isArray(header) ? header.join(',') : (header ?? ''))
    .split(/[,;]/)
    .map((token) => token.trim().toLowerCase());
  if (tokens.includes('respond-async')) return 0;
  const wait = tokens.map((token) => /^wait\s*=\s*"?(\d{1,6})"?$/.exec(token)).find(Boolean);
  return wait ? Math.min(Number(wait[1]) * 1000, MAX_PREFERRED_WAIT_MS) : defaultMs;
}

export const ingestionUrl = (id: string) => `/v1/kb/ingestions/${id}`;

const notFound = (id: string) =>
  new ProblemError(404, 'kb-document-not-found', `No knowledge-base document with id "${id}".`);

export function registerKbRoutes(app: ZodApp, deps: AppDeps): void {
  app.put(
    '/v1/kb/documents/:id',
    {
      config: { permission: 'kb:write' },
      schema: {
        tags: ['knowledge base'],
        summary: 'Add or replace a knowledge-base article',
        description:
          'Chunks, embeds and indexes the article in a workflow on the worker. If that finishes within KB_INGEST_WAIT_MS: ' +
          '201 when new, 200 when it replaced (or matched) an existing one. Otherwise 202 with the ingestion and a ' +
          '`Location` to poll (GET /v1/kb/ingestions/:id). `Prefer: respond-async` asks for the 202 at once, ' +
          '`Prefer: wait=N` to wait up to N seconds (at most 60). A repeated PUT of the same content joins the same ingestion.',
        security: API_KEY_SECURITY,
        params: documentParams,
        body: documentBody,
        response: {
          200: upsertResponse,
          201: upsertResponse,
          202: ingestionView,
          ...problemResponses(...AUTHENTICATED_PROBLEMS, 409, 413, 415, 500),
        },
      },
    },
    async (request, reply) => {
      const result = await putKbDocument(
        deps,
        request.params.id,
        request.body,
        `api:${request.principal?.name ?? 'unknown'}`,
        preferredWaitMs(request.headers.prefer, deps.config.KB_INGEST_WAIT_MS),
      );
      if (result.state === 'pending') {
        request.log.info(
          { documentId: request.params.id, ingestionId: result.ingestion.id },
          'kb document ingestion running',
        );
        return reply.code(202).header('location', ingestionUrl(result.ingestion.id)).send(result.ingestion);
      }
      const { response } = result;
      request.log.info(
        { documentId: response.documentId, chunks: response.chunks, unchanged: response.unchanged },
        'kb document upserted',
      );
      return reply.code(response.created ? 201 : 200).send(response);
    },
  );

  app.get(
    '/v1/kb/ingestions/:id',
    {
      config: { permission: 'kb:read' },
      schema: {
        tags: ['knowledge base'],
        summary: 'Progress of a knowledge-base ingestion started by PUT /v1/kb/documents/:id',
        security: API_KEY_SECURITY,
        params: ingestionParams,
        response: { 200: ingestionView, ...problemResponses(...AUTHENTICATED_PROBLEMS, 404) },
      },
    },
    async (request) => {
      const ingestion = await getIngestion(deps.db, request.params.id);
      if (!ingestion)
        throw new ProblemError(
          404,
          'kb-ingestion-not-found',
          `No knowledge-base ingestion "${request.params.id}".`,
        );
      if (ingestion.status === 'done') forgetCachedGapReports(deps.db);
      return ingestion;
    },
  );

  app.get(
    '/v1/kb/documents',
    {
      config: { permission: 'kb:read' },
      schema: {
        tags: ['knowledge base'],
        summary: 'List knowledge-base documents (curated articles and learned resolutions)',
        security: API_KEY_SECURITY,
        querystring: z.object({ source: passageSourceSchema.optional() }),
        response: {
          200: z.object({ items: z.array(documentSummary) }),
          ...problemResponses(...AUTHENTICATED_PROBLEMS),
        },
      },
    },
    async (request) => ({ items: await listDocuments(deps.db, request.query) }),
  );

  app.get(
    '/v1/kb/documents/:id',
    {
      config: { permission: 'kb:read' },
      schema: {
        tags: ['knowledge base'],
        summary: 'One knowledge-base document with its full body',
        security: API_KEY_SECURITY,
        params: documentParams,
        response: { 200: documentDetail, ...problemResponses(...AUTHENTICATED_PROBLEMS, 404) },
      },
    },
    async (request) => {
      const document = await getDocument(deps.db, request.params.id);
      if (!document) throw notFound(request.params.id);
      return document;
    },
  );

  app.delete(
    '/v1/kb/documents/:id',
    {
      config: { permission: 'kb:write' },
      schema: {
        tags: ['knowledge base'],
        summary: 'Remove a document and its chunks from the knowledge base',
        security: API_KEY_SECURITY,
        params: documentParams,
        response: {
          200: z.object({ documentId: z.string(), deleted: z.literal(true), chunks: z.number().int() }),
          ...problemResponses(...AUTHENTICATED_PROBLEMS, 404),
        },
      },
    },
    async (request) => {
      const kb = requireKb(deps);
      const result = await deleteKbDocument(kb, request.params.id);
      if (!result.deleted) throw notFound(request.params.id);
      request.log.info({ documentId: request.params.id, chunks: result.chunks }, 'kb document deleted');
      return { documentId: request.params.id, deleted: true as const, chunks: result.chunks };
    },
  );

  app.get(
    '/v1/kb/search',
    {
      config: { permission: 'kb:read' },
      schema: {
        tags: ['knowledge base'],
        summary: 'Semantic search over the knowledge base (what the agent would retrieve)',
        security: API_KEY_SECURITY,
        querystring: searchQuery,
        response: {
          200: z.object({ query: z.string(), results: z.array(searchResult) }),
          ...problemResponses(...AUTHENTICATED_PROBLEMS),
        },
      },
    },
    async (request) => {
      const kb = requireKb(deps);
      const { q, limit, source, intent } = request.query;
      const passages = await searchKnowledgeBase(kb, q, {
        limit,
        filter: { ...(source ? { source } : {}), ...(intent ? { intentsAny: [intent] } : {}) },
      });
      return {
        query: q,
        results: passages.map((p) => ({
          passageId: p.id,
          documentId: p.documentId,
          title: p.title,
          headingPath: p.headingPath,
          source: p.source,
          score: p.score,
          text: p.text,
        })),
      };
    },
  );
}
