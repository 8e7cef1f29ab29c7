import pino from 'pino';
import { piiLoggerOptions } from './pii';

export type Logger = pino.Logger;

/**
 * One JSON logger per process. With PII_REDACTION on (the default) every message and field passes through
 * the redactor first, so emails, phone, card and IBAN-like numbers never reach log storage.
 */
export function createLogger(
  level: string = process.env.LOG_LEVEL ?? 'info',
  name = 'ticketflow',
  options: { redactPii?: boolean } = {},
): Logger {
  const redact =
    options.redactPii ?? !['false', '0', 'no', 'off'].includes(process.env.PII_REDACTION ?? 'true');
  return pino({ name, level, ...piiLoggerOptions({ PII_REDACTION: redact }) });
}
