#!/usr/bin/env node
// Prints the README's configuration table from .env.example (the one place variables are documented),
// so the two cannot drift: `node scripts/config-table.mjs` and paste between the markers in README.md.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const lines = fs.readFileSync(path.join(root, '.env.example'), 'utf8').split('\n');
const rows = [];
let comment = [];
for (const line of lines) {
  const variable = line.match(/^#?\s*([A-Z][A-Z0-9_]+)=(.*)$/);
  if (variable) {
    const [, name, value] = variable;
    rows.push(
      `| \`${name}\` | ${value ? `\`${value}\`` : '—'} | ${comment.join(' ').replace(/\|/g, '\\|')} |`,
    );
    comment = [];
  } else if (line.startsWith('# ---')) {
    rows.push(`| **${line.replace(/^# -+\s*|\s*-+$/g, '')}** | | |`);
    comment = [];
  } else if (line.startsWith('#')) {
    comment.push(line.replace(/^#\s?/, ''));
  } else {
    comment = [];
  }
}
console.log(['| Variable | Default | Meaning |', '|---|---|---|', ...rows.slice(0)].join('\n'));
