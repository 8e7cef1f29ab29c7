import { simulateFollowUps } from '../../bench/lib/follow-ups';
import type { DomainOutcome } from '../../bench/lib/domains';
import { createRng, type Rng } from '../../bench/lib/prng';

/** The honest-vs-naive arithmetic of the eval's simulated follow-ups, with the workflow's own follow-up rule. */

const outcome = (verdict: DomainOutcome['verdict']): DomainOutcome => ({
  topic: 't',
  covered: true,
  verdict,
  reason: verdict === 'escalated' ? 'not_answerable' : null,
  citedTopics: [],
});

/** Always draws `value`: 0 makes every "comes back" draw true, 0.99 every one false. */
function fixedRng(value: number): Rng {
  const rng = createRng(1);
  return { ...rng, next: () => value };
}

const sample = [
  ...Array.from({ length: 6 }, () => outcome('correct')),
  ...Array.from({ length: 2 }, () => outcome('wrong')),
  ...Array.from({ length: 2 }, () => outcome('escalated')),
];

test('every customer coming back unhappy: honest counts no AI reply, naive counts all of them', () => {
  const report = simulateFollowUps(sample, fixedRng(0));
  expect(report).toMatchObject({ tickets: 10, aiAnswers: 8, cameBackUnhappy: 8, complaintsMissedByRule: 0 });
  expect(report.naiveResolutionRate).toBeCloseTo(0.8);
  expect(report.honestResolutionRate).toBeCloseTo(0);
  expect(report.wrongStillCounted).toBe(0);
});

test('nobody coming back: honest equals naive, and the wrong answers are still counted as resolved', () => {
  const report = simulateFollowUps(sample, fixedRng(0.99));
  expect(report).toMatchObject({ aiAnswers: 8, cameBackUnhappy: 0, confirmed: 0, wrongStillCounted: 2 });
  expect(report.honestResolutionRate).toBeCloseTo(report.naiveResolutionRate);
});

test('seeded draws are reproducible and honest never exceeds naive', () => {
  const a = simulateFollowUps(sample, createRng('42:x:follow-ups'));
  const b = simulateFollowUps(sample, createRng('42:x:follow-ups'));
  expect(a).toEqual(b);
  expect(a.honestResolutionRate).toBeLessThanOrEqual(a.naiveResolutionRate);
});
