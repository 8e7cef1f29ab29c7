import { redactPii } from './pii';

/**
 * What a failure may put in a log line. Errors from database drivers and the Temporal SDK carry whole objects
 * (the failed query with its parameters, the activity's input, nested causes): dumped as they are, one
 * retrying failure wrote ~100 lines quoting ticket text, every few seconds. A failure is logged as its type,
 * its code and its message (PII-redacted, one line, bounded), and nothing else from the error object.
 */

const MESSAGE_MAX_CHARS = 300;
const FIELD_MAX_CHARS = 200;
const STACK_MAX_FRAMES = 8;

export interface LoggedError {
  type: string;
  /** SQLSTATE for Postgres errors, the failure type for Temporal application failures, errno codes. */
  code?: string;
  message: string;
  cause?: Omit<LoggedError, 'cause' | 'stack'>;
  stack?: string;
}

function oneLine(text: string, max: number): string {
  const flat = redactPii(text).text.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max)}…` : flat;
}

/** node-postgres' DatabaseError (and PGlite's): a SQLSTATE code and a severity. */
function isPostgresError(error: Record<string, unknown>): boolean {
  return (
    typeof error.severity === 'string' && typeof error.code === 'string' && /^[0-9A-Z]{5}$/.test(error.code)
  );
}

/**
 * Postgres quotes the offending input in its messages (`invalid input syntax for type uuid: "<the value>"`),
 * and the value is often a query parameter holding ticket text. Quoted parts that are not short identifiers
 * (`relation "tickets"`) are replaced; the SQLSTATE says what went wrong.
 */
function withoutQuotedValues(message: string): string {
  return message.replace(/"([^"]*)"/g, (quoted, inner: string) =>
    /^[A-Za-z_][A-Za-z0-9_.]{0,62}$/.test(inner) ? quoted : '"[value]"',
  );
}

function codeOf(error: Record<string, unknown>): string | undefined {
  for (const key of ['code', 'type', 'errno'] as const) {
    const value = error[key];
    if (typeof value === 'string' || typeof value === 'number') return String(value).slice(0, 64);
  }
  return undefined;
}

/** The loggable summary of anything thrown. `withStack` keeps the first frames (code locations, no data). */
export function summarizeError(error: unknown, { withStack = false } = {}): LoggedError {
  if (!(error instanceof Error)) {
    return { type: typeof error, message: oneLine(String(error), MESSAGE_MAX_CHARS) };
  }
  const record = error as unknown as Record<string, unknown>;
  const summary: LoggedError = {
    // node-postgres names its DatabaseError "error"; the class says more.
    type:
      error.constructor?.name && error.constructor.name !== 'Error'
        ? error.constructor.name
        : error.name || 'Error',
    message: oneLine(
      isPostgresError(record) ? withoutQuotedValues(error.message) : error.message,
      MESSAGE_MAX_CHARS,
    ),
  };
  const code = codeOf(record);
  if (code) summary.code = code;
  if (error.cause !== undefined && error.cause !== error) {
    const { type, code: causeCode, message } = summarizeError(error.cause);
    summary.cause = { type, ...(causeCode ? { code: causeCode } : {}), message };
  }
  if (withStack && error.stack) {
    summary.stack = error.stack
      .split('\n')
      .filter((line) => line.trimStart().startsWith('at '))
      .slice(0, STACK_MAX_FRAMES)
      .map((line) => line.trim())
      .join(' | ');
  }
  return summary;
}

/** Scalar fields only (strings bounded and redacted); objects and arrays are dropped, errors summarized. */
export function safeFields(meta: Record<string, unknown> | undefined): Record<string, unknown> {
  const fields: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(meta ?? {})) {
    if (value instanceof Error) fields[key === 'error' ? 'err' : key] = summarizeError(value);
    else if (typeof value === 'string') fields[key] = oneLine(value, FIELD_MAX_CHARS);
    else if (typeof value === 'number' || typeof value === 'boolean') fields[key] = value;
    else if (typeof value === 'bigint') fields[key] = value.toString();
  }
  return fields;
}

export interface RepeatLimiter {
  /**
   * Whether to write a line with this key now. The first occurrence is written; repeats within `windowMs` are
   * counted instead, and the first one after the window is written with `repeated` = how many were skipped.
   */
  admit(key: string): { write: false } | { write: true; repeated?: number };
}

export function createRepeatLimiter(
  windowMs: number,
  now: () => number = Date.now,
  maxKeys = 1000,
): RepeatLimiter {
  const seen = new Map<string, { since: number; skipped: number }>();
  return {
    admit(key) {
      if (windowMs <= 0) return { write: true };
      const at = now();
      const entry = seen.get(key);
      if (entry && at - entry.since < windowMs) {
        entry.skipped++;
        return { write: false };
      }
      if (!entry && seen.size >= maxKeys) {
        for (const [oldKey, old] of seen) if (at - old.since >= windowMs) seen.delete(oldKey);
        if (seen.size >= maxKeys) seen.delete(seen.keys().next().value as string);
      }
      seen.set(key, { since: at, skipped: 0 });
      return entry && entry.skipped > 0 ? { write: true, repeated: entry.skipped } : { write: true };
    },
  };
}

/** What makes two failure lines "the same" for the limiter: message, where, and the error's type, code, text. */
export function repeatKey(message: string, fields: Record<string, unknown>): string {
  const err = fields.err as LoggedError | undefined;
  return [
    message,
    fields.activityType ?? '',
    fields.workflowType ?? '',
    err?.type,
    err?.code,
    err?.message,
  ].join('\u0000');
}
