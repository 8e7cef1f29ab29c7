import http from 'node:http';
import type { Client } from '@temporalio/client';
import { loadConfig } from '../../src/config';
import { connectTemporal } from '../../src/temporal/client';
import { canConnect, sleep, spawnApi, stopAllProcesses } from '../support/processes';
import { uniqueSuffix } from '../support/stack';

/**
 * SIGTERM reaches the API (rolling update, scale-down) while a client is still uploading a ticket. The API must
 * stop accepting connections at once, still answer the request in flight, then exit 0; the ticket it accepted
 * must exist in Temporal. The request body is sent in two halves around the signal, so the request is
 * provably in flight when the signal lands.
 */

const ADMIN_KEY = 'tf_graceful_shutdown_admin_key_0123456789';
const taskQueue = `api-drain-${uniqueSuffix()}`;
let temporal: Client | undefined;
const startedIds: string[] = [];

afterAll(async () => {
  await stopAllProcesses();
  if (temporal) {
    // No worker polls this task queue: end the workflow the test started.
    for (const id of startedIds)
      await temporal.workflow
        .getHandle(id)
        .terminate('test cleanup')
        .catch(() => undefined);
    await temporal.connection.close();
  }
});

test('SIGTERM: the API refuses new connections, answers the request in flight, and exits 0', async () => {
  const { api, url } = await spawnApi({
    ADMIN_API_KEY: ADMIN_KEY,
    TEMPORAL_TASK_QUEUE: taskQueue,
    KB_COLLECTION: `kb_drain_${uniqueSuffix()}`,
    API_SHUTDOWN_GRACE_MS: '20000',
  });
  const { port } = new URL(url);
  const externalId = `drain-${uniqueSuffix()}`;
  const body = Buffer.from(
    JSON.stringify({
      externalId,
      subject: 'Invoice copy',
      body: 'Where can I download a copy of last month’s invoice?',
      customer: { email: 'customer@example.com' },
    }),
  );
  const half = Math.floor(body.length / 2);

  let sendRest = (): void => undefined;
  const response = new Promise<{ status: number; text: string }>((resolve, reject) => {
    const request = http.request(
      {
        host: '127.0.0.1',
        port: Number(port),
        method: 'POST',
        path: '/v1/tickets',
        headers: {
          authorization: `Bearer ${ADMIN_KEY}`,
          'content-type': 'application/json',
          'content-length': body.length,
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      },
    );
    request.on('error', reject);
    request.write(body.subarray(0, half));
    // The rest follows the signal (below).
    sendRest = () => request.end(body.subarray(half));
  });
  await sleep(300); // the headers and half the body have reached the server

  api.signal('SIGTERM');
  await api.waitForOutput(/shutting down: no new connections; finishing requests in flight/, 10_000);
  // The listener is closed: a new client cannot connect any more.
  expect(await canConnect(Number(port))).toBe(false);
  expect(api.running).toBe(true);

  sendRest();
  const answered = await response;
  expect({ status: answered.status, body: JSON.parse(answered.text) as unknown }).toEqual({
    status: 202,
    body: expect.objectContaining({ ticketId: externalId, created: true }),
  });
  const exit = await api.exited;
  expect(exit).toEqual({ code: 0, signal: null });

  // What the API accepted while shutting down really reached Temporal.
  temporal = await connectTemporal(loadConfig({ ...process.env, TEMPORAL_TASK_QUEUE: taskQueue }));
  const workflowId = (JSON.parse(answered.text) as { workflowId: string }).workflowId;
  startedIds.push(workflowId);
  const description = await temporal.workflow.getHandle(workflowId).describe();
  expect(description.taskQueue).toBe(taskQueue);
}, 180_000);
