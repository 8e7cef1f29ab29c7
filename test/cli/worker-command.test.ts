import { ManagedProcess, REPO_ROOT, freePort, stopAllProcesses } from '../support/processes';
import { uniqueSuffix } from '../support/stack';
import path from 'node:path';

/** `ticketflow worker` serves the same health endpoint as workers/main.ts and drains on SIGTERM. */

afterAll(() => stopAllProcesses());

test('ticketflow worker: health endpoint when WORKER_HEALTH_PORT is set, exit 0 after SIGTERM', async () => {
  const healthPort = await freePort();
  const worker = new ManagedProcess(
    process.execPath,
    ['--import', 'tsx', path.join(REPO_ROOT, 'src', 'cli', 'main.ts'), 'worker'],
    {
      name: 'ticketflow worker',
      env: {
        ...process.env,
        TEMPORAL_TASK_QUEUE: `cli-worker-${uniqueSuffix()}`,
        WORKER_HEALTH_PORT: String(healthPort),
      },
    },
  );
  await worker.waitForOutput(/worker polling task queue/, 120_000);
  const ready = await fetch(`http://127.0.0.1:${healthPort}/readyz`);
  expect({ status: ready.status, body: (await ready.json()) as unknown }).toEqual({
    status: 200,
    body: expect.objectContaining({ status: 'ready', failed: [] }),
  });
  expect(await worker.stop('SIGTERM', 30_000)).toEqual({ code: 0, signal: null });
}, 180_000);
