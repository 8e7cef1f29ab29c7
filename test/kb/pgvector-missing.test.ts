import pg from 'pg';
import { PgvectorNotInstalledError, PgvectorStore } from '../../src/kb/pgvector-store';
import { MODEL_ID, TEST_DATABASE_URL, uniqueName } from './support';

/**
 * The Postgres 15 server the tests use has no pgvector: opening a pgvector store there must fail with an
 * error that says so and lists the ways out, not with Postgres' bare "extension is not available".
 */
describe('pgvector store on a Postgres without the extension', () => {
  test('the test server really lacks pgvector (precondition of this test)', async () => {
    const client = new pg.Client({ connectionString: TEST_DATABASE_URL });
    await client.connect();
    try {
      const { rows } = await client.query("SELECT count(*)::int AS n FROM pg_available_extensions WHERE name = 'vector'");
      expect(rows[0].n).toBe(0);
    } finally {
      await client.end();
    }
  });

  test('open() fails with PgvectorNotInstalledError naming the fixes, and without leaking the password', async () => {
    const collection = uniqueName('missing');
    const store = new PgvectorStore({ url: TEST_DATABASE_URL, collection, model: { modelId: MODEL_ID, dimension: 384 } });
    try {
      const error = await store.open().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(PgvectorNotInstalledError);
      const message = (error as Error).message;
      expect(message).toMatch(/^pgvector is not installed on the vector database server postgres:\/\//);
      expect(message).toContain('extension "vector" is not available');
      expect(message).toContain('install the pgvector extension on that Postgres server');
      expect(message).toContain('VECTOR_DATABASE_URL');
      expect(message).toContain('PGlite');
      expect(message).toContain('VECTOR_STORE=qdrant');
      const password = new URL(TEST_DATABASE_URL).password;
      if (password) expect(message).not.toContain(`:${password}@`);
      // Every operation reports the same problem rather than a confusing "relation does not exist".
      await expect(store.search(new Array(384).fill(0.05), 3)).rejects.toBeInstanceOf(PgvectorNotInstalledError);
      await expect(store.count()).rejects.toBeInstanceOf(PgvectorNotInstalledError);
    } finally {
      await store.close();
    }
    // Nothing was created on the server.
    const client = new pg.Client({ connectionString: TEST_DATABASE_URL });
    await client.connect();
    try {
      const { rows } = await client.query('SELECT count(*)::int AS n FROM pg_tables WHERE tablename LIKE $1', [`${collection}%`]);
      expect(rows[0].n).toBe(0);
    } finally {
      await client.end();
    }
  });
});
