import { z } from 'zod';

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
const unitInterval = z.coerce.number().min(0).max(1);

export const DEFAULT_INTENTS = [
  'billing',
  'technical',
  'account',
  'feature_request',
  'complaint',
  'other',
] as const;

export const configSchema = z.object({
  NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),

  // Temporal
  TEMPORAL_ADDRESS: z
    .string()
    .regex(/^[^\s:]+:\d+$/, 'expected host:port, e.g. localhost:7233')
    .default('localhost:7233'),
  TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
  TEMPORAL_TASK_QUEUE: z.string().min(1).default('ticketflow'),
  TEMPORAL_UI_URL: httpUrl.default('http://localhost:8233'),
  /** Prebuilt workflow bundles (workers/bundle.ts); unset, each worker process bundles the workflow code at start. */
  WORKFLOW_BUNDLE_DIR: z.string().min(1).optional(),

  // Postgres: the interaction log, escalations, outbox, API keys (and vectors when VECTOR_STORE=pgvector)
  DATABASE_URL: postgresUrl.default('postgres://postgres:postgres@localhost:5432/ticketflow'),
  DATABASE_POOL_MAX: positiveInt.default(5),

  // Knowledge base
  VECTOR_STORE: z.enum(['pgvector', 'qdrant']).default('pgvector'),
  VECTOR_DATABASE_URL: postgresUrl.optional(),
  QDRANT_URL: httpUrl.optional(),
  QDRANT_API_KEY: z.string().min(1).optional(),
  KB_COLLECTION: z
    .string()
    .regex(/^[a-z][a-z0-9_]{0,62}$/, 'expected a lower-case identifier')
    .default('ticketflow_kb'),
  EMBEDDING_MODEL: z.string().min(1).default('sentence-transformers/all-MiniLM-L6-v2'),
  MODELS_DIR: z.string().min(1).default('models'),
  RETRIEVAL_TOP_K: positiveInt.max(50).default(5),
  MIN_RETRIEVAL_SCORE: unitInterval.default(0.45),
  RESOLUTION_DUPLICATE_SCORE: unitInterval.default(0.95),
  /** A human resolution this close to a ticket lets it be answered despite low classifier confidence; 1 = never. */
  RESOLUTION_MATCH_SCORE: unitInterval.default(0.6),

  // LLM
  LLM_PROVIDER: z.enum(['auto', 'anthropic', 'local']).default('auto'),
  ANTHROPIC_API_KEY: z.string().min(1).optional(),
  ANTHROPIC_BASE_URL: httpUrl.optional(),
  ANTHROPIC_CLASSIFY_MODEL: z.string().min(1).default('claude-haiku-4-5'),
  ANTHROPIC_ANSWER_MODEL: z.string().min(1).default('claude-sonnet-4-6'),
  LLM_MAX_TOKENS: positiveInt.max(64000).default(1024),
  LLM_TIMEOUT_MS: positiveInt.default(30000),
  /** Temporal retry budget for LLM calls; once spent, the ticket escalates with `llm_unavailable`. */
  LLM_RETRY_MAX_ATTEMPTS: positiveInt.max(100).default(5),
  LLM_RETRY_INITIAL_INTERVAL_MS: positiveInt.default(1000),
  LLM_RETRY_MAX_INTERVAL_MS: positiveInt.default(20000),
  /** JSON object: model id → USD per million tokens {input, cachedInput, cacheWrite, output}; merged over the defaults. */
  LLM_PRICES: z.string().optional(),
  INTENTS: csv.pipe(z.array(z.string().regex(/^[a-z][a-z0-9_]*$/)).min(2)).default([...DEFAULT_INTENTS]),

  // Workflow policy
  CONFIDENCE_THRESHOLD: unitInterval.default(0.65),
  SLA_MINUTES_CRITICAL: positiveInt.default(60),
  SLA_MINUTES_HIGH: positiveInt.default(240),
  SLA_MINUTES_MEDIUM: positiveInt.default(1440),
  SLA_MINUTES_LOW: positiveInt.default(4320),

  // API
  API_HOST: z.string().min(1).default('127.0.0.1'),
  API_PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  API_BODY_LIMIT_BYTES: positiveInt.default(256 * 1024),
  TICKET_MAX_CHARS: positiveInt.default(20000),
  RATE_LIMIT_PER_MINUTE: positiveInt.default(600),
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
  CODEC_CORS_ORIGIN: z.string().default('http://localhost:8233'),
});

export type Config = z.infer<typeof configSchema>;

export class ConfigError extends Error {
  constructor(public readonly issues: string[]) {
    super(`Invalid configuration:\n${issues.map((i) => `  - ${i}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Parse the environment; empty strings count as unset so `.env` files can leave values blank. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const cleaned: Record<string, string> = {};
  for (const key of Object.keys(configSchema.shape)) {
    const value = env[key];
    if (value !== undefined && value !== '') cleaned[key] = value;
  }
  const parsed = configSchema.safeParse(cleaned);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((issue) => {
        const name = issue.path.join('.') || '(environment)';
        const key = String(issue.path[0]);
        const given = cleaned[key];
        // Never echo secrets into start-up errors and their logs: keys are withheld, URL passwords masked.
        const secret = /KEY|SECRET|PASSWORD|TOKEN/.test(key);
        const shown =
          given === undefined || secret ? undefined : given.replace(/\/\/([^:@/\s]*):[^@/\s]*@/, '//$1:***@');
        return `${name}: ${issue.message}${shown !== undefined ? ` (got "${shown.slice(0, 80)}")` : ''}`;
      }),
    );
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
    slaMinutes: slaMinutes(config),
    llmRetry: {
      initialIntervalMs: config.LLM_RETRY_INITIAL_INTERVAL_MS,
      maximumIntervalMs: config.LLM_RETRY_MAX_INTERVAL_MS,
      maximumAttempts: config.LLM_RETRY_MAX_ATTEMPTS,
    },
    llmTimeoutMs: config.LLM_TIMEOUT_MS,
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
