import { parseHistogramTotals, workflowTaskTimings } from '../../bench/lib/core-metrics';

const scrape = (execSum: number, execCount: number, respondSum: number, respondCount: number) =>
  [
    '# HELP temporal_workflow_task_execution_latency Histogram of workflow task execution latencies',
    '# TYPE temporal_workflow_task_execution_latency histogram',
    `temporal_workflow_task_execution_latency_bucket{task_queue="q",workflow_type="a",le="10"} ${execCount}`,
    `temporal_workflow_task_execution_latency_sum{task_queue="q",workflow_type="a"} ${execSum / 2}`,
    `temporal_workflow_task_execution_latency_count{task_queue="q",workflow_type="a"} ${execCount / 2}`,
    `temporal_workflow_task_execution_latency_sum{task_queue="q",workflow_type="b"} ${execSum / 2}`,
    `temporal_workflow_task_execution_latency_count{task_queue="q",workflow_type="b"} ${execCount / 2}`,
    `temporal_request_latency_sum{operation="RespondWorkflowTaskCompleted"} ${respondSum}`,
    `temporal_request_latency_count{operation="RespondWorkflowTaskCompleted"} ${respondCount}`,
    'temporal_request_latency_sum{operation="PollActivityTaskQueue"} 99999',
    'temporal_request_latency_count{operation="PollActivityTaskQueue"} 1',
    'temporal_num_pollers{poller_type="workflow_task"} 5',
    '',
  ].join('\n');

describe('SDK core histograms', () => {
  it('keeps only the _sum and _count series, with their labels', () => {
    const series = parseHistogramTotals(scrape(40, 8, 12, 4));
    expect(series.get('temporal_workflow_task_execution_latency_sum{task_queue="q",workflow_type="a"}')).toBe(
      20,
    );
    expect([...series.keys()].some((key) => key.includes('_bucket') || key.includes('num_pollers'))).toBe(
      false,
    );
  });

  it('gives the means of one phase from two scrapes, summed over labels, filtered by operation', () => {
    const before = parseHistogramTotals(scrape(40, 8, 12, 4));
    // The phase: 10 workflows, 20 more tasks taking 100 ms in all; 20 completions taking 60 ms in all.
    const after = parseHistogramTotals(scrape(140, 28, 72, 24));
    expect(workflowTaskTimings(before, after, 10)).toEqual({
      workflowTasksPerWorkflow: 2,
      workflowTaskInWorkerMs: 5,
      workflowTaskScheduleToStartMs: NaN,
      respondWorkflowTaskCompletedMs: 3,
    });
  });

  it('counts a series that first appears after the phase began from zero', () => {
    const after = parseHistogramTotals(scrape(30, 6, 9, 3));
    expect(workflowTaskTimings(new Map(), after, 3).workflowTaskInWorkerMs).toBe(5);
  });
});
