import fs from 'node:fs';
import path from 'node:path';
import { Registry, collectDefaultMetrics } from 'prom-client';
import { parse } from 'yaml';
import { z } from 'zod';
import type { Db } from '../../src/db/database';
import { createApiMetrics } from '../../src/metrics/prometheus';
import { WORKER_METRICS } from '../../workers/health';

/**
 * The Grafana dashboard and the Prometheus alert rules shipped in deploy/ may only ask for metrics ticketflow
 * exports (a renamed metric would leave an empty panel or an alert that never fires), and the four alerts the
 * operations guide promises exist.
 */

const repoRoot = path.resolve(__dirname, '..', '..');

/** Every series name the API's and a worker's /metrics can serve (histograms as _bucket/_sum/_count). */
async function exportedSeries(): Promise<Set<string>> {
  // The registry's collectors query Postgres only at scrape time; building it needs no database.
  const api = createApiMetrics({} as Db).registry;
  const worker = new Registry();
  collectDefaultMetrics({ register: worker, prefix: 'ticketflow_worker_' });
  const names = new Set<string>(Object.values(WORKER_METRICS));
  for (const registry of [api, worker]) {
    for (const metric of await Promise.resolve(registry.getMetricsAsArray())) {
      const { name, type } = metric as unknown as { name: string; type: string };
      names.add(name);
      if (type === 'histogram')
        for (const suffix of ['_bucket', '_sum', '_count']) names.add(`${name}${suffix}`);
      if (type === 'summary') for (const suffix of ['_sum', '_count']) names.add(`${name}${suffix}`);
    }
  }
  return names;
}

function referencedMetrics(expr: string): string[] {
  return [...expr.matchAll(/\b(ticketflow_[a-z0-9_]+)\b/g)].map((m) => m[1]!);
}

const alertRulesSchema = z.object({
  groups: z.array(
    z.object({
      name: z.string(),
      rules: z.array(
        z.object({
          alert: z.string(),
          expr: z.string(),
          for: z.string().regex(/^\d+[smh]$/),
          labels: z.object({ severity: z.enum(['warning', 'critical']) }),
          annotations: z.object({ summary: z.string(), description: z.string().optional() }),
        }),
      ),
    }),
  ),
});

const dashboardSchema = z.object({
  title: z.string(),
  uid: z.string(),
  templating: z.object({ list: z.array(z.object({ name: z.string(), type: z.string() })) }),
  panels: z.array(
    z.object({
      type: z.string(),
      title: z.string(),
      targets: z.array(z.object({ expr: z.string(), refId: z.string() })).optional(),
      datasource: z.object({ uid: z.string() }).optional(),
    }),
  ),
});

describe('Prometheus alert rules (deploy/prometheus/ticketflow-alerts.yaml)', () => {
  const rules = alertRulesSchema
    .parse(parse(fs.readFileSync(path.join(repoRoot, 'deploy/prometheus/ticketflow-alerts.yaml'), 'utf8')))
    .groups.flatMap((g) => g.rules);

  it('cover an escalation-rate spike, a spend spike, a task-queue backlog and overdue SLAs', () => {
    const byMetric = (metric: string) =>
      rules.filter((r) => referencedMetrics(r.expr).includes(metric)).map((r) => r.alert);
    expect(byMetric('ticketflow_escalation_rate')).toContain('TicketflowEscalationRateSpike');
    expect(byMetric('ticketflow_llm_cost_usd')).toContain('TicketflowSpendSpike');
    expect(byMetric('ticketflow_task_queue_backlog_age_seconds')).toContain('TicketflowTaskQueueBacklog');
    expect(byMetric('ticketflow_escalations_open')).toEqual(
      expect.arrayContaining(['TicketflowSlaOverdue', 'TicketflowSlaOverdueMany']),
    );
    expect(new Set(rules.map((r) => r.alert)).size).toBe(rules.length);
  });

  it('ask only for metrics ticketflow exports, with balanced brackets', async () => {
    const exported = await exportedSeries();
    for (const rule of rules) {
      expect({
        alert: rule.alert,
        unknown: referencedMetrics(rule.expr).filter((m) => !exported.has(m)),
      }).toEqual({
        alert: rule.alert,
        unknown: [],
      });
      for (const [open, close] of ['()', '[]', '{}'])
        expect({
          alert: rule.alert,
          balanced: rule.expr.split(open!).length === rule.expr.split(close!).length,
        }).toEqual({ alert: rule.alert, balanced: true });
    }
  });
});

describe('Grafana dashboard (deploy/grafana/ticketflow-dashboard.json)', () => {
  const dashboard = dashboardSchema.parse(
    JSON.parse(fs.readFileSync(path.join(repoRoot, 'deploy/grafana/ticketflow-dashboard.json'), 'utf8')),
  );
  const panels = dashboard.panels.filter((p) => p.type !== 'row');

  it('imports anywhere: the Prometheus data source is a variable', () => {
    expect(dashboard.templating.list).toContainEqual(
      expect.objectContaining({ name: 'datasource', type: 'datasource' }),
    );
    for (const panel of panels)
      expect({ panel: panel.title, uid: panel.datasource?.uid }).toEqual({
        panel: panel.title,
        uid: '${datasource}',
      });
  });

  it('charts only metrics ticketflow exports, and every exported ticketflow metric family appears', async () => {
    const exported = await exportedSeries();
    const used = new Set<string>();
    for (const panel of panels) {
      expect(panel.targets?.length ?? 0).toBeGreaterThan(0);
      for (const target of panel.targets ?? []) {
        const metrics = referencedMetrics(target.expr);
        expect(metrics.length).toBeGreaterThan(0);
        expect({ panel: panel.title, unknown: metrics.filter((m) => !exported.has(m)) }).toEqual({
          panel: panel.title,
          unknown: [],
        });
        metrics.forEach((m) => used.add(m.replace(/_(bucket|sum|count)$/, '')));
      }
    }
    const families = [
      'ticketflow_tickets',
      'ticketflow_escalation_rate',
      'ticketflow_escalations_open',
      'ticketflow_llm_tokens',
      'ticketflow_llm_cost_usd',
      'ticketflow_kb_documents',
      'ticketflow_ticket_latency_seconds',
      'ticketflow_http_requests_total',
      'ticketflow_http_request_duration_seconds',
      'ticketflow_metrics_scrape_errors_total',
      ...Object.values(WORKER_METRICS),
    ];
    expect(families.filter((f) => !used.has(f))).toEqual([]);
  });
});
