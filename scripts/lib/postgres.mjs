import os from 'node:os';
import { run } from './processes.mjs';
import { findExecutable } from './paths.mjs';
import { waitUntil } from './ports.mjs';

/** Identifiers and passwords we put into SQL are our own constants, but keep them safe anyway. */
const ident = (name) => {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name)) throw new Error(`unsafe SQL identifier ${name}`);
  return name;
};
const literal = (value) => `'${String(value).replaceAll("'", "''")}'`;

async function listClusters() {
  if (!findExecutable('pg_lsclusters')) return [];
  const result = await run('pg_lsclusters', ['--no-header'], { capture: true });
  if (result.code !== 0) return [];
  return result.stdout
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [version, name, port, status] = line.trim().split(/\s+/);
      return { version, name, port: Number(port), online: status === 'online' };
    });
}

const isReady = async (port) =>
  (await run('pg_isready', ['-q', '-h', '127.0.0.1', '-p', String(port)], { capture: true })).code === 0;

/**
 * Make sure the machine's own Postgres cluster (Debian `pg_ctlcluster`) runs; returns { port, cluster }.
 * Throws when this machine has no Postgres installed.
 */
export async function ensureLocalPostgres(logger) {
  const clusters = await listClusters();
  if (clusters.length === 0) throw new Error('no local Postgres cluster (pg_lsclusters found none)');
  const cluster =
    clusters.find((c) => c.online) ?? clusters.sort((a, b) => Number(b.version) - Number(a.version))[0];
  const label = `Postgres ${cluster.version}/${cluster.name} on port ${cluster.port}`;
  if (!cluster.online || !(await isReady(cluster.port))) {
    logger.info(`starting ${label}`);
    const result = await run('pg_ctlcluster', [cluster.version, cluster.name, 'start'], { capture: true });
    if (result.code !== 0 && !/already running/i.test(result.stderr)) {
      throw new Error(
        `pg_ctlcluster ${cluster.version} ${cluster.name} start failed: ${result.stderr.trim()}`,
      );
    }
  }
  await waitUntil(() => isReady(cluster.port), { timeoutMs: 60_000, what: label });
  logger.ok(`${label} is accepting connections`);
  return { port: cluster.port, cluster };
}

/** Run SQL as the `postgres` superuser over the local socket (root → su, postgres → direct, else sudo -n). */
export async function psqlAsSuperuser(sql, port = 5432) {
  const psqlArgs = ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-p', String(port), '-d', 'postgres', '-At'];
  let command;
  let args;
  const user = os.userInfo().username;
  if (user === 'postgres') [command, args] = ['psql', psqlArgs];
  else if (process.getuid?.() === 0)
    [command, args] = ['su', ['postgres', '-c', ['psql', ...psqlArgs].join(' ')]];
  else [command, args] = ['sudo', ['-n', '-u', 'postgres', 'psql', ...psqlArgs]];
  const result = await run(command, args, { capture: true, input: sql, cwd: '/' });
  if (result.code !== 0)
    throw new Error(`psql as postgres failed: ${result.stderr.trim() || result.stdout.trim()}`);
  return result.stdout;
}

/**
 * Create (or update the password of) a login role and create its database; `recreate` drops it first.
 * `createdb` lets the role make further databases (tests create one per test file for isolation).
 */
export async function ensureRoleAndDatabase({
  role,
  password,
  database,
  port = 5432,
  recreate = false,
  createdb = false,
}) {
  const attributes = `LOGIN${createdb ? ' CREATEDB' : ''} PASSWORD ${literal(password)}`;
  const sql = `
DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = ${literal(role)}) THEN
    CREATE ROLE ${ident(role)} ${attributes};
  ELSE
    ALTER ROLE ${ident(role)} ${attributes};
  END IF;
END $$;
${recreate ? `DROP DATABASE IF EXISTS ${ident(database)} WITH (FORCE);` : ''}
SELECT 'CREATE DATABASE ${ident(database)} OWNER ${ident(role)}'
  WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = ${literal(database)})\\gexec
`;
  await psqlAsSuperuser(sql, port);
  return `postgres://${encodeURIComponent(role)}:${encodeURIComponent(password)}@127.0.0.1:${port}/${database}`;
}

export async function dropDatabase(database, port = 5432) {
  await psqlAsSuperuser(`DROP DATABASE IF EXISTS ${ident(database)} WITH (FORCE);`, port);
}

/** Databases named `<prefix><pid>` whose process is gone (a killed earlier run) are dropped. */
export async function dropStaleRunDatabases(prefix, port, logger) {
  const names = (
    await psqlAsSuperuser(
      `SELECT datname FROM pg_database WHERE datname LIKE ${literal(`${prefix}%`)};`,
      port,
    )
  )
    .trim()
    .split('\n')
    .filter(Boolean);
  for (const name of names) {
    const pid = Number(name.slice(prefix.length));
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    let alive = true;
    try {
      process.kill(pid, 0);
    } catch (error) {
      alive = error.code === 'EPERM';
    }
    if (!alive) {
      logger.info(`dropping stale test database ${name}`);
      await dropDatabase(name, port).catch((error) =>
        logger.warn(`could not drop ${name}: ${error.message}`),
      );
    }
  }
}
