/**
 * A small seeded PRNG (mulberry32) so every sample and shuffle in the benchmarks is reproducible from `--seed`.
 * Not for cryptography; statistically fine for picking tickets.
 */

export interface Rng {
  /** Uniform in [0, 1). */
  next(): number;
  /** Uniform integer in [0, n). */
  int(n: number): number;
  pick<T>(items: readonly T[]): T;
  /** A shuffled copy (Fisher–Yates); the input is not modified. */
  shuffle<T>(items: readonly T[]): T[];
  /** k distinct items in random order (without replacement). */
  sample<T>(items: readonly T[], k: number): T[];
  /** An independent generator derived from this seed and a label, so adding one draw elsewhere changes nothing here. */
  fork(label: string): Rng;
}

/** 32-bit FNV-1a of a string: turns labels and string seeds into integer seeds. */
export function hashSeed(value: string | number): number {
  const text = String(value);
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

export function createRng(seed: string | number): Rng {
  let state = hashSeed(seed);
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number): number => {
    if (!Number.isInteger(n) || n <= 0) throw new Error(`int(n) needs a positive integer, got ${n}`);
    return Math.floor(next() * n);
  };
  const shuffle = <T>(items: readonly T[]): T[] => {
    const copy = [...items];
    for (let i = copy.length - 1; i > 0; i--) {
      const j = int(i + 1);
      [copy[i], copy[j]] = [copy[j]!, copy[i]!];
    }
    return copy;
  };
  return {
    next,
    int,
    pick: (items) => {
      if (items.length === 0) throw new Error('pick from an empty list');
      return items[int(items.length)]!;
    },
    shuffle,
    sample: (items, k) => {
      if (k > items.length) throw new Error(`cannot sample ${k} distinct items from ${items.length}`);
      return shuffle(items).slice(0, k);
    },
    fork: (label) => createRng(`${seed}/${label}`),
  };
}
