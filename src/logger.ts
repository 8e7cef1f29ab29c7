import pino from 'pino';
import { createRepeatLimiter, repeatKey, summarizeError } from './log-lines';
import { piiLoggerOptions } from './pii';

export type Logger = pino.Logger;

const DEFAULT_REPEAT_WINDOW_MS = 60_000;

/**
 * One JSON logger per process. With PII_REDACTION on (the default) every message and field passes through
 * the redactor first, so emails, phone, card and IBAN-like numbers never reach log storage. Errors are logged
 * as type, code, message and a few stack frames (src/log-lines.ts), never the error object's other properties
 * (a driver's failed query and its parameters). A warning or error with the same message and error repeating
 * within LOG_REPEAT_WINDOW_MS is written once, then again with `repeated` = the number skipped.
 */
export function createLogger(
  level: string = process.env.LOG_LEVEL ?? 'info',
  name = 'ticketflow',
  options: { redactPii?: boolean; repeatWindowMs?: number; destination?: pino.DestinationStream } = {},
): Logger {
  const redact =
    options.redactPii ?? !['false', '0', 'no', 'off'].includes(process.env.PII_REDACTION ?? 'true');
  const pii = piiLoggerOptions({ PII_REDACTION: redact });
  const fromEnv = Number(process.env.LOG_REPEAT_WINDOW_MS);
  const repeats = createRepeatLimiter(
    options.repeatWindowMs ?? (Number.isFinite(fromEnv) && fromEnv >= 0 ? fromEnv : DEFAULT_REPEAT_WINDOW_MS),
  );
  const pinoOptions: pino.LoggerOptions = {
    name,
    level,
    ...pii,
    serializers: { err: (error: unknown) => summarizeError(error, { withStack: true }) },
    hooks: {
      logMethod(args, method, methodLevel) {
        let forwarded = args as unknown[];
        const [first, second] = forwarded;
        const fields =
          typeof first === 'object' && first !== null ? (first as Record<string, unknown>) : undefined;
        const error = first instanceof Error ? first : fields?.err;
        if (methodLevel >= 40 && error !== undefined) {
          const message = typeof first === 'string' ? first : typeof second === 'string' ? second : '';
          const verdict = repeats.admit(repeatKey(message, { ...fields, err: summarizeError(error) }));
          if (!verdict.write) return;
          if (verdict.repeated && fields && !(first instanceof Error))
            forwarded = [{ ...fields, repeated: verdict.repeated }, ...forwarded.slice(1)];
        }
        const next = pii.hooks?.logMethod;
        if (next) next.call(this, forwarded as Parameters<pino.LogFn>, method, methodLevel);
        else method.apply(this, forwarded as Parameters<pino.LogFn>);
      },
    },
  };
  return options.destination ? pino(pinoOptions, options.destination) : pino(pinoOptions);
}
