import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createDatabase, dropDatabase } from '../support/databases';
import { createDb, migrateToLatest, type Db } from '../../src/db/database';
import { getEmbedder, type TransformersEmbedder } from '../../src/kb/embedder';
import { DEFAULT_EMBEDDING_MODEL } from '../../src/kb/models';

/** Shared set-up for the knowledge-base tests: real Postgres, real embedding model, isolated names. */

export const TEST_DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://ticketflow:ticketflow@127.0.0.1:5432/ticketflow';
export const MODELS_DIR = process.env.MODELS_DIR ?? 'models';
export const MODEL_ID = DEFAULT_EMBEDDING_MODEL;

export function uniqueName(prefix: string): string {
  return `${prefix}_${randomBytes(4).toString('hex')}`;
}

export function realEmbedder(): TransformersEmbedder {
  return getEmbedder(MODEL_ID, MODELS_DIR);
}

/**
 * The default model's files under another id (acme/minilm-alias), through a symlinked models folder: a genuinely
 * different model id for the model guard, without a second install (its manifest gives the dimension).
 */
export function aliasEmbedder(): TransformersEmbedder {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tf-models-'));
  fs.mkdirSync(path.join(dir, 'acme'));
  fs.symlinkSync(path.resolve(MODELS_DIR, MODEL_ID), path.join(dir, 'acme', 'minilm-alias'), 'dir');
  return getEmbedder('acme/minilm-alias', dir);
}

/** A fresh, migrated database on the test Postgres server; `drop` removes it. */
export async function createKbTestDatabase(): Promise<{ db: Db; drop: () => Promise<void> }> {
  const name = uniqueName('tf_kbtest');
  const db = createDb(await createDatabase(TEST_DATABASE_URL, name), 4);
  await migrateToLatest(db);
  return {
    db,
    drop: async () => {
      await db.destroy();
      await dropDatabase(TEST_DATABASE_URL, name);
    },
  };
}

export function dot(a: number[], b: number[]): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += a[i]! * b[i]!;
  return sum;
}

/** An in-memory PGlite + pgvector server in a child process (see pglite-child.ts for why). */
export async function startPgliteChild(): Promise<{ url: string; stop: () => Promise<void> }> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(__dirname, 'pglite-child.ts')], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (data: Buffer) => (stderr += data.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    let stdout = '';
    const timer = setTimeout(() => reject(new Error(`PGlite child did not start within 60 s: ${stderr}`)), 60_000);
    child.stdout.on('data', (data: Buffer) => {
      stdout += data.toString();
      const match = /READY (\S+)/.exec(stdout);
      if (match?.[1]) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`PGlite child exited with code ${code}: ${stderr}`));
    });
  });
  return {
    url,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}
