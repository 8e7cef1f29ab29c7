import fs from 'node:fs';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { vector } from '@electric-sql/pglite-pgvector';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';

/**
 * PGlite (Postgres compiled to WebAssembly) with pgvector, served over the Postgres wire protocol so `pg`
 * and kysely connect to it by URL exactly as to a real server. It gives ticketflow a pgvector database on
 * machines whose Postgres lacks the extension. PGlite runs one query at a time; the socket server queues
 * queries from all connections and keeps a connection's transaction together.
 */

export interface PgliteServerOptions {
  /** Directory for persistent data; undefined keeps everything in memory (tests, benchmarks). */
  dataDir?: string;
  host?: string;
  /** 0 picks any free port. */
  port?: number;
  /** Concurrent client connections accepted (a pg pool holds several). */
  maxConnections?: number;
}

export interface PgliteServer {
  /** postgres:// URL for pg/kysely. */
  url: string;
  host: string;
  port: number;
  /** The underlying database, for in-process use (e.g. benchmarks). */
  pglite: PGlite;
  stop(): Promise<void>;
}

export async function startPgliteServer(options: PgliteServerOptions = {}): Promise<PgliteServer> {
  const host = options.host ?? '127.0.0.1';
  let dataDir: string | undefined;
  if (options.dataDir !== undefined) {
    dataDir = path.resolve(options.dataDir);
    fs.mkdirSync(dataDir, { recursive: true });
  }
  const pglite = await PGlite.create(dataDir, { extensions: { vector } });
  try {
    await pglite.exec('CREATE EXTENSION IF NOT EXISTS vector');
    const server = new PGLiteSocketServer({
      db: pglite,
      host,
      port: options.port ?? 0,
      maxConnections: options.maxConnections ?? 64,
    });
    await server.start();
    // getServerConn() reports the bound address, so port 0 resolves to the real port here.
    const port = Number(server.getServerConn().split(':').pop());
    if (!Number.isInteger(port) || port <= 0) {
      await server.stop();
      throw new Error(`PGlite server did not report a port (got "${server.getServerConn()}")`);
    }
    let stopped = false;
    return {
      url: `postgres://postgres:postgres@${host}:${port}/postgres`,
      host,
      port,
      pglite,
      async stop() {
        if (stopped) return;
        stopped = true;
        await server.stop();
        await pglite.close();
      },
    };
  } catch (error) {
    await pglite.close().catch(() => undefined);
    throw error;
  }
}
