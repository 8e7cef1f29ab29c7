import { Context, ApplicationFailure } from '@temporalio/activity';
import { sql } from 'kysely';
import { z } from 'zod';
import type { Config } from '../src/config';
import type { Db } from '../src/db/database';
import {
  classificationSchema,
  type Classification,
  type EscalationReason,
  type Passage,
  type PassageRef,
  type ResolutionSignal,
  type TicketInput,
  type TokenUsage,
} from '../src/domain/ticket';
import type { Embedder, VectorStore } from '../src/kb/types';
import { LlmError, type LlmProvider, type TicketForLlm } from '../src/llm/types';
import { detectCriticalSignals, detectHumanRequest } from '../src/llm/signals';
import { redactPiiText } from './redaction';
import { checkReplyGrounding } from '../src/llm/grounding';
import { storableJson, storableText } from '../src/text';
import type { Logger } from '../src/logger';

/** Attempts the vector store gets before a ticket escalates with `retrieval_unavailable`. */
export const RETRIEVAL_MAX_ATTEMPTS = 5;

export interface ActivityDeps {
  config: Config;
  db: Db;
  store: VectorStore;
  embedder: Embedder;
  llm: LlmProvider;
  logger: Logger;
  /** Sends reply/escalation events to the ticketing system; absent when no webhook is configured. */
  sendWebhook?: (event: OutboundEvent) => Promise<{ status: number }>;
  /** Adds a document to the knowledge base (chunk, embed, upsert, register). */
  ingestDocument: (doc: {
    id: string;
    title: string;
    body: string;
    source: 'kb' | 'resolution';
    ticketId?: string;
    intents?: string[];
    origin?: string;
  }) => Promise<{ documentId: string; chunks: number; skipped: boolean }>;
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

export type OutboundEvent =
  | { type: 'reply'; workflowId: string; externalId: string; source: 'ai' | 'human'; body: string }
  | { type: 'escalation'; workflowId: string; externalId: string; reason: string; slaDueAt: string }
  | { type: 'overdue'; workflowId: string; externalId: string; slaDueAt: string };

export interface ClassifyOutcome {
  classification: Classification;
  requestedHuman: boolean;
  /** Critical signals found by rules; they force urgency to critical whatever the model said. */
  criticalSignals: string[];
}

export type GenerateOutcome = { kind: 'answer'; citedPassageIds: string[] } | { kind: 'cannot_answer' };

/** What a successful classify attempt logs in ticket_steps.detail (and a retry may reuse). */
function recordedClassifySchema(intents: readonly string[]) {
  return classificationSchema(intents).extend({
    requestedHuman: z.boolean(),
    criticalSignals: z.array(z.string()),
  });
}

/** Retryable LLM errors keep their `retry-after`; non-retryable ones stop Temporal's retries at once. */
function toActivityFailure(err: unknown): unknown {
  if (err instanceof LlmError) {
    return ApplicationFailure.create({
      message: err.message,
      type: err.type,
      nonRetryable: !err.retryable,
      nextRetryDelay: err.retryAfterMs,
    });
  }
  return err;
}

function emptyUsage(model: string): TokenUsage {
  return {
    model,
    inputTokens: 0,
    cachedInputTokens: 0,
    cacheWriteTokens: 0,
    outputTokens: 0,
    costUsd: 0,
    latencyMs: 0,
  };
}

export function createActivities(deps: ActivityDeps) {
  const { db, config } = deps;

  /** Failed LLM calls a step may make before the ticket escalates; older workflow runs do not pass it. */
  const llmBudget = (given: number | undefined) => given ?? config.LLM_RETRY_MAX_ATTEMPTS;

  async function loadTicket(workflowId: string): Promise<TicketForLlm & { externalId: string }> {
    const row = await db
      .selectFrom('tickets')
      .select(['subject', 'body', 'external_id'])
      .where('workflow_id', '=', workflowId)
      .executeTakeFirstOrThrow();
    const body = config.PII_REDACT_BEFORE_LLM ? redactPiiText(row.body) : row.body;
    const subject = config.PII_REDACT_BEFORE_LLM ? redactPiiText(row.subject) : row.subject;
    return { subject, body, externalId: row.external_id };
  }

  /** Upsert keyed by (workflow_id, step): an activity retry updates the row, never adds another. */
  /**
   * One row per (ticket, step): each attempt overwrites status, timing and detail and adds its tokens and cost.
   * A failed attempt also adds one to `failures`, which is returned: the step's retry budget counts its own
   * dependency's failures only.
   */
  async function logStep(
    workflowId: string,
    step: string,
    status: 'ok' | 'failed',
    usage: TokenUsage | undefined,
    detail: Record<string, unknown>,
  ): Promise<number> {
    const { attempt, currentAttemptScheduledTimestampMs } = Context.current().info;
    const u = usage ?? emptyUsage('');
    const values = {
      status,
      attempts: attempt,
      // When this attempt was handed to a worker, so started_at ≤ finished_at whatever the step did.
      started_at: new Date(currentAttemptScheduledTimestampMs),
      finished_at: new Date(),
      latency_ms: Math.round(u.latencyMs),
      model: u.model || null,
      input_tokens: u.inputTokens,
      cached_input_tokens: u.cachedInputTokens,
      cache_write_tokens: u.cacheWriteTokens,
      output_tokens: u.outputTokens,
      cost_usd: u.costUsd,
      detail: storableJson(detail),
    };
    const failed = status === 'failed';
    // Every attempt's tokens were paid for (a retry after a lost completion calls the model again): add them up.
    const spent = {
      input_tokens: sql<number>`ticket_steps.input_tokens + excluded.input_tokens`,
      cached_input_tokens: sql<number>`ticket_steps.cached_input_tokens + excluded.cached_input_tokens`,
      cache_write_tokens: sql<number>`ticket_steps.cache_write_tokens + excluded.cache_write_tokens`,
      output_tokens: sql<number>`ticket_steps.output_tokens + excluded.output_tokens`,
      cost_usd: sql<number>`ticket_steps.cost_usd + excluded.cost_usd`,
    };
    const row = await db
      .insertInto('ticket_steps')
      .values({ workflow_id: workflowId, step, ...values, failures: failed ? 1 : 0 })
      .onConflict((oc) =>
        oc.columns(['workflow_id', 'step']).doUpdateSet({
          ...values,
          ...spent,
          failures: failed ? sql`ticket_steps.failures + 1` : sql`ticket_steps.failures`,
        }),
      )
      .returning('failures')
      .executeTakeFirstOrThrow();
    return row.failures;
  }

  /**
   * Log a failed LLM call (it may still have spent tokens, e.g. both rounds of a failed repair) and decide
   * whether Temporal retries it: after `maxFailures` failed calls the ticket stops waiting and escalates
   * `llm_unavailable`. Postgres errors never reach here, so they retry without spending this budget.
   */
  async function llmFailure(
    workflowId: string,
    step: 'classify' | 'generate',
    err: unknown,
    maxFailures: number,
  ): Promise<unknown> {
    const failures = await logStep(
      workflowId,
      step,
      'failed',
      err instanceof LlmError ? err.usage : undefined,
      {
        error: err instanceof LlmError ? err.type : 'error',
        message: err instanceof Error ? err.message.slice(0, 500) : String(err),
      },
    );
    const failure = toActivityFailure(err);
    const retryable = !(failure instanceof ApplicationFailure && failure.nonRetryable);
    if (retryable && failures >= maxFailures) {
      return ApplicationFailure.nonRetryable(
        `LLM ${step} failed ${failures} times; last error: ${err instanceof Error ? err.message : String(err)}`,
        'llm_unavailable',
      );
    }
    return failure;
  }

  /**
   * A retried LLM step whose earlier attempt already got and recorded the model's result (the worker died, or
   * a later write failed, before Temporal heard of it) returns that result instead of paying for a second call.
   */
  const isRetry = () => Context.current().info.attempt > 1;

  async function recordedClassification(workflowId: string): Promise<ClassifyOutcome | undefined> {
    const row = await db
      .selectFrom('ticket_steps')
      .select(['status', 'detail'])
      .where('workflow_id', '=', workflowId)
      .where('step', '=', 'classify')
      .executeTakeFirst();
    if (row?.status !== 'ok') return undefined;
    const parsed = recordedClassifySchema(config.INTENTS).safeParse(row.detail);
    if (!parsed.success) return undefined;
    const { requestedHuman, criticalSignals, ...classification } = parsed.data;
    return { classification, requestedHuman, criticalSignals };
  }

  async function recordedDraft(workflowId: string): Promise<GenerateOutcome | undefined> {
    const [step, draft] = await Promise.all([
      db
        .selectFrom('ticket_steps')
        .select('status')
        .where('workflow_id', '=', workflowId)
        .where('step', '=', 'generate')
        .executeTakeFirst(),
      db
        .selectFrom('drafts')
        .select(['kind', 'cited_passage_ids'])
        .where('workflow_id', '=', workflowId)
        .executeTakeFirst(),
    ]);
    if (step?.status !== 'ok' || !draft) return undefined;
    return draft.kind === 'answer'
      ? { kind: 'answer', citedPassageIds: draft.cited_passage_ids }
      : { kind: 'cannot_answer' };
  }

  /** Webhook events carry the ticketing system's own id, looked up here so callers pass only the workflow id. */
  async function sendToTicketingSystem(
    send: NonNullable<ActivityDeps['sendWebhook']>,
    event: DistributiveOmit<OutboundEvent, 'externalId'>,
  ): Promise<{ status: number }> {
    const ticket = await db
      .selectFrom('tickets')
      .select('external_id')
      .where('workflow_id', '=', event.workflowId)
      .executeTakeFirstOrThrow();
    return send({ ...event, externalId: ticket.external_id } as OutboundEvent);
  }

  async function setStage(workflowId: string, stage: string) {
    await db
      .updateTable('tickets')
      .set({ stage, updated_at: new Date() })
      .where('workflow_id', '=', workflowId)
      .execute();
  }

  return {
    /** Persist the ticket so later steps (and humans) read it from Postgres, not from workflow history. */
    async recordTicket(input: {
      workflowId: string;
      ticket: TicketInput;
      receivedAt: string;
    }): Promise<void> {
      const { workflowId, ticket } = input;
      await db
        .insertInto('tickets')
        .values({
          workflow_id: workflowId,
          external_id: ticket.externalId,
          // Whatever reached the workflow is stored: NULs and broken surrogates would make Postgres refuse it forever.
          subject: storableText(ticket.subject ?? ''),
          body: storableText(ticket.body),
          customer: storableJson(ticket.customer ?? {}),
          channel: ticket.channel ?? 'api',
          stage: 'received',
          created_at: input.receivedAt,
        })
        .onConflict((oc) => oc.column('workflow_id').doNothing())
        .execute();
    },

    async classifyTicket(input: { workflowId: string; maxLlmFailures?: number }): Promise<ClassifyOutcome> {
      // Only a retry can find an earlier attempt's result: the first attempt skips the lookup.
      const recorded = isRetry() ? await recordedClassification(input.workflowId) : undefined;
      if (recorded) {
        await setStage(input.workflowId, 'triaging');
        return recorded;
      }
      const ticket = await loadTicket(input.workflowId);
      const text = `${ticket.subject}\n${ticket.body}`;
      let classified: Awaited<ReturnType<LlmProvider['classify']>>;
      try {
        classified = await deps.llm.classify(ticket);
      } catch (err) {
        throw await llmFailure(input.workflowId, 'classify', err, llmBudget(input.maxLlmFailures));
      }
      const { classification, usage } = classified;
      // Rules outside the model: a ticket cannot talk its way out of being critical or out of reaching a human.
      const criticalSignals = detectCriticalSignals(text);
      const requestedHuman = detectHumanRequest(text);
      const final: Classification =
        criticalSignals.length > 0 ? { ...classification, urgency: 'critical' } : classification;
      await logStep(input.workflowId, 'classify', 'ok', usage, {
        ...final,
        modelUrgency: classification.urgency,
        criticalSignals,
        requestedHuman,
      });
      await setStage(input.workflowId, 'triaging');
      return { classification: final, requestedHuman, criticalSignals };
    },

    /** Embed the ticket, search the KB, keep the passages in Postgres, return only ids and scores. */
    async retrievePassages(input: { workflowId: string }): Promise<PassageRef[]> {
      const ticket = await loadTicket(input.workflowId);
      const started = Date.now();
      let hits: Awaited<ReturnType<VectorStore['search']>>;
      try {
        const [vector] = await deps.embedder.embed([`${ticket.subject}\n${ticket.body}`.trim()]);
        hits = await deps.store.search(vector!, config.RETRIEVAL_TOP_K);
      } catch (err) {
        // Only the vector store has a retry budget; Postgres errors (below) retry until Postgres is back, so a
        // database outage delays the ticket instead of escalating it as `retrieval_unavailable`. If the failure
        // cannot even be logged, Postgres is down too: retry without spending the budget.
        const failures = await logStep(input.workflowId, 'retrieve', 'failed', undefined, {
          message: err instanceof Error ? err.message.slice(0, 500) : String(err),
        }).catch(() => 0);
        if (failures >= RETRIEVAL_MAX_ATTEMPTS) {
          throw ApplicationFailure.nonRetryable(
            `Vector store unavailable after ${failures} attempts: ${err instanceof Error ? err.message : String(err)}`,
            'retrieval_unavailable',
          );
        }
        throw err;
      }
      await db.transaction().execute(async (trx) => {
        await trx.deleteFrom('ticket_passages').where('workflow_id', '=', input.workflowId).execute();
        if (hits.length > 0) {
          await trx
            .insertInto('ticket_passages')
            .values(
              hits.map((hit, rank) => ({
                workflow_id: input.workflowId,
                rank,
                passage_id: hit.id,
                document_id: hit.payload.documentId,
                title: hit.payload.title,
                source: hit.payload.source,
                score: hit.score,
                text: hit.payload.text,
                heading_path: storableJson(hit.payload.headingPath),
              })),
            )
            .execute();
        }
      });
      await logStep(
        input.workflowId,
        'retrieve',
        'ok',
        { ...emptyUsage(deps.embedder.modelId), latencyMs: Date.now() - started },
        { hits: hits.map((h) => ({ id: h.id, score: Number(h.score.toFixed(4)) })) },
      );
      return hits.map((hit) => ({
        id: hit.id,
        documentId: hit.payload.documentId,
        score: hit.score,
        source: hit.payload.source,
      }));
    },

    /** Answer from the stored passages only; the draft goes to Postgres, the workflow gets the verdict. */
    async generateAnswer(input: {
      workflowId: string;
      minScore: number;
      maxLlmFailures?: number;
    }): Promise<GenerateOutcome> {
      const recorded = isRetry() ? await recordedDraft(input.workflowId) : undefined;
      if (recorded) return recorded;
      const ticket = await loadTicket(input.workflowId);
      const rows = await db
        .selectFrom('ticket_passages')
        .selectAll()
        .where('workflow_id', '=', input.workflowId)
        .orderBy('rank')
        .execute();
      const passages: Passage[] = rows
        .filter((r) => r.score >= input.minScore)
        .map((r) => ({
          id: r.passage_id,
          documentId: r.document_id,
          title: r.title,
          headingPath: r.heading_path,
          text: r.text,
          score: r.score,
          source: r.source === 'resolution' ? 'resolution' : 'kb',
          intents: [],
        }));
      let drafted: Awaited<ReturnType<LlmProvider['answer']>>;
      try {
        drafted = await deps.llm.answer(ticket, passages);
      } catch (err) {
        throw await llmFailure(input.workflowId, 'generate', err, llmBudget(input.maxLlmFailures));
      }
      const { usage } = drafted;
      let answer = drafted.answer;
      let withheldReply: string | null = null;
      if (answer.kind === 'answer') {
        // Do not trust the model with what goes to the customer: no leaked instructions, no invented figures.
        const cited = passages.filter(
          (p) => answer.kind === 'answer' && answer.citedPassageIds.includes(p.id),
        );
        const verdict = checkReplyGrounding(answer.reply, cited, config.INTENTS);
        if (!verdict.ok) {
          // Kept for the human who takes over (a starting point to correct), never sent to the customer.
          withheldReply = storableText(answer.reply);
          answer = { kind: 'cannot_answer', reason: `Draft withheld: ${verdict.reason}` };
        }
      }
      const values =
        answer.kind === 'answer'
          ? {
              kind: 'answer',
              reply: storableText(answer.reply),
              cited_passage_ids: storableJson(answer.citedPassageIds),
              reason: null,
            }
          : {
              kind: 'cannot_answer',
              reply: null,
              cited_passage_ids: storableJson([]),
              reason: storableText(answer.reason),
            };
      const draftValues = { ...values, withheld_reply: withheldReply };
      await db
        .insertInto('drafts')
        .values({ workflow_id: input.workflowId, ...draftValues })
        .onConflict((oc) => oc.column('workflow_id').doUpdateSet(draftValues))
        .execute();
      await logStep(input.workflowId, 'generate', 'ok', usage, {
        kind: answer.kind,
        cited: answer.kind === 'answer' ? answer.citedPassageIds : [],
        reason: answer.kind === 'cannot_answer' ? answer.reason : undefined,
      });
      return answer.kind === 'answer'
        ? { kind: 'answer', citedPassageIds: answer.citedPassageIds }
        : { kind: 'cannot_answer' };
    },

    /**
     * Exactly one reply per ticket: the outbox row is unique per (workflow_id, 'reply'), so a retried activity
     * finds the row and only finishes the webhook delivery it may have missed.
     */
    async deliverReply(input: { workflowId: string; source: 'ai' | 'human' }): Promise<void> {
      const { workflowId, source } = input;
      let body: string | null | undefined;
      if (source === 'ai') {
        body = (
          await db
            .selectFrom('drafts')
            .select('reply')
            .where('workflow_id', '=', workflowId)
            .executeTakeFirst()
        )?.reply;
      } else {
        body = (
          await db
            .selectFrom('resolutions')
            .select('answer')
            .where('workflow_id', '=', workflowId)
            .executeTakeFirst()
        )?.answer;
      }
      if (!body)
        throw ApplicationFailure.nonRetryable(
          `No ${source} reply text stored for ${workflowId}`,
          'missing_reply',
        );
      await db
        .insertInto('outbox')
        .values({ workflow_id: workflowId, kind: 'reply', source, body })
        .onConflict((oc) => oc.columns(['workflow_id', 'kind']).doNothing())
        .execute();
      const row = await db
        .selectFrom('outbox')
        .select(['id', 'delivered_at', 'body', 'source'])
        .where('workflow_id', '=', workflowId)
        .where('kind', '=', 'reply')
        .executeTakeFirstOrThrow();
      if (row.delivered_at) return;
      let webhookStatus: number | null = null;
      if (deps.sendWebhook) {
        const result = await sendToTicketingSystem(deps.sendWebhook, {
          type: 'reply',
          workflowId,
          source: row.source === 'human' ? 'human' : 'ai',
          body: row.body,
        });
        webhookStatus = result.status;
        await db
          .updateTable('outbox')
          .set({ webhook_status: webhookStatus, webhook_attempts: sql`webhook_attempts + 1` })
          .where('id', '=', row.id)
          .execute();
        if (result.status >= 300) {
          throw ApplicationFailure.retryable(`Ticketing webhook answered ${result.status}`, 'webhook_failed');
        }
      }
      await db.updateTable('outbox').set({ delivered_at: new Date() }).where('id', '=', row.id).execute();
      await setStage(workflowId, source === 'ai' ? 'answered' : 'resolved');
    },

    /** The record a human needs: classification, passages, any draft, the reason and the SLA. */
    async escalateTicket(input: {
      workflowId: string;
      reason: EscalationReason;
      slaDueAt: string;
    }): Promise<void> {
      const { workflowId } = input;
      const classifyStep = await db
        .selectFrom('ticket_steps')
        .select('detail')
        .where('workflow_id', '=', workflowId)
        .where('step', '=', 'classify')
        .where('status', '=', 'ok')
        .executeTakeFirst();
      const passages = await db
        .selectFrom('ticket_passages')
        .select(['passage_id', 'document_id', 'title', 'score', 'source', 'text'])
        .where('workflow_id', '=', workflowId)
        .orderBy('rank')
        .execute();
      const draft = await db
        .selectFrom('drafts')
        .select(['reply', 'withheld_reply', 'reason'])
        .where('workflow_id', '=', workflowId)
        .executeTakeFirst();
      const withheld = !draft?.reply && Boolean(draft?.withheld_reply);
      const values = {
        reason: input.reason,
        classification: JSON.stringify(classifyStep?.detail ?? null),
        passages: JSON.stringify(passages),
        draft: draft?.reply ?? draft?.withheld_reply ?? null,
        draft_withheld_reason: withheld ? (draft?.reason ?? 'failed the grounding check') : null,
        sla_due_at: input.slaDueAt,
      };
      await db
        .insertInto('escalations')
        .values({ workflow_id: workflowId, ...values })
        .onConflict((oc) => oc.column('workflow_id').doNothing())
        .execute();
      await setStage(workflowId, 'escalated');
      if (deps.sendWebhook) {
        const result = await sendToTicketingSystem(deps.sendWebhook, {
          type: 'escalation',
          workflowId,
          reason: input.reason,
          slaDueAt: input.slaDueAt,
        });
        if (result.status >= 300)
          throw ApplicationFailure.retryable(`Ticketing webhook answered ${result.status}`, 'webhook_failed');
      }
    },

    async notifyOverdue(input: { workflowId: string }): Promise<void> {
      const row = await db
        .updateTable('escalations')
        .set({ overdue_notified_at: new Date() })
        .where('workflow_id', '=', input.workflowId)
        .where('overdue_notified_at', 'is', null)
        .returning(['sla_due_at'])
        .executeTakeFirst();
      deps.logger.warn({ workflowId: input.workflowId }, 'Escalation is past its SLA');
      if (row && deps.sendWebhook) {
        await sendToTicketingSystem(deps.sendWebhook, {
          type: 'overdue',
          workflowId: input.workflowId,
          slaDueAt: new Date(row.sla_due_at).toISOString(),
        });
      }
    },

    async recordResolution(input: { workflowId: string; resolution: ResolutionSignal }): Promise<void> {
      const { workflowId, resolution } = input;
      await db.transaction().execute(async (trx) => {
        await trx
          .insertInto('resolutions')
          .values({
            workflow_id: workflowId,
            agent_id: storableText(resolution.agentId),
            answer: storableText(resolution.answer),
            add_to_kb: resolution.addToKnowledgeBase !== false,
          })
          .onConflict((oc) => oc.column('workflow_id').doNothing())
          .execute();
        await trx
          .updateTable('escalations')
          .set({ resolved_at: new Date(), resolved_by: resolution.agentId })
          .where('workflow_id', '=', workflowId)
          .where('resolved_at', 'is', null)
          .execute();
      });
    },

    /**
     * Teach the knowledge base: the customer's question and the human's answer become a `resolution` document,
     * unless an existing resolution already says the same thing.
     */
    async indexResolution(input: {
      workflowId: string;
    }): Promise<{ outcome: 'indexed' | 'duplicate'; documentId: string }> {
      const { workflowId } = input;
      const ticket = await db
        .selectFrom('tickets')
        .select(['subject', 'body'])
        .where('workflow_id', '=', workflowId)
        .executeTakeFirstOrThrow();
      const resolution = await db
        .selectFrom('resolutions')
        .selectAll()
        .where('workflow_id', '=', workflowId)
        .executeTakeFirstOrThrow();
      const classify = await db
        .selectFrom('ticket_steps')
        .select('detail')
        .where('workflow_id', '=', workflowId)
        .where('step', '=', 'classify')
        .executeTakeFirst();
      const intent = typeof classify?.detail?.intent === 'string' ? classify.detail.intent : undefined;
      // The KB is read by every future customer's answer: strip personal data before it gets there.
      const scrub = (text: string) => (config.PII_REDACTION ? redactPiiText(text) : text);
      const question = scrub([ticket.subject, ticket.body].filter(Boolean).join('\n'));
      const body = `${question}\n\n${scrub(resolution.answer)}`;
      const documentId = `resolution-${workflowId}`;
      Context.current().heartbeat('embedding');

      const [vector] = await deps.embedder.embed([body]);
      const nearest = await deps.store.search(vector!, 1, { source: 'resolution' });
      const duplicate = nearest.find(
        (hit) => hit.payload.documentId !== documentId && hit.score >= config.RESOLUTION_DUPLICATE_SCORE,
      );
      if (duplicate) {
        await db
          .updateTable('resolutions')
          .set({ kb_outcome: `duplicate_of:${duplicate.payload.documentId}` })
          .where('workflow_id', '=', workflowId)
          .execute();
        return { outcome: 'duplicate', documentId: duplicate.payload.documentId };
      }
      Context.current().heartbeat('indexing');
      // The question becomes the title (embedded with every chunk, so similar questions find it); the body is
      // the human's answer alone, so an extractive answer quotes the answer, not the customer's question back.
      const title = question.replace(/\s+/g, ' ').trim().slice(0, 300);
      await deps.ingestDocument({
        id: documentId,
        title,
        body: scrub(resolution.answer),
        source: 'resolution',
        ticketId: workflowId,
        intents: intent ? [intent] : [],
        origin: `ticket:${workflowId}`,
      });
      await db
        .updateTable('resolutions')
        .set({ kb_document_id: documentId, kb_outcome: 'indexed' })
        .where('workflow_id', '=', workflowId)
        .execute();
      return { outcome: 'indexed', documentId };
    },

    /** The interaction log row (the seed's columns plus workflow id, tokens and $), upserted per ticket. */
    async recordOutcome(input: {
      workflowId: string;
      escalated: boolean;
      reason?: EscalationReason;
      replySource?: 'ai' | 'human';
      answeredFromResolution?: string;
    }): Promise<void> {
      const { workflowId } = input;
      const ticket = await db
        .selectFrom('tickets')
        .selectAll()
        .where('workflow_id', '=', workflowId)
        .executeTakeFirstOrThrow();
      const steps = await db
        .selectFrom('ticket_steps')
        .selectAll()
        .where('workflow_id', '=', workflowId)
        .execute();
      const classify = steps.find((s) => s.step === 'classify' && s.status === 'ok')?.detail ?? {};
      const reply = input.replySource
        ? await db
            .selectFrom('outbox')
            .select('body')
            .where('workflow_id', '=', workflowId)
            .where('kind', '=', 'reply')
            .executeTakeFirst()
        : undefined;
      const sum = (key: 'input_tokens' | 'cached_input_tokens' | 'output_tokens' | 'cost_usd') =>
        steps.reduce((total, s) => total + Number(s[key] ?? 0), 0);
      const completedAt = new Date();
      const ticketText = [ticket.subject, ticket.body].filter(Boolean).join('\n');
      const values = {
        ticket_text: config.PII_REDACTION ? redactPiiText(ticketText) : ticketText,
        intent: typeof classify.intent === 'string' ? classify.intent : null,
        urgency: typeof classify.urgency === 'string' ? classify.urgency : null,
        confidence: typeof classify.confidence === 'number' ? classify.confidence : null,
        sentiment: typeof classify.sentiment === 'string' ? classify.sentiment : null,
        language: typeof classify.language === 'string' ? classify.language : null,
        escalated: input.escalated,
        reason: input.reason ?? null,
        response: reply?.body ? (config.PII_REDACTION ? redactPiiText(reply.body) : reply.body) : null,
        response_source: input.replySource ?? null,
        latency_ms: input.replySource ? completedAt.getTime() - new Date(ticket.created_at).getTime() : null,
        input_tokens: sum('input_tokens'),
        cached_input_tokens: sum('cached_input_tokens'),
        output_tokens: sum('output_tokens'),
        cost_usd: sum('cost_usd'),
        completed_at: input.replySource ? completedAt : null,
        answered_from_resolution: input.answeredFromResolution ?? null,
      };
      await db
        .insertInto('interactions')
        .values({ workflow_id: workflowId, timestamp: ticket.created_at, ...values })
        .onConflict((oc) => oc.column('workflow_id').doUpdateSet(values))
        .execute();
    },
  };
}

export type TicketActivities = ReturnType<typeof createActivities>;
