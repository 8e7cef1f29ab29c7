import pg from 'pg';

/**
 * Per-test-file databases on the server `adminUrl` points at. `DROP … WITH (FORCE)` refuses (42501) when an
 * autovacuum worker is in the database and the role is not a superuser, because that worker has no role to
 * be a member of; a plain `DROP DATABASE` asks autovacuum to leave and waits for it, so it is the fallback.
 */

export async function createDatabase(adminUrl: string, name: string): Promise<string> {
  await withClient(adminUrl, (client) => client.query(`CREATE DATABASE ${name}`));
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

export async function dropDatabase(adminUrl: string, name: string, attempts = 10): Promise<void> {
  let force = true;
  for (let attempt = 1; ; attempt++) {
    try {
      const sql = `DROP DATABASE IF EXISTS ${name}${force ? ' WITH (FORCE)' : ''}`;
      await withClient(adminUrl, (client) => client.query(sql));
      return;
    } catch (error) {
      const code = (error as { code?: string }).code;
      // 42501: autovacuum is in the database (see above); 55006: a session was still there after 5 s.
      if ((code !== '42501' && code !== '55006') || attempt >= attempts) throw error;
      force = code === '55006';
      if (force) await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
}

async function withClient<T>(url: string, use: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await use(client);
  } finally {
    await client.end();
  }
}
