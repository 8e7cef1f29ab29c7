import {
  byCentrality,
  centroid,
  clusterByCosine,
  dot,
  meanPairwiseSimilarity,
  normalise,
} from '../../src/kb/clustering';

/** Unit vectors around a few directions in 3-D, so the expected grouping is known exactly. */
const around = (base: number[], jitter: number[]) => normalise(base.map((x, i) => x + jitter[i]!));

describe('clusterByCosine (ml-hclust average linkage over cosine distance)', () => {
  const refunds = [
    around([1, 0, 0], [0, 0.1, 0]),
    around([1, 0, 0], [0, -0.1, 0.05]),
    around([1, 0, 0], [0, 0, 0.1]),
  ];
  const exports_ = [
    around([0, 1, 0], [0.1, 0, 0]),
    around([0, 1, 0], [0, 0, -0.1]),
    around([0, 1, 0], [-0.05, 0, 0.1]),
    around([0, 1, 0], [0, 0, 0]),
  ];
  const loner = normalise([0, 0, 1]);

  it('finds the groups, largest first, and leaves a loner as noise', () => {
    const vectors = [
      refunds[0]!,
      exports_[0]!,
      loner,
      refunds[1]!,
      exports_[1]!,
      exports_[2]!,
      refunds[2]!,
      exports_[3]!,
    ];
    const result = clusterByCosine(vectors, { maxDistance: 0.3, minSize: 2 });
    expect(result.clusters).toEqual([
      [1, 4, 5, 7],
      [0, 3, 6],
    ]);
    expect(result.noise).toEqual([2]);
  });

  it('merges everything when the threshold allows it, and nothing when it is zero', () => {
    const vectors = [...refunds, ...exports_];
    expect(clusterByCosine(vectors, { maxDistance: 1.5, minSize: 2 }).clusters).toHaveLength(1);
    const none = clusterByCosine(vectors, { maxDistance: 0, minSize: 2 });
    expect(none.clusters).toEqual([]);
    expect(none.noise).toHaveLength(vectors.length);
  });

  it('average linkage does not chain two topics through one point in between', () => {
    // A bridge halfway between the two groups is within the threshold of both (single linkage would chain
    // everything into one group); average linkage lets it join one of them and keeps the topics apart.
    const bridge = normalise([1, 1, 0]);
    expect(1 - dot(bridge, refunds[0]!)).toBeLessThan(0.35);
    expect(1 - dot(bridge, exports_[3]!)).toBeLessThan(0.35);
    const vectors = [...refunds, bridge, ...exports_];
    const result = clusterByCosine(vectors, { maxDistance: 0.35, minSize: 3 });
    expect(result.clusters).toHaveLength(2);
    expect(result.clusters.some((c) => c.includes(0) && c.includes(4))).toBe(false);
  });

  it('handles tiny inputs and rejects nonsense options', () => {
    expect(clusterByCosine([], { maxDistance: 0.5, minSize: 1 })).toEqual({ clusters: [], noise: [] });
    expect(clusterByCosine([loner], { maxDistance: 0.5, minSize: 1 })).toEqual({
      clusters: [[0]],
      noise: [],
    });
    expect(() => clusterByCosine([loner], { maxDistance: -1, minSize: 1 })).toThrow(RangeError);
    expect(() => clusterByCosine([loner], { maxDistance: 0.5, minSize: 0 })).toThrow(RangeError);
  });
});

describe('vector helpers', () => {
  it('centroid, centrality and pairwise similarity', () => {
    const a = normalise([1, 0.2, 0]);
    const b = normalise([1, -0.2, 0]);
    const c = normalise([0.2, 1, 0]);
    expect(dot(centroid([a, b]), [1, 0, 0])).toBeCloseTo(1, 6);
    expect(byCentrality([c, a, b])[2]).toBe(0); // c is the odd one out
    expect(meanPairwiseSimilarity([a])).toBe(1);
    expect(meanPairwiseSimilarity([a, b])).toBeCloseTo(dot(a, b), 10);
    expect(() => centroid([])).toThrow();
  });
});
