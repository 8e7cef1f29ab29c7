import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import type { ClassifyOutcome } from '../../activities';
import type { Config } from '../../src/config';
import { ticketText, type Passage, type PassageRef } from '../../src/domain/ticket';
import { resolutionAnswerKey } from '../../src/kb/answer-key';
import {
  diverseTop,
  fitThresholds,
  type AnswerabilityThresholds,
  type Calibration,
  type LabelledRetrieval,
} from '../../src/kb/answerability';
import { chunkDocument, embeddingInput } from '../../src/kb/chunker';
import type { Embedder } from '../../src/kb/types';
import { checkReplyGrounding } from '../../src/llm/grounding';
import { detectCriticalSignals, detectHumanRequest } from '../../src/llm/signals';
import type { LlmProvider } from '../../src/llm/types';
import { DEFAULT_POLICY } from '../../workflows/definitions';
import { routeByAnswerability } from '../../workflows/route';
import { REPO_ROOT } from './datasets';
import { createRng } from './prng';

/**
 * The `domains` suite: help centres written for CLINC150 domains (data/help-centres), one article for ten of each
 * domain's fifteen intents, the other five uncovered. Every ticket goes through the workflow's own decisions
 * (`routeByAnswerability`), the offline provider's classification and extractive answer, and the grounding check,
 * over exact top-K cosine retrieval of the same chunks and embeddings the vector store holds; it runs in process
 * (no Temporal), so that four domains with learning weeks fit in minutes on a shared machine.
 * Strict scoring: a reply is correct only when every cited document belongs to the ticket's own topic.
 */

/** The full CLINC150 release: CLINC150_DIR, else `shared/datasets/clinc150` beside the checkout (or its worktree parent). */
export const CLINC_DIR =
  process.env.CLINC150_DIR ??
  [path.resolve(REPO_ROOT, '..'), path.resolve(REPO_ROOT, '..', '..')]
    .map((dir) => path.join(dir, 'shared', 'datasets', 'clinc150'))
    .find((dir) => fs.existsSync(path.join(dir, 'domains.json'))) ??
  path.resolve(REPO_ROOT, '..', 'shared', 'datasets', 'clinc150');
export const HELP_CENTRES_DIR = path.join(REPO_ROOT, 'data', 'help-centres');

const helpCentreSchema = z.object({
  domain: z.string(),
  business: z.string(),
  articles: z.array(z.object({ topic: z.string(), title: z.string(), body: z.string() })).min(2),
  humanAnswers: z.record(z.string(), z.string()),
});
export type HelpCentre = z.infer<typeof helpCentreSchema>;

const clincSchema = z.object({
  train: z.array(z.tuple([z.string(), z.string()])),
  val: z.array(z.tuple([z.string(), z.string()])),
  test: z.array(z.tuple([z.string(), z.string()])),
});

export interface DomainData {
  centre: HelpCentre;
  intents: string[];
  covered: string[];
  uncovered: string[];
  queries: Record<'train' | 'val' | 'test', Map<string, string[]>>;
}

export function loadDomain(domain: string, clincDir = CLINC_DIR): DomainData {
  const centre = helpCentreSchema.parse(
    JSON.parse(fs.readFileSync(path.join(HELP_CENTRES_DIR, `${domain}.json`), 'utf8')),
  );
  const domains = z
    .record(z.string(), z.array(z.string()))
    .parse(JSON.parse(fs.readFileSync(path.join(clincDir, 'domains.json'), 'utf8')));
  const intents = domains[domain];
  if (!intents) throw new Error(`CLINC150 has no domain ${domain}`);
  const data = clincSchema.parse(JSON.parse(fs.readFileSync(path.join(clincDir, 'data_full.json'), 'utf8')));
  const covered = centre.articles.map((a) => a.topic);
  const uncovered = intents.filter((i) => !covered.includes(i));
  for (const topic of uncovered)
    if (!centre.humanAnswers[topic]) throw new Error(`${domain}: no human answer for ${topic}`);
  const split = (rows: Array<[string, string]>) => {
    const byIntent = new Map<string, string[]>(intents.map((i) => [i, []]));
    for (const [text, intent] of rows) byIntent.get(intent)?.push(text);
    return byIntent;
  };
  return {
    centre,
    intents,
    covered,
    uncovered,
    queries: { train: split(data.train), val: split(data.val), test: split(data.test) },
  };
}

interface IndexedChunk {
  passage: Passage;
  answerKey?: string;
  vector: number[];
}

/** An in-memory index over the same chunks and embedding inputs `ingestDocument` stores. */
export class DomainIndex {
  readonly chunks: IndexedChunk[] = [];
  /** document id → topic (articles: their topic; resolutions: the topic of the ticket they resolved). */
  readonly topicOf = new Map<string, string>();

  constructor(private readonly embedder: Embedder) {}

  async add(doc: {
    documentId: string;
    title: string;
    body: string;
    source: 'kb' | 'resolution';
    topic: string;
  }): Promise<void> {
    const chunks = chunkDocument(doc);
    const vectors = await this.embedder.embed(chunks.map((c) => embeddingInput(c)));
    chunks.forEach((chunk, i) =>
      this.chunks.push({
        passage: {
          id: chunk.id,
          documentId: chunk.documentId,
          title: chunk.title,
          headingPath: chunk.headingPath,
          text: chunk.text,
          score: 0,
          source: chunk.source,
          intents: [],
        },
        ...(doc.source === 'resolution' ? { answerKey: resolutionAnswerKey(chunk.text) } : {}),
        vector: vectors[i]!,
      }),
    );
    this.topicOf.set(doc.documentId, doc.topic);
  }

  /** Exact cosine top K (vectors are unit length), as pgvector's exact search returns them. */
  search(
    vector: readonly number[],
    k: number,
    source?: 'resolution',
  ): Array<Passage & { answerKey?: string }> {
    return this.chunks
      .filter((c) => source === undefined || c.passage.source === source)
      .map((c) => ({
        ...c.passage,
        score: dot(vector, c.vector),
        ...(c.answerKey ? { answerKey: c.answerKey } : {}),
      }))
      .sort((a, b) => b.score - a.score)
      .slice(0, k);
  }
}

function dot(a: readonly number[], b: readonly number[]): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += a[i]! * b[i]!;
  return sum;
}

export async function indexHelpCentre(embedder: Embedder, centre: HelpCentre): Promise<DomainIndex> {
  const index = new DomainIndex(embedder);
  for (const article of centre.articles)
    await index.add({
      documentId: `${centre.domain}/${article.topic}`,
      title: article.title,
      body: article.body,
      source: 'kb',
      topic: article.topic,
    });
  return index;
}

export type DomainVerdict = 'correct' | 'wrong' | 'escalated';

export interface DomainOutcome {
  topic: string;
  covered: boolean;
  verdict: DomainVerdict;
  reason: string | null;
  citedTopics: string[];
}

export interface Pipeline {
  embedder: Embedder;
  llm: LlmProvider;
  config: Config;
  thresholds: AnswerabilityThresholds;
}

/** What retrieval returns for a query: passages (best first) and the refs the workflow sees. */
export async function retrieve(
  pipeline: Pipeline,
  index: DomainIndex,
  text: string,
): Promise<{ passages: Array<Passage & { answerKey?: string }>; refs: PassageRef[] }> {
  const [vector] = await pipeline.embedder.embed([text]);
  // As the retrieve activity: over-fetch, then the top K with at most two passages per answer.
  const passages = diverseTop(
    index.search(vector!, Math.min(pipeline.config.RETRIEVAL_TOP_K * 4, 100)),
    pipeline.config.RETRIEVAL_TOP_K,
  );
  const refs = passages.map((p) => ({
    id: p.id,
    documentId: p.documentId,
    score: p.score,
    source: p.source,
    ...(p.answerKey ? { answerKey: p.answerKey } : {}),
  }));
  return { passages, refs };
}

/** One ticket through classify → route → generate → grounding check, the way the workflow runs it. */
export async function runTicket(
  pipeline: Pipeline,
  index: DomainIndex,
  topic: string,
  covered: boolean,
  query: string,
): Promise<DomainOutcome> {
  const ticket = { subject: '', body: query };
  const text = ticketText(ticket);
  const [{ classification }, { passages, refs }] = await Promise.all([
    pipeline.llm.classify(ticket),
    retrieve(pipeline, index, text),
  ]);
  const critical = detectCriticalSignals(text).length > 0;
  const classified: { ok: true; value: ClassifyOutcome } = {
    ok: true,
    value: {
      classification: critical ? { ...classification, urgency: 'critical' } : classification,
      requestedHuman: detectHumanRequest(text),
      criticalSignals: [],
    },
  };
  const policy = {
    ...DEFAULT_POLICY,
    minRetrievalScore: pipeline.config.MIN_RETRIEVAL_SCORE,
    answerMinScore: pipeline.thresholds.minScore,
    answerMinMargin: pipeline.thresholds.minMargin,
  };
  const decision = routeByAnswerability(classified, { ok: true, value: { passages: refs } }, policy);
  const escalated = (reason: string): DomainOutcome => ({
    topic,
    covered,
    verdict: 'escalated',
    reason,
    citedTopics: [],
  });
  if (decision.kind === 'escalate') return escalated(decision.reason);
  const usable = passages.filter(
    (p) => p.score >= policy.minRetrievalScore && p.documentId === decision.documentId,
  );
  const { answer } = await pipeline.llm.answer(ticket, usable);
  if (answer.kind === 'cannot_answer') return escalated('agent_uncertainty');
  const cited = usable.filter((p) => answer.citedPassageIds.includes(p.id));
  if (!checkReplyGrounding(answer.reply, cited, pipeline.config.INTENTS).ok)
    return escalated('agent_uncertainty');
  const citedTopics = [...new Set(cited.map((p) => index.topicOf.get(p.documentId) ?? '?'))];
  const correct = citedTopics.length > 0 && citedTopics.every((t) => t === topic);
  return { topic, covered, verdict: correct ? 'correct' : 'wrong', reason: null, citedTopics };
}

export interface DomainReport {
  tickets: number;
  answered: number;
  wrong: number;
  wrongRate: number | null;
  covered: number;
  coveredCorrect: number;
  coveredCorrectRate: number;
  uncovered: number;
  uncoveredHandedOff: number;
  handOffRecall: number;
  escalationsByReason: Record<string, number>;
}

export function reportDomain(outcomes: readonly DomainOutcome[]): DomainReport {
  const answered = outcomes.filter((o) => o.verdict !== 'escalated');
  const wrong = answered.filter((o) => o.verdict === 'wrong').length;
  const covered = outcomes.filter((o) => o.covered);
  const uncovered = outcomes.filter((o) => !o.covered);
  const handedOff = uncovered.filter((o) => o.verdict === 'escalated').length;
  const escalationsByReason: Record<string, number> = {};
  for (const o of outcomes)
    if (o.reason) escalationsByReason[o.reason] = (escalationsByReason[o.reason] ?? 0) + 1;
  const coveredCorrect = covered.filter((o) => o.verdict === 'correct').length;
  return {
    tickets: outcomes.length,
    answered: answered.length,
    wrong,
    wrongRate: answered.length > 0 ? wrong / answered.length : null,
    covered: covered.length,
    coveredCorrect,
    coveredCorrectRate: covered.length > 0 ? coveredCorrect / covered.length : 0,
    uncovered: uncovered.length,
    uncoveredHandedOff: handedOff,
    handOffRecall: uncovered.length > 0 ? handedOff / uncovered.length : 1,
    escalationsByReason,
  };
}

/** The test split of every intent of the domain, in a seeded order. */
export async function runDomainTest(
  pipeline: Pipeline,
  data: DomainData,
  index: DomainIndex,
  perIntent: number,
  seed: string,
): Promise<DomainOutcome[]> {
  const rng = createRng(`${seed}:${data.centre.domain}:test`);
  const outcomes: DomainOutcome[] = [];
  for (const topic of data.intents) {
    const queries = rng.fork(topic).sample(data.queries.test.get(topic) ?? [], perIntent);
    for (const query of queries)
      outcomes.push(await runTicket(pipeline, index, topic, data.covered.includes(topic), query));
  }
  return outcomes;
}

/** Labelled retrievals of one split (fit: val), for `fitThresholds`. */
export async function labelledRetrievals(
  pipeline: Pipeline,
  data: DomainData,
  index: DomainIndex,
  splitName: 'train' | 'val',
): Promise<LabelledRetrieval[]> {
  const sample: LabelledRetrieval[] = [];
  for (const topic of data.intents)
    for (const query of data.queries[splitName].get(topic) ?? []) {
      const { refs } = await retrieve(pipeline, index, query);
      sample.push({
        passages: refs,
        answeredBy: data.covered.includes(topic) ? `${data.centre.domain}/${topic}` : null,
      });
    }
  return sample;
}

export function fitOnDomain(sample: readonly LabelledRetrieval[], target: number): Calibration {
  const fitted = fitThresholds(sample, target);
  if (!fitted) throw new Error('no thresholds keep wrong answers within the target on the fit domain');
  return fitted;
}

export interface LearningWeek {
  week: number;
  /** Uncovered-topic tickets this week, and how many escalated. */
  uncoveredTickets: number;
  uncoveredEscalated: number;
  escalationRate: number;
  /** All autonomous answers this week (covered and uncovered tickets), and the wrong ones among them. */
  answered: number;
  wrong: number;
  resolutionsAdded: number;
}

/**
 * Weeks of traffic on a fresh copy of the help centre: each week `perUncovered` tickets per uncovered topic and
 * `perCovered` per covered topic (train split, disjoint from the test queries); at the end of the week a human
 * resolves up to `perUncovered` escalated tickets per uncovered topic with that topic's answer, and each becomes a
 * resolution document (question as title, answer as body) unless one ≥ RESOLUTION_DUPLICATE_SCORE exists.
 */
export async function runLearning(
  pipeline: Pipeline,
  data: DomainData,
  weeks: number,
  perUncovered: number,
  perCovered: number,
  seed: string,
): Promise<LearningWeek[]> {
  const index = await indexHelpCentre(pipeline.embedder, data.centre);
  const rng = createRng(`${seed}:${data.centre.domain}:learning`);
  const pools = new Map(
    data.intents.map((t) => [t, rng.fork(t).shuffle([...(data.queries.train.get(t) ?? [])])]),
  );
  const result: LearningWeek[] = [];
  for (let week = 1; week <= weeks; week++) {
    const escalatedByTopic = new Map<string, string[]>();
    let uncoveredTickets = 0;
    let uncoveredEscalated = 0;
    let answered = 0;
    let wrong = 0;
    for (const topic of data.intents) {
      const covered = data.covered.includes(topic);
      const queries = pools.get(topic)!.splice(0, covered ? perCovered : perUncovered);
      for (const query of queries) {
        const outcome = await runTicket(pipeline, index, topic, covered, query);
        if (outcome.verdict !== 'escalated') answered += 1;
        if (outcome.verdict === 'wrong') wrong += 1;
        if (!covered) {
          uncoveredTickets += 1;
          if (outcome.verdict === 'escalated') {
            uncoveredEscalated += 1;
            escalatedByTopic.set(topic, [...(escalatedByTopic.get(topic) ?? []), query]);
          }
        }
      }
    }
    let resolutionsAdded = 0;
    for (const [topic, queries] of escalatedByTopic) {
      for (const [i, query] of queries.slice(0, perUncovered).entries()) {
        const answer = data.centre.humanAnswers[topic]!;
        const [vector] = await pipeline.embedder.embed([`${query}\n\n${answer}`]);
        const [nearest] = index.search(vector!, 1, 'resolution');
        if (nearest && nearest.score >= pipeline.config.RESOLUTION_DUPLICATE_SCORE) continue;
        await index.add({
          documentId: `resolution-${data.centre.domain}-w${week}-${topic}-${i}`,
          title: query,
          body: answer,
          source: 'resolution',
          topic,
        });
        resolutionsAdded += 1;
      }
    }
    result.push({
      week,
      uncoveredTickets,
      uncoveredEscalated,
      escalationRate: uncoveredTickets > 0 ? uncoveredEscalated / uncoveredTickets : 0,
      answered,
      wrong,
      resolutionsAdded,
    });
  }
  return result;
}
