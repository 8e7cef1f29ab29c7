#!/usr/bin/env node
// The `ticketflow` command: runs src/cli/main.ts through tsx (TypeScript is executed directly, no build step).
'use strict';
const { spawn } = require('node:child_process');
const path = require('node:path');
const { pathToFileURL } = require('node:url');

const root = path.resolve(__dirname, '..');
const entry = path.join(root, 'src', 'cli', 'main.ts');
if (!require('node:fs').existsSync(entry)) {
  console.error(`ticketflow: ${entry} is missing`);
  process.exit(1);
}
const loader = pathToFileURL(require.resolve('tsx', { paths: [root] })).href;
const child = spawn(process.execPath, ['--import', loader, entry, ...process.argv.slice(2)], {
  stdio: 'inherit',
});

// Ctrl-C reaches the child through the terminal; signals sent to this process alone are passed on.
for (const signal of ['SIGTERM', 'SIGHUP']) process.on(signal, () => child.kill(signal));
process.on('SIGINT', () => undefined);
child.on('error', (error) => {
  console.error(`ticketflow: cannot start the CLI: ${error.message}`);
  process.exit(1);
});
child.on('exit', (code, signal) => {
  if (signal) process.kill(process.pid, signal);
  else process.exit(code ?? 1);
});
