import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { Db } from '../db/database';
import { parseStoredClassification } from '../domain/classification';
import { ticketText, type EscalationReason } from '../domain/ticket';
import {
  ARTICLE_SYSTEM_PROMPT,
  conflictingFigures,
  extractiveArticleDraft,
  wordOverlap,
  type ArticleDraft,
  type ArticleDraftRequest,
} from '../llm/article-draft';
import { toOneLine } from '../llm/text';
import type { LlmProvider } from '../llm/types';
import type { Logger } from '../logger';
import { redactPii } from '../pii';
import { storableJson, storableText } from '../text';
import { articleHealth, type ArticleHealth } from './article-health';
import { byCentrality, clusterByCosine, meanPairwiseSimilarity } from './clustering';
import { slugify } from './chunker';
import type { Embedder, VectorStore } from './types';

/**
 * The knowledge-gap report: recent escalated tickets grouped by what they ask (their embeddings, clustered by
 * src/kb/clustering.ts), each group checked against the curated articles. A group no article covers well is a
 * gap: the report suggests an article for it, drafted from what humans answered (extractively offline, by the
 * model through LlmProvider.draftArticle with a key), with the questions it must answer. A group an article
 * already covers gets no suggestion. Plus article health (src/kb/article-health.ts).
 *
 * The thresholds below were chosen on the hand-written Acme fixture of test/gaps (the development set) and then
 * left alone; bench/gaps-eval.ts reports how they do on the CLINC150 eval data (bench/README.md).
 */

export const GAP_THRESHOLDS = {
  /**
   * Largest average cosine distance between escalations merged into one group (average linkage). On the
   * fixture 0.55 and 0.6 both recover the three planted topics; 0.65 merges a stray question into one.
   */
  maxClusterDistance: 0.55,
  /**
   * A group counts as covered when its questions score at least this, on average, against one curated article
   * (each question's best passage of that article). Below it the group is a gap. On the fixture the covered
   * topic scores 0.66 and the two gaps 0.29 and 0.43.
   */
  coveredScore: 0.55,
  /** Answers whose embeddings are this similar on average agree. */
  consistentAnswers: 0.8,
  /** Questions of a group at least this alike (content words) are one question in a suggestion. */
  sameQuestionOverlap: 0.7,
} as const;

/** Escalations that say nothing about the knowledge base: the model or the vector store was down. */
export const OPERATIONAL_REASONS: readonly EscalationReason[] = ['llm_unavailable', 'retrieval_unavailable'];

export const gapReportOptionsSchema = z.object({
  days: z.coerce.number().int().min(1).max(365).default(30).describe('Escalations of the last N days'),
  limit: z.coerce
    .number()
    .int()
    .min(2)
    .max(1000)
    .default(500)
    .describe('At most this many escalations, most recent first (clustering is O(n³))'),
  minSize: z.coerce.number().int().min(2).max(100).default(3).describe('Smallest group reported'),
  maxClusters: z.coerce.number().int().min(1).max(50).default(15).describe('Largest groups reported'),
});
export type GapReportOptions = z.input<typeof gapReportOptionsSchema>;

export interface GapReportDeps {
  db: Db;
  store: VectorStore;
  embedder: Embedder;
  /** Drafts suggestions; without it they are extractive. */
  llm?: LlmProvider;
  /** Model id the provider drafts with (part of the draft cache key); default the provider's name. */
  llmModel?: string;
  /** Grounding threshold of retrieval (MIN_RETRIEVAL_SCORE), for article health. */
  minRetrievalScore: number;
  logger?: Logger;
  now?: () => Date;
}

export interface Citation {
  ticketId: string;
  agentId: string;
  resolvedAt: string;
}

export interface GapSuggestion {
  /** A document id for the new article (editable). */
  documentId: string;
  title: string;
  questions: string[];
  intents: string[];
  draft: {
    body: string;
    source: 'extractive' | 'model';
    model: string | null;
    citations: Citation[];
    /** Why a model draft is not shown, when it failed. */
    note: string | null;
  };
}

export interface GapCluster {
  /** Stable for the same members. */
  id: string;
  status: 'gap' | 'covered';
  size: number;
  /** External ids of the escalated tickets in the group, most typical first. */
  ticketIds: string[];
  firstSeen: string;
  lastSeen: string;
  escalationReasons: Record<string, number>;
  intents: Record<string, number>;
  /** Most typical first, PII-redacted. */
  examples: Array<{ ticketId: string; text: string }>;
  nearestArticle: { documentId: string; title: string; score: number } | null;
  humanAnswers: {
    resolved: number;
    /** Of those, learned into the knowledge base (indexed or matched an existing resolution). */
    learned: number;
    agreement: 'none' | 'single' | 'consistent' | 'mixed' | 'conflicting';
    /** Mean pairwise similarity of the answers (null with fewer than two). */
    similarity: number | null;
    conflictingFigures: string[];
  };
  suggestion: GapSuggestion | null;
}

export interface GapReport {
  generatedAt: string;
  window: { from: string; to: string; days: number };
  settings: z.output<typeof gapReportOptionsSchema> & typeof GAP_THRESHOLDS & { excludedReasons: string[] };
  escalations: { considered: number; clustered: number; unclustered: number };
  gaps: number;
  clusters: GapCluster[];
  health: ArticleHealth;
}

interface EscalatedTicket {
  workflowId: string;
  ticketId: string;
  subject: string;
  body: string;
  text: string;
  reason: string;
  intent: string | null;
  createdAt: Date;
  resolution: { answer: string; agentId: string; resolvedAt: Date; learned: boolean } | null;
}

const round = (x: number, digits = 3) => Math.round(x * 10 ** digits) / 10 ** digits;
const redact = (text: string) => redactPii(text).text;

async function loadEscalations(db: Db, since: Date, limit: number): Promise<EscalatedTicket[]> {
  const rows = await db
    .selectFrom('escalations as e')
    .innerJoin('tickets as t', 't.workflow_id', 'e.workflow_id')
    .leftJoin('resolutions as r', 'r.workflow_id', 'e.workflow_id')
    .select([
      'e.workflow_id',
      'e.reason',
      'e.created_at',
      'e.classification',
      't.external_id',
      't.subject',
      't.body',
      'r.answer',
      'r.agent_id',
      'r.created_at as resolved_at',
      'r.kb_outcome',
    ])
    .where('e.created_at', '>=', since)
    .where('e.reason', 'not in', [...OPERATIONAL_REASONS])
    .orderBy('e.created_at', 'desc')
    .orderBy('e.workflow_id')
    .limit(limit)
    .execute();
  return rows.map((row) => ({
    workflowId: row.workflow_id,
    ticketId: row.external_id,
    subject: row.subject.trim(),
    body: row.body.trim(),
    text: ticketText(row),
    reason: row.reason,
    intent: parseStoredClassification(row.classification)?.intent ?? null,
    createdAt: new Date(row.created_at),
    resolution:
      row.answer && row.agent_id && row.resolved_at
        ? {
            answer: row.answer,
            agentId: row.agent_id,
            resolvedAt: new Date(row.resolved_at),
            learned: row.kb_outcome === 'indexed' || (row.kb_outcome ?? '').startsWith('duplicate_of:'),
          }
        : null,
  }));
}

function countBy<T>(items: readonly T[], key: (item: T) => string | null): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const item of items) {
    const k = key(item);
    if (k !== null) counts[k] = (counts[k] ?? 0) + 1;
  }
  return Object.fromEntries(Object.entries(counts).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])));
}

/** The curated article that the group's questions match best: mean over questions of their best passage score. */
async function nearestArticle(
  store: VectorStore,
  vectors: readonly number[][],
): Promise<GapCluster['nearestArticle']> {
  const totals = new Map<string, { title: string; sum: number }>();
  for (const vector of vectors) {
    const hits = await store.search(vector, 10, { source: 'kb' });
    const bestPerDoc = new Map<string, { title: string; score: number }>();
    for (const hit of hits) {
      const seen = bestPerDoc.get(hit.payload.documentId);
      if (!seen || hit.score > seen.score)
        bestPerDoc.set(hit.payload.documentId, { title: hit.payload.title, score: hit.score });
    }
    for (const [documentId, { title, score }] of bestPerDoc) {
      const entry = totals.get(documentId) ?? { title, sum: 0 };
      entry.sum += score;
      totals.set(documentId, entry);
    }
  }
  let best: GapCluster['nearestArticle'] = null;
  for (const [documentId, { title, sum }] of totals) {
    const score = sum / vectors.length;
    if (!best || score > best.score) best = { documentId, title, score: round(score) };
  }
  return best;
}

/** Questions of the group, most typical first, without near-repeats. */
function distinctQuestions(texts: readonly string[], max: number): string[] {
  const chosen: string[] = [];
  for (const text of texts) {
    if (chosen.some((q) => wordOverlap(q, text) >= GAP_THRESHOLDS.sameQuestionOverlap)) continue;
    chosen.push(text);
    if (chosen.length >= max) break;
  }
  return chosen;
}

/** The ticket's subject when it has one, else the first sentence of its question (PII-redacted). */
function titleFrom(ticket: EscalatedTicket): string {
  const source = ticket.subject.length >= 3 ? ticket.subject : ticket.body;
  const firstSentence = source.split(/(?<=[.!?])\s|\n/).find((s) => s.trim().length > 0) ?? source;
  const title = toOneLine(redact(firstSentence), 90);
  return title.charAt(0).toUpperCase() + title.slice(1);
}

/** How a question reads in the report: "Subject — body", one line, PII-redacted. */
function questionText(ticket: EscalatedTicket): string {
  return toOneLine(redact(ticket.subject ? `${ticket.subject} — ${ticket.body}` : ticket.body), 300);
}

/** A document id from a title: its slug, cut at a word boundary. */
function documentIdFrom(title: string, fallback: string): string {
  const slug = slugify(title);
  if (slug === 'document') return fallback;
  if (slug.length <= 60) return slug;
  const cut = slug.slice(0, 60);
  return cut.slice(0, cut.lastIndexOf('-') > 20 ? cut.lastIndexOf('-') : 60);
}

function clusterId(members: readonly EscalatedTicket[]): string {
  const ids = members.map((m) => m.workflowId).sort();
  return `g-${createHash('sha256').update(ids.join('\n')).digest('hex').slice(0, 12)}`;
}

export async function buildGapReport(deps: GapReportDeps, input: GapReportOptions = {}): Promise<GapReport> {
  const options = gapReportOptionsSchema.parse(input);
  const now = deps.now?.() ?? new Date();
  const since = new Date(now.getTime() - options.days * 86_400_000);
  const tickets = await loadEscalations(deps.db, since, options.limit);
  const vectors = tickets.length > 0 ? await deps.embedder.embed(tickets.map((t) => t.text)) : [];
  const { clusters: groups, noise } = clusterByCosine(vectors, {
    maxDistance: GAP_THRESHOLDS.maxClusterDistance,
    minSize: options.minSize,
  });

  const clusters: GapCluster[] = [];
  for (const group of groups.slice(0, options.maxClusters)) {
    const order = byCentrality(group.map((i) => vectors[i]!)).map((k) => group[k]!);
    const members = order.map((i) => tickets[i]!);
    const memberVectors = order.map((i) => vectors[i]!);
    clusters.push(await describeCluster(deps, members, memberVectors));
  }
  // Gaps first (largest first), then groups an article already covers.
  clusters.sort((a, b) => (a.status === b.status ? b.size - a.size : a.status === 'gap' ? -1 : 1));
  const health = await articleHealth(deps, { since, until: now, minRetrievalScore: deps.minRetrievalScore });
  return {
    generatedAt: now.toISOString(),
    window: { from: since.toISOString(), to: now.toISOString(), days: options.days },
    settings: { ...options, ...GAP_THRESHOLDS, excludedReasons: [...OPERATIONAL_REASONS] },
    escalations: {
      considered: tickets.length,
      clustered: groups.reduce((n, g) => n + g.length, 0),
      unclustered: noise.length,
    },
    gaps: clusters.filter((c) => c.status === 'gap').length,
    clusters,
    health,
  };
}

async function describeCluster(
  deps: GapReportDeps,
  members: EscalatedTicket[],
  vectors: number[][],
): Promise<GapCluster> {
  // The most typical questions are enough to place the group; 20 searches bound the cost of a large group.
  const article = await nearestArticle(deps.store, vectors.slice(0, 20));
  const status = article && article.score >= GAP_THRESHOLDS.coveredScore ? 'covered' : 'gap';
  const questions = members.map((m) => ({ ticketId: m.ticketId, text: questionText(m) }));
  const resolved = members.filter((m) => m.resolution !== null);
  const answers = resolved.map((m) => ({ ticketId: m.ticketId, answer: redact(m.resolution!.answer) }));
  const answerVectors = answers.length > 1 ? await deps.embedder.embed(answers.map((a) => a.answer)) : [];
  const similarity = answerVectors.length > 1 ? round(meanPairwiseSimilarity(answerVectors)) : null;
  const conflicts = conflictingFigures(answers.map((a) => a.answer));
  const agreement: GapCluster['humanAnswers']['agreement'] =
    answers.length === 0
      ? 'none'
      : answers.length === 1
        ? 'single'
        : conflicts.length > 0
          ? 'conflicting'
          : similarity !== null && similarity >= GAP_THRESHOLDS.consistentAnswers
            ? 'consistent'
            : 'mixed';
  const intents = countBy(members, (m) => m.intent);
  const times = members.map((m) => m.createdAt.getTime());
  const cluster: GapCluster = {
    id: clusterId(members),
    status,
    size: members.length,
    ticketIds: members.map((m) => m.ticketId),
    firstSeen: new Date(Math.min(...times)).toISOString(),
    lastSeen: new Date(Math.max(...times)).toISOString(),
    escalationReasons: countBy(members, (m) => m.reason),
    intents,
    examples: questions.slice(0, 5),
    nearestArticle: article,
    humanAnswers: {
      resolved: resolved.length,
      learned: resolved.filter((m) => m.resolution!.learned).length,
      agreement,
      similarity,
      conflictingFigures: conflicts,
    },
    suggestion: null,
  };
  if (status === 'covered') return cluster;

  // Answers ordered by how typical their answer is among the group's answers, so the extractive lead is the consensus.
  const answerOrder = answerVectors.length > 1 ? byCentrality(answerVectors) : answers.map((_, i) => i);
  const request: ArticleDraftRequest = {
    titleHint: titleFrom(members[0]!),
    questions: distinctQuestions(
      questions.map((q) => q.text),
      5,
    ),
    answers: answerOrder.map((i) => answers[i]!),
  };
  const drafted = await draftArticle(deps, request);
  const byTicket = new Map(resolved.map((m) => [m.ticketId, m.resolution!]));
  cluster.suggestion = {
    documentId: documentIdFrom(drafted.draft.title, `gap-${cluster.id}`),
    title: drafted.draft.title,
    questions: request.questions,
    intents: Object.keys(intents).slice(0, 1),
    draft: {
      body: drafted.draft.body,
      source: drafted.source,
      model: drafted.model,
      citations: drafted.draft.citedTicketIds
        .filter((id) => byTicket.has(id))
        .map((id) => ({
          ticketId: id,
          agentId: byTicket.get(id)!.agentId,
          resolvedAt: byTicket.get(id)!.resolvedAt.toISOString(),
        })),
      note: drafted.note,
    },
  };
  return cluster;
}

interface Drafted {
  draft: ArticleDraft;
  source: 'extractive' | 'model';
  model: string | null;
  note: string | null;
}

/**
 * The model's draft when a model is configured and there are answers to write from (cached by what it was
 * written from); otherwise, or when the model fails, the extractive draft.
 */
async function draftArticle(deps: GapReportDeps, request: ArticleDraftRequest): Promise<Drafted> {
  const llm = deps.llm;
  if (!llm || llm.name === 'local' || request.answers.length === 0) {
    const draft = llm && request.answers.length > 0 ? (await llm.draftArticle(request)).draft : extractiveArticleDraft(request);
    return { draft, source: 'extractive', model: null, note: null };
  }
  const model = deps.llmModel ?? llm.name;
  const sourceKey = createHash('sha256')
    .update(JSON.stringify({ model, prompt: ARTICLE_SYSTEM_PROMPT, request }))
    .digest('hex');
  const cached = await deps.db
    .selectFrom('kb_gap_drafts')
    .selectAll()
    .where('source_key', '=', sourceKey)
    .executeTakeFirst();
  if (cached) {
    return {
      draft: { title: cached.title, body: cached.body, citedTicketIds: cached.cited_ticket_ids },
      source: 'model',
      model: cached.model,
      note: null,
    };
  }
  try {
    const { draft, usage } = await llm.draftArticle(request);
    await deps.db
      .insertInto('kb_gap_drafts')
      .values({
        source_key: sourceKey,
        model: usage.model || model,
        title: storableText(draft.title),
        body: storableText(draft.body),
        cited_ticket_ids: storableJson(draft.citedTicketIds),
        cost_usd: usage.costUsd,
      })
      .onConflict((oc) => oc.column('source_key').doNothing())
      .execute();
    return { draft, source: 'model', model: usage.model || model, note: null };
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    deps.logger?.warn({ err }, 'Model draft of a suggested article failed; showing the extractive draft');
    return {
      draft: extractiveArticleDraft(request),
      source: 'extractive',
      model: null,
      note: `The model's draft failed (${toOneLine(message, 200)}); this is the extractive draft.`,
    };
  }
}

const REPORT_TTL_MS = 60_000;
const reportCache = new WeakMap<Db, Map<string, { at: number; report: Promise<GapReport> }>>();

/**
 * The report for these options, reused for a minute per database: the inbox's list and editor pages and the
 * API can show the same report without clustering and drafting again. A failed build is not kept.
 */
export function cachedGapReport(deps: GapReportDeps, input: GapReportOptions = {}): Promise<GapReport> {
  const options = gapReportOptionsSchema.parse(input);
  const key = JSON.stringify(options);
  const perDb = reportCache.get(deps.db) ?? new Map<string, { at: number; report: Promise<GapReport> }>();
  reportCache.set(deps.db, perDb);
  const now = Date.now();
  const hit = perDb.get(key);
  if (hit && now - hit.at < REPORT_TTL_MS) return hit.report;
  const report = buildGapReport(deps, options);
  perDb.set(key, { at: now, report });
  report.catch(() => perDb.delete(key));
  return report;
}

/** Forget cached reports (after an article was published from a suggestion, the report changes). */
export function forgetCachedGapReports(db: Db): void {
  reportCache.delete(db);
}

/** For a stored report: the suggestion of one cluster. */
export function findSuggestion(report: GapReport, clusterId: string): GapCluster | undefined {
  return report.clusters.find((c) => c.id === clusterId && c.suggestion !== null);
}
