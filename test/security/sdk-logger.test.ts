import { ApplicationFailure } from '@temporalio/common';
import { createRedactingSdkLogger } from '../../src/security/sdk-logger';

test('the SDK logger redacts PII from messages and failure metadata', () => {
  const lines: string[] = [];
  const logger = createRedactingSdkLogger('INFO', (line) => lines.push(line));
  const failure = ApplicationFailure.nonRetryable(
    'card 4111 1111 1111 1111 declined for jane@example.com',
    'Declined',
    {
      phone: '+44 20 7946 0958',
    },
  );
  logger.warn('Activity failed', { activityType: 'charge', error: failure });
  logger.info('Worker state changed for ops@example.com');
  logger.debug('below the level: jane@example.com');

  const output = lines.join('');
  expect(lines).toHaveLength(2);
  for (const raw of ['4111 1111 1111 1111', 'jane@example.com', '+44 20 7946 0958', 'ops@example.com']) {
    expect(output).not.toContain(raw);
  }
  const [failed] = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
  expect(failed).toMatchObject({
    level: 40,
    msg: 'Activity failed',
    activityType: 'charge',
    err: { type: 'ApplicationFailure', code: 'Declined', message: 'card [card] declined for [email]' },
  });
  // Failure details (which may hold customer data) are not logged at all.
  expect(output).not.toContain('phone');
  expect(output).toContain('Worker state changed for [email]');
});
