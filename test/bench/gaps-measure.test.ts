import type { GapCluster, GapReport } from '../../src/kb/gaps';
import { topicAgreement } from '../../bench/lib/gaps-measure';

/** Precision and recall of "suggested groups that correspond to a withheld topic" (bench/lib/gaps-measure.ts). */

function cluster(id: string, status: GapCluster['status'], ticketIds: string[]): GapCluster {
  return { id, status, size: ticketIds.length, ticketIds } as GapCluster;
}

const report = {
  clusters: [
    cluster('a', 'gap', ['r1', 'r2', 'r3', 'x1']), // routing, 75 %
    cluster('b', 'gap', ['r4', 'r5', 'r6']), // routing again
    cluster('c', 'gap', ['o1', 'o2', 'm1']), // out of scope
    cluster('d', 'gap', ['m2', 'm3', 'o3', 'o4']), // half min_payment, half oos: tie broken by name
    cluster('e', 'covered', ['p1', 'p2', 'p3']),
  ],
} as GapReport;

const labels = new Map([
  ...['r1', 'r2', 'r3', 'r4', 'r5', 'r6'].map((id) => [id, 'routing'] as const),
  ['x1', 'pin_change'],
  ...['o1', 'o2', 'o3', 'o4'].map((id) => [id, 'oos'] as const),
  ...['m1', 'm2', 'm3'].map((id) => [id, 'min_payment'] as const),
  ...['p1', 'p2', 'p3'].map((id) => [id, 'pin_change'] as const),
]);

describe('topicAgreement', () => {
  it('counts suggested groups whose majority topic is withheld, and the withheld topics found', () => {
    const result = topicAgreement(report, labels, ['routing', 'min_payment', 'order_checks']);
    expect(result.suggested).toBe(4);
    expect(result.matching).toBe(3); // a, b (routing), d (min_payment at exactly half)
    expect(result.precision).toBe(0.75);
    expect(result.recall).toBeCloseTo(2 / 3, 3);
    expect(result.withheldFound).toEqual(['min_payment', 'routing']);
    expect(result.withheldMissed).toEqual(['order_checks']);
    expect(result.duplicateMatches).toBe(1);
    expect(result.clusters.find((c) => c.clusterId === 'a')).toMatchObject({
      topic: 'routing',
      purity: 0.75,
    });
    expect(result.clusters.find((c) => c.clusterId === 'e')?.status).toBe('covered');
  });

  it('limits the comparison to the largest suggested groups', () => {
    const top = topicAgreement(report, labels, ['routing', 'min_payment'], { top: 2 });
    expect(top.suggested).toBe(2);
    expect(top.withheldFound.sort()).toEqual(['min_payment', 'routing']);
  });

  it('has no precision without suggestions', () => {
    const none = topicAgreement({ clusters: [] } as unknown as GapReport, labels, ['routing']);
    expect(none).toMatchObject({ suggested: 0, precision: null, recall: 0 });
  });
});
