#!/usr/bin/env node
// `node scripts/run-ts.mjs <file.ts> [args...]` (npm run bench / eval): runs a TypeScript entry point with
// tsx and exits with its code. Infrastructure is whatever the environment points at (see .env.example).
import { spawn } from 'node:child_process';
import { tsCommand } from './lib/paths.mjs';

const [file, ...args] = process.argv.slice(2);
if (!file) {
  console.error('usage: node scripts/run-ts.mjs <file.ts> [args...]');
  process.exit(2);
}
const [command, commandArgs] = tsCommand(file, args);
const child = spawn(command, commandArgs, { stdio: 'inherit' });
for (const signal of ['SIGTERM', 'SIGHUP']) process.on(signal, () => child.kill(signal));
process.on('SIGINT', () => undefined); // the terminal delivers Ctrl-C to the child too
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
