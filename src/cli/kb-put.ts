import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { formatFromFileName, parseDocument, slugify } from '../kb/chunker';
import { localStackPath, readLocalStackApiUrl } from './local-stack';

/**
 * `ticketflow kb put <file>`: adds or replaces one article through the running API (PUT /v1/kb/documents/:id),
 * so the worker embeds it like any other API write. A large document answers 202; the command then polls the
 * ingestion's status URL and draws a progress bar until it is done.
 */

export interface KbPutOptions {
  file: string;
  id?: string;
  title?: string;
  intents?: string[];
  apiUrl: string;
  key: string;
  /** Ask for 202 at once (RFC 7240 `Prefer: respond-async`) instead of the server's short wait. */
  async?: boolean;
  pollMs?: number;
}

export interface KbPutProgress {
  start(total: number): void;
  update(done: number, total: number): void;
  stop(): void;
}

const upsertSchema = z.object({
  documentId: z.string(),
  chunks: z.number(),
  created: z.boolean(),
  unchanged: z.boolean(),
});
const ingestionSchema = z.object({
  id: z.string(),
  documentId: z.string(),
  status: z.enum(['queued', 'embedding', 'done', 'failed']),
  chunksTotal: z.number().nullable(),
  chunksDone: z.number(),
  documentExisted: z.boolean(),
  error: z.string().nullable(),
});
const problemSchema = z
  .object({ status: z.number().optional(), detail: z.string().optional() })
  .passthrough();

export type KbPutResult = z.infer<typeof upsertSchema>;

/** A refusal from the API; `status` picks the CLI's exit code. */
export class KbPutError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
    this.name = 'KbPutError';
  }
}

async function problemOf(response: Response): Promise<KbPutError> {
  const text = await response.text();
  let detail = text.slice(0, 500);
  try {
    const problem = problemSchema.parse(JSON.parse(text));
    if (problem.detail) detail = problem.detail;
  } catch {
    // not problem+json: keep the raw text
  }
  return new KbPutError(`${response.status} ${response.statusText}: ${detail}`, response.status);
}

/** Reads the file, PUTs it, and follows a 202 to the end. */
export async function putDocumentViaApi(
  options: KbPutOptions,
  progress?: KbPutProgress,
): Promise<KbPutResult> {
  const format = formatFromFileName(options.file);
  if (!format) throw new KbPutError(`${options.file}: expected .md, .markdown, .txt, .html or .htm`, 400);
  const parsed = parseDocument(fs.readFileSync(options.file, 'utf8'), { format, fileName: options.file });
  const id = options.id ?? slugify(path.basename(options.file, path.extname(options.file)));
  const intents = options.intents ?? parsed.metadata.intents ?? [];
  const headers = {
    authorization: `Bearer ${options.key}`,
    'content-type': 'application/json',
    ...(options.async ? { prefer: 'respond-async' } : {}),
  };
  const base = options.apiUrl.replace(/\/+$/, '');
  const response = await fetch(`${base}/v1/kb/documents/${encodeURIComponent(id)}`, {
    method: 'PUT',
    headers,
    body: JSON.stringify({ title: options.title ?? parsed.title, body: parsed.body, intents }),
  });
  if (response.status === 200 || response.status === 201) return upsertSchema.parse(await response.json());
  if (response.status !== 202) throw await problemOf(response);

  let ingestion = ingestionSchema.parse(await response.json());
  const statusUrl = new URL(
    response.headers.get('location') ?? `/v1/kb/ingestions/${ingestion.id}`,
    `${base}/`,
  );
  let started = false;
  try {
    while (ingestion.status !== 'done' && ingestion.status !== 'failed') {
      if (ingestion.chunksTotal !== null) {
        if (!started) progress?.start(ingestion.chunksTotal);
        started = true;
        progress?.update(ingestion.chunksDone, ingestion.chunksTotal);
      }
      await sleep(options.pollMs ?? 500);
      const polled = await fetch(statusUrl, { headers: { authorization: headers.authorization } });
      if (!polled.ok) throw await problemOf(polled);
      ingestion = ingestionSchema.parse(await polled.json());
    }
  } finally {
    if (started) progress?.stop();
  }
  if (ingestion.status === 'failed')
    throw new KbPutError(`Ingestion failed: ${ingestion.error ?? 'unknown error'}`, 500);
  return {
    documentId: ingestion.documentId,
    chunks: ingestion.chunksTotal ?? 0,
    created: !ingestion.documentExisted,
    unchanged: false,
  };
}

/** The API to talk to: --api-url, TICKETFLOW_API_URL, the running `npm start`, else API_PORT on this machine. */
export function defaultApiUrl(env: NodeJS.ProcessEnv = process.env): string {
  return env.TICKETFLOW_API_URL || readLocalStackApiUrl(env) || `http://127.0.0.1:${env.API_PORT || 3000}`;
}

/** The key to use: --key, TICKETFLOW_API_KEY, ADMIN_API_KEY, else the admin key `npm start` generated. */
export function defaultApiKey(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env.TICKETFLOW_API_KEY) return env.TICKETFLOW_API_KEY;
  if (env.ADMIN_API_KEY) return env.ADMIN_API_KEY;
  const generated = path.join(path.dirname(localStackPath(env)), 'admin-api-key');
  return fs.existsSync(generated) ? fs.readFileSync(generated, 'utf8').trim() : undefined;
}
