import pino from 'pino';
import { loadConfig } from '../../src/config';
import {
  isValidIbanChecksum,
  maybeRedact,
  passesLuhn,
  piiLoggerOptions,
  redactForLlm,
  redactingSerializer,
  redactPii,
  type PiiKind,
} from '../../src/pii';

/** [input, expected output]: the expected text pins both what is found and where the match stops. */
const POSITIVES: ReadonlyArray<[string, string, PiiKind]> = [
  // email
  ['Contact me at jane.doe@example.com please', 'Contact me at [email] please', 'email'],
  ['mail jane.doe+tickets@example.co.uk.', 'mail [email].', 'email'],
  ['(o.brien@mail.example.ie)', '([email])', 'email'],
  ['JOSÉ@correo.example.es wrote', '[email] wrote', 'email'],
  // iban
  ['IBAN DE89 3704 0044 0532 0130 00 thanks', 'IBAN [iban] thanks', 'iban'],
  ['pay to GB82WEST12345698765432.', 'pay to [iban].', 'iban'],
  ['FR14 2004 1010 0505 0001 3M02 606', '[iban]', 'iban'],
  ['NL91ABNA0417164300, cheers', '[iban], cheers', 'iban'],
  ['ch93 0076 2011 6238 5295 7', '[iban]', 'iban'],
  // card
  ['card 4111 1111 1111 1111 exp 12/26', 'card [card] exp 12/26', 'card'],
  ['4111-1111-1111-1111', '[card]', 'card'],
  ['my card is 4111111111111111.', 'my card is [card].', 'card'],
  ['amex 3782 822463 10005', 'amex [card]', 'card'],
  ['mc 5555555555554444 and', 'mc [card] and', 'card'],
  ['mc 2223 0031 2200 3222', 'mc [card]', 'card'],
  ['discover 6011 1111 1111 1117', 'discover [card]', 'card'],
  ['old visa 4222222222222', 'old visa [card]', 'card'],
  // phone
  ['Call +1 (415) 555-2671 now', 'Call [phone] now', 'phone'],
  ['+44 20 7946 0958', '[phone]', 'phone'],
  ['Tel:+49 30 12345678', 'Tel:[phone]', 'phone'],
  ['+44 (0)20 7946 0958 is the office', '[phone] is the office', 'phone'],
  ['reach me on +4915112345678', 'reach me on [phone]', 'phone'],
  ['+33 6 12 34 56 78', '[phone]', 'phone'],
  ['+91 98765 43210', '[phone]', 'phone'],
  ['+86 138 0013 8000', '[phone]', 'phone'],
  ['dial 0044 20 7946 0958', 'dial [phone]', 'phone'],
  ['(415) 555-2671.', '[phone].', 'phone'],
  ['415-555-2671', '[phone]', 'phone'],
  ['415.555.2671', '[phone]', 'phone'],
  ['1-800-555-0199', '[phone]', 'phone'],
  ['Reach me at (415)555-2671', 'Reach me at [phone]', 'phone'],
  ['020 7946 0958', '[phone]', 'phone'],
  ['07700 900123', '[phone]', 'phone'],
  ['Call us on 0800 123 4567', 'Call us on [phone]', 'phone'],
  ['06 12 34 56 78', '[phone]', 'phone'],
  ['01.23.45.67.89', '[phone]', 'phone'],
  ['030/1234567', '[phone]', 'phone'],
  ['Telefon: 030 12345678', 'Telefon: [phone]', 'phone'],
  ['call me on 07700900123', 'call me on [phone]', 'phone'],
  ['my number is 0612345678', 'my number is [phone]', 'phone'],
  ['mobile: 612 345 678', 'mobile: [phone]', 'phone'],
  ['phone 555-1234', 'phone [phone]', 'phone'],
  ['between 10 and 12 020 7946 0958', 'between 10 and 12 [phone]', 'phone'],
];

/** Text that looks numeric or address-like but carries no personal data: must come back unchanged. */
const NEGATIVES: readonly string[] = [
  'Order 4155552671 has not arrived',
  'order number 415-555-2671',
  'Order #123-456-7890',
  'call about order 12345678',
  'SKU 030-1234-5678',
  'Invoice 2024-000123 is overdue',
  'Order 12345678 placed 2024-03-04',
  'Meeting 01-02-2024 10:30',
  '2024-01-15 10:30',
  'Delivered on 15.01.2024 at 09:00-17:00',
  'due 05/06/2024',
  'Upgraded to version 10.0.19045.2965',
  'Windows 11 build 22631.4037, app v2.3.10',
  'server IP 192.168.100.200 port 8080',
  'ISBN 978-3-16-148410-0',
  'pages 100-200',
  'total 1 234 567 EUR',
  'costs $1,234,567.89 or €1.234.567,89',
  'ratio 0.5 - 0.75',
  'Scores: 2 3 4 5 6 7 8 9 10 11 12 13 14 15',
  'uuid 123e4567-e89b-12d3-a456-426614174000',
  'tracking 1Z999AA10123456784',
  'card number 4111 1111 1111 1112 was declined',
  'reference 1234567890123452',
  'DE89 3704 0044 0532 0130 01',
  'ISO 9001 and AB12 CDEF GHIJ KLMN',
  'user@localhost and @support',
  'temperature rose +5.5 degrees, +20 tomorrow',
  'error 0x80070005 at 3.14159265358979',
  'zip 94107, room 2401',
];

describe('redactPii', () => {
  it.each(POSITIVES)('redacts %j', (input, expected, kind) => {
    const result = redactPii(input);
    expect(result.text).toBe(expected);
    expect(result.counts[kind]).toBe(1);
    const others = Object.entries(result.counts).filter(([k]) => k !== kind);
    expect(others.every(([, count]) => count === 0)).toBe(true);
  });

  it.each(NEGATIVES.map((text) => [text]))('leaves %j alone', (input) => {
    const result = redactPii(input);
    expect(result.text).toBe(input);
    expect(result.counts).toEqual({ email: 0, phone: 0, card: 0, iban: 0 });
  });

  it('has at least 40 table cases', () => {
    expect(POSITIVES.length + NEGATIVES.length).toBeGreaterThanOrEqual(40);
  });

  it('counts several kinds in one text and keeps the rest intact', () => {
    const text =
      'Hi, I am jane@example.com (or j.doe@work.example.org). Order 12345678 from 2024-03-04 was charged to ' +
      '4111 1111 1111 1111; refund to DE89 3704 0044 0532 0130 00 or call +44 20 7946 0958 / 415-555-2671.';
    const result = redactPii(text);
    expect(result.text).toBe(
      'Hi, I am [email] (or [email]). Order 12345678 from 2024-03-04 was charged to ' +
        '[card]; refund to [iban] or call [phone] / [phone].',
    );
    expect(result.counts).toEqual({ email: 2, phone: 2, card: 1, iban: 1 });
  });

  it('redacts only the requested kinds', () => {
    const result = redactPii('jane@example.com 4111111111111111', { kinds: ['card'] });
    expect(result.text).toBe('jane@example.com [card]');
    expect(result.counts).toEqual({ email: 0, phone: 0, card: 1, iban: 0 });
  });

  it('validates checksums the detectors rely on', () => {
    expect(passesLuhn('4111111111111111')).toBe(true);
    expect(passesLuhn('4111111111111112')).toBe(false);
    expect(isValidIbanChecksum('GB82WEST12345698765432')).toBe(true);
    expect(isValidIbanChecksum('GB82WEST12345698765433')).toBe(false);
  });
});

describe('config switches', () => {
  const secretText = 'write to jane@example.com';

  it('maybeRedact follows PII_REDACTION (default on)', () => {
    expect(maybeRedact(loadConfig({}), secretText)).toBe('write to [email]');
    expect(maybeRedact(loadConfig({ PII_REDACTION: 'false' }), secretText)).toBe(secretText);
  });

  it('redactForLlm follows PII_REDACT_BEFORE_LLM (default off)', () => {
    expect(redactForLlm(loadConfig({}), secretText)).toBe(secretText);
    expect(redactForLlm(loadConfig({ PII_REDACT_BEFORE_LLM: 'true' }), secretText)).toBe('write to [email]');
  });
});

describe('log redaction', () => {
  function captureLogger(options: pino.LoggerOptions): { logger: pino.Logger; lines: () => string } {
    const chunks: string[] = [];
    const logger = pino(options, { write: (chunk: string) => chunks.push(chunk) });
    return { logger, lines: () => chunks.join('') };
  }

  it('redacts messages, format arguments, merged fields and errors', () => {
    const { logger, lines } = captureLogger({ ...piiLoggerOptions(loadConfig({})), level: 'info' });
    logger.info(
      { ticket: { body: 'card 4111 1111 1111 1111', tags: ['jane@example.com'] } },
      'from %s',
      'bob@example.com',
    );
    logger.warn('customer phone +44 20 7946 0958');
    logger.error({ err: new Error('delivery to jane@example.com failed') }, 'webhook failed');
    const output = lines();
    for (const raw of ['4111 1111 1111 1111', 'jane@example.com', 'bob@example.com', '+44 20 7946 0958']) {
      expect(output).not.toContain(raw);
    }
    const [first, second, third] = output
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    expect(first.msg).toBe('from [email]');
    expect(first.ticket).toEqual({ body: 'card [card]', tags: ['[email]'] });
    expect(second.msg).toBe('customer phone [phone]');
    expect(third.err.message).toBe('delivery to [email] failed');
    expect(third.err.type).toBe('Error');
  });

  it('logs unchanged when PII_REDACTION is off', () => {
    const { logger, lines } = captureLogger({ ...piiLoggerOptions(loadConfig({ PII_REDACTION: 'off' })) });
    logger.info({ email: 'jane@example.com' }, 'hello');
    expect(lines()).toContain('jane@example.com');
  });

  it('redactingSerializer works as a per-field pino serializer', () => {
    const { logger, lines } = captureLogger({ serializers: { body: redactingSerializer } });
    logger.info({ body: 'IBAN GB82 WEST 1234 5698 7654 32', other: 'jane@example.com' });
    const line = JSON.parse(lines());
    expect(line.body).toBe('IBAN [iban]');
    expect(line.other).toBe('jane@example.com');
  });
});
