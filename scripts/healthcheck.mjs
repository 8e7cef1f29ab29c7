#!/usr/bin/env node
/* global AbortSignal */
// Container health checks (docker-compose.yml): `node scripts/healthcheck.mjs api|worker`. Exit 0 = healthy.
//   api     GET http://127.0.0.1:$API_PORT/readyz answers 200 (Temporal, Postgres and the vector store answer)
//   worker  Temporal lists a poller from THIS container (identity pid@hostname) on the task queue
import os from 'node:os';

const mode = process.argv[2];
const fail = (message) => {
  console.error(`unhealthy: ${message}`);
  process.exit(1);
};

if (mode === 'api') {
  const url = `http://127.0.0.1:${process.env.API_PORT || 3000}${process.env.HEALTHCHECK_PATH || '/readyz'}`;
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(4000) });
    if (response.status !== 200) fail(`${url} answered ${response.status}`);
  } catch (error) {
    fail(`${url}: ${error.message}`);
  }
} else if (mode === 'worker') {
  const { Connection } = await import('@temporalio/client');
  const address = process.env.TEMPORAL_ADDRESS || 'localhost:7233';
  const taskQueue = process.env.TEMPORAL_TASK_QUEUE || 'ticketflow';
  let connection;
  try {
    connection = await Connection.connect({ address, connectTimeout: 4000 });
    const { pollers } = await connection.workflowService.describeTaskQueue({
      namespace: process.env.TEMPORAL_NAMESPACE || 'default',
      taskQueue: { name: taskQueue },
      taskQueueType: 1, // TASK_QUEUE_TYPE_WORKFLOW
    });
    const ours = (pollers ?? []).filter((p) => (p.identity ?? '').endsWith(`@${os.hostname()}`));
    if (ours.length === 0) fail(`no worker on ${os.hostname()} polls task queue ${taskQueue} at ${address}`);
  } catch (error) {
    fail(`${address}: ${error.message}`);
  } finally {
    await connection?.close();
  }
} else {
  fail('usage: node scripts/healthcheck.mjs api|worker');
}
