import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Worker } from '@temporalio/worker';
import { HISTORIES_DIR } from '../support/histories';
import { buildWorkflowBundles, workflowBundle } from '../../workers/bundle';

/**
 * Determinism guard: recorded histories of each path (answered, answered from a human resolution, escalated for
 * each kind of reason and waiting, resolved, overdue then resolved), and the older versions of those that
 * running tickets may still be on, must replay against the current workflow code. Changing a step without
 * `patched()` makes this fail. Recorded by `RECORD_HISTORIES=1 npm test -- test/workflow/ticket-workflow.local.test.ts
 * test/workflow/ticket-workflow.anthropic.test.ts` (see docs/WORKFLOW_CHANGES.md).
 */

const files = fs
  .readdirSync(HISTORIES_DIR)
  .filter((f) => f.endsWith('.json'))
  .sort();

test('the recorded histories cover every path of the workflow', () => {
  expect(files).toEqual(
    expect.arrayContaining([
      'answered.json',
      'answered-from-resolution.json',
      // Escalated and waiting for a human, one history per way of getting there.
      'escalated-awaiting-human.json', // customer_requested_human
      'escalated-critical-urgency.json',
      'escalated-llm-unavailable.json',
      'escalated-retrieval-unavailable.json',
      'escalated-agent-uncertainty.json',
      'resolved.json',
      'overdue-resolved.json',
      // Runs resolved before `deliver-before-learning` (indexed first, then delivered).
      'resolved.v2-learn-before-deliver.json',
      'overdue-resolved.v2-learn-before-deliver.json',
      // SPECULATIVE_GENERATION on: the draft sent, and the draft a gate discarded.
      'answered-speculative.json',
      'escalated-speculative-discarded.json',
      // Conversations (`conversation-follow-ups`): a follow-up turn then thanks; a bad rating, human answer,
      // reopen, human again, good rating; the window running out; the run after a continue-as-new.
      'conversation-follow-up-confirmed.json',
      'conversation-unsatisfied-reopened.json',
      'conversation-window-closed.json',
      'conversation-continued-as-new.json',
      // Offline runs since `local-triage` classify and retrieve as local activities; those before did not.
      'escalated-retrieval-unavailable-local-triage.json',
      'answered.v4-regular-triage.json',
      'escalated-not-answerable.v4-regular-triage.json',
      // The kb-ingestion workflow (recorded by test/api/kb-ingestion.test.ts).
      'kb-ingestion.json',
    ]),
  );
});

test.each(files)('history %s replays against the current workflow code', async (file) => {
  const history = JSON.parse(fs.readFileSync(path.join(HISTORIES_DIR, file), 'utf8'));
  await Worker.runReplayHistory({ workflowBundle: await workflowBundle() }, history, `replay-${file}`);
});

test('the prebuilt bundles (what the Docker image ships) replay the histories too; a missing one is an error', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ticketflow-bundle-'));
  try {
    const written = await buildWorkflowBundles(dir);
    expect(written.map((file) => path.basename(file)).sort()).toEqual([
      'workflow-bundle.encrypted-failures.js',
      'workflow-bundle.js',
    ]);
    const prebuilt = await workflowBundle(undefined, dir);
    expect(prebuilt).toEqual({ codePath: path.join(dir, 'workflow-bundle.js') });
    for (const file of ['resolved.json', 'escalated-agent-uncertainty.json']) {
      const history = JSON.parse(fs.readFileSync(path.join(HISTORIES_DIR, file), 'utf8'));
      await Worker.runReplayHistory({ workflowBundle: prebuilt }, history, `replay-prebuilt-${file}`);
    }
    const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'ticketflow-no-bundle-'));
    await expect(workflowBundle(undefined, empty)).rejects.toThrow(/has no workflow-bundle\.js/);
    fs.rmSync(empty, { recursive: true });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
