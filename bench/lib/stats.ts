/**
 * Descriptive statistics for latency samples. Percentiles use linear interpolation between closest ranks
 * (the "inclusive" definition: R type 7, numpy's default, Excel PERCENTILE.INC): for n sorted values the
 * p-th percentile sits at rank h = (n − 1)·p/100, interpolated between values ⌊h⌋ and ⌈h⌉.
 */

export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) throw new Error('percentile of an empty sample');
  if (!(p >= 0 && p <= 100)) throw new Error(`percentile must be within [0, 100], got ${p}`);
  if (values.some((v) => !Number.isFinite(v)))
    throw new Error('percentile of a sample with non-finite values');
  const sorted = [...values].sort((a, b) => a - b);
  const rank = ((sorted.length - 1) * p) / 100;
  const lower = Math.floor(rank);
  const upper = Math.ceil(rank);
  const weight = rank - lower;
  return sorted[lower]! + (sorted[upper]! - sorted[lower]!) * weight;
}

export interface Summary {
  count: number;
  min: number;
  mean: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

/** Count, extremes, mean and the three percentiles the reports use; values rounded to `digits`. */
export function summarize(values: readonly number[], digits = 1): Summary {
  if (values.length === 0) return { count: 0, min: NaN, mean: NaN, p50: NaN, p95: NaN, p99: NaN, max: NaN };
  const sum = values.reduce((total, v) => total + v, 0);
  return {
    count: values.length,
    min: round(Math.min(...values), digits),
    mean: round(sum / values.length, digits),
    p50: round(percentile(values, 50), digits),
    p95: round(percentile(values, 95), digits),
    p99: round(percentile(values, 99), digits),
    max: round(Math.max(...values), digits),
  };
}

export function mean(values: readonly number[]): number {
  return values.length === 0 ? NaN : values.reduce((total, v) => total + v, 0) / values.length;
}

export function round(value: number, digits = 1): number {
  if (!Number.isFinite(value)) return value;
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}

/** a / b, or null when b is 0 or either side is not a number (a ratio that does not exist is not 0). */
export function ratio(a: number, b: number, digits = 2): number | null {
  if (!Number.isFinite(a) || !Number.isFinite(b) || b === 0) return null;
  return round(a / b, digits);
}

/** part / whole as a fraction in [0, 1], or null for an empty whole. */
export function share(part: number, whole: number, digits = 4): number | null {
  return whole === 0 ? null : round(part / whole, digits);
}
