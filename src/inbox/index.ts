import fastifyCookie from '@fastify/cookie';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type {
  FastifyBaseLogger,
  FastifyError,
  FastifyInstance,
  FastifyReply,
  FastifyRequest,
  FastifyTypeProvider,
  RawServerDefault,
} from 'fastify';
import { z } from 'zod';
import type { Client } from '@temporalio/client';
import { authenticateApiKey, roleAllows, type ApiPrincipal } from '../auth/api-keys';
import type { Config } from '../config';
import type { Db } from '../db/database';
import { ticketIdSchema, passageSourceSchema, workflowIdFor, type Passage } from '../domain/ticket';
import { KbDocumentConflictError, KbIngestionFailedError, KbUnavailableError } from '../kb/documents';
import { searchKnowledgeBase } from '../kb/ingest';
import type { Embedder, VectorStore } from '../kb/types';
import type { Logger } from '../logger';
import { metricsSummary } from '../metrics/queries';
import {
  getTicketDetail,
  queueCounts,
  resolveTicket,
  TicketNotFoundError,
  TicketServiceUnavailableError,
  type ResolutionOutcome,
  type TicketDetail,
} from '../tickets';
import {
  AGE_FILTERS,
  dailySeries,
  daysBetween,
  kbCountsBefore,
  kbDocumentTotals,
  listQueue,
  loadTicketExtras,
  resolutionsAddedSince,
  ticketState,
  type AgeFilter,
  type QueueFilters,
} from './data';
import { QueueBroadcaster } from './live';
import { PageError } from './errors';
import { humanize, reasonLabel, utcTime } from './format';
import { registerGapPages } from './gaps';
import { html } from './html';
import {
  LOGIN_COOKIE,
  LOGIN_FORM_TTL_MS,
  principalForKeyId,
  SESSION_COOKIE,
  SESSION_TTL_MS,
  SessionSigner,
  sessionSecret,
  type Session,
} from './session';
import { registerStaticRoutes } from './static';
import { errorPage } from './views/error';
import { knowledgePage } from './views/knowledge';
import type { Flash, PageContext } from './views/layout';
import { loginPage } from './views/login';
import { METRIC_WINDOWS, metricsPage, type MetricWindowDays } from './views/metrics';
import { queuePage } from './views/queue';
import { ticketPage } from './views/ticket';

/**
 * The agent inbox: server-rendered pages under /inbox on the API process. Agents sign in with their API key once;
 * the browser then holds only a signed, http-only session cookie. Resolutions go through the same workflow update
 * as `POST /v1/tickets/:id/resolution` (`resolveTicket`), so the inbox can do nothing the API would refuse.
 */

/** What the inbox reads and drives (the API's dependencies fit). */
export interface InboxDeps {
  config: Config;
  db: Db;
  temporal: Client;
  /** The knowledge base, for the search page; without it the page says search is unavailable. */
  kb?: { store: VectorStore; embedder: Embedder };
  logger: Logger;
}

export interface InboxOptions {
  /** Secret for signing session cookies; default INBOX_SESSION_SECRET, else derived from ADMIN_API_KEY, else random. */
  sessionSecret?: string;
  /** How long to wait after a resolution is accepted for the queue to reflect it before redirecting. */
  queueSettleTimeoutMs?: number;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the inbox for signed-in pages. */
    inboxSession?: Session;
  }
}

const PREFIX = '/inbox';
const FORM_CONTENT_TYPE = 'application/x-www-form-urlencoded';

const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join('; ');

const loginForm = z.object({
  apiKey: z.string().trim().max(500).default(''),
  _csrf: z.string().max(200).optional(),
  next: z.string().max(500).optional(),
});

const csrfForm = z.object({ _csrf: z.string().max(200).optional() }).passthrough();

const resolveForm = z.object({
  _csrf: z.string().max(200).optional(),
  answer: z.string().max(40_000).default(''),
  addToKnowledgeBase: z.literal('on').optional(),
});

const answerSchema = z
  .string()
  .trim()
  .min(1, 'Write an answer before sending.')
  .max(20_000, 'The answer is longer than 20,000 characters.');

const optionalText = (max: number) =>
  z
    .string()
    .trim()
    .max(max)
    .optional()
    .transform((v) => (v ? v : undefined))
    .catch(undefined);

const queueQuery = (intents: readonly string[]) =>
  z.object({
    intent: z
      .enum(intents as [string, ...string[]])
      .optional()
      .catch(undefined),
    reason: z
      .string()
      .regex(/^[a-z_]{1,64}$/)
      .optional()
      .catch(undefined),
    age: z
      .enum(Object.keys(AGE_FILTERS) as [AgeFilter, ...AgeFilter[]])
      .optional()
      .catch(undefined),
    resolved: ticketIdSchema.optional().catch(undefined),
  });

const knowledgeQuery = (intents: readonly string[]) =>
  z.object({
    q: optionalText(2000),
    source: passageSourceSchema.optional().catch(undefined),
    intent: z
      .enum(intents as [string, ...string[]])
      .optional()
      .catch(undefined),
  });

const metricsQuery = z.object({
  days: z.coerce
    .number()
    .refine((d): d is MetricWindowDays => (METRIC_WINDOWS as readonly number[]).includes(d))
    .default(7)
    .catch(7),
});

const ticketParams = z.object({ id: ticketIdSchema });

/** Only same-inbox paths are followed after sign-in (no open redirect). */
function safeNext(next: string | undefined): string | undefined {
  return next && /^\/inbox\/[A-Za-z0-9/_\-.?=&%]*$/.test(next) && !next.includes('..') ? next : undefined;
}

function isHttps(request: FastifyRequest): boolean {
  return request.protocol === 'https';
}

function cookieOptions(request: FastifyRequest, maxAgeMs: number) {
  return {
    path: PREFIX,
    httpOnly: true,
    sameSite: 'strict' as const,
    secure: isHttps(request),
    maxAge: Math.floor(maxAgeMs / 1000),
  };
}

/** A state-changing request must come from our own pages: Origin (when the browser sends it) names this host. */
function sameOrigin(request: FastifyRequest): boolean {
  const origin = request.headers.origin;
  if (origin === undefined) return true;
  try {
    return new URL(origin).host === request.headers.host;
  } catch {
    return false;
  }
}

/** The status and sentence an agent sees for an error the inbox knows; undefined for anything else. */
function pageErrorFor(error: unknown): { status: number; message: string } | undefined {
  if (error instanceof PageError) return { status: error.status, message: error.message };
  if (error instanceof TicketNotFoundError) return { status: 404, message: error.message };
  if (error instanceof TicketServiceUnavailableError) return { status: 503, message: error.message };
  if (error instanceof KbUnavailableError) return { status: 503, message: error.message };
  if (error instanceof KbDocumentConflictError) return { status: 409, message: error.message };
  if (error instanceof KbIngestionFailedError) return { status: 500, message: error.message };
  return undefined;
}

function sendHtml(reply: FastifyReply, status: number, body: string): FastifyReply {
  return reply.code(status).type('text/html; charset=utf-8').send(body);
}

/**
 * Mount the inbox at /inbox. Await it before `listen` (it registers routes on the given app). Generic over the
 * app's logger and type provider so `buildApp`'s zod-typed instance can be passed as it is.
 */
export async function registerInbox<Logger extends FastifyBaseLogger, Provider extends FastifyTypeProvider>(
  app: FastifyInstance<RawServerDefault, IncomingMessage, ServerResponse, Logger, Provider>,
  deps: InboxDeps,
  options: InboxOptions = {},
): Promise<void> {
  // The inbox declares no schemas, so its routes need nothing from the caller's type provider.
  await app.register(async (scope) => inboxPlugin(scope as unknown as FastifyInstance, deps, options), {
    prefix: PREFIX,
  });
}

async function inboxPlugin(scope: FastifyInstance, deps: InboxDeps, options: InboxOptions): Promise<void> {
  const { config, db, logger } = deps;
  const { secret, source } = sessionSecret(config, options.sessionSecret);
  if (source === 'random') {
    logger.warn(
      'Inbox sessions are signed with a per-process secret (set INBOX_SESSION_SECRET): they end when the API restarts',
    );
  }
  const signer = new SessionSigner(secret);
  const settleTimeoutMs = options.queueSettleTimeoutMs ?? 5_000;

  // Pages, not API: keep them out of the OpenAPI document.
  scope.addHook('onRoute', (route) => {
    route.schema = { ...route.schema, hide: true };
  });
  if (!scope.hasDecorator('parseCookie')) await scope.register(fastifyCookie);
  if (!scope.hasContentTypeParser(FORM_CONTENT_TYPE)) {
    scope.addContentTypeParser(FORM_CONTENT_TYPE, { parseAs: 'string' }, (_request, body, done) => {
      const text = typeof body === 'string' ? body : body.toString('utf8');
      done(null, Object.fromEntries(new URLSearchParams(text)));
    });
  }

  scope.addHook('onSend', async (request, reply, payload) => {
    reply.header('content-security-policy', CONTENT_SECURITY_POLICY);
    reply.header('x-content-type-options', 'nosniff');
    reply.header('x-frame-options', 'DENY');
    reply.header('referrer-policy', 'same-origin');
    reply.header('cross-origin-opener-policy', 'same-origin');
    if (!request.url.startsWith(`${PREFIX}/static/`)) reply.header('cache-control', 'no-store');
    return payload;
  });

  const wantsJson = (request: FastifyRequest) => request.url.startsWith(`${PREFIX}/api/`);

  async function pageContext(session: Session): Promise<PageContext> {
    const counts = await queueCounts({ db });
    return {
      principal: session.principal,
      csrfToken: signer.csrfToken(session.sessionId),
      openCount: counts.open,
      overdueCount: counts.overdue,
    };
  }

  scope.setErrorHandler(async (error: FastifyError, request, reply) => {
    const known = pageErrorFor(error);
    const status = known?.status ?? (typeof error.statusCode === 'number' ? error.statusCode : 500);
    if (status >= 500) request.log.error({ err: error }, 'Inbox request failed');
    const message =
      known?.message ??
      (status >= 500
        ? 'Something went wrong on our side. It has been logged with the request id below.'
        : error.message);
    if (wantsJson(request)) return reply.code(status).send({ error: message, requestId: request.id });
    const ctx = request.inboxSession
      ? await pageContext(request.inboxSession).catch(() => undefined)
      : undefined;
    const title = status === 404 ? 'Not found' : status >= 500 ? 'Something went wrong' : 'Request refused';
    return sendHtml(reply, status, errorPage(ctx, { status, title, message, requestId: request.id }));
  });

  scope.setNotFoundHandler(async (request, reply) => {
    if (wantsJson(request)) return reply.code(404).send({ error: 'Not found' });
    return sendHtml(
      reply,
      404,
      errorPage(undefined, {
        status: 404,
        title: 'Not found',
        message: 'There is no inbox page at this address.',
      }),
    );
  });

  /** The session behind the request's cookie, if the cookie is authentic, unexpired and its key still active. */
  async function readSession(request: FastifyRequest): Promise<Session | undefined> {
    const payload = signer.readSession(request.cookies[SESSION_COOKIE]);
    if (!payload) return undefined;
    const principal = await principalForKeyId(db, config, payload.kid);
    if (!principal || !roleAllows(principal.role, 'tickets:resolve')) return undefined;
    return { sessionId: payload.sid, principal, expiresAt: payload.exp };
  }

  // ── Public: sign-in and static assets ──────────────────────────────────────────────────────────────────
  registerStaticRoutes(scope);

  function renderLogin(
    reply: FastifyReply,
    request: FastifyRequest,
    status: number,
    extra: { error?: string; notice?: string; next?: string } = {},
  ) {
    const form = signer.issueLoginForm();
    reply.setCookie(LOGIN_COOKIE, form.cookie, cookieOptions(request, LOGIN_FORM_TTL_MS));
    return sendHtml(reply, status, loginPage({ formToken: form.formToken, ...extra }));
  }

  scope.get('/', async (_request, reply) => reply.redirect(`${PREFIX}/queue`, 303));

  scope.get('/login', async (request, reply) => {
    const query = z
      .object({
        next: z.string().max(500).optional().catch(undefined),
        signedOut: z.string().optional().catch(undefined),
        expired: z.string().optional().catch(undefined),
      })
      .parse(request.query ?? {});
    if (await readSession(request)) return reply.redirect(safeNext(query.next) ?? `${PREFIX}/queue`, 303);
    return renderLogin(reply, request, 200, {
      next: safeNext(query.next),
      notice: query.signedOut
        ? 'You are signed out.'
        : query.expired
          ? 'Your session ended. Sign in again to continue.'
          : undefined,
    });
  });

  scope.post('/login', async (request, reply) => {
    const form = loginForm.safeParse(request.body ?? {});
    const next = form.success ? safeNext(form.data.next) : undefined;
    if (!sameOrigin(request))
      return renderLogin(reply, request, 403, { error: 'Sign-in must come from this site.', next });
    if (!form.success || !signer.checkLoginForm(request.cookies[LOGIN_COOKIE], form.data._csrf)) {
      return renderLogin(reply, request, 403, { error: 'The sign-in form expired. Please try again.', next });
    }
    if (!form.data.apiKey) return renderLogin(reply, request, 400, { error: 'Enter your API key.', next });
    const result = await authenticateApiKey(db, config, form.data.apiKey);
    if (!result.ok) {
      request.log.warn({ reason: result.reason }, 'Inbox sign-in refused');
      const error =
        result.reason === 'revoked_key' ? 'This API key has been revoked.' : 'This API key is not valid.';
      return renderLogin(reply, request, 401, { error, next });
    }
    if (!roleAllows(result.principal.role, 'tickets:resolve')) {
      request.log.warn(
        { keyId: result.principal.keyId, role: result.principal.role },
        'Inbox sign-in refused: role',
      );
      return renderLogin(reply, request, 403, {
        error: `An ${result.principal.role} key cannot use the inbox. Sign in with an agent or admin key.`,
        next,
      });
    }
    const issued = signer.issueSession(result.principal.keyId);
    request.log.info({ keyId: result.principal.keyId }, 'Inbox sign-in');
    reply.clearCookie(LOGIN_COOKIE, { path: PREFIX });
    reply.setCookie(SESSION_COOKIE, issued.token, cookieOptions(request, SESSION_TTL_MS));
    return reply.redirect(next ?? `${PREFIX}/queue`, 303);
  });

  // ── Signed in ───────────────────────────────────────────────────────────────────────────────────────────
  await scope.register(async (secured) => {
    secured.addHook('preHandler', async (request, reply) => {
      const session = await readSession(request);
      if (!session) {
        if (request.cookies[SESSION_COOKIE]) reply.clearCookie(SESSION_COOKIE, { path: PREFIX });
        if (wantsJson(request))
          return reply.code(401).send({ error: 'Signed out', signIn: `${PREFIX}/login` });
        const next = request.method === 'GET' ? safeNext(request.url) : undefined;
        const params = new URLSearchParams();
        if (next) params.set('next', next);
        if (request.cookies[SESSION_COOKIE]) params.set('expired', '1');
        // A link followed from another site arrives without the (SameSite=Strict) cookie: let the page retry once.
        else if (next && request.headers['sec-fetch-site'] === 'cross-site') params.set('retry', '1');
        const query = params.toString();
        return reply.redirect(`${PREFIX}/login${query ? `?${query}` : ''}`, 303);
      }
      request.inboxSession = session;
      if (request.method === 'POST') {
        const body = csrfForm.safeParse(request.body ?? {});
        const presented = request.headers['x-csrf-token'] ?? (body.success ? body.data._csrf : undefined);
        if (!sameOrigin(request) || !signer.checkCsrf(session.sessionId, presented)) {
          request.log.warn({ keyId: session.principal.keyId }, 'Inbox request refused: CSRF check failed');
          throw new PageError(
            403,
            'This form is out of date or did not come from the inbox. Reload the page and try again.',
          );
        }
      }
    });

    secured.post('/logout', async (request, reply) => {
      reply.clearCookie(SESSION_COOKIE, { path: PREFIX });
      request.log.info({ keyId: request.inboxSession?.principal.keyId }, 'Inbox sign-out');
      return reply.redirect(`${PREFIX}/login?signedOut=1`, 303);
    });

    // Queue
    const parseQueueQuery = queueQuery(config.INTENTS);
    secured.get('/queue', async (request, reply) => {
      const query = parseQueueQuery.parse(request.query ?? {});
      const filters: QueueFilters = { intent: query.intent, reason: query.reason, age: query.age };
      const now = new Date();
      const [ctx, items] = await Promise.all([
        pageContext(request.inboxSession!),
        listQueue(db, filters, now),
      ]);
      const flash: Flash | undefined = query.resolved
        ? {
            kind: 'success',
            text: html`Answer sent for <strong>#${query.resolved}</strong>. The customer will receive it and
              the ticket has left the queue.`,
          }
        : undefined;
      return sendHtml(reply, 200, queuePage(ctx, { items, filters, intents: config.INTENTS, now, flash }));
    });

    // Live queue counts for every open inbox page (server-sent events); the page refetches its list on a change.
    const broadcaster = new QueueBroadcaster({ db });
    secured.addHook('onClose', async () => broadcaster.stop());
    secured.get('/api/events', async (request, reply) => {
      reply.hijack();
      const raw = reply.raw;
      raw.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-store',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
      });
      raw.write('retry: 3000\n\n');
      const unsubscribe = broadcaster.subscribe((state) => {
        raw.write(`event: queue\ndata: ${JSON.stringify(state)}\n\n`);
      });
      // A comment now and then keeps proxies and the server's idle timeout from closing a quiet stream.
      const keepAlive = setInterval(() => raw.write(': keep-alive\n\n'), 15_000);
      request.raw.on('close', () => {
        clearInterval(keepAlive);
        unsubscribe();
      });
    });

    secured.get('/api/queue', async (request) => {
      const query = parseQueueQuery.parse(request.query ?? {});
      const now = new Date();
      const [counts, items] = await Promise.all([
        queueCounts({ db }, now),
        listQueue(db, { intent: query.intent, reason: query.reason, age: query.age }, now),
      ]);
      return {
        open: counts.open,
        overdue: counts.overdue,
        now: now.toISOString(),
        items: items.map((item) => ({
          ...item,
          href: `${PREFIX}/tickets/${encodeURIComponent(item.ticketId)}`,
          intentLabel: item.intent ? humanize(item.intent) : null,
          urgencyLabel: item.urgency ? humanize(item.urgency) : null,
          reasonLabel: reasonLabel(item.reason),
        })),
      };
    });

    // Ticket
    async function renderTicket(
      request: FastifyRequest,
      reply: FastifyReply,
      ticketId: string,
      status: number,
      extra: { flash?: Flash; answerText?: string; addToKnowledgeBase?: boolean } = {},
    ) {
      const session = request.inboxSession!;
      let detail: TicketDetail;
      try {
        detail = await getTicketDetail(deps, ticketId, session.principal, request.log);
      } catch (err) {
        if (err instanceof TicketNotFoundError) throw new PageError(404, `There is no ticket #${ticketId}.`);
        throw err;
      }
      const extras = await loadTicketExtras(db, detail.workflowId);
      if (!extras)
        throw new PageError(404, `Ticket #${ticketId} has not been recorded yet; try again in a moment.`);
      const ctx = await pageContext(session);
      return sendHtml(reply, status, ticketPage(ctx, { detail, extras, config, now: new Date(), ...extra }));
    }

    secured.get('/tickets/:id', async (request, reply) => {
      const params = ticketParams.safeParse(request.params);
      if (!params.success) throw new PageError(404, 'That is not a ticket id.');
      return renderTicket(request, reply, params.data.id, 200);
    });

    secured.get('/api/tickets/:id/state', async (request) => {
      const params = ticketParams.safeParse(request.params);
      if (!params.success) throw new PageError(404, 'Not a ticket id');
      const state = await ticketState(db, workflowIdFor(params.data.id));
      if (!state) throw new PageError(404, 'No such ticket');
      return state;
    });

    secured.post('/tickets/:id/resolve', async (request, reply) => {
      const params = ticketParams.safeParse(request.params);
      if (!params.success) throw new PageError(404, 'That is not a ticket id.');
      const ticketId = params.data.id;
      const form = resolveForm.safeParse(request.body ?? {});
      const typed = form.success ? form.data.answer : '';
      const addToKnowledgeBase = form.success ? form.data.addToKnowledgeBase === 'on' : true;
      const answer = answerSchema.safeParse(typed);
      if (!answer.success) {
        return renderTicket(request, reply, ticketId, 400, {
          flash: { kind: 'error', text: answer.error.issues[0]?.message ?? 'The answer is not valid.' },
          answerText: typed,
          addToKnowledgeBase,
        });
      }
      const principal: ApiPrincipal = request.inboxSession!.principal;
      let outcome: ResolutionOutcome;
      try {
        outcome = await resolveTicket(deps, ticketId, {
          agentId: principal.name,
          answer: answer.data,
          addToKnowledgeBase,
        });
      } catch (err) {
        if (err instanceof TicketServiceUnavailableError) {
          return renderTicket(request, reply, ticketId, 503, {
            flash: { kind: 'error', text: `Not sent: ${err.message} Your answer is still in the editor.` },
            answerText: typed,
            addToKnowledgeBase,
          });
        }
        throw err;
      }
      if (outcome.accepted) {
        request.log.info(
          { workflowId: outcome.workflowId, agentId: principal.name },
          'ticket resolved from the inbox',
        );
        await waitUntilResolvedInQueue(outcome.workflowId);
        return reply.redirect(`${PREFIX}/queue?resolved=${encodeURIComponent(ticketId)}`, 303);
      }
      if (outcome.reason === 'not_found') throw new PageError(404, `There is no ticket #${ticketId}.`);
      if (outcome.reason === 'invalid') {
        return renderTicket(request, reply, ticketId, 400, {
          flash: { kind: 'error', text: 'The workflow rejected this answer as invalid.' },
          answerText: typed,
          addToKnowledgeBase,
        });
      }
      // 409: someone (or something) got there first. Say who, and keep the agent's text.
      const state = await ticketState(db, outcome.workflowId);
      const headline =
        outcome.reason === 'not_awaiting_human'
          ? 'Not sent: this ticket is not waiting for a human answer.'
          : state?.resolvedBy
            ? `Not sent: ${state.resolvedBy} already resolved this ticket${state.resolvedAt ? ` at ${utcTime(state.resolvedAt)}` : ''}.`
            : 'Not sent: this ticket has already been resolved by someone else.';
      return renderTicket(request, reply, ticketId, 409, {
        flash: {
          kind: 'error',
          text: html`<strong id="conflict-message">${headline}</strong> The customer did not receive your
            answer.
            <details class="unsent">
              <summary>Your unsent answer</summary>
              <div class="message-body">${typed}</div>
            </details>`,
        },
      });
    });

    /** The update returns once the workflow accepts; the escalation row closes a moment later (an activity). */
    async function waitUntilResolvedInQueue(workflowId: string): Promise<void> {
      const deadline = Date.now() + settleTimeoutMs;
      while (Date.now() < deadline) {
        const state = await ticketState(db, workflowId);
        if (!state || state.resolvedAt) return;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }

    // Knowledge
    const parseKnowledgeQuery = knowledgeQuery(config.INTENTS);
    secured.get('/knowledge', async (request, reply) => {
      const query = parseKnowledgeQuery.parse(request.query ?? {});
      const weekAgo = new Date(Date.now() - 7 * 86_400_000);
      const [ctx, learned, totals] = await Promise.all([
        pageContext(request.inboxSession!),
        resolutionsAddedSince(db, weekAgo),
        kbDocumentTotals(db),
      ]);
      let results: Passage[] | undefined;
      let searchError: string | undefined;
      if (query.q && deps.kb) {
        try {
          results = await searchKnowledgeBase(
            { db, store: deps.kb.store, embedder: deps.kb.embedder },
            query.q,
            {
              limit: 10,
              filter: {
                ...(query.source ? { source: query.source } : {}),
                ...(query.intent ? { intentsAny: [query.intent] } : {}),
              },
            },
          );
        } catch (err) {
          request.log.error({ err }, 'Knowledge-base search failed');
          searchError = 'The search failed: the knowledge base did not answer. Try again in a moment.';
        }
      }
      return sendHtml(
        reply,
        200,
        knowledgePage(ctx, {
          query: query.q ?? '',
          source: query.source,
          intent: query.intent,
          intents: config.INTENTS,
          results,
          searchError,
          kbAvailable: Boolean(deps.kb),
          learned,
          totals,
          minScore: config.MIN_RETRIEVAL_SCORE,
        }),
      );
    });

    registerGapPages(secured, deps, { pageContext, sendHtml });

    // Metrics
    secured.get('/metrics', async (request, reply) => {
      const { days: windowDays } = metricsQuery.parse(request.query ?? {});
      const to = new Date();
      const startOfToday = Date.UTC(to.getUTCFullYear(), to.getUTCMonth(), to.getUTCDate());
      const from = new Date(startOfToday - (windowDays - 1) * 86_400_000);
      const [ctx, summary, series, kbBefore] = await Promise.all([
        pageContext(request.inboxSession!),
        metricsSummary(db, { from, to }),
        dailySeries(db, { from, to }),
        kbCountsBefore(db, from),
      ]);
      return sendHtml(
        reply,
        200,
        metricsPage(ctx, {
          windowDays: windowDays as MetricWindowDays,
          days: daysBetween(from, to),
          summary,
          daily: series.days,
          byIntent: series.byIntent,
          kbBefore,
        }),
      );
    });
  });
}
