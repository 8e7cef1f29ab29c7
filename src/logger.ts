import pino from 'pino';

export type Logger = pino.Logger;

/** One JSON logger per process; PII is redacted by callers before text is logged (see src/pii.ts). */
export function createLogger(level: string = process.env.LOG_LEVEL ?? 'info', name = 'ticketflow'): Logger {
  return pino({ name, level });
}
