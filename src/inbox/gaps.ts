import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import {
  documentBody,
  documentParams,
  gapReportDeps,
  KbServiceError,
  putKbDocument,
  type KbServiceDeps,
} from '../kb/documents';
import { PageError } from './errors';
import { roleAllows } from '../auth/api-keys';
import { getDocument } from '../kb/ingest';
import { cachedGapReport, findSuggestion, type GapReport } from '../kb/gaps';
import type { Session } from './session';
import { articleEditorPage, gapsPage } from './views/gaps';
import type { Flash, PageContext } from './views/layout';

/**
 * The inbox's Knowledge gaps page (/inbox/gaps) and "create article from this suggestion": a prefilled editor whose
 * form publishes through `putKbDocument`, the function behind `PUT /v1/kb/documents/:id`, so the inbox can do
 * nothing the API would refuse (publishing needs kb:write, i.e. an admin key).
 */

export interface GapPageHelpers {
  pageContext(session: Session): Promise<PageContext>;
  sendHtml(reply: FastifyReply, status: number, body: string): FastifyReply;
}

/** How long publishing from the inbox waits for the article's ingestion before redirecting anyway. */
const INBOX_PUBLISH_WAIT_MS = 30_000;

const daysQuery = z.object({
  days: z.coerce
    .number()
    .refine((d) => [7, 30, 90].includes(d))
    .default(30)
    .catch(30),
  published: documentParams.shape.id.optional().catch(undefined),
});

const clusterParams = z.object({ clusterId: z.string().regex(/^g-[0-9a-f]{12}$/) });

const articleForm = z.object({
  days: z.string().optional(),
  documentId: z.string().max(400).default(''),
  title: z.string().max(400).default(''),
  intents: z.string().max(400).default(''),
  body: z.string().max(200_000).default(''),
});

export function registerGapPages(
  secured: FastifyInstance,
  deps: KbServiceDeps,
  helpers: GapPageHelpers,
): void {
  const canPublish = (request: FastifyRequest) =>
    roleAllows(request.inboxSession!.principal.role, 'kb:write');

  async function report(days: number): Promise<GapReport> {
    return cachedGapReport(gapReportDeps(deps), { days });
  }

  secured.get('/gaps', async (request, reply) => {
    const query = daysQuery.parse(request.query ?? {});
    const ctx = await helpers.pageContext(request.inboxSession!);
    const flash: Flash | undefined = query.published
      ? { kind: 'success', text: `Article "${query.published}" is published: the AI can answer from it now.` }
      : undefined;
    try {
      const built = await report(query.days);
      return helpers.sendHtml(
        reply,
        200,
        gapsPage(ctx, { report: built, canPublish: canPublish(request), days: query.days, flash }),
      );
    } catch (err) {
      request.log.error({ err }, 'Knowledge-gap report failed');
      const message =
        err instanceof KbServiceError
          ? err.message
          : 'The report could not be built: the knowledge base did not answer.';
      return helpers.sendHtml(
        reply,
        503,
        gapsPage(ctx, { error: message, canPublish: canPublish(request), days: query.days, flash }),
      );
    }
  });

  async function suggestionOr404(clusterId: string, days: number) {
    const cluster = findSuggestion(await report(days), clusterId);
    if (!cluster)
      throw new PageError(
        404,
        'That suggestion is no longer in the report (its escalations changed). Open Knowledge gaps again.',
      );
    return cluster;
  }

  secured.get('/gaps/:clusterId/article', async (request, reply) => {
    const params = clusterParams.safeParse(request.params);
    if (!params.success) throw new PageError(404, 'That is not a suggestion id.');
    const { days } = daysQuery.parse(request.query ?? {});
    const cluster = await suggestionOr404(params.data.clusterId, days);
    const s = cluster.suggestion!;
    const ctx = await helpers.pageContext(request.inboxSession!);
    return helpers.sendHtml(
      reply,
      200,
      articleEditorPage(ctx, {
        clusterId: cluster.id,
        days,
        documentId: s.documentId,
        title: s.title,
        intents: s.intents.join(', '),
        body: s.draft.body,
        questions: s.questions,
        ...(canPublish(request) ? {} : { error: 'Publishing articles needs an admin key.' }),
      }),
    );
  });

  secured.post('/gaps/:clusterId/article', async (request, reply) => {
    const params = clusterParams.safeParse(request.params);
    if (!params.success) throw new PageError(404, 'That is not a suggestion id.');
    const form = articleForm.parse(request.body ?? {});
    const { days } = daysQuery.parse({ days: form.days });
    const typed = {
      clusterId: params.data.clusterId,
      days,
      documentId: form.documentId.trim(),
      title: form.title,
      intents: form.intents,
      body: form.body,
      questions: [],
    };
    const ctx = await helpers.pageContext(request.inboxSession!);
    const refuse = (status: number, error: string) =>
      helpers.sendHtml(reply, status, articleEditorPage(ctx, { ...typed, error }));
    if (!canPublish(request)) return refuse(403, 'Publishing articles needs an admin key.');
    const id = documentParams.shape.id.safeParse(typed.documentId);
    const body = documentBody.safeParse({
      title: form.title,
      body: form.body,
      intents: form.intents
        .split(',')
        .map((i) => i.trim())
        .filter(Boolean),
    });
    if (!id.success) return refuse(400, `Document id: ${id.error.issues[0]?.message ?? 'invalid'}.`);
    if (!body.success) {
      const issue = body.error.issues[0];
      return refuse(400, `${issue?.path.join('.') || 'Article'}: ${issue?.message ?? 'invalid'}.`);
    }
    // Creating, not replacing: an existing article with this id is never overwritten from here.
    if (await getDocument(deps.db, id.data))
      return refuse(409, `A document "${id.data}" already exists. Choose another id.`);
    const principal = request.inboxSession!.principal;
    // An article from the form is small: wait for its ingestion, so the report shown next already counts it.
    const result = await putKbDocument(
      deps,
      id.data,
      body.data,
      `inbox:${principal.name}:gap-report`,
      INBOX_PUBLISH_WAIT_MS,
    );
    const documentId = result.state === 'done' ? result.response.documentId : result.ingestion.documentId;
    request.log.info(
      {
        documentId,
        chunks: result.state === 'done' ? result.response.chunks : undefined,
        clusterId: typed.clusterId,
        keyId: principal.keyId,
      },
      'kb article published from a gap suggestion',
    );
    return reply.redirect(`/inbox/gaps?days=${days}&published=${encodeURIComponent(documentId)}`, 303);
  });
}
