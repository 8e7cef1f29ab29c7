import { formatWithOptions } from 'node:util';
import { DefaultLogger, type LogEntry, type LogLevel } from '@temporalio/worker';
import { redactDeep, redactPii } from '../pii';

/**
 * The Temporal SDK logs activity and workflow failures itself ("Activity failed", "Workflow failed") with the
 * error message, which can quote customer text. Payload encryption keeps that out of Temporal's history, not
 * out of the worker's stderr; this logger redacts PII from those lines. Install it with
 * `Runtime.install({ logger: createRedactingSdkLogger(level) })` before the first connection.
 */

const format = formatWithOptions.bind(undefined, { colors: false, depth: 6 });

export function redactingLogFunction(write: (line: string) => void = (line) => process.stderr.write(line)) {
  return (entry: LogEntry): void => {
    const time = new Date(Number(entry.timestampNanos / 1_000_000n)).toISOString();
    const message = redactPii(entry.message).text;
    const meta = entry.meta === undefined ? '' : ` ${format(redactDeep(entry.meta))}`;
    write(`${time} [${entry.level}] ${message}${meta}\n`);
  };
}

export function createRedactingSdkLogger(
  level: LogLevel = 'INFO',
  write?: (line: string) => void,
): DefaultLogger {
  return new DefaultLogger(level, redactingLogFunction(write));
}
