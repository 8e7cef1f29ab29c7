import { X509Certificate, createPrivateKey } from 'node:crypto';
import fs from 'node:fs';
import { z } from 'zod';
import { answerabilityDefaults, DEFAULT_EMBEDDING_MODEL } from './kb/models';

/**
 * Every setting ticketflow reads from the environment, in one schema. A wrong value stops the process at
 * start with a message naming the variable and what was expected (see `loadConfig`).
 */

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no', 'on', 'off'])
  .transform((v) => ['true', '1', 'yes', 'on'].includes(v));

const postgresUrl = z.string().refine((v) => /^postgres(ql)?:\/\/[^\s]+$/.test(v) && URL.canParse(v), {
  message: 'expected a postgres:// or postgresql:// URL, e.g. postgres://user:pass@localhost:5432/ticketflow',
});

const httpUrl = z.string().refine((v) => /^https?:\/\//.test(v) && URL.canParse(v), {
  message: 'expected an http:// or https:// URL',
});

const csv = z.string().transform((v) =>
  v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean),
);

const positiveInt = z.coerce.number().int().positive();
const effort = z.enum(['low', 'medium', 'high']);
const nonNegativeInt = z.coerce.number().int().min(0);

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----[\s\S]+?-----END \1-----/g;

/** One or more PEM certificates (a CA bundle may hold several); each must parse as X.509. */
const pemCertificates = z.string().superRefine((value, ctx) => {
  const blocks = [...value.matchAll(PEM_BLOCK)].filter((m) => m[1] === 'CERTIFICATE');
  if (blocks.length === 0) {
    ctx.addIssue({ code: 'custom', message: 'expected a PEM certificate (-----BEGIN CERTIFICATE-----)' });
    return;
  }
  for (const block of blocks) {
    try {
      new X509Certificate(block[0]);
    } catch (error) {
      ctx.addIssue({ code: 'custom', message: `not a valid certificate (${(error as Error).message})` });
      return;
    }
  }
});

/** A PEM private key (PKCS#8, PKCS#1 or SEC1), unencrypted. */
const pemPrivateKey = z.string().superRefine((value, ctx) => {
  try {
    createPrivateKey(value);
  } catch {
    ctx.addIssue({
      code: 'custom',
      message: 'expected an unencrypted PEM private key (-----BEGIN PRIVATE KEY-----)',
    });
  }
});

/** libpq sslmode values node-postgres can honour (it cannot fall back from TLS to plaintext: no prefer/allow). */
export const PG_SSL_MODES = ['disable', 'require', 'verify-ca', 'verify-full'] as const;
/** libpq parameters that would make node-postgres read files or change TLS behind our back. */
const PG_UNSUPPORTED_TLS_PARAMS = [
  'sslrootcert',
  'sslcert',
  'sslkey',
  'sslpassword',
  'ssl',
  'uselibpqcompat',
];

/** A postgres:// URL whose TLS settings, if any, are the ones ticketflow applies itself (see src/db/tls.ts). */
const postgresUrlWithTls = postgresUrl.superRefine((value, ctx) => {
  if (!URL.canParse(value)) return;
  const params = new URL(value).searchParams;
  const mode = params.get('sslmode');
  if (mode !== null && !(PG_SSL_MODES as readonly string[]).includes(mode)) {
    ctx.addIssue({
      code: 'custom',
      message: `sslmode=${mode} is not supported; use ${PG_SSL_MODES.join(', ')} (node-postgres cannot fall back to plaintext)`,
    });
  }
  const unsupported = PG_UNSUPPORTED_TLS_PARAMS.filter((name) => params.has(name));
  if (unsupported.length > 0) {
    ctx.addIssue({
      code: 'custom',
      message: `${unsupported.join(', ')} in the URL is not supported; give the CA with the *_SSL_CA or *_SSL_CA_FILE setting`,
    });
  }
});
const unitInterval = z.coerce.number().min(0).max(1);

export const DEFAULT_INTENTS = [
  'billing',
  'technical',
  'account',
  'feature_request',
  'complaint',
  'other',
] as const;

const settings = {
  NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** A warning or error repeating identically within this many milliseconds is logged once, then with a count. */
  LOG_REPEAT_WINDOW_MS: nonNegativeInt.default(60000),

  // Temporal
  TEMPORAL_ADDRESS: z
    .string()
    .regex(/^[^\s:]+:\d+$/, 'expected host:port, e.g. localhost:7233')
    .default('localhost:7233'),
  TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
  TEMPORAL_TASK_QUEUE: z.string().min(1).default('ticketflow'),
  TEMPORAL_UI_URL: httpUrl.default('http://localhost:8233'),
  /** true: TLS even with no other TEMPORAL_TLS_* setting (system CAs); false: plaintext. Unset: TLS when any is set. */
  TEMPORAL_TLS: bool.optional(),
  /** CA certificate(s) the Temporal frontend's certificate must chain to (PEM); unset: the system's CAs. */
  TEMPORAL_TLS_CA: pemCertificates.optional(),
  /** mTLS client certificate (PEM), with TEMPORAL_TLS_KEY. */
  TEMPORAL_TLS_CERT: pemCertificates.optional(),
  /** mTLS client private key (PEM), with TEMPORAL_TLS_CERT. */
  TEMPORAL_TLS_KEY: pemPrivateKey.optional(),
  /** Name the server certificate must carry when it differs from TEMPORAL_ADDRESS's host (also sent as SNI). */
  TEMPORAL_TLS_SERVER_NAME: z
    .string()
    .regex(/^[A-Za-z0-9*]([A-Za-z0-9.*-]{0,252})$/, 'expected a host name')
    .optional(),
  /** Temporal Cloud API key, sent as `Authorization: Bearer …` (implies TLS). */
  TEMPORAL_API_KEY: z.string().min(1).optional(),
  /** Prebuilt workflow bundles (workers/bundle.ts); unset, each worker process bundles the workflow code at start. */
  WORKFLOW_BUNDLE_DIR: z.string().min(1).optional(),

  // Postgres: the interaction log, escalations, outbox, API keys (and vectors when VECTOR_STORE=pgvector)
  DATABASE_URL: postgresUrlWithTls.default('postgres://postgres:postgres@localhost:5432/ticketflow'),
  DATABASE_POOL_MAX: positiveInt.default(5),
  /** CA certificate(s) for DATABASE_URL's TLS (PEM); with it, an unset sslmode means verify-full. */
  DATABASE_SSL_CA: pemCertificates.optional(),
  /** false: the API and worker do not migrate at start but wait for the schema (a migration job runs `ticketflow db migrate`). */
  MIGRATE_ON_START: bool.default(true),

  // Knowledge base
  VECTOR_STORE: z.enum(['pgvector', 'qdrant']).default('pgvector'),
  VECTOR_DATABASE_URL: postgresUrlWithTls.optional(),
  /** CA certificate(s) for VECTOR_DATABASE_URL's TLS (PEM); unset with VECTOR_DATABASE_URL unset: DATABASE_SSL_CA. */
  VECTOR_DATABASE_SSL_CA: pemCertificates.optional(),
  QDRANT_URL: httpUrl.optional(),
  QDRANT_API_KEY: z.string().min(1).optional(),
  KB_COLLECTION: z
    .string()
    .regex(/^[a-z][a-z0-9_]{0,62}$/, 'expected a lower-case identifier')
    .default('ticketflow_kb'),
  EMBEDDING_MODEL: z.string().min(1).default(DEFAULT_EMBEDDING_MODEL),
  MODELS_DIR: z.string().min(1).default('models'),
  /** onnxruntime's intra-op threads for the embedder; 0 = its own default (a pool that spins: bench/README.md). */
  EMBEDDER_THREADS: nonNegativeInt.max(64).default(1),
  RETRIEVAL_TOP_K: positiveInt.max(50).default(5),
  MIN_RETRIEVAL_SCORE: unitInterval.default(0.45),
  RESOLUTION_DUPLICATE_SCORE: unitInterval.default(0.95),
  /** A human resolution this close to a ticket lets it be answered despite low classifier confidence; 1 = never. */
  RESOLUTION_MATCH_SCORE: unitInterval.default(0.6),
  /** Start the answer while the classifier runs when retrieval already grounds it (bench/README.md: latency vs $). */
  SPECULATIVE_GENERATION: bool.default(false),
  /**
   * How long `PUT /v1/kb/documents/:id` waits for its ingestion workflow before answering 202 with a status URL;
   * small documents finish within it and get 200/201. 0 = always 202.
   */
  KB_INGEST_WAIT_MS: nonNegativeInt.max(60_000).default(3000),
  /**
   * Answerability gate (src/kb/answerability.ts): the best document's score must reach ANSWER_MIN_SCORE and beat
   * the runner-up document by ANSWER_MIN_MARGIN, else `not_answerable`. Unset, they are the embedding model's
   * fitted pair (src/kb/models.ts; loadConfig fills them in); `ticketflow kb calibrate` fits them to your own KB.
   */
  ANSWER_MIN_SCORE: unitInterval.default(answerabilityDefaults(DEFAULT_EMBEDDING_MODEL).minScore),
  ANSWER_MIN_MARGIN: unitInterval.default(answerabilityDefaults(DEFAULT_EMBEDDING_MODEL).minMargin),

  // LLM
  LLM_PROVIDER: z.enum(['auto', 'anthropic', 'local']).default('auto'),
  ANTHROPIC_API_KEY: z.string().min(1).optional(),
  ANTHROPIC_BASE_URL: httpUrl.optional(),
  ANTHROPIC_CLASSIFY_MODEL: z.string().min(1).default('claude-haiku-5-5'),
  ANTHROPIC_ANSWER_MODEL: z.string().min(1).default('claude-sonnet-5-5'),
  /** Let the answer model think (adaptive) where it can; off keeps thinking off where the model allows it. */
  ANTHROPIC_ANSWER_THINKING: bool.default(false),
  /** output_config.effort, sent only to models that accept it; unset leaves the model's default. */
  ANTHROPIC_CLASSIFY_EFFORT: effort.default('low'),
  ANTHROPIC_ANSWER_EFFORT: effort.optional(),
  /** How structured results are asked for: auto follows the capability table in src/llm/models.ts. */
  ANTHROPIC_STRUCTURED_OUTPUT: z.enum(['auto', 'json_schema', 'forced_tool', 'auto_tool']).default('auto'),
  LLM_MAX_TOKENS: positiveInt.max(128000).default(1024),
  LLM_TIMEOUT_MS: positiveInt.default(30000),
  /** Temporal retry budget for LLM calls; once spent, the ticket escalates with `llm_unavailable`. */
  LLM_RETRY_MAX_ATTEMPTS: positiveInt.max(100).default(5),
  LLM_RETRY_INITIAL_INTERVAL_MS: positiveInt.default(1000),
  LLM_RETRY_MAX_INTERVAL_MS: positiveInt.default(20000),
  /** JSON object: model id → USD per million tokens {input, cachedInput, cacheWrite, output}; merged over the defaults. */
  LLM_PRICES: z.string().optional(),
  /** Stop calling the model once this month's logged LLM spend (UTC calendar month) reaches it. */
  LLM_MONTHLY_BUDGET_USD: z.coerce.number().positive().finite().optional(),
  /** What happens to LLM calls when a budget is exhausted (ours or the API's spend limit). */
  LLM_OVER_BUDGET: z.enum(['escalate', 'local']).default('escalate'),
  /** JSON file of example sentences per intent for the offline classifier (src/llm/intent-examples.ts shape). */
  INTENT_EXAMPLES_PATH: z.string().min(1).optional(),
  INTENTS: csv.pipe(z.array(z.string().regex(/^[a-z][a-z0-9_]*$/)).min(2)).default([...DEFAULT_INTENTS]),

  // Workflow policy
  CONFIDENCE_THRESHOLD: unitInterval.default(0.65),
  SLA_MINUTES_CRITICAL: positiveInt.default(60),
  SLA_MINUTES_HIGH: positiveInt.default(240),
  SLA_MINUTES_MEDIUM: positiveInt.default(1440),
  SLA_MINUTES_LOW: positiveInt.default(4320),
  /**
   * Minutes an answered ticket stays open for the customer's follow-up or rating (a durable timer) before it
   * closes as resolved; 0 closes it at once (no conversation).
   */
  FOLLOW_UP_WINDOW_MINUTES: nonNegativeInt.default(4320),
  /** Reply turns per workflow run before a long conversation continues as new (history stays small). */
  CONVERSATION_TURNS_PER_RUN: positiveInt.max(1000).default(20),

  // Worker
  /** After SIGTERM, how long in-flight activities may run before they are cancelled (and retried elsewhere). */
  WORKER_SHUTDOWN_GRACE_MS: nonNegativeInt.default(8000),
  /**
   * Activities one worker runs at once. Most of an activity's time is waiting on the LLM; CPU work (embedding)
   * queues in the embedder's own thread, so the limit bounds open requests and memory, not CPU. At 16, LLM calls
   * waiting on the network held every slot and the next ticket's classification queued (bench/README.md).
   */
  WORKER_MAX_CONCURRENT_ACTIVITIES: positiveInt.max(1000).default(64),
  /** Port of the worker's health and metrics endpoint (/healthz, /readyz, /metrics); unset = none. */
  WORKER_HEALTH_PORT: z.coerce.number().int().min(0).max(65535).optional(),
  /** Interface that endpoint binds to (0.0.0.0 in containers, so the kubelet can reach it). */
  WORKER_HEALTH_HOST: z.string().min(1).default('127.0.0.1'),

  // API
  API_HOST: z.string().min(1).default('127.0.0.1'),
  API_PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  API_BODY_LIMIT_BYTES: positiveInt.default(256 * 1024),
  TICKET_MAX_CHARS: positiveInt.default(20000),
  RATE_LIMIT_PER_MINUTE: positiveInt.default(600),
  /** Failed authentications (401/403) per client address per minute; beyond it, every request from there gets 429. */
  AUTH_FAILURES_PER_MINUTE: positiveInt.default(20),
  /** Bearer token /metrics requires; unset, /metrics is open (bind it to a private network). */
  METRICS_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
  /** /metrics renders (and queries Postgres) at most once per this many milliseconds; scrapes in between get that. */
  METRICS_CACHE_MS: nonNegativeInt.default(5000),
  /** /readyz checks its dependencies at most once per this many milliseconds. */
  READY_CACHE_MS: nonNegativeInt.default(1000),
  /** A client must send its request headers within this (slow-header clients get 408 and are disconnected). */
  HTTP_HEADERS_TIMEOUT_MS: positiveInt.default(10000),
  /** A request body must arrive within this once it has started (408, connection closed). */
  HTTP_BODY_TIMEOUT_MS: positiveInt.default(15000),
  /** The whole request, headers and body, must arrive within this. */
  HTTP_REQUEST_TIMEOUT_MS: positiveInt.default(30000),
  /** An idle kept-alive connection is closed after this. */
  HTTP_IDLE_TIMEOUT_MS: positiveInt.default(5000),
  /**
   * Deadline of each API call to Temporal (submit, resolve, a ticket's run status). Past it, or while Temporal is
   * known to be unreachable, the API answers 503 with Retry-After instead of holding the request.
   */
  API_TEMPORAL_TIMEOUT_MS: positiveInt.default(2500),
  /** After SIGTERM, how long requests in flight may take before their connections are closed. */
  API_SHUTDOWN_GRACE_MS: nonNegativeInt.default(10000),
  /** Bootstrap admin key, accepted in addition to keys stored in the database. */
  ADMIN_API_KEY: z.string().min(16, 'must be at least 16 characters').optional(),
  ZENDESK_WEBHOOK_SECRET: z.string().min(8).optional(),
  /** Signs inbox session cookies; shared by every API replica. Falls back to one derived from ADMIN_API_KEY. */
  INBOX_SESSION_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
  OUTBOUND_WEBHOOK_URL: httpUrl.optional(),
  OUTBOUND_WEBHOOK_SECRET: z.string().min(8).optional(),

  // Data protection
  PII_REDACTION: bool.default(true),
  PII_REDACT_BEFORE_LLM: bool.default(false),
  /** Comma-separated `keyId:base64key` pairs (32-byte keys); the first encrypts, all decrypt. Empty = no encryption. */
  PAYLOAD_ENCRYPTION_KEYS: z.string().optional(),
  /** With NODE_ENV=production, processes that talk to Temporal refuse to start without keys unless this is true. */
  ALLOW_UNENCRYPTED_PAYLOADS: bool.default(false),
  CODEC_CORS_ORIGIN: z.string().default('http://localhost:8233'),
  /** Local development: the codec endpoint answers, without an API key, loopback requests from a CODEC_CORS_ORIGIN page (the dev server's UI). Refused in production. */
  CODEC_TRUST_LOCAL_UI: bool.default(false),
};

/**
 * Settings that can instead be read from a file named by `<NAME>_FILE`: every secret and certificate, so they can
 * come from mounted Kubernetes/Docker secrets rather than the environment. Setting both is refused.
 */
export const FILE_SETTINGS = [
  'DATABASE_URL',
  'DATABASE_SSL_CA',
  'VECTOR_DATABASE_URL',
  'VECTOR_DATABASE_SSL_CA',
  'TEMPORAL_TLS_CA',
  'TEMPORAL_TLS_CERT',
  'TEMPORAL_TLS_KEY',
  'TEMPORAL_API_KEY',
  'QDRANT_API_KEY',
  'ANTHROPIC_API_KEY',
  'ADMIN_API_KEY',
  'ZENDESK_WEBHOOK_SECRET',
  'INBOX_SESSION_SECRET',
  'OUTBOUND_WEBHOOK_SECRET',
  'PAYLOAD_ENCRYPTION_KEYS',
  'METRICS_TOKEN',
] as const satisfies ReadonlyArray<keyof typeof settings>;

type FileSetting = (typeof FILE_SETTINGS)[number];
const filePath = z.string().min(1);
const fileSettings = Object.fromEntries(
  FILE_SETTINGS.map((name) => [`${name}_FILE`, filePath.optional()]),
) as {
  [K in FileSetting as `${K}_FILE`]: z.ZodOptional<typeof filePath>;
};

export const configSchema = z.object({ ...settings, ...fileSettings }).superRefine((config, ctx) => {
  if (Boolean(config.TEMPORAL_TLS_CERT) !== Boolean(config.TEMPORAL_TLS_KEY)) {
    ctx.addIssue({
      code: 'custom',
      path: [config.TEMPORAL_TLS_CERT ? 'TEMPORAL_TLS_KEY' : 'TEMPORAL_TLS_CERT'],
      message: 'mTLS needs both TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY (or their *_FILE forms)',
    });
  }
  if (config.TEMPORAL_TLS === false) {
    const tlsSettings = (
      [
        'TEMPORAL_TLS_CA',
        'TEMPORAL_TLS_CERT',
        'TEMPORAL_TLS_KEY',
        'TEMPORAL_TLS_SERVER_NAME',
        'TEMPORAL_API_KEY',
      ] as const
    ).filter((name) => config[name] !== undefined);
    if (tlsSettings.length > 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['TEMPORAL_TLS'],
        message: `is false, but ${tlsSettings.join(', ')} ${tlsSettings.length === 1 ? 'is' : 'are'} set (an API key is never sent in plaintext)`,
      });
    }
  }
  if (config.NODE_ENV === 'production' && config.CODEC_TRUST_LOCAL_UI) {
    ctx.addIssue({
      code: 'custom',
      path: ['CODEC_TRUST_LOCAL_UI'],
      message: 'is for local development only; in production the codec endpoint needs an API key',
    });
  }
  if (config.VECTOR_DATABASE_SSL_CA && !config.VECTOR_DATABASE_URL) {
    ctx.addIssue({
      code: 'custom',
      path: ['VECTOR_DATABASE_SSL_CA'],
      message:
        'applies to VECTOR_DATABASE_URL, which is unset (the KB then uses DATABASE_URL and DATABASE_SSL_CA)',
    });
  }
});

export type Config = z.infer<typeof configSchema>;

/** Every problem on one line, each naming its variable: what a process prints before it exits with code 2. */
export class ConfigError extends Error {
  constructor(public readonly issues: string[]) {
    super(`invalid configuration: ${issues.join('; ')}`);
    this.name = 'ConfigError';
  }
}

/** The content of a `*_FILE` setting: PEM stays as written, any other secret loses surrounding whitespace. */
function readSettingFile(file: string): string {
  const text = fs.readFileSync(file, 'utf8');
  return text.includes('-----BEGIN ') ? text : text.trim();
}

/**
 * Parse the environment; empty strings count as unset so `.env` files can leave values blank. `<NAME>_FILE`
 * settings are read here, so a missing or unreadable secret or certificate stops the process at start, named.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const cleaned: Record<string, string> = {};
  for (const key of Object.keys(configSchema.shape)) {
    const value = env[key];
    if (value !== undefined && value !== '') cleaned[key] = value;
  }
  const fileIssues: string[] = [];
  const fromFile = new Map<string, string>();
  for (const name of FILE_SETTINGS) {
    const file = cleaned[`${name}_FILE`];
    if (file === undefined) continue;
    if (cleaned[name] !== undefined) {
      fileIssues.push(`${name}_FILE: ${name} is set too; set one of them`);
      continue;
    }
    let content: string;
    try {
      content = readSettingFile(file);
    } catch (error) {
      const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
      fileIssues.push(`${name}_FILE: cannot read ${file} (${reason})`);
      continue;
    }
    if (content === '') {
      fileIssues.push(`${name}_FILE: cannot read ${file} (the file is empty)`);
      continue;
    }
    cleaned[name] = content;
    fromFile.set(name, file);
  }
  // Similarity thresholds belong to a model's score scale: unset, they follow EMBEDDING_MODEL.
  const answerability = answerabilityDefaults(cleaned.EMBEDDING_MODEL ?? DEFAULT_EMBEDDING_MODEL);
  cleaned.ANSWER_MIN_SCORE ??= String(answerability.minScore);
  cleaned.ANSWER_MIN_MARGIN ??= String(answerability.minMargin);
  const parsed = configSchema.safeParse(cleaned);
  if (!parsed.success || fileIssues.length > 0) {
    throw new ConfigError([
      ...fileIssues,
      ...(parsed.error?.issues ?? []).map((issue) => {
        const key = String(issue.path[0] ?? '');
        const file = fromFile.get(key);
        // A value read from a file is named by the file setting and its path, never by its content.
        if (file !== undefined) return `${key}_FILE: ${file}: ${issue.message}`;
        const name = issue.path.join('.') || '(environment)';
        const given = cleaned[key];
        // Never echo secrets into start-up errors and their logs: keys are withheld, URL passwords masked.
        const secret = /KEY|SECRET|PASSWORD|TOKEN|CERT|_CA$/.test(key);
        const shown =
          given === undefined || secret ? undefined : given.replace(/\/\/([^:@/\s]*):[^@/\s]*@/, '//$1:***@');
        return `${name}: ${issue.message}${shown !== undefined ? ` (got "${shown.slice(0, 80)}")` : ''}`;
      }),
    ]);
  }
  return parsed.data;
}

export type ResolvedLlmProvider = 'anthropic' | 'local';

export function resolveLlmProvider(config: Config): ResolvedLlmProvider {
  if (config.LLM_PROVIDER !== 'auto') return config.LLM_PROVIDER;
  return config.ANTHROPIC_API_KEY ? 'anthropic' : 'local';
}

/** The per-ticket policy the workflow is started with (see workflows/definitions.ts TicketPolicy). */
export function ticketPolicy(config: Config) {
  return {
    confidenceThreshold: config.CONFIDENCE_THRESHOLD,
    minRetrievalScore: config.MIN_RETRIEVAL_SCORE,
    resolutionMatchScore: config.RESOLUTION_MATCH_SCORE,
    answerMinScore: config.ANSWER_MIN_SCORE,
    answerMinMargin: config.ANSWER_MIN_MARGIN,
    slaMinutes: slaMinutes(config),
    llmRetry: {
      initialIntervalMs: config.LLM_RETRY_INITIAL_INTERVAL_MS,
      maximumIntervalMs: config.LLM_RETRY_MAX_INTERVAL_MS,
      maximumAttempts: config.LLM_RETRY_MAX_ATTEMPTS,
    },
    llmTimeoutMs: config.LLM_TIMEOUT_MS,
    speculativeGeneration: config.SPECULATIVE_GENERATION,
    localTriage: resolveLlmProvider(config) === 'local',
    followUpWindowMs: config.FOLLOW_UP_WINDOW_MINUTES * 60_000,
    conversationTurnsPerRun: config.CONVERSATION_TURNS_PER_RUN,
  };
}

export function vectorDatabaseUrl(config: Config): string {
  return config.VECTOR_DATABASE_URL ?? config.DATABASE_URL;
}

export function slaMinutes(config: Config): Record<'critical' | 'high' | 'medium' | 'low', number> {
  return {
    critical: config.SLA_MINUTES_CRITICAL,
    high: config.SLA_MINUTES_HIGH,
    medium: config.SLA_MINUTES_MEDIUM,
    low: config.SLA_MINUTES_LOW,
  };
}
