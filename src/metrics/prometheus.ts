import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Db } from '../db/database';
import { monthStart } from '../llm/budget';
import {
  completedLatenciesAfter,
  escalationCountsByReason,
  escalationQueueCounts,
  escalationRateSince,
  resolutionRatesSince,
  kbDocumentCounts,
  llmSpendSince,
  llmUsageByModel,
  ticketCountsByIntentAndOutcome,
} from './queries';

/**
 * Prometheus metrics for the API process. Ticket outcomes, tokens and cost are produced by the worker (another
 * process), so they are read from Postgres at scrape time; HTTP metrics are observed here.
 */

export interface ApiMetrics {
  registry: Registry;
  httpRequests: Counter<'method' | 'route' | 'status_code'>;
  httpDuration: Histogram<'method' | 'route' | 'status_code'>;
}

const LATENCY_BUCKETS_SECONDS = [0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600, 14_400, 86_400];

export interface ApiMetricsOptions {
  defaultMetrics?: boolean;
  /** LLM_MONTHLY_BUDGET_USD, exported next to the month's spend so an alert can compare the two. */
  llmMonthlyBudgetUsd?: number;
}

export function createApiMetrics(db: Db, options: ApiMetricsOptions = {}): ApiMetrics {
  const registry = new Registry();
  if (options.defaultMetrics !== false)
    collectDefaultMetrics({ register: registry, prefix: 'ticketflow_api_' });

  const scrapeErrors = new Counter({
    name: 'ticketflow_metrics_scrape_errors_total',
    help: 'Scrape-time Postgres queries that failed (the previous values were kept)',
    labelNames: ['metric'],
    registers: [registry],
  });

  /** A failed query keeps the last values instead of failing the whole scrape. */
  function guarded<T>(metric: string, fn: (this: T) => Promise<void>) {
    return async function (this: T): Promise<void> {
      try {
        await fn.call(this);
      } catch {
        scrapeErrors.inc({ metric });
      }
    };
  }

  new Gauge({
    name: 'ticketflow_tickets',
    help: 'Tickets by classified intent and outcome (answered_by_ai, awaiting_human, resolved_by_human, in_progress)',
    labelNames: ['intent', 'outcome'],
    registers: [registry],
    collect: guarded('ticketflow_tickets', async function (this: Gauge<'intent' | 'outcome'>) {
      const rows = await ticketCountsByIntentAndOutcome(db);
      this.reset();
      for (const row of rows) this.set({ intent: row.intent, outcome: row.outcome }, row.count);
    }),
  });

  const rateWindows: Array<{ window: string; ms: number | null }> = [
    { window: '1h', ms: 3_600_000 },
    { window: '24h', ms: 86_400_000 },
    { window: '7d', ms: 7 * 86_400_000 },
    { window: 'all', ms: null },
  ];
  new Gauge({
    name: 'ticketflow_escalation_rate',
    help: 'Share of decided tickets that were escalated to a human, over a trailing window',
    labelNames: ['window'],
    registers: [registry],
    collect: guarded('ticketflow_escalation_rate', async function (this: Gauge<'window'>) {
      const now = Date.now();
      const values = await Promise.all(
        rateWindows.map((w) => escalationRateSince(db, w.ms === null ? null : new Date(now - w.ms))),
      );
      this.reset();
      rateWindows.forEach((w, i) => {
        const value = values[i];
        if (value !== null && value !== undefined) this.set({ window: w.window }, value);
      });
    }),
  });

  new Gauge({
    name: 'ticketflow_resolution_rate',
    help:
      'Share of tickets resolved by the AI over a trailing window: naive (every AI reply) and honest (the ' +
      'conversation closed with no escalation, human reply or negative feedback after the AI answer); csat: good / all ratings',
    labelNames: ['kind', 'window'],
    registers: [registry],
    collect: guarded('ticketflow_resolution_rate', async function (this: Gauge<'kind' | 'window'>) {
      const now = Date.now();
      const values = await Promise.all(
        rateWindows.map((w) => resolutionRatesSince(db, w.ms === null ? null : new Date(now - w.ms))),
      );
      this.reset();
      rateWindows.forEach((w, i) => {
        for (const [kind, value] of Object.entries(values[i] ?? {}))
          if (value !== null) this.set({ kind, window: w.window }, value);
      });
    }),
  });

  new Gauge({
    name: 'ticketflow_escalations_open',
    help: 'Escalations waiting for a human, and how many of them are past their SLA',
    labelNames: ['state'],
    registers: [registry],
    collect: guarded('ticketflow_escalations_open', async function (this: Gauge<'state'>) {
      const counts = await escalationQueueCounts(db);
      this.set({ state: 'open' }, counts.open);
      this.set({ state: 'overdue' }, counts.overdue);
    }),
  });

  new Gauge({
    name: 'ticketflow_escalations',
    help: 'Escalations ever recorded, by reason (llm_budget_exhausted: a spend limit stopped the LLM)',
    labelNames: ['reason'],
    registers: [registry],
    collect: guarded('ticketflow_escalations', async function (this: Gauge<'reason'>) {
      const rows = await escalationCountsByReason(db);
      this.reset();
      for (const row of rows) this.set({ reason: row.reason }, row.count);
    }),
  });

  new Gauge({
    name: 'ticketflow_llm_spend_month_usd',
    help: 'LLM spend in US dollars logged since the start of this calendar month (UTC), failed attempts included',
    registers: [registry],
    collect: guarded('ticketflow_llm_spend_month_usd', async function (this: Gauge) {
      this.set(await llmSpendSince(db, monthStart(new Date())));
    }),
  });

  if (options.llmMonthlyBudgetUsd !== undefined) {
    const budget = options.llmMonthlyBudgetUsd;
    new Gauge({
      name: 'ticketflow_llm_monthly_budget_usd',
      help: 'LLM_MONTHLY_BUDGET_USD: once the month’s spend reaches it, tickets stop calling the model',
      registers: [registry],
      collect(this: Gauge) {
        this.set(budget);
      },
    });
  }

  new Gauge({
    name: 'ticketflow_llm_tokens',
    help: 'LLM tokens used by all tickets, by model and kind (input, cached_input, cache_write, output)',
    labelNames: ['model', 'kind'],
    registers: [registry],
    collect: guarded('ticketflow_llm_tokens', async function (this: Gauge<'model' | 'kind'>) {
      const rows = await llmUsageByModel(db);
      this.reset();
      for (const row of rows) {
        this.set({ model: row.model, kind: 'input' }, row.inputTokens);
        this.set({ model: row.model, kind: 'cached_input' }, row.cachedInputTokens);
        this.set({ model: row.model, kind: 'cache_write' }, row.cacheWriteTokens);
        this.set({ model: row.model, kind: 'output' }, row.outputTokens);
      }
    }),
  });

  new Gauge({
    name: 'ticketflow_llm_cost_usd',
    help: 'LLM spend in US dollars across all tickets, by model',
    labelNames: ['model'],
    registers: [registry],
    collect: guarded('ticketflow_llm_cost_usd', async function (this: Gauge<'model'>) {
      const rows = await llmUsageByModel(db);
      this.reset();
      for (const row of rows) this.set({ model: row.model }, row.costUsd);
    }),
  });

  new Gauge({
    name: 'ticketflow_kb_documents',
    help: 'Knowledge-base documents by source (kb = curated, resolution = learned from human answers)',
    labelNames: ['source'],
    registers: [registry],
    collect: guarded('ticketflow_kb_documents', async function (this: Gauge<'source'>) {
      const rows = await kbDocumentCounts(db);
      this.reset();
      for (const row of rows) this.set({ source: row.source }, row.count);
    }),
  });

  // Histogram of end-to-end latency: each scrape observes the tickets completed since the previous scrape,
  // so the buckets are true cumulative counters for this process.
  let watermark: { completedAt: string; workflowId: string } | null = null;
  let catchingUp: Promise<void> | undefined;
  const observeNewCompletions = async (histogram: Histogram<'reply_source'>) => {
    for (;;) {
      const batch = await completedLatenciesAfter(db, watermark);
      for (const row of batch) histogram.observe({ reply_source: row.replySource }, row.latencyMs / 1000);
      const last = batch[batch.length - 1];
      if (last) watermark = { completedAt: last.completedAt, workflowId: last.workflowId };
      if (batch.length < 5000) return;
    }
  };
  new Histogram({
    name: 'ticketflow_ticket_latency_seconds',
    help: 'Received → reply delivered, per completed ticket, by who replied (ai or human)',
    labelNames: ['reply_source'],
    buckets: LATENCY_BUCKETS_SECONDS,
    registers: [registry],
    // Concurrent scrapes share one catch-up so no ticket is counted twice.
    collect: guarded('ticketflow_ticket_latency_seconds', async function (this: Histogram<'reply_source'>) {
      catchingUp ??= observeNewCompletions(this).finally(() => {
        catchingUp = undefined;
      });
      await catchingUp;
    }),
  });

  const httpRequests = new Counter({
    name: 'ticketflow_http_requests_total',
    help: 'HTTP requests answered by the API',
    labelNames: ['method', 'route', 'status_code'],
    registers: [registry],
  });
  const httpDuration = new Histogram({
    name: 'ticketflow_http_request_duration_seconds',
    help: 'HTTP request duration in the API',
    labelNames: ['method', 'route', 'status_code'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });

  return { registry, httpRequests, httpDuration };
}
