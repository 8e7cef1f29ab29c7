import { temporal } from '@temporalio/proto';

/**
 * Where a ticket's time goes, read from its Temporal event history. The critical path is walked backwards
 * from the last workflow task: each workflow task (its queue wait, then its run on the worker, which includes
 * the local activities it executed), the activity whose completion scheduled it (queue wait including
 * retries and backoff, then execution), the workflow task that scheduled that activity, and so on back to
 * the start. Activities that ran in parallel but finished earlier are off the critical path and not counted.
 * The segments add up to the time from WorkflowExecutionStarted to the end of the last workflow task.
 */

type Event = temporal.api.history.v1.IHistoryEvent;
const EventType = temporal.api.enums.v1.EventType;

export interface BudgetSegment {
  /** e.g. `workflow task queue`, `workflow task (worker)`, `activity queue: classifyTicket`. */
  what: string;
  ms: number;
}

export interface TicketBudget {
  /** Wall-clock ms of the WorkflowExecutionStarted event. */
  startedAtMs: number;
  /** Wall-clock ms at which the interaction-log write (recordOutcome) completed, when it ran as a local activity. */
  outcomeWrittenAtMs?: number;
  segments: BudgetSegment[];
  /** Local activities run inside workflow tasks on the path (their own execution time, when recorded). */
  localActivities: BudgetSegment[];
  workflowTasks: number;
  activities: number;
  searchAttributeUpserts: number;
  /** WorkflowExecutionStarted → end of the last workflow task. */
  totalMs: number;
}

const time = (event: Event | undefined): number => {
  const ts = event?.eventTime;
  if (!ts) return 0;
  return Number(ts.seconds ?? 0) * 1000 + Math.floor(Number(ts.nanos ?? 0) / 1e6);
};
const id = (value: unknown): number => Number(value ?? 0);

/** Local-activity markers carry `data` = {activity_type, complete_time, original_schedule_time, ...} as JSON. */
function localActivityOf(event: Event): { type: string; ms?: number; completedAtMs?: number } | undefined {
  const details = event.markerRecordedEventAttributes?.details;
  const data = details?.data?.payloads?.[0]?.data;
  if (!data) return undefined;
  try {
    const parsed = JSON.parse(Buffer.from(data).toString('utf8')) as {
      activity_type?: string;
      complete_time?: { seconds: number; nanos: number };
      original_schedule_time?: { seconds: number; nanos: number };
    };
    const at = (t?: { seconds: number; nanos: number }) =>
      t ? t.seconds * 1000 + Math.floor(t.nanos / 1e6) : undefined;
    const done = at(parsed.complete_time);
    const scheduled = at(parsed.original_schedule_time);
    return {
      type: parsed.activity_type ?? 'local activity',
      completedAtMs: done,
      ms: done !== undefined && scheduled !== undefined && done >= scheduled ? done - scheduled : undefined,
    };
  } catch {
    return undefined;
  }
}

export function budgetFromHistory(history: temporal.api.history.v1.IHistory): TicketBudget {
  const events = history.events ?? [];
  const byId = new Map(events.map((e) => [id(e.eventId), e]));
  const segments: BudgetSegment[] = [];
  const localActivities: BudgetSegment[] = [];
  const add = (what: string, from: number, to: number) => {
    if (to > from) segments.push({ what, ms: to - from });
  };
  const started = events.find((e) => e.eventType === EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED);
  const completedTasks = events.filter((e) => e.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED);
  let task = completedTasks.at(-1);
  const end = time(task);
  let workflowTasks = 0;
  let activities = 0;
  while (task) {
    workflowTasks += 1;
    const attributes = task.workflowTaskCompletedEventAttributes!;
    const taskStarted = byId.get(id(attributes.startedEventId));
    const taskScheduled = byId.get(id(attributes.scheduledEventId));
    add('workflow task (worker)', time(taskStarted), time(task));
    add('workflow task queue', time(taskScheduled), time(taskStarted));
    for (const marker of events.filter(
      (e) =>
        e.eventType === EventType.EVENT_TYPE_MARKER_RECORDED &&
        id(e.markerRecordedEventAttributes?.workflowTaskCompletedEventId) === id(task!.eventId),
    )) {
      const local = localActivityOf(marker);
      if (local?.ms !== undefined)
        localActivities.push({ what: `local activity: ${local.type}`, ms: local.ms });
    }
    // What scheduled this workflow task: the event just before it (an activity's completion, the start, a signal…).
    const trigger = byId.get(id(taskScheduled?.eventId) - 1);
    const finished =
      trigger?.activityTaskCompletedEventAttributes ??
      trigger?.activityTaskFailedEventAttributes ??
      trigger?.activityTaskTimedOutEventAttributes;
    if (!trigger || !finished) {
      if (trigger && trigger !== started)
        add('waiting (timer, signal or update)', time(trigger), time(taskScheduled));
      else add('start → first workflow task', time(started), time(taskScheduled));
      break;
    }
    activities += 1;
    const scheduled = byId.get(id(finished.scheduledEventId));
    const activityStarted = byId.get(id(finished.startedEventId));
    const type = scheduled?.activityTaskScheduledEventAttributes?.activityType?.name ?? 'activity';
    add('activity → workflow task', time(trigger), time(taskScheduled));
    add(`activity: ${type}`, time(activityStarted), time(trigger));
    add(`activity queue: ${type}`, time(scheduled), time(activityStarted));
    task = byId.get(id(scheduled?.activityTaskScheduledEventAttributes?.workflowTaskCompletedEventId));
    if (task) add('workflow task → activity', time(task), time(scheduled));
  }
  const outcomeMarker = events
    .filter((e) => e.eventType === EventType.EVENT_TYPE_MARKER_RECORDED)
    .map((e) => localActivityOf(e))
    .filter((local) => local?.type === 'recordOutcome')
    .at(-1);
  // Number the workflow tasks along the path, so the table shows each one (the first records the ticket, the
  // last delivers and logs: their local activities are what they spend time on).
  const ordered = segments.reverse();
  let n = 0;
  for (const segment of ordered) {
    if (segment.what === 'workflow task queue') n += 1;
    if (segment.what.startsWith('workflow task '))
      segment.what = segment.what.replace('workflow task', `workflow task ${n}`);
  }
  return {
    startedAtMs: time(started),
    outcomeWrittenAtMs: outcomeMarker?.completedAtMs,
    segments: ordered,
    localActivities,
    workflowTasks,
    activities,
    searchAttributeUpserts: events.filter(
      (e) => e.eventType === EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES && time(e) <= end,
    ).length,
    totalMs: end - time(started),
  };
}

/** Median of each segment name over tickets (0 where a ticket lacks it), in first-seen order. */
export function summariseBudgets(
  budgets: TicketBudget[],
): Array<{ what: string; p50: number; mean: number }> {
  const names: string[] = [];
  for (const budget of budgets)
    for (const segment of [...budget.segments, ...budget.localActivities])
      if (!names.includes(segment.what)) names.push(segment.what);
  const median = (values: number[]) => {
    const sorted = [...values].sort((a, b) => a - b);
    return sorted.length ? sorted[Math.floor((sorted.length - 1) / 2)]! : 0;
  };
  return names.map((what) => {
    const values = budgets.map((b) =>
      [...b.segments, ...b.localActivities].filter((s) => s.what === what).reduce((t, s) => t + s.ms, 0),
    );
    return {
      what,
      p50: median(values),
      mean: Math.round((values.reduce((a, b) => a + b, 0) / Math.max(1, values.length)) * 10) / 10,
    };
  });
}
