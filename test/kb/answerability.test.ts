import type { PassageRef } from '../../src/domain/ticket';
import { citesTicket, resolutionAnswerKey, unifyRestatements } from '../../src/kb/answer-key';
import {
  countGateOutcomes,
  diverseTop,
  fitThresholds,
  judgeAnswerability,
  scoreDocuments,
  type LabelledRetrieval,
} from '../../src/kb/answerability';

const ref = (documentId: string, score: number, extra: Partial<PassageRef> = {}): PassageRef => ({
  id: `${documentId}#${score}`,
  documentId,
  score,
  source: 'kb',
  ...extra,
});

test('a document scores as its best passage; documents best first', () => {
  expect(scoreDocuments([ref('a', 0.6), ref('b', 0.7), ref('a', 0.8)])).toEqual([
    { answerKey: 'a', documentId: 'a', source: 'kb', score: 0.8 },
    { answerKey: 'b', documentId: 'b', source: 'kb', score: 0.7 },
  ]);
});

test('the margin is to the runner-up document, not to another passage of the same one', () => {
  const verdict = judgeAnswerability([ref('a', 0.8), ref('a', 0.79), ref('b', 0.6)], {
    minScore: 0.5,
    minMargin: 0.15,
  });
  expect(verdict).toMatchObject({ answerable: true, best: { documentId: 'a' } });
  expect(verdict.margin).toBeCloseTo(0.2);
});

test('with no other document retrieved, the margin is to the lowest retrieved score (never overstated)', () => {
  const verdict = judgeAnswerability([ref('a', 0.8), ref('a', 0.75)], { minScore: 0.5, minMargin: 0.1 });
  expect(verdict.margin).toBeCloseTo(0.05);
  expect(verdict.answerable).toBe(false);
});

test('nothing retrieved is not answerable', () => {
  expect(judgeAnswerability([], { minScore: 0, minMargin: 0 })).toEqual({ answerable: false, margin: 0 });
});

test('resolutions with the same answer text share a key, whatever the spacing and case', () => {
  expect(resolutionAnswerKey('Reset it under  Settings.\n')).toBe(resolutionAnswerKey('reset it under settings.'));
  expect(resolutionAnswerKey('Reset it under Settings.')).not.toBe(resolutionAnswerKey('Call us.'));
});

test('the top K keeps at most two passages per answer, so the runner-up document is seen', () => {
  const ranked = [
    ref('a', 0.9),
    ref('a', 0.85),
    ref('a', 0.8),
    ref('r1', 0.79, { source: 'resolution', answerKey: 'answer:x' }),
    ref('r2', 0.78, { source: 'resolution', answerKey: 'answer:x' }),
    ref('r3', 0.77, { source: 'resolution', answerKey: 'answer:x' }),
    ref('b', 0.5),
    ref('c', 0.4),
  ];
  expect(diverseTop(ranked, 5).map((p) => p.documentId)).toEqual(['a', 'a', 'r1', 'r2', 'b']);
  expect(diverseTop(ranked, 3).map((p) => p.documentId)).toEqual(['a', 'a', 'r1']);
});

test('an article and the resolutions it restates are one answer at the gate, not rivals', () => {
  const answer = resolutionAnswerKey('We do not accept Bitcoin.');
  const passages = [
    ref('crypto-article', 0.62),
    ref('resolution-a', 0.6, { source: 'resolution', answerKey: answer }),
    ref('resolution-b', 0.58, { source: 'resolution', answerKey: answer }),
    ref('invoices', 0.3),
  ];
  const thresholds = { minScore: 0.45, minMargin: 0.25 };
  // Alone, the resolutions are the article's close runner-up: handed off.
  expect(judgeAnswerability(passages, thresholds).answerable).toBe(false);
  const unified = unifyRestatements(passages, [['crypto-article', 'resolution-a']]);
  // resolution-b shares resolution-a's answer, so it joins too; the group takes the best passage's key.
  expect(unified.map((p) => p.answerKey)).toEqual(['crypto-article', 'crypto-article', 'crypto-article', 'invoices']);
  const verdict = judgeAnswerability(unified, thresholds);
  expect(verdict).toMatchObject({ answerable: true, best: { documentId: 'crypto-article' } });
  expect(verdict.margin).toBeCloseTo(0.32);
  // No pairs: nothing changes.
  expect(unifyRestatements(passages, [])).toEqual(passages);
});

test('an article cites a ticket as #<id>, not as the start of a longer id', () => {
  expect(citesTicket('We do not accept it. [#zd-42]', 'zd-42')).toBe(true);
  expect(citesTicket('- Human resolution of ticket #key1:order-7', 'key1:order-7')).toBe(true);
  expect(citesTicket('See [#zd-421].', 'zd-42')).toBe(false);
  expect(citesTicket('ticket zd-42 without a hash', 'zd-42')).toBe(false);
  expect(citesTicket('[#a.b]', 'a.b')).toBe(true);
  expect(citesTicket('[#axb]', 'a.b')).toBe(false);
});

describe('calibration', () => {
  // Covered questions whose right document wins by a wide margin, covered ones where it wins narrowly, and
  // uncovered ones whose best match is someone else's article.
  const sample: LabelledRetrieval[] = [
    ...Array.from({ length: 20 }, () => ({ passages: [ref('a', 0.8), ref('b', 0.5)], answeredBy: 'a' })),
    ...Array.from({ length: 5 }, () => ({ passages: [ref('a', 0.7), ref('b', 0.66)], answeredBy: 'a' })),
    ...Array.from({ length: 10 }, () => ({ passages: [ref('b', 0.72), ref('a', 0.6)], answeredBy: null })),
  ];

  test('counts what the gate would do', () => {
    expect(countGateOutcomes(sample, { minScore: 0.5, minMargin: 0 })).toEqual({
      answered: 35,
      correct: 25,
      wrong: 10,
      covered: 25,
      uncoveredHandedOff: 0,
      uncovered: 10,
    });
  });

  test('fits the thresholds that answer most while keeping wrong answers within the target', () => {
    const fitted = fitThresholds(sample, 0.03)!;
    expect(fitted.counts).toMatchObject({ answered: 20, correct: 20, wrong: 0, uncoveredHandedOff: 10 });
    // The uncovered questions win by 0.12 at 0.72; anything that answers them is over the target.
    expect(fitted.thresholds.minMargin > 0.12 || fitted.thresholds.minScore > 0.72).toBe(true);
    expect(fitted.answerRate).toBeCloseTo(20 / 35);
  });

  test('a looser target answers more, wrong answers included', () => {
    const fitted = fitThresholds(sample, 0.5)!;
    expect(fitted.counts.correct).toBe(25);
    expect(fitted.counts.wrong).toBe(10);
    expect(fitted.wrongRate).toBeLessThanOrEqual(0.5);
  });

  test('nothing fits when every answer is wrong', () => {
    expect(fitThresholds([{ passages: [ref('b', 0.9)], answeredBy: 'a' }], 0.03)).toBeUndefined();
  });
});
