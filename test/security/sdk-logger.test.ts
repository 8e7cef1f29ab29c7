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
  expect(output).toContain('[WARN] Activity failed');
  expect(output).toContain('card [card] declined for [email]');
  expect(output).toContain("activityType: 'charge'");
  expect(output).toContain('[phone]');
  expect(output).toContain('Worker state changed for [email]');
});
