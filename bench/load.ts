// Load a running ticketflow through its HTTP API and check every ticket's outcome in its database:
//   npm start                       # in another terminal (or any deployment)
//   npx tsx bench/load.ts [--tickets 100 --concurrency 10 --pollers 20]
// API URL, key and database default to the running `npm start` (.data/local-stack.json, .data/admin-api-key);
// --api-url, --api-key (or TICKETFLOW_API_KEY) and DATABASE_URL override them. Prints a JSON report and exits
// 1 if any request got a 5xx, any ticket did not finish, or any ticket's bookkeeping is not exactly one outcome.
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { localStackPath, readLocalStack } from '../src/cli/local-stack';
import { runLoad } from './lib/load';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      tickets: { type: 'string', default: '100' },
      concurrency: { type: 'string', default: '10' },
      pollers: { type: 'string', default: '20' },
      'api-url': { type: 'string' },
      'api-key': { type: 'string' },
      'timeout-s': { type: 'string', default: '600' },
    },
  });
  const stack = readLocalStack();
  const stackNote = fs.existsSync(localStackPath())
    ? (JSON.parse(fs.readFileSync(localStackPath(), 'utf8')) as { apiUrl?: string })
    : {};
  const dataDir = path.dirname(localStackPath());
  const apiUrl = values['api-url'] ?? stackNote.apiUrl;
  const apiKey =
    values['api-key'] ??
    process.env.TICKETFLOW_API_KEY ??
    (fs.existsSync(path.join(dataDir, 'admin-api-key'))
      ? fs.readFileSync(path.join(dataDir, 'admin-api-key'), 'utf8').trim()
      : undefined);
  const databaseUrl = process.env.DATABASE_URL ?? stack?.DATABASE_URL;
  if (!apiUrl || !apiKey || !databaseUrl) {
    throw new Error('no running `npm start` found: pass --api-url, --api-key and DATABASE_URL');
  }
  const report = await runLoad({
    apiUrl,
    apiKey,
    databaseUrl,
    tickets: Number(values.tickets),
    concurrency: Number(values.concurrency),
    pollers: Number(values.pollers),
    timeoutMs: Number(values['timeout-s']) * 1000,
    runTag: `load-${Date.now().toString(36)}`,
  });
  console.log(JSON.stringify(report, null, 2));
  const failed =
    report.serverErrors.length > 0 || report.unfinished.length > 0 || report.violations.length > 0;
  process.exit(failed ? 1 : 0);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(2);
});
