import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';

/**
 * `npm start` leaves a note of what it runs in `<data dir>/local-stack.json` (mode 600) and removes it when it
 * stops. A `ticketflow` command run beside it, with no DATABASE_URL of its own, uses that stack: the embedded
 * database (with its generated password) and the Temporal dev server, instead of the built-in defaults
 * (localhost:5432), which would be another, empty database.
 */

export const LOCAL_STACK_FILE = 'local-stack.json';

const stackSchema = z.object({
  pid: z.number().int().positive(),
  databaseUrl: z.string().min(1),
  vectorDatabaseUrl: z.string().min(1).optional(),
  /** The embedded database's password lives in its own file; the URLs above carry none. */
  passwordFile: z.string().min(1).optional(),
  temporalAddress: z.string().min(1),
  /** The payload key `npm start` generated: the CLI's Temporal client must seal and open what the worker does. */
  payloadKeysFile: z.string().min(1).optional(),
  temporalUiUrl: z.string().min(1).optional(),
  apiUrl: z.string().min(1).optional(),
  /** The file holding the stack's admin API key: administrative commands go through the API with it. */
  adminKeyFile: z.string().min(1).optional(),
  /** Current pid of each supervised process (temporal, pglite, worker, api), updated after a restart. */
  processes: z.record(z.string(), z.number().int().positive()).optional(),
});
export type LocalStack = z.infer<typeof stackSchema>;

/** The checkout's root: the nearest directory above this file with a package.json. Not a fixed `../..`: loaded
 * through tsx's ESM loader (as scripts/start.mjs does), `__dirname` is not this file's directory. */
function findRepoRoot(): string {
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, 'package.json'))) return dir;
    if (path.dirname(dir) === dir) return process.cwd();
  }
}
const repoRoot = findRepoRoot();

export function localStackPath(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(path.resolve(repoRoot, env.TICKETFLOW_DATA_DIR || '.data'), LOCAL_STACK_FILE);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function withPassword(url: string, password: string | undefined): string {
  if (!password) return url;
  const parsed = new URL(url);
  parsed.password = encodeURIComponent(password);
  return parsed.toString();
}

/** The note of a running `npm start`, or undefined when there is none (absent, unreadable, or its process gone). */
function runningStack(env: NodeJS.ProcessEnv): LocalStack | undefined {
  let stack: LocalStack;
  try {
    stack = stackSchema.parse(JSON.parse(fs.readFileSync(localStackPath(env), 'utf8')));
  } catch {
    return undefined; // absent or unreadable: no stack to join
  }
  return alive(stack.pid) ? stack : undefined;
}

/**
 * The running stack's API and admin key, for administrative commands, or undefined: when DATABASE_URL is set (the
 * user chose a database; the CLI goes to it directly), no stack runs, or the note has no API or key.
 */
export function localStackApi(
  env: NodeJS.ProcessEnv = process.env,
): { url: string; adminKey: string } | undefined {
  if (env.DATABASE_URL) return undefined;
  const stack = runningStack(env);
  if (!stack?.apiUrl || !stack.adminKeyFile) return undefined;
  try {
    const adminKey = fs.readFileSync(stack.adminKeyFile, 'utf8').trim();
    return adminKey ? { url: stack.apiUrl, adminKey } : undefined;
  } catch {
    return undefined;
  }
}

/** The running stack's settings as environment variables, or undefined when none is running. */
export function readLocalStack(env: NodeJS.ProcessEnv = process.env): Record<string, string> | undefined {
  const stack = runningStack(env);
  if (!stack) return undefined;
  const password = stack.passwordFile ? fs.readFileSync(stack.passwordFile, 'utf8').trim() : undefined;
  const database = withPassword(stack.databaseUrl, password);
  return {
    DATABASE_URL: database,
    ...(stack.vectorDatabaseUrl
      ? { VECTOR_DATABASE_URL: withPassword(stack.vectorDatabaseUrl, password) }
      : {}),
    TEMPORAL_ADDRESS: stack.temporalAddress,
    ...(stack.payloadKeysFile && !env.PAYLOAD_ENCRYPTION_KEYS
      ? { PAYLOAD_ENCRYPTION_KEYS_FILE: stack.payloadKeysFile }
      : {}),
    ...(stack.temporalUiUrl ? { TEMPORAL_UI_URL: stack.temporalUiUrl } : {}),
  };
}

/** `env` as the CLI should see it: unchanged when it names a database, else joined to a running `npm start`. */
export function cliEnvironment(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  if (env.DATABASE_URL) return env;
  const stack = readLocalStack(env);
  if (!stack) return env;
  // Variables the user set explicitly still win, except that the stack's database comes as one piece.
  const merged: NodeJS.ProcessEnv = { ...stack };
  for (const [key, value] of Object.entries(env)) {
    if (value !== undefined && value !== '' && !(key in stack && key.includes('DATABASE')))
      merged[key] = value;
  }
  return merged;
}

/** Written by scripts/start.mjs; kept here next to its reader so the two cannot drift apart. */
export function writeLocalStack(file: string, stack: LocalStack): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, `${JSON.stringify(stackSchema.parse(stack), null, 2)}\n`, { mode: 0o600 });
  fs.chmodSync(file, 0o600);
}

/** The API URL of the running `npm start`, if one is running and noted it. */
export function readLocalStackApiUrl(env: NodeJS.ProcessEnv = process.env): string | undefined {
  try {
    const stack = stackSchema.parse(JSON.parse(fs.readFileSync(localStackPath(env), 'utf8')));
    return alive(stack.pid) ? stack.apiUrl : undefined;
  } catch {
    return undefined;
  }
}
