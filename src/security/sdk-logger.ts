import { DefaultLogger, type LogEntry, type LogLevel } from '@temporalio/worker';
import { createRepeatLimiter, repeatKey, safeFields } from '../log-lines';
import { redactPii } from '../pii';

/**
 * The Temporal SDK logs activity and workflow failures itself ("Activity failed", "Workflow failed") with the
 * error object, which can quote customer text or carry a failed query with its parameters. Payload encryption
 * keeps that out of Temporal's history, not out of the worker's stderr; this logger writes each entry as one
 * pino-shaped JSON line with scalar fields only and the error as type, code and redacted message
 * (src/log-lines.ts). An identical warning or error repeating within `repeatWindowMs` (a stuck retry) is
 * written once, then again with the count of those skipped once the window has passed.
 * Install it with `Runtime.install({ logger: createRedactingSdkLogger(level) })` before the first connection.
 */

const PINO_LEVELS: Record<LogLevel, number> = { TRACE: 10, DEBUG: 20, INFO: 30, WARN: 40, ERROR: 50 };
export const DEFAULT_REPEAT_WINDOW_MS = 60_000;

export interface SdkLogOptions {
  repeatWindowMs?: number;
  now?: () => number;
}

export function redactingLogFunction(
  write: (line: string) => void = (line) => process.stderr.write(line),
  { repeatWindowMs = DEFAULT_REPEAT_WINDOW_MS, now }: SdkLogOptions = {},
) {
  const repeats = createRepeatLimiter(repeatWindowMs, now);
  return (entry: LogEntry): void => {
    const message = redactPii(entry.message).text;
    const fields = safeFields(entry.meta);
    let repeated: number | undefined;
    if (PINO_LEVELS[entry.level] >= PINO_LEVELS.WARN) {
      const verdict = repeats.admit(repeatKey(message, fields));
      if (!verdict.write) return;
      repeated = verdict.repeated;
    }
    const line = {
      level: PINO_LEVELS[entry.level],
      time: Number(entry.timestampNanos / 1_000_000n),
      name: 'temporal-sdk',
      msg: message,
      ...fields,
      ...(repeated ? { repeated, repeatWindowMs } : {}),
    };
    write(`${JSON.stringify(line)}\n`);
  };
}

export function createRedactingSdkLogger(
  level: LogLevel = 'INFO',
  write?: (line: string) => void,
  options?: SdkLogOptions,
): DefaultLogger {
  return new DefaultLogger(level, redactingLogFunction(write, options));
}
