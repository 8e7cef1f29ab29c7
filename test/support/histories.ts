import fs from 'node:fs/promises';
import path from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';

export const HISTORIES_DIR = path.join(__dirname, '..', 'fixtures', 'histories');

/**
 * With RECORD_HISTORIES=1, save a finished (or waiting) run's history as a replay fixture. The replay test
 * (test/workflow/replay.test.ts) runs these against the current workflow code, so a change that would break
 * running tickets fails CI instead of production.
 */
export async function recordHistory(handle: WorkflowHandle, name: string): Promise<void> {
  if (process.env.RECORD_HISTORIES !== '1') return;
  const history = await handle.fetchHistory();
  await fs.mkdir(HISTORIES_DIR, { recursive: true });
  await fs.writeFile(path.join(HISTORIES_DIR, `${name}.json`), historyToJSON(history));
}

/**
 * The activities a run executed, in order, from its history: regular activities by their scheduled event, local
 * activities by the marker Temporal records for each (payload `activity_type`).
 */
export async function activitiesRun(handle: WorkflowHandle): Promise<string[]> {
  const history = await handle.fetchHistory();
  const types: string[] = [];
  for (const event of history.events ?? []) {
    const scheduled = event.activityTaskScheduledEventAttributes?.activityType?.name;
    if (scheduled) types.push(scheduled);
    const marker = event.markerRecordedEventAttributes;
    if (marker?.markerName === 'core_local_activity') {
      const data = marker.details?.data?.payloads?.[0]?.data;
      const parsed = data
        ? (JSON.parse(Buffer.from(data).toString('utf8')) as { activity_type?: string })
        : {};
      if (parsed.activity_type) types.push(parsed.activity_type);
    }
  }
  return types;
}
