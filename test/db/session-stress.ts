import { spawn } from 'node:child_process';
import path from 'node:path';
import pg from 'pg';

/**
 * One client process of the embedded-database session stress test: a pool of `connections` connections, each
 * running `rounds` mixed operations as fast as it can. Every operation carries a tag unique to it and checks
 * that what comes back is its own: a reply that belongs to another client's statement is counted as `wrong`,
 * a protocol error (another client's Parse/Bind in between) as an error. The shapes differ on purpose
 * (1, 3, 5 and 22 parameters; simple and extended protocol; inside and outside transactions), so one client's
 * Bind landing on another's statement shows up either as an error or as a wrong value.
 */

export interface StressResult {
  client: string;
  operations: number;
  wrong: number;
  errors: Record<string, number>;
  /** Tags of rows that must exist afterwards (committed) and that must not (rolled back). */
  committed: string[];
  rolledBack: string[];
}

export const STRESS_TABLE = 'session_stress';

export async function prepareStressTable(url: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(`DROP TABLE IF EXISTS ${STRESS_TABLE}`);
    await client.query(
      `CREATE TABLE ${STRESS_TABLE} (tag text PRIMARY KEY, a int NOT NULL, b int NOT NULL, c int NOT NULL, d int NOT NULL)`,
    );
  } finally {
    await client.end();
  }
}

export async function runStressClient(
  url: string,
  options: { client: string; connections: number; rounds: number },
): Promise<StressResult> {
  // Client-side deadlines, so a server that deadlocks shows up as errors in the counts instead of a hang.
  const pool = new pg.Pool({
    connectionString: url,
    max: options.connections,
    query_timeout: 20_000,
    connectionTimeoutMillis: 20_000,
  });
  pool.on('error', () => undefined);
  const result: StressResult = {
    client: options.client,
    operations: 0,
    wrong: 0,
    errors: {},
    committed: [],
    rolledBack: [],
  };
  const check = (ok: boolean) => {
    if (!ok) result.wrong += 1;
  };
  const fail = (error: unknown) => {
    const message = (error instanceof Error ? error.message : String(error)).replace(/"[^"]*"/g, '"…"');
    result.errors[message] = (result.errors[message] ?? 0) + 1;
  };

  const operations: Array<(tag: string, n: number) => Promise<void>> = [
    // One parameter, extended protocol.
    async (tag) => {
      const { rows } = await pool.query('SELECT $1::text AS tag', [tag]);
      check(rows.length === 1 && rows[0].tag === tag);
    },
    // Three parameters with arithmetic: a wrong statement gives a wrong sum or a type error.
    async (tag, n) => {
      const { rows } = await pool.query('SELECT $1::text AS tag, $2::int + $3::int AS sum', [tag, n, 7]);
      check(rows.length === 1 && rows[0].tag === tag && rows[0].sum === n + 7);
    },
    // A write with five parameters, proving itself with RETURNING.
    async (tag, n) => {
      const { rows } = await pool.query(
        `INSERT INTO ${STRESS_TABLE} (tag, a, b, c, d) VALUES ($1, $2, $3, $4, $5) RETURNING tag, a + b + c + d AS sum`,
        [tag, n, 1, 2, 3],
      );
      check(rows.length === 1 && rows[0].tag === tag && rows[0].sum === n + 6);
      result.committed.push(tag);
    },
    // Twenty-two parameters (the size of a ticket insert).
    async (tag, n) => {
      const values = Array.from({ length: 21 }, (_, i) => n + i);
      const placeholders = values.map((_, i) => `$${i + 2}::int`).join(' + ');
      const { rows } = await pool.query(`SELECT $1::text AS tag, ${placeholders} AS total`, [tag, ...values]);
      const expected = values.reduce((a, b) => a + b, 0);
      check(rows.length === 1 && rows[0].tag === tag && rows[0].total === expected);
    },
    // A transaction of writes and reads with different shapes; every other one is rolled back.
    async (tag, n) => {
      const client = await pool.connect();
      let broken = false;
      try {
        await client.query('BEGIN');
        await client.query(`INSERT INTO ${STRESS_TABLE} (tag, a, b, c, d) VALUES ($1, $2, 0, 0, 0)`, [
          tag,
          n,
        ]);
        const updated = await client.query(
          `UPDATE ${STRESS_TABLE} SET b = $2, c = $3 WHERE tag = $1 RETURNING b + c AS bc`,
          [tag, 10, 20],
        );
        check(updated.rows.length === 1 && updated.rows[0].bc === 30);
        const seen = await client.query(`SELECT a FROM ${STRESS_TABLE} WHERE tag = $1`, [tag]);
        check(seen.rows.length === 1 && seen.rows[0].a === n);
        if (n % 2 === 0) {
          await client.query('COMMIT');
          result.committed.push(tag);
        } else {
          await client.query('ROLLBACK');
          result.rolledBack.push(tag);
        }
      } catch (error) {
        broken = true;
        await client.query('ROLLBACK').catch(() => undefined);
        throw error;
      } finally {
        client.release(broken);
      }
    },
    // The simple query protocol (no parameters), a different message flow again.
    async (tag) => {
      const { rows } = await pool.query(`SELECT '${tag}'::text AS tag, 40 + 2 AS answer`);
      check(rows.length === 1 && rows[0].tag === tag && rows[0].answer === 42);
    },
  ];

  await Promise.all(
    Array.from({ length: options.connections }, async (_, lane) => {
      for (let round = 0; round < options.rounds; round += 1) {
        const n = lane * 100_000 + round;
        const tag = `${options.client}-${lane}-${round}`;
        const operation = operations[(round + lane) % operations.length]!;
        result.operations += 1;
        await operation(tag, n).catch(fail);
      }
    }),
  );
  await pool.end();
  return result;
}

/** Rows that must be there are, rows rolled back are not, and no row has values from another tag's write. */
export async function verifyStressTable(
  url: string,
  results: StressResult[],
): Promise<{ missing: number; unexpected: number }> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ tag: string }>(`SELECT tag FROM ${STRESS_TABLE}`);
    const present = new Set(rows.map((r) => r.tag));
    const committed = new Set(results.flatMap((r) => r.committed));
    return {
      missing: [...committed].filter((tag) => !present.has(tag)).length,
      // Rolled-back rows, and rows no client committed (a write that ran as another client's statement).
      unexpected: [...present].filter((tag) => !committed.has(tag)).length,
    };
  } finally {
    await client.end();
  }
}

/** Run `processes` client processes of `connections` connections each against `url`; gather their results. */
export async function runStressProcesses(
  url: string,
  options: { processes: number; connections: number; rounds: number },
): Promise<StressResult[]> {
  await prepareStressTable(url);
  const script = path.join(__dirname, 'session-stress.ts');
  return Promise.all(
    Array.from(
      { length: options.processes },
      (_, i) =>
        new Promise<StressResult>((resolve, reject) => {
          const child = spawn(
            process.execPath,
            ['--import', 'tsx', script, `p${i}`, String(options.connections), String(options.rounds)],
            {
              cwd: path.resolve(__dirname, '..', '..'),
              env: { ...process.env, STRESS_DATABASE_URL: url },
              stdio: ['ignore', 'pipe', 'pipe'],
            },
          );
          let out = '';
          let err = '';
          child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
          child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
          child.once('exit', (code) => {
            const line = out.trim().split('\n').pop();
            if (code === 0 && line) resolve(JSON.parse(line) as StressResult);
            else reject(new Error(`stress client p${i} exited with ${code}: ${err.slice(-2000)}`));
          });
        }),
    ),
  );
}

/** Totals over all clients, for assertions and for the comparison script. */
export function summarise(results: StressResult[]) {
  const errors: Record<string, number> = {};
  for (const r of results)
    for (const [message, count] of Object.entries(r.errors)) errors[message] = (errors[message] ?? 0) + count;
  return {
    operations: results.reduce((n, r) => n + r.operations, 0),
    wrong: results.reduce((n, r) => n + r.wrong, 0),
    errorCount: Object.values(errors).reduce((a, b) => a + b, 0),
    errors,
  };
}

// As a child process: `node --import tsx test/db/session-stress.ts <client> <connections> <rounds>`, the URL in
// STRESS_DATABASE_URL (not argv: it carries the password). Prints the result as one JSON line.
if (require.main === module) {
  const [client = 'c', connections = '10', rounds = '60'] = process.argv.slice(2);
  const url = process.env.STRESS_DATABASE_URL;
  if (!url) {
    process.stderr.write('STRESS_DATABASE_URL is not set\n');
    process.exit(2);
  }
  runStressClient(url, { client, connections: Number(connections), rounds: Number(rounds) }).then(
    (result) => {
      process.stdout.write(`${JSON.stringify(result)}\n`);
    },
    (error: unknown) => {
      process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
      process.exit(1);
    },
  );
}
