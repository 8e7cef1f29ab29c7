import type { GapCluster, GapReport } from '../../src/kb/gaps';
import { ingestDocument, type KbDeps } from '../../src/kb/ingest';
import { share } from './stats';

/**
 * Measuring the knowledge-gap report against labelled escalations (bench/gaps-eval.ts; meant to be called by
 * `npm run eval` after its learning weeks, see bench/README.md): which suggested groups correspond to a topic the
 * knowledge base was built without, and what happens to escalations once the suggested articles are published.
 */

export interface ClusterTopic {
  clusterId: string;
  status: GapCluster['status'];
  size: number;
  /** The most frequent true topic among the group's tickets, and its share of the group. */
  topic: string;
  purity: number;
  /** True when `topic` is a withheld topic and makes up at least half of the group. */
  matchesWithheld: boolean;
}

export interface TopicAgreement {
  /** Groups the report suggested an article for (status gap), largest first. */
  suggested: number;
  /** Of those, groups whose majority (≥ 50 %) topic is a withheld topic. */
  matching: number;
  /** matching ÷ suggested. */
  precision: number | null;
  /** Withheld topics with at least one matching suggested group ÷ withheld topics. */
  recall: number | null;
  withheldFound: string[];
  withheldMissed: string[];
  /** Suggested groups matching a withheld topic that another suggested group already matched. */
  duplicateMatches: number;
  clusters: ClusterTopic[];
}

/**
 * Precision and recall of "suggested groups that correspond to a withheld topic". `labels` maps a ticket's
 * external id to its true topic; tickets without a label count as topic "unlabelled". `top` limits the
 * comparison to the largest suggested groups (the report's top clusters).
 */
export function topicAgreement(
  report: GapReport,
  labels: ReadonlyMap<string, string>,
  withheldTopics: readonly string[],
  options: { top?: number } = {},
): TopicAgreement {
  const withheld = new Set(withheldTopics);
  const clusters: ClusterTopic[] = report.clusters.map((cluster) => {
    const counts = new Map<string, number>();
    for (const id of cluster.ticketIds) {
      const topic = labels.get(id) ?? 'unlabelled';
      counts.set(topic, (counts.get(topic) ?? 0) + 1);
    }
    const [topic, count] = [...counts.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))[0]!;
    const purity = count / cluster.ticketIds.length;
    return {
      clusterId: cluster.id,
      status: cluster.status,
      size: cluster.size,
      topic,
      purity: Math.round(purity * 1000) / 1000,
      matchesWithheld: withheld.has(topic) && purity >= 0.5,
    };
  });
  const suggested = clusters
    .filter((c) => c.status === 'gap')
    .sort((a, b) => b.size - a.size)
    .slice(0, options.top ?? Infinity);
  const matching = suggested.filter((c) => c.matchesWithheld);
  const found = [...new Set(matching.map((c) => c.topic))].sort();
  return {
    suggested: suggested.length,
    matching: matching.length,
    precision: share(matching.length, suggested.length),
    recall: share(found.length, withheld.size),
    withheldFound: found,
    withheldMissed: [...withheld].filter((t) => !found.includes(t)).sort(),
    duplicateMatches: matching.length - found.length,
    clusters,
  };
}

/**
 * Publishes every suggested article exactly as drafted, the way the inbox's "create article" button does
 * (`ingestDocument`, source kb, the same as PUT /v1/kb/documents/:id). Returns document id → cluster id.
 */
export async function acceptSuggestions(kb: KbDeps, report: GapReport): Promise<Map<string, string>> {
  const accepted = new Map<string, string>();
  for (const cluster of report.clusters) {
    const suggestion = cluster.suggestion;
    if (!suggestion) continue;
    let id = suggestion.documentId;
    for (let n = 2; accepted.has(id); n++) id = `${suggestion.documentId}-${n}`;
    await ingestDocument(kb, {
      id,
      title: suggestion.title,
      body: suggestion.draft.body,
      source: 'kb',
      intents: suggestion.intents,
      origin: `gap-report:${cluster.id}`,
    });
    accepted.set(id, cluster.id);
  }
  return accepted;
}
