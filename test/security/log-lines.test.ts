import { inspect } from 'node:util';
import { Writable } from 'node:stream';
import { ApplicationFailure } from '@temporalio/common';
import pg from 'pg';
import { createLogger } from '../../src/logger';
import { redactingLogFunction } from '../../src/security/sdk-logger';

/**
 * A stuck retry: the same activity failing every second for ten minutes on a real Postgres error whose query
 * parameter is ticket text. Dumped as an object (what the SDK logger did with util.inspect), each failure was
 * dozens of lines quoting the text. Logged now: one JSON line per distinct failure and window, with the
 * SQLSTATE, and none of the ticket's text, card number or e-mail address.
 */

const TICKET_TEXT =
  'My parcel to 12 Quincy Lane never came, charge card 4111 1111 1111 1111, mail bq@example.org';
const SECRETS = ['Quincy Lane', '4111 1111 1111 1111', 'bq@example.org', 'parcel'];

let realError: Error;

beforeAll(async () => {
  const client = new pg.Client({ connectionString: process.env.DATABASE_URL });
  await client.connect();
  try {
    // A parameter of the wrong type: Postgres quotes the value in its message.
    await client.query('select $1::timestamptz', [TICKET_TEXT]);
  } catch (error) {
    realError = error as Error;
  } finally {
    await client.end();
  }
});

function expectClean(line: string) {
  expect(line.endsWith('\n') ? line.slice(0, -1) : line).not.toContain('\n');
  expect(line.length).toBeLessThan(1500);
  for (const secret of SECRETS)
    expect({ secret, found: line.includes(secret) }).toEqual({ secret, found: false });
}

test('the control: the raw error object quotes the ticket text, as it did in the log', () => {
  expect((realError as Error & { code?: string }).code).toBe('22007');
  expect(inspect(realError, { depth: 6 })).toContain('Quincy Lane');
});

test('Temporal SDK: ten minutes of a failing retry every second give a few bounded, clean lines', () => {
  const lines: string[] = [];
  let clock = 0;
  const log = redactingLogFunction((line) => lines.push(line), { repeatWindowMs: 60_000, now: () => clock });
  const failure = ApplicationFailure.create({
    message: 'Write not confirmed: ticket row',
    type: 'WriteFailed',
    details: [{ ticket: TICKET_TEXT }],
    cause: realError,
  });
  for (let attempt = 1; attempt <= 600; attempt++) {
    log({
      level: 'WARN',
      message: 'Activity failed',
      timestampNanos: BigInt(clock) * 1_000_000n,
      meta: {
        activityType: 'recordTicket',
        workflowId: 'ticket-stuck-1',
        attempt,
        error: attempt % 2 ? realError : failure,
        // What a dump would also have carried: the activity input.
        input: { ticket: { body: TICKET_TEXT } },
      },
    });
    clock += 1000;
  }
  // Two distinct failures, each written once per minute (the first of a window carries the skipped count).
  expect(lines.length).toBeLessThanOrEqual(2 * 11);
  expect(lines.length).toBeGreaterThanOrEqual(2);
  const parsed = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
  const skipped = parsed.reduce((sum, entry) => sum + Number(entry.repeated ?? 0), 0);
  expect(lines.length + skipped).toBeLessThanOrEqual(600);
  expect(skipped).toBeGreaterThan(500);
  for (const line of lines) expectClean(line);
  expect(parsed[0]).toMatchObject({
    level: 40,
    msg: 'Activity failed',
    activityType: 'recordTicket',
    err: { type: 'DatabaseError', code: '22007' },
  });
  expect(parsed[0]).not.toHaveProperty('input');
  expect(
    parsed.find((entry) => (entry.err as { type?: string }).type === 'ApplicationFailure'),
  ).toMatchObject({
    err: { code: 'WriteFailed', cause: { type: 'DatabaseError', code: '22007' } },
  });
});

test('application logger: a failure logged 100 times in a burst is one line, with its code and no parameters', () => {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString('utf8'));
      done();
    },
  });
  const logger = createLogger('info', 'worker', { destination, repeatWindowMs: 60_000 });
  for (let i = 0; i < 100; i++)
    logger.error({ err: realError, workflowId: 'ticket-stuck-1' }, 'Outbox write failed');
  logger.warn({ err: new Error('another failure') }, 'Something else failed');
  logger.info('an info line is never rate-limited');
  logger.info('an info line is never rate-limited');
  expect(lines).toHaveLength(4);
  for (const line of lines) expectClean(line);
  const first = JSON.parse(lines[0]!) as {
    err: { type: string; code: string; stack?: string; message: string };
  };
  expect(first.err).toMatchObject({ type: 'DatabaseError', code: '22007' });
  expect(first.err.message).toContain('[value]');
  expect(first.err.stack).toMatch(/^at /);
});
