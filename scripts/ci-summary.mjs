#!/usr/bin/env node
// Prints "N passed, N failed[, N skipped]" from a jest --json result file (used as .ci/run's last line).
// Exit 1, printing nothing on stdout, when the file is missing or not jest output.
import fs from 'node:fs';

const file = process.argv[2] ?? 'test-results/jest.json';
let results;
try {
  results = JSON.parse(fs.readFileSync(file, 'utf8'));
} catch (error) {
  console.error(`[ci] cannot read jest results ${file}: ${error.message}`);
  process.exit(1);
}
if (!Number.isInteger(results.numPassedTests) || !Number.isInteger(results.numFailedTests)) {
  console.error(`[ci] ${file} is not jest --json output`);
  process.exit(1);
}
const skipped = (results.numPendingTests ?? 0) + (results.numTodoTests ?? 0);
// A suite that fails to run (or fails in a hook) has no failed test of its own; each counts as one failure,
// so the last line never reads "0 failed" for a red run.
const broken = results.numRuntimeErrorTestSuites ?? 0;
if (broken > 0) console.error(`[ci] ${broken} test suite(s) failed to run; each is counted as one failure`);
console.log(
  `${results.numPassedTests} passed, ${results.numFailedTests + broken} failed${skipped > 0 ? `, ${skipped} skipped` : ''}`,
);
