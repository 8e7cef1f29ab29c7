import { percentile, ratio, share, summarize } from '../../bench/lib/stats';
import { createRng, hashSeed } from '../../bench/lib/prng';
import { runWithConcurrency } from '../../bench/lib/pool';

describe('percentile (linear interpolation between closest ranks)', () => {
  test('matches hand-computed values', () => {
    const values = [15, 20, 35, 40, 50];
    expect(percentile(values, 0)).toBe(15);
    expect(percentile(values, 100)).toBe(50);
    expect(percentile(values, 50)).toBe(35);
    // rank (5 − 1) × 0.40 = 1.6 → 20 + 0.6 × (35 − 20) = 29
    expect(percentile(values, 40)).toBeCloseTo(29, 10);
    // rank 4 × 0.95 = 3.8 → 40 + 0.8 × 10 = 48
    expect(percentile(values, 95)).toBeCloseTo(48, 10);
  });

  test('does not depend on input order and does not reorder the input', () => {
    const values = [9, 1, 7, 3, 5];
    expect(percentile(values, 50)).toBe(5);
    expect(values).toEqual([9, 1, 7, 3, 5]);
  });

  test('p99 of 1..100 sits between the two largest values', () => {
    const values = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentile(values, 99)).toBeCloseTo(99.01, 10);
  });

  test('rejects empty samples, bad percentiles and non-finite values', () => {
    expect(() => percentile([], 50)).toThrow(/empty/);
    expect(() => percentile([1], 101)).toThrow(/within/);
    expect(() => percentile([1, NaN], 50)).toThrow(/non-finite/);
  });

  test('summarize reports count, extremes, mean and percentiles', () => {
    expect(summarize([4, 1, 3, 2], 2)).toEqual({
      count: 4,
      min: 1,
      mean: 2.5,
      p50: 2.5,
      p95: 3.85,
      p99: 3.97,
      max: 4,
    });
    expect(summarize([]).count).toBe(0);
  });

  test('ratio and share refuse to divide by zero instead of inventing a number', () => {
    expect(ratio(3, 2)).toBe(1.5);
    expect(ratio(3, 0)).toBeNull();
    expect(share(1, 3)).toBe(0.3333);
    expect(share(0, 0)).toBeNull();
  });
});

describe('seeded PRNG', () => {
  test('the same seed gives the same sequence, another seed another one', () => {
    const a = createRng(42);
    const b = createRng(42);
    const c = createRng(43);
    const seqA = Array.from({ length: 5 }, () => a.next());
    expect(Array.from({ length: 5 }, () => b.next())).toEqual(seqA);
    expect(Array.from({ length: 5 }, () => c.next())).not.toEqual(seqA);
    for (const v of seqA) expect(v >= 0 && v < 1).toBe(true);
  });

  test('shuffle is a permutation and sample draws distinct items', () => {
    const items = Array.from({ length: 20 }, (_, i) => i);
    const shuffled = createRng('s').shuffle(items);
    expect([...shuffled].sort((x, y) => x - y)).toEqual(items);
    expect(shuffled).not.toEqual(items);
    const sample = createRng('s').sample(items, 8);
    expect(new Set(sample).size).toBe(8);
    expect(() => createRng('s').sample(items, 21)).toThrow();
  });

  test('forks are independent of draws made on the parent', () => {
    const parent = createRng(7);
    const before = parent.fork('x').next();
    parent.next();
    expect(parent.fork('x').next()).toBe(before);
    expect(hashSeed('a')).not.toBe(hashSeed('b'));
  });
});

describe('runWithConcurrency', () => {
  test('keeps at most N items in flight and returns results in input order', async () => {
    let inFlight = 0;
    let maxInFlight = 0;
    const results = await runWithConcurrency([5, 1, 4, 2, 3, 0], 2, async (value) => {
      inFlight += 1;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await new Promise((resolve) => setImmediate(resolve));
      inFlight -= 1;
      return value * 10;
    });
    expect(results).toEqual([50, 10, 40, 20, 30, 0]);
    expect(maxInFlight).toBe(2);
  });
});
