import Fastify from 'fastify';
import { Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { NativeConnection, Worker } from '@temporalio/worker';
import { temporal } from '@temporalio/proto';
import type { Config } from '../src/config';
import type { Logger } from '../src/logger';

/**
 * The worker's own small HTTP endpoint (WORKER_HEALTH_PORT), for Kubernetes probes and Prometheus:
 *
 *   /healthz  liveness: the process answers and the worker has not failed or stopped
 *   /readyz   readiness: the worker is running (not draining) and Temporal answers on this worker's
 *             connection; 503 with the reason otherwise
 *   /metrics  the task queue's backlog as Temporal reports it, the worker's in-flight work, process metrics
 *
 * A worker that is not ready is still polling if it can: readiness only tells the orchestrator (and the
 * operator) that this replica is not doing useful work right now, e.g. while Temporal is unreachable.
 */

const CHECK_TIMEOUT_MS = 2_000;
/** Probes and scrapes within this window share one round trip to Temporal. */
const CACHE_MS = 1_000;
const BACKLOG_CACHE_MS = 5_000;

export interface WorkerHealthOptions {
  config: Config;
  worker: Pick<Worker, 'getState' | 'getStatus'>;
  connection: NativeConnection;
  logger: Logger;
}

export interface WorkerHealthServer {
  url: string;
  close(): Promise<void>;
}

interface TemporalCheck {
  ok: boolean;
  latencyMs: number;
  error?: string;
  at: number;
}

/** What the worker's /metrics serves besides Node's process metrics (dashboards and the HPA use these names). */
export const WORKER_METRICS = {
  backlog: 'ticketflow_task_queue_backlog',
  backlogAge: 'ticketflow_task_queue_backlog_age_seconds',
  activitiesInFlight: 'ticketflow_worker_activities_in_flight',
  temporalUp: 'ticketflow_worker_temporal_up',
} as const;

const TASK_TYPES = [
  ['workflow', temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW],
  ['activity', temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY],
] as const;

export async function startWorkerHealthServer(options: WorkerHealthOptions): Promise<WorkerHealthServer> {
  const { config, worker, connection, logger } = options;
  if (config.WORKER_HEALTH_PORT === undefined) throw new Error('WORKER_HEALTH_PORT is not set');

  let lastCheck: TemporalCheck | undefined;
  let checking: Promise<TemporalCheck> | undefined;
  const checkTemporal = (): Promise<TemporalCheck> => {
    if (lastCheck && Date.now() - lastCheck.at < CACHE_MS) return Promise.resolve(lastCheck);
    checking ??= (async () => {
      const started = Date.now();
      try {
        await connection.withDeadline(started + CHECK_TIMEOUT_MS, () =>
          connection.workflowService.getSystemInfo({}),
        );
        return { ok: true, latencyMs: Date.now() - started, at: Date.now() };
      } catch (error) {
        return {
          ok: false,
          latencyMs: Date.now() - started,
          error: error instanceof Error ? error.message : String(error),
          at: Date.now(),
        };
      }
    })().then((result) => {
      lastCheck = result;
      checking = undefined;
      return result;
    });
    return checking;
  };

  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'ticketflow_worker_' });
  let backlog: { at: number; values: Map<string, { count: number; ageSeconds: number }> } | undefined;
  let fetchingBacklog: Promise<void> | undefined;
  const refreshBacklog = async (): Promise<void> => {
    if (backlog && Date.now() - backlog.at < BACKLOG_CACHE_MS) return;
    fetchingBacklog ??= (async () => {
      const values = new Map<string, { count: number; ageSeconds: number }>();
      for (const [label, taskQueueType] of TASK_TYPES) {
        const response = await connection.withDeadline(Date.now() + CHECK_TIMEOUT_MS, () =>
          connection.workflowService.describeTaskQueue({
            namespace: config.TEMPORAL_NAMESPACE,
            taskQueue: { name: config.TEMPORAL_TASK_QUEUE },
            taskQueueType,
            reportStats: true,
          }),
        );
        const age = response.stats?.approximateBacklogAge;
        values.set(label, {
          count: Number(response.stats?.approximateBacklogCount ?? 0),
          ageSeconds: Number(age?.seconds ?? 0) + (age?.nanos ?? 0) / 1e9,
        });
      }
      backlog = { at: Date.now(), values };
    })().finally(() => {
      fetchingBacklog = undefined;
    });
    return fetchingBacklog;
  };
  new Gauge({
    name: WORKER_METRICS.backlog,
    help: 'Tasks waiting in the ticketflow task queue (Temporal approximate backlog count), by task type',
    labelNames: ['task_type'],
    registers: [registry],
    async collect() {
      try {
        await refreshBacklog();
      } catch {
        // Temporal unreachable: no sample rather than a stale one; /readyz says why.
        this.reset();
        return;
      }
      for (const [taskType, value] of backlog?.values ?? []) this.set({ task_type: taskType }, value.count);
    },
  });
  new Gauge({
    name: WORKER_METRICS.backlogAge,
    help: 'Age of the oldest task waiting in the ticketflow task queue, by task type',
    labelNames: ['task_type'],
    registers: [registry],
    async collect() {
      // The same describe calls as ticketflow_task_queue_backlog (shared and cached).
      this.reset();
      try {
        await refreshBacklog();
      } catch {
        return;
      }
      for (const [taskType, value] of backlog?.values ?? [])
        this.set({ task_type: taskType }, value.ageSeconds);
    },
  });
  new Gauge({
    name: WORKER_METRICS.activitiesInFlight,
    help: 'Activities this worker is executing now',
    registers: [registry],
    collect() {
      this.set(worker.getStatus().numInFlightActivities);
    },
  });
  new Gauge({
    name: WORKER_METRICS.temporalUp,
    help: '1 when Temporal answered this worker on its connection at the last check, else 0',
    registers: [registry],
    async collect() {
      this.set((await checkTemporal()).ok ? 1 : 0);
    },
  });

  const app = Fastify({ logger: false });
  app.get('/healthz', async (_request, reply) => {
    const state = worker.getState();
    const alive = state !== 'FAILED' && state !== 'STOPPED';
    return reply.code(alive ? 200 : 503).send({ status: alive ? 'ok' : 'failed', state });
  });
  app.get('/readyz', async (_request, reply) => {
    const state = worker.getState();
    const temporalCheck = await checkTemporal();
    const failed = [...(state === 'RUNNING' ? [] : ['worker']), ...(temporalCheck.ok ? [] : ['temporal'])];
    return reply.code(failed.length === 0 ? 200 : 503).send({
      status: failed.length === 0 ? 'ready' : 'not_ready',
      failed,
      checks: {
        worker: { ok: state === 'RUNNING', state },
        temporal: {
          ok: temporalCheck.ok,
          latencyMs: temporalCheck.latencyMs,
          ...(temporalCheck.error ? { error: temporalCheck.error } : {}),
        },
      },
    });
  });
  app.get('/metrics', async (_request, reply) => {
    const body = await registry.metrics();
    return reply.header('content-type', registry.contentType).send(body);
  });

  const url = await app.listen({ host: config.WORKER_HEALTH_HOST, port: config.WORKER_HEALTH_PORT });
  logger.info({ url }, 'worker health endpoint listening');
  return {
    url,
    close: () => app.close(),
  };
}
