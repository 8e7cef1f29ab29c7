#!/usr/bin/env node
/* global AbortSignal */
// Container health checks (docker-compose.yml): `node scripts/healthcheck.mjs api|worker`. Exit 0 = healthy.
//   api     GET http://127.0.0.1:$API_PORT/readyz answers 200 (Temporal, Postgres and the vector store answer)
//   worker  GET http://127.0.0.1:$WORKER_HEALTH_PORT/readyz answers 200 (the worker runs and Temporal answers
//           on its own connection, TLS and credentials included; workers/health.ts)

const mode = process.argv[2];
const fail = (message) => {
  console.error(`unhealthy: ${message}`);
  process.exit(1);
};

const ports = { api: ['API_PORT', '3000'], worker: ['WORKER_HEALTH_PORT', undefined] };
if (!(mode in ports)) fail('usage: node scripts/healthcheck.mjs api|worker');
const [variable, fallback] = ports[mode];
const port = process.env[variable] || fallback;
if (!port) fail(`${variable} is not set: the worker serves no health endpoint`);
const url = `http://127.0.0.1:${port}${process.env.HEALTHCHECK_PATH || '/readyz'}`;
try {
  const response = await fetch(url, { signal: AbortSignal.timeout(4000) });
  if (response.status !== 200)
    fail(`${url} answered ${response.status}: ${(await response.text()).slice(0, 300)}`);
} catch (error) {
  fail(`${url}: ${error.message}`);
}
