import type pino from 'pino';
import type { Config } from './config';

/**
 * Redaction of personal data from free text (ticket bodies, answers, log lines).
 *
 * Precision matters as much as recall: support tickets are full of order numbers, dates, versions and
 * amounts, and redacting those would make logs and analytics useless. So every detector is structural
 * (shape + checksum) rather than "any long run of digits":
 *   - email: local@domain.tld
 *   - iban:  country code, check digits and BBAN of that country's registered length, mod-97 valid
 *   - card:  13-19 digits (single spaces or dashes between groups), Luhn valid, starting 2-6 (card networks)
 *   - phone: +international or 00-international; North-American (area) 3-3-4; trunk-0 national numbers
 *            (UK, DE, FR, ...) written in groups; any 7-15 digit number right after a word like "phone" or
 *            "call me". Numbers right after "order", "invoice", "#", ... are left alone.
 * Detectors run in that order on the progressively redacted text, so one number is counted once.
 * Not covered (by design, documented in docs/SECURITY.md): names, postal addresses, obfuscated emails
 * ("jane at example dot com"), national ids.
 */

export const PII_KINDS = ['email', 'phone', 'card', 'iban'] as const;
export type PiiKind = (typeof PII_KINDS)[number];
export type PiiCounts = Record<PiiKind, number>;

export const PII_TOKENS: Readonly<Record<PiiKind, string>> = {
  email: '[email]',
  phone: '[phone]',
  card: '[card]',
  iban: '[iban]',
};

export interface RedactOptions {
  /** Which kinds to redact; all by default. */
  kinds?: readonly PiiKind[];
}

export interface RedactResult {
  text: string;
  counts: PiiCounts;
}

interface Span {
  start: number;
  end: number;
}

function replaceSpans(text: string, spans: Span[], token: string): string {
  let out = '';
  let cursor = 0;
  for (const span of spans) {
    out += text.slice(cursor, span.start) + token;
    cursor = span.end;
  }
  return out + text.slice(cursor);
}

// ---------------------------------------------------------------------------------------------- email

const EMAIL =
  /(?<![\p{L}\p{N}._%+-])[\p{L}\p{N}._%+-]{1,64}@(?:[\p{L}\p{N}](?:[\p{L}\p{N}-]{0,61}[\p{L}\p{N}])?\.)+\p{L}{2,24}(?![\p{L}\p{N}-]|\.[\p{L}\p{N}])/gu;

function findEmails(text: string): Span[] {
  return [...text.matchAll(EMAIL)].map((m) => ({ start: m.index, end: m.index + m[0].length }));
}

// ----------------------------------------------------------------------------------------------- iban

/** Registered IBAN lengths (ISO 13616 registry); other country codes fall back to any length 15-34. */
const IBAN_LENGTHS: Readonly<Record<string, number>> = {
  AD: 24, AE: 23, AL: 28, AT: 20, AZ: 28, BA: 20, BE: 16, BG: 22, BH: 22, BR: 29, BY: 28, CH: 21, CR: 22,
  CY: 28, CZ: 24, DE: 22, DK: 18, DO: 28, EE: 20, EG: 29, ES: 24, FI: 18, FO: 18, FR: 27, GB: 22, GE: 22,
  GI: 23, GL: 18, GR: 27, GT: 28, HR: 21, HU: 28, IE: 22, IL: 23, IQ: 23, IS: 26, IT: 27, JO: 30, KW: 30,
  KZ: 20, LB: 28, LC: 32, LI: 21, LT: 20, LU: 20, LV: 21, MC: 27, MD: 24, ME: 22, MK: 19, MR: 27, MT: 31,
  MU: 30, NL: 18, NO: 15, PK: 24, PL: 28, PS: 29, PT: 25, QA: 29, RO: 24, RS: 22, SA: 24, SC: 31, SE: 24,
  SI: 19, SK: 24, SM: 27, ST: 25, SV: 28, TL: 23, TN: 24, TR: 26, UA: 29, VA: 22, VG: 24, XK: 20,
}; // prettier-ignore

const IBAN_START = /(?<![\p{L}\p{N}])[A-Za-z]{2}\d{2}/gu;
const ALNUM = /^[A-Za-z0-9]$/;

export function isValidIbanChecksum(compact: string): boolean {
  const iban = compact.toUpperCase();
  if (!/^[A-Z]{2}\d{2}[A-Z0-9]+$/.test(iban)) return false;
  const rearranged = iban.slice(4) + iban.slice(0, 4);
  let remainder = 0;
  for (const char of rearranged) {
    const value = char >= 'A' ? char.charCodeAt(0) - 55 : Number(char);
    remainder = (remainder * (value >= 10 ? 100 : 10) + value) % 97;
  }
  return remainder === 1;
}

function findIbans(text: string): Span[] {
  const spans: Span[] = [];
  let resumeAt = 0;
  for (const match of text.matchAll(IBAN_START)) {
    if (match.index < resumeAt) continue;
    // Collect up to 34 characters, allowing a single space only where printed IBANs have one (every 4).
    let compact = '';
    const endAfter: number[] = []; // endAfter[k] = text index just past the (k+1)th character
    let i = match.index;
    while (i < text.length && compact.length < 34) {
      const char = text.charAt(i);
      if (ALNUM.test(char)) {
        compact += char;
        endAfter.push(i + 1);
        i += 1;
      } else if (char === ' ' && compact.length % 4 === 0 && ALNUM.test(text.charAt(i + 1))) {
        i += 1;
      } else {
        break;
      }
    }
    const registered = IBAN_LENGTHS[compact.slice(0, 2).toUpperCase()];
    const lengths = registered ? [registered] : Array.from({ length: 20 }, (_, k) => 34 - k);
    for (const length of lengths) {
      if (length > compact.length) continue;
      const end = endAfter[length - 1] as number;
      if (ALNUM.test(text.charAt(end))) continue; // must end at a word boundary
      if (isValidIbanChecksum(compact.slice(0, length))) {
        spans.push({ start: match.index, end });
        resumeAt = end;
        break;
      }
    }
  }
  return spans;
}

// ----------------------------------------------------------------------------------------------- card

/** Runs of digit groups separated by single spaces or dashes, not glued to words, decimals or `+`. */
const DIGIT_RUN = /(?<![\p{L}\p{N}_+\-.,/])\d+(?:[ -]\d+)*(?![\p{L}\p{N}_]|[.,]\d)/gu;

export function passesLuhn(digits: string): boolean {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let digit = Number(digits.charAt(digits.length - 1 - i));
    if (i % 2 === 1) {
      digit *= 2;
      if (digit > 9) digit -= 9;
    }
    sum += digit;
  }
  return sum % 10 === 0;
}

interface DigitGroup extends Span {
  digits: string;
}

function digitGroups(text: string, offset: number): DigitGroup[] {
  return [...text.matchAll(/\d+/g)].map((m) => ({
    digits: m[0],
    start: offset + m.index,
    end: offset + m.index + m[0].length,
  }));
}

function isCardNumber(groups: DigitGroup[], separators: string[]): boolean {
  const digits = groups.map((g) => g.digits).join('');
  if (digits.length < 13 || digits.length > 19) return false;
  if (new Set(separators).size > 1) return false;
  // Printed cards group digits in fours (Amex/Diners 4-6-5/4-6-4); this keeps lists of small numbers out.
  if (groups.slice(0, -1).some((g) => g.digits.length < 4 || g.digits.length > 6)) return false;
  if (!/^[2-6]/.test(digits)) return false; // major industry identifiers used by card networks
  return passesLuhn(digits);
}

/** "DE89 3704 …" with a wrong checksum is a mistyped IBAN: neither a card nor a phone number. */
function followsIbanPrefix(text: string, index: number): boolean {
  return /(?<![\p{L}\p{N}])[A-Za-z]{2}\d{2} $/u.test(text.slice(Math.max(0, index - 6), index));
}

function findCards(text: string): Span[] {
  const spans: Span[] = [];
  for (const run of text.matchAll(DIGIT_RUN)) {
    if (followsIbanPrefix(text, run.index)) continue;
    const groups = digitGroups(run[0], run.index);
    const separators = groups.slice(1).map((g, k) => text.slice((groups[k] as DigitGroup).end, g.start));
    // Leftmost-longest window of whole groups that is a valid card number.
    let first = 0;
    while (first < groups.length) {
      let matchedLast = -1;
      for (let last = groups.length - 1; last >= first; last--) {
        if (isCardNumber(groups.slice(first, last + 1), separators.slice(first, last))) {
          matchedLast = last;
          break;
        }
      }
      if (matchedLast >= 0) {
        spans.push({
          start: (groups[first] as DigitGroup).start,
          end: (groups[matchedLast] as DigitGroup).end,
        });
        first = matchedLast + 1;
      } else {
        first += 1;
      }
    }
  }
  return spans;
}

// ---------------------------------------------------------------------------------------------- phone

/** Phone-shaped candidates: optional `+`, then digits, spaces, dots, dashes, slashes and parentheses. */
const PHONE_CANDIDATE =
  /(?<![\p{L}\p{N}_+\-.,/#$€£¥])(?:\+ ?|\()?\d[\d ().\-/]{3,24}\d(?![\p{L}\p{N}_]|[.,/\-:]\d)/gu;

const PHONE_CONTEXT =
  /(?<!\p{L})(?:phone|telephone|tel|mobile|mob|cell|cellphone|call|ring|text|sms|whats ?app|fax|reach (?:me|us)|(?:my|our|your|contact|home|work|direct) (?:phone )?number|telefon|téléphone|tél|portable|handy|móvil|teléfono|cellulare)\.?(?:[\s:]+[\p{L}']+){0,3}[\s:=-]*\(?$/iu;
const NON_PHONE_CONTEXT =
  /(?<!\p{L})(?:order|invoice|ticket|case|ref|reference|tracking|account|acct|id|serial|sku|po|confirmation|booking|transaction|customer|item|part|model|version|build)(?:\s*(?:no\.?|number|num|nr\.?|id|#))?\s*[:#.=-]?\s*$/iu;

interface PhoneWindow {
  groups: DigitGroup[];
  separators: string[];
  plus: boolean;
}

function isPhoneNumber(
  { groups, separators, plus }: PhoneWindow,
  phoneContext: boolean,
  otherContext: boolean,
): boolean {
  const digits = groups.map((g) => g.digits).join('');
  const n = digits.length;
  const lengths = groups.map((g) => g.digits.length);

  const parenthesised = separators.map((s) => /[()]/.test(s));
  const plain = separators.filter((_, k) => !parenthesised[k]).map((s) => s.trim() || s);
  if (!plain.every((s) => [' ', '-', '.', '/'].includes(s))) return false;
  // After the first (country/area) separator a number uses one style: "01-02-2024 10" is a date and a time.
  if (new Set(plain.slice(1)).size > 1) return false;
  if (plain.slice(1).includes('/')) return false;
  const grouped = separators.length > 0;

  if (plus) return n >= 8 && n <= 15 && digits[0] !== '0';
  if (phoneContext && n >= 7 && n <= 15) return true;
  if (otherContext) return false;
  if (grouped && digits.startsWith('00') && digits[2] !== '0' && n >= 10 && n <= 17) return true;

  const national = lengths[0] === 1 && digits[0] === '1' ? lengths.slice(1) : lengths;
  const areaStart = digits.length - 10;
  if (grouped && national.join(',') === '3,3,4' && /^[2-9]\d\d[2-9]/.test(digits.slice(areaStart)))
    return true;

  return (
    grouped &&
    digits[0] === '0' &&
    digits[1] !== '0' &&
    n >= 9 &&
    n <= 12 &&
    (lengths[0] as number) >= 2 &&
    (lengths[0] as number) <= 5 &&
    lengths.every((length) => length >= 2)
  );
}

function findPhones(text: string): Span[] {
  const spans: Span[] = [];
  for (const candidate of text.matchAll(PHONE_CANDIDATE)) {
    if (followsIbanPrefix(text, candidate.index)) continue;
    const raw = candidate[0];
    const groups = digitGroups(raw, candidate.index);
    const separators = groups.slice(1).map((g, k) => text.slice((groups[k] as DigitGroup).end, g.start));
    if (separators.some((s) => !/^(?: ?\( ?| ?\) ?|[ .\-/]| - )$/.test(s))) continue;

    // A candidate may hold a phone number plus neighbouring numbers ("12 020 7946 0958"); try whole-group
    // windows leftmost-longest. A window may start inside the candidate only after a plain space.
    let first = 0;
    while (first < groups.length) {
      const firstGroup = groups[first] as DigitGroup;
      const startsCandidate = first === 0;
      if (!startsCandidate && separators[first - 1] !== ' ') {
        first += 1;
        continue;
      }
      const prefix = startsCandidate ? raw.slice(0, firstGroup.start - candidate.index) : '';
      const windowStart = candidate.index + (startsCandidate ? 0 : firstGroup.start - candidate.index);
      const before =
        text
          .slice(Math.max(0, windowStart - 40), windowStart)
          .split('\n')
          .pop() ?? '';
      // "call about order 12345678" is an order number: the nearest label wins.
      const otherContext = NON_PHONE_CONTEXT.test(before);
      const phoneContext = !otherContext && PHONE_CONTEXT.test(before);
      let matchedLast = -1;
      for (let last = groups.length - 1; last >= first; last--) {
        const windowSeparators = separators.slice(first, last);
        const opens = (prefix + windowSeparators.join('')).split('(').length - 1;
        const closes = windowSeparators.join('').split(')').length - 1;
        if (opens !== closes || opens > 1) continue;
        const window = {
          groups: groups.slice(first, last + 1),
          separators: windowSeparators,
          plus: prefix.startsWith('+'),
        };
        if (isPhoneNumber(window, phoneContext, otherContext)) {
          matchedLast = last;
          break;
        }
      }
      if (matchedLast >= 0) {
        spans.push({ start: windowStart, end: (groups[matchedLast] as DigitGroup).end });
        first = matchedLast + 1;
      } else {
        first += 1;
      }
    }
  }
  return spans;
}

// --------------------------------------------------------------------------------------------- public

const DETECTORS: ReadonlyArray<[PiiKind, (text: string) => Span[]]> = [
  ['email', findEmails],
  ['iban', findIbans],
  ['card', findCards],
  ['phone', findPhones],
];

/** Replace emails, IBANs, card numbers and phone numbers in `text` with `[email]`, `[iban]`, `[card]`, `[phone]`. */
export function redactPii(text: string, options: RedactOptions = {}): RedactResult {
  const kinds = new Set(options.kinds ?? PII_KINDS);
  const counts: PiiCounts = { email: 0, phone: 0, card: 0, iban: 0 };
  let redacted = text;
  for (const [kind, detect] of DETECTORS) {
    if (!kinds.has(kind)) continue;
    const spans = detect(redacted);
    counts[kind] = spans.length;
    if (spans.length > 0) redacted = replaceSpans(redacted, spans, PII_TOKENS[kind]);
  }
  return { text: redacted, counts };
}

/** Redacted text when PII_REDACTION is on (the default), the text unchanged otherwise. For logs and analytics. */
export function maybeRedact(config: Pick<Config, 'PII_REDACTION'>, text: string): string {
  return config.PII_REDACTION ? redactPii(text).text : text;
}

/** Redacted text when PII_REDACT_BEFORE_LLM is on (off by default), for prompts sent to the LLM vendor. */
export function redactForLlm(config: Pick<Config, 'PII_REDACT_BEFORE_LLM'>, text: string): string {
  return config.PII_REDACT_BEFORE_LLM ? redactPii(text).text : text;
}

// ---------------------------------------------------------------------------------------------- pino

const MAX_DEPTH = 8;

/** Deep copy of `value` with every string redacted. Errors stay Errors of the same class. */
export function redactDeep(value: unknown, depth = 0, seen: WeakSet<object> = new WeakSet()): unknown {
  if (typeof value === 'string') return redactPii(value).text;
  if (value === null || typeof value !== 'object') return value;
  if (depth >= MAX_DEPTH || seen.has(value)) return '[redacted: too deep]';
  seen.add(value);
  if (Array.isArray(value)) return value.map((item) => redactDeep(item, depth + 1, seen));
  if (value instanceof Date || ArrayBuffer.isView(value)) return value;
  if (value instanceof Error) {
    // A genuine Error (so util.inspect prints it as one) carrying the original prototype (so pino's err
    // serializer reports the right type).
    const copy = Object.setPrototypeOf(new Error(), Object.getPrototypeOf(value) as object) as Error;
    const hidden = (key: string, item: unknown) =>
      Object.defineProperty(copy, key, {
        value: item,
        writable: true,
        configurable: true,
        enumerable: false,
      });
    hidden('message', redactPii(value.message).text);
    if (value.stack !== undefined) hidden('stack', redactPii(value.stack).text);
    if (value.cause !== undefined) hidden('cause', redactDeep(value.cause, depth + 1, seen));
    for (const [key, item] of Object.entries(value))
      (copy as unknown as Record<string, unknown>)[key] = redactDeep(item, depth + 1, seen);
    return copy;
  }
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) out[key] = redactDeep(item, depth + 1, seen);
  return out;
}

/** A pino serializer (`serializers: { body: redactingSerializer }`) that redacts strings anywhere in the value. */
export function redactingSerializer(value: unknown): unknown {
  return redactDeep(value);
}

/**
 * pino options that redact every log line: the message and its format arguments (logMethod hook) and every
 * field of the merged object, including `err` (formatters.log). Child-logger bindings are not covered: bind
 * ids, not customer text. Spread into `pino({ ...piiLoggerOptions(config), ... })`.
 */
export function piiLoggerOptions(
  config: Pick<Config, 'PII_REDACTION'>,
): Pick<pino.LoggerOptions, 'hooks' | 'formatters'> {
  if (!config.PII_REDACTION) return {};
  return {
    hooks: {
      logMethod(args, method) {
        const redactedArgs = (args as unknown[]).map((arg, index) =>
          typeof arg === 'string' ? redactPii(arg).text : index > 0 ? redactDeep(arg) : arg,
        );
        method.apply(this, redactedArgs as Parameters<pino.LogFn>);
      },
    },
    formatters: {
      log: (object) => redactDeep(object) as Record<string, unknown>,
    },
  };
}
