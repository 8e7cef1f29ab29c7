import fs from 'node:fs';
import path from 'node:path';
import { Worker } from '@temporalio/worker';
import { HISTORIES_DIR } from '../support/histories';
import { workflowBundle } from '../../workers/main';

/**
 * Determinism guard: recorded histories of each path (answered, escalated and waiting, resolved, overdue then
 * resolved) must replay against the current workflow code. Changing a step without `patched()` makes this fail.
 * Re-record with `RECORD_HISTORIES=1 npm test -- test/workflow/ticket-workflow.local.test.ts` only for changes
 * that are safe for running tickets (see docs/WORKFLOW_CHANGES.md).
 */

const files = fs
  .readdirSync(HISTORIES_DIR)
  .filter((f) => f.endsWith('.json'))
  .sort();

test('the recorded histories cover every path of the workflow', () => {
  expect(files).toEqual(
    expect.arrayContaining([
      'answered.json',
      'escalated-awaiting-human.json',
      'resolved.json',
      'overdue-resolved.json',
    ]),
  );
});

test.each(files)('history %s replays against the current workflow code', async (file) => {
  const history = JSON.parse(fs.readFileSync(path.join(HISTORIES_DIR, file), 'utf8'));
  await Worker.runReplayHistory({ workflowBundle: await workflowBundle() }, history, `replay-${file}`);
});
