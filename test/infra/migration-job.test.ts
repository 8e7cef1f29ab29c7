import { loadConfig } from '../../src/config';
import { createDb, pendingMigrations } from '../../src/db/database';
import { httpRequest } from '../api/helpers';
import { createDatabase, dropDatabase } from '../support/databases';
import { apiUrl, runToExit, startApiProcess, stopAllProcesses } from '../support/processes';
import { uniqueSuffix } from '../support/stack';

/**
 * The Kubernetes layout (deploy/k8s): a migration Job runs `ticketflow db migrate`, and the API and worker run
 * with MIGRATE_ON_START=false, so their database role needs no DDL rights and a rollout's new schema is in place
 * before new code serves. An API started before the job waits for the schema instead of migrating or failing.
 */

const baseConfig = loadConfig();
const name = `tf_migjob_${uniqueSuffix()}`;

afterAll(async () => {
  await stopAllProcesses();
  await dropDatabase(baseConfig.DATABASE_URL, name);
}, 60_000);

test('with MIGRATE_ON_START=false the API waits for `ticketflow db migrate`, then serves', async () => {
  const url = await createDatabase(baseConfig.DATABASE_URL, name);
  const env = { DATABASE_URL: url, MIGRATE_ON_START: 'false', KB_COLLECTION: `kb_${name}` };
  const db = createDb(url, 1);
  try {
    const api = startApiProcess(env);
    await api.waitForOutput(
      /waiting for the database schema \(MIGRATE_ON_START=false: run `ticketflow db migrate`\)/,
      90_000,
    );
    // It touched nothing and serves nothing yet.
    const pending = await pendingMigrations(db);
    expect(pending.length).toBeGreaterThan(0);
    expect(api.output()).not.toMatch(/ticketflow API listening/);

    const job = await runToExit('src/cli/main.ts', env, { args: ['db', 'migrate', '--json'] });
    expect({ code: job.code, result: JSON.parse(job.output.trim().split('\n').pop()!) as unknown }).toEqual({
      code: 0,
      result: { applied: pending },
    });
    const served = await apiUrl(api, 30_000);
    expect((await httpRequest(served, 'GET', '/healthz')).status).toBe(200);
    expect(await pendingMigrations(db)).toEqual([]);

    // Every rollout runs the job again: nothing to do.
    const again = await runToExit('src/cli/main.ts', env, { args: ['db', 'migrate'] });
    expect({ code: again.code, last: again.output.trim().split('\n').pop() }).toEqual({
      code: 0,
      last: 'The schema is up to date.',
    });
    await api.stop();
  } finally {
    await db.destroy();
  }
}, 180_000);
