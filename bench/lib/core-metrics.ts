/**
 * The Temporal SDK core's own histograms (Prometheus text), read before and after a phase of a benchmark: the
 * difference of their sums and counts gives the phase's mean workflow-task timings.
 */

export type Series = Map<string, number>;

/** Prometheus text → value per `_sum` and `_count` series (`name{labels}`); other lines are ignored. */
export function parseHistogramTotals(text: string): Series {
  const series: Series = new Map();
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    if (at < 0) continue;
    const key = line.slice(0, at);
    const name = key.replace(/\{.*\}$/, '');
    if (!name.endsWith('_sum') && !name.endsWith('_count')) continue;
    const value = Number(line.slice(at + 1));
    if (Number.isFinite(value)) series.set(key, value);
  }
  return series;
}

/** How much the series named `name` (and carrying `labelFilter`, e.g. `operation="X"`) grew, summed over labels. */
function growth(before: Series, after: Series, name: string, labelFilter: string): number {
  let total = 0;
  for (const [key, value] of after) {
    if (key.startsWith(`${name}{`) && key.includes(labelFilter)) total += value - (before.get(key) ?? 0);
  }
  return total;
}

/** Means over one phase, in milliseconds (the core's default unit for Prometheus durations). */
export interface WorkflowTaskTimings {
  workflowTasksPerWorkflow: number;
  /** From the activation reaching the SDK's Node side until its completion came back: the worker's own share. */
  workflowTaskInWorkerMs: number;
  /** Scheduled on the server until a poller took it (matching). */
  workflowTaskScheduleToStartMs: number;
  /** The server's handling of a workflow task's completion (history write), as the worker's RPC saw it. */
  respondWorkflowTaskCompletedMs: number;
}

export function workflowTaskTimings(before: Series, after: Series, workflows: number): WorkflowTaskTimings {
  const mean = (histogram: string, labelFilter = '') => {
    const count = growth(before, after, `${histogram}_count`, labelFilter);
    return count > 0 ? round(growth(before, after, `${histogram}_sum`, labelFilter) / count) : NaN;
  };
  const tasks = growth(before, after, 'temporal_workflow_task_execution_latency_count', '');
  return {
    workflowTasksPerWorkflow: workflows > 0 ? round(tasks / workflows) : NaN,
    workflowTaskInWorkerMs: mean('temporal_workflow_task_execution_latency'),
    workflowTaskScheduleToStartMs: mean('temporal_workflow_task_schedule_to_start_latency'),
    respondWorkflowTaskCompletedMs: mean(
      'temporal_request_latency',
      'operation="RespondWorkflowTaskCompleted"',
    ),
  };
}

const round = (value: number) => Math.round(value * 10) / 10;
