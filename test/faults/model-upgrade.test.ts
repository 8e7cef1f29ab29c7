import fs from 'node:fs';
import path from 'node:path';
import { makeTempDir, type ManagedProcess, startNpmStart, stopAllProcesses } from '../support/processes';

/**
 * An upgrade that changes the default embedding model must not break `npm start` on its existing data: the
 * embedded knowledge base, built with the old model, is re-embedded once from the document registry at the next
 * start, and tickets are answered from it. Two real starts of scripts/start.mjs on one data directory: the first
 * with the previous default model, the second with the current one.
 */

const PREVIOUS_MODEL = 'sentence-transformers/all-MiniLM-L6-v2';

// start.mjs runs its services in their own process groups: stop it with SIGINT so that it stops them too,
// also when an assertion failed half-way.
const started: ManagedProcess[] = [];

afterAll(async () => {
  for (const child of started) await child.stop('SIGINT', 30_000).catch(() => undefined);
  await stopAllProcesses();
}, 120_000);

async function start(dataDir: string, name: string, extraEnv: Record<string, string>) {
  const logFile = path.join(dataDir, `${name}.log`);
  const child = await startNpmStart({ dataDir, name, logFile, env: extraEnv });
  started.push(child);
  const apiUrl = (
    JSON.parse(fs.readFileSync(path.join(dataDir, 'local-stack.json'), 'utf8')) as { apiUrl: string }
  ).apiUrl;
  const key = fs.readFileSync(path.join(dataDir, 'admin-api-key'), 'utf8').trim();
  return { child, log: () => fs.readFileSync(logFile, 'utf8'), apiUrl, key };
}

test('npm start on data embedded with the previous default model re-embeds it once and answers from it', async () => {
  const dataDir = makeTempDir('model-upgrade');
  const before = await start(dataDir, 'start-previous-model', { EMBEDDING_MODEL: PREVIOUS_MODEL });
  expect(before.log()).toMatch(/sample knowledge base ingested/);
  await before.child.stop('SIGINT', 30_000);

  const after = await start(dataDir, 'start-current-model', {});
  expect(after.log()).toMatch(/re-embedding it with ticketflow\/minilm-support-v1/);
  expect(after.log()).toMatch(/knowledge base re-embedded with ticketflow\/minilm-support-v1/);

  const headers = { authorization: `Bearer ${after.key}`, 'content-type': 'application/json' };
  const externalId = `upgrade-${Date.now().toString(36)}`;
  const submitted = await fetch(`${after.apiUrl}/v1/tickets`, {
    method: 'POST',
    headers,
    body: JSON.stringify({ externalId, body: 'How do I reset my password?' }),
  });
  expect([200, 202]).toContain(submitted.status);
  const outcome = await fetch(`${after.apiUrl}/v1/tickets/${externalId}?waitFor=outcome&timeoutMs=25000`, {
    headers,
  });
  expect(outcome.status).toBe(200);
  expect(await outcome.json()).toMatchObject({ stage: 'answered', reply: { source: 'ai' } });

  // The next start finds nothing to do.
  await after.child.stop('SIGINT', 30_000);
  const again = await start(dataDir, 'start-again', {});
  expect(again.log()).not.toMatch(/re-embedding/);
  await again.child.stop('SIGINT', 30_000);
  fs.rmSync(dataDir, { recursive: true, force: true });
}, 900_000);
