import { ApplicationFailure, Context } from '@temporalio/activity';
import { sql } from 'kysely';
import { parseStoredClassification, type StoredClassification } from '../src/domain/classification';
import { ticketText, type Classification, type TicketStage, type TokenUsage } from '../src/domain/ticket';
import type { OutboundWebhookEvent } from '../src/integrations/outbound-webhook';
import { zeroUsage } from '../src/llm/cost';
import { LlmError, type TicketForLlm } from '../src/llm/types';
import { redactForLlm } from '../src/pii';
import { storableJson } from '../src/text';
import type { ActivityDeps } from './deps';
import { confirmRow, confirmRows, lostWrite } from './writes';

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/**
 * What every step reads and writes about its ticket: the text (from Postgres, not from history), the stage,
 * the per-step log with its retry budgets, and events to the ticketing system.
 */
export function ticketRecord(deps: ActivityDeps) {
  const { db, config } = deps;

  /** The ticket as the LLM sees it (redacted first when PII_REDACT_BEFORE_LLM is on), plus its one-text form. */
  async function loadForLlm(workflowId: string): Promise<TicketForLlm & { text: string }> {
    const row = await db
      .selectFrom('tickets')
      .select(['subject', 'body'])
      .where('workflow_id', '=', workflowId)
      .executeTakeFirstOrThrow();
    const ticket = { subject: redactForLlm(config, row.subject), body: redactForLlm(config, row.body) };
    return { ...ticket, text: ticketText(ticket) };
  }

  /**
   * The one writer of `tickets.stage`. The value always comes from the workflow (activity inputs carry it),
   * so Postgres and the workflow's status agree on every stage.
   */
  async function recordStage(workflowId: string, stage: TicketStage): Promise<void> {
    const result = await db
      .updateTable('tickets')
      .set({ stage, updated_at: new Date() })
      .where('workflow_id', '=', workflowId)
      .executeTakeFirst();
    confirmRows(result, 1, `stage ${stage} of ${workflowId}`);
  }

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
    const u = usage ?? zeroUsage('');
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
      .returning(['failures', 'status', 'attempts'])
      .executeTakeFirst();
    const logged = confirmRow(row, `${step} step of ${workflowId}`);
    if (logged.status !== status || logged.attempts !== attempt) {
      throw lostWrite(`${step} step of ${workflowId} (stored ${logged.status}, attempt ${logged.attempts})`);
    }
    return logged.failures;
  }

  /**
   * Log a failed LLM call (it may still have spent tokens, e.g. both rounds of a failed repair) and decide
   * whether Temporal retries it: after `maxFailures` failed calls the ticket stops waiting and escalates
   * `llm_unavailable`. Postgres errors never reach here, so they retry without spending this budget.
   */
  async function llmFailure(
    workflowId: string,
    /** `classify`, `generate`, or a follow-up turn's `generate:<turn>`. */
    step: string,
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

  /** The classify step's logged detail when it succeeded (the classification plus the rules' findings). */
  async function classifyDetail(workflowId: string): Promise<Record<string, unknown> | undefined> {
    const row = await db
      .selectFrom('ticket_steps')
      .select('detail')
      .where('workflow_id', '=', workflowId)
      .where('step', '=', 'classify')
      .where('status', '=', 'ok')
      .executeTakeFirst();
    return row?.detail;
  }

  /**
   * The classification the workflow passed along (null: the classifier failed), or, for runs started by older
   * code that did not pass it (undefined), the one the classify step logged.
   */
  async function classificationOf(
    workflowId: string,
    given: Classification | null | undefined,
  ): Promise<StoredClassification | Classification | null> {
    if (given !== undefined) return given;
    return parseStoredClassification(await classifyDetail(workflowId));
  }

  /** The passages retrieved for the ticket, as a human taking it over sees them. */
  async function passagesForHuman(workflowId: string) {
    return db
      .selectFrom('ticket_passages')
      .select(['passage_id', 'document_id', 'title', 'score', 'source', 'text'])
      .where('workflow_id', '=', workflowId)
      .orderBy('rank')
      .execute();
  }

  /** Failed LLM calls a step may make before the ticket escalates; runs started by older code do not pass it. */
  const llmBudget = (given: number | undefined) => given ?? config.LLM_RETRY_MAX_ATTEMPTS;

  /**
   * Webhook events carry the ticketing system's own id, looked up here so callers pass only the workflow id.
   * Anything but a 2xx fails the activity (retryable), so the event is sent again.
   */
  async function notifyTicketingSystem(
    event: DistributiveOmit<OutboundWebhookEvent, 'externalId'>,
  ): Promise<{ status: number } | undefined> {
    if (!deps.sendWebhook) return undefined;
    const ticket = await db
      .selectFrom('tickets')
      .select('external_id')
      .where('workflow_id', '=', event.workflowId)
      .executeTakeFirstOrThrow();
    return deps.sendWebhook({ ...event, externalId: ticket.external_id } as OutboundWebhookEvent);
  }

  return {
    loadForLlm,
    recordStage,
    logStep,
    llmFailure,
    llmBudget,
    classifyDetail,
    classificationOf,
    passagesForHuman,
    notifyTicketingSystem,
  };
}

export type TicketRecord = ReturnType<typeof ticketRecord>;

/**
 * A retried step whose earlier attempt already got and recorded its result (the worker died, or a later write
 * failed, before Temporal heard of it) returns that result instead of doing the work (and paying) again.
 */
export const isRetry = () => Context.current().info.attempt > 1;

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

export function webhookFailure(status: number): ApplicationFailure {
  return ApplicationFailure.retryable(`Ticketing webhook answered ${status}`, 'webhook_failed');
}
