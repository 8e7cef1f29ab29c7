import type { Db } from '../../src/db/database';
import { AnthropicProvider } from '../../src/llm/anthropic';
import { buildGapReport, type GapCluster, type GapReport } from '../../src/kb/gaps';
import { PgvectorStore } from '../../src/kb/pgvector-store';
import { LocalProvider } from '../../src/llm/local';
import { createKbTestDatabase, realEmbedder, startPgliteChild, uniqueName } from '../kb/support';
import { startFakeAnthropic, type FakeAnthropic } from '../support/fake-anthropic';
import { ingestFixtureKb, loadGapFixture, seedEscalations, seedHealthSignals } from './fixture';

/**
 * Acceptance: on the fixture with two planted gaps and one contradictory pair, the report finds both gaps and
 * the pair and suggests nothing for the well-covered topic. Real Postgres, pgvector on PGlite, real embeddings.
 */

const PREFIX = 'fx';
const topicOf = new Map(loadGapFixture().map((t) => [`${PREFIX}-${t.id}`, t.topic]));
const topicsOf = (cluster: GapCluster) => [...new Set(cluster.ticketIds.map((id) => topicOf.get(id)))];

let database: { db: Db; drop: () => Promise<void> };
let vectorServer: { url: string; stop: () => Promise<void> };
let store: PgvectorStore;
let report: GapReport;
const embedder = realEmbedder();

beforeAll(async () => {
  [database, vectorServer] = await Promise.all([createKbTestDatabase(), startPgliteChild()]);
  store = new PgvectorStore({
    url: vectorServer.url,
    collection: uniqueName('gaps'),
    model: embedder,
    poolMax: 2,
  });
  await ingestFixtureKb({ db: database.db, store, embedder });
  await seedEscalations(database.db, PREFIX);
  await seedHealthSignals(database.db, PREFIX);
  report = await buildGapReport({ db: database.db, store, embedder, minRetrievalScore: 0.45 });
}, 600_000);

afterAll(async () => {
  await store?.close().catch(() => undefined);
  await vectorServer?.stop();
  await database?.drop();
});

describe('the gap report on the fixture', () => {
  it('finds both planted gaps, each as one group of its own topic', () => {
    const gaps = report.clusters.filter((c) => c.status === 'gap');
    expect(gaps.map(topicsOf).sort()).toEqual([['self_hosted'], ['task_dependencies']]);
    expect(report.gaps).toBe(2);
    for (const gap of gaps) {
      expect(gap.size).toBeGreaterThanOrEqual(3);
      expect(gap.nearestArticle!.score).toBeLessThan(report.settings.coveredScore);
      expect(gap.suggestion).not.toBeNull();
    }
  });

  it('suggests nothing for the topic an article covers, and names that article', () => {
    const covered = report.clusters.filter((c) => topicsOf(c).includes('password_reset'));
    expect(covered).toHaveLength(1);
    expect(covered[0]!.status).toBe('covered');
    expect(covered[0]!.nearestArticle?.documentId).toBe('password-reset');
    expect(covered[0]!.suggestion).toBeNull();
    // Every suggestion is for a planted gap.
    for (const c of report.clusters.filter((c) => c.suggestion))
      expect(['self_hosted', 'task_dependencies']).toContain(topicsOf(c)[0]);
  });

  it('drafts the suggestion from the human answers, citing their tickets, with redacted questions', () => {
    const deps = report.clusters.find((c) => topicsOf(c)[0] === 'task_dependencies')!;
    expect(deps.humanAnswers).toMatchObject({ resolved: 3, learned: 3, agreement: 'consistent' });
    const suggestion = deps.suggestion!;
    expect(suggestion.draft.source).toBe('extractive');
    expect(suggestion.draft.citations.map((c) => c.ticketId).sort()).toEqual([
      `${PREFIX}-dep-1`,
      `${PREFIX}-dep-2`,
      `${PREFIX}-dep-3`,
    ]);
    expect(suggestion.draft.citations[0]!.agentId).toBe('Dana');
    expect(suggestion.draft.body).toContain('Add dependency');
    expect(suggestion.draft.body).toMatch(/\[#fx-dep-\d\]/);
    expect(suggestion.questions.length).toBeGreaterThanOrEqual(2);
    expect(suggestion.documentId).toMatch(/^[a-z0-9-]+$/);
    const texts = [...deps.examples.map((e) => e.text), ...suggestion.questions, suggestion.draft.body].join(
      '\n',
    );
    expect(texts).not.toContain('jo.bloggs@example.com');
    expect(deps.examples.map((e) => e.text).join('\n')).toContain('[email]');
  });

  it('counts the human answers of the other gap and cites each of them', () => {
    const selfHosted = report.clusters.find((c) => topicsOf(c)[0] === 'self_hosted')!;
    expect(selfHosted.humanAnswers.resolved).toBe(2);
    expect(selfHosted.suggestion!.draft.citations).toHaveLength(2);
  });

  it('finds the planted contradictory pair and no other', () => {
    expect(report.health.contradictions).toHaveLength(1);
    const [pair] = report.health.contradictions;
    expect([pair!.a.documentId, pair!.b.documentId].sort()).toEqual(['billing-faq', 'refunds']);
    expect(pair!.units).toEqual(['day']);
    expect(`${pair!.a.sentence} ${pair!.b.sentence}`).toMatch(/60 days[\s\S]*30 days|30 days[\s\S]*60 days/);
    expect(report.health.nearDuplicates).toEqual([]);
  });

  it('reports articles retrieved but not used, followed by escalation, and corrected by humans', () => {
    expect(report.health.retrievedButUnused).toEqual([
      { documentId: 'notifications', title: expect.any(String), retrieved: 6, cited: 0, citationRate: 0 },
    ]);
    expect(report.health.followedByEscalation).toEqual([
      expect.objectContaining({
        documentId: 'refunds',
        answers: 1,
        followed: 1,
        ticketIds: [`${PREFIX}-self-2`],
      }),
    ]);
    expect(report.health.humanCorrections).toEqual([
      expect.objectContaining({
        documentId: 'data-export',
        corrected: 1,
        ticketIds: [`${PREFIX}-corrected`],
      }),
    ]);
  });

  it('reports articles cited by answers the customer said did not help', () => {
    // Six answers cite profile-and-email; the customer of one came back unhappy. No other article has any.
    expect(report.health.negativeFeedback).toEqual([
      expect.objectContaining({ documentId: 'profile-and-email', cited: 6, unhappy: 1 }),
    ]);
    expect(report.health.negativeFeedback[0]!.unhappyRate).toBeCloseTo(1 / 6, 2);
  });

  it('counts what it considered and leaves operational escalations out', () => {
    expect(report.escalations.considered).toBe(loadGapFixture().length + 1);
    expect(report.escalations.clustered + report.escalations.unclustered).toBe(report.escalations.considered);
    expect(report.settings.excludedReasons).toEqual(['llm_unavailable', 'retrieval_unavailable']);
  });
});

describe('drafting suggestions with a model (Anthropic stand-in)', () => {
  let fake: FakeAnthropic;
  let provider: AnthropicProvider;

  beforeAll(async () => {
    fake = await startFakeAnthropic();
    provider = new AnthropicProvider({
      apiKey: 'test-key',
      baseURL: fake.url,
      models: { classify: 'claude-haiku-4-5', answer: 'claude-sonnet-4-6' },
      maxTokens: 1024,
      timeoutMs: 10_000,
      intents: ['billing', 'technical', 'account', 'feature_request', 'complaint', 'other'],
    });
  });
  afterAll(async () => fake?.close());

  it('writes the drafts from the resolutions only, caches them, and falls back to extractive when the model invents figures', async () => {
    const deps = {
      db: database.db,
      store,
      embedder,
      llm: provider,
      llmModel: 'claude-sonnet-4-6',
      minRetrievalScore: 0.45,
    };
    const withModel = await buildGapReport(deps);
    const drafts = withModel.clusters.filter((c) => c.suggestion).map((c) => c.suggestion!.draft);
    expect(drafts).toHaveLength(2);
    for (const draft of drafts) {
      expect(draft.source).toBe('model');
      expect(draft.model).toBe('claude-sonnet-4-6');
      expect(draft.citations.length).toBeGreaterThan(0);
    }
    const requests = fake.requests.filter((r) => r.kind === 'article');
    expect(requests).toHaveLength(2);
    const prompt = JSON.stringify(requests.map((r) => r.body.messages));
    expect(prompt).toContain('Add dependency');
    expect(prompt).not.toContain('jo.bloggs@example.com');
    expect(requests[0]!.body.model).toBe('claude-sonnet-4-6');

    // Shown again: served from kb_gap_drafts, no new call.
    await buildGapReport(deps);
    expect(fake.requests.filter((r) => r.kind === 'article')).toHaveLength(2);

    // A model that states a figure no resolution contains is asked to repair once, then refused.
    await database.db.deleteFrom('kb_gap_drafts').execute();
    fake.reset();
    const invented = {
      title: 'Dependencies',
      body: 'Dependencies cost $99 per month [#fx-dep-1].',
      cited_ticket_ids: ['fx-dep-1'],
    };
    fake.setScript([
      { kind: 'success', for: 'article', toolInput: invented },
      { kind: 'success', for: 'article', toolInput: invented },
    ]);
    const refused = await buildGapReport(deps);
    const notes = refused.clusters.filter((c) => c.suggestion).map((c) => c.suggestion!.draft);
    const fallback = notes.find((d) => d.source === 'extractive');
    expect(fallback?.note).toMatch(/states figures no resolution contains: \$99/);
    expect(fallback?.body).not.toContain('$99');
  });

  it('the local provider drafts extractively through the same interface', async () => {
    const local = new LocalProvider({
      embedder,
      intents: ['billing', 'technical', 'account', 'feature_request', 'complaint', 'other'],
    });
    const withLocal = await buildGapReport({
      db: database.db,
      store,
      embedder,
      llm: local,
      minRetrievalScore: 0.45,
    });
    const extractive = withLocal.clusters.filter((c) => c.suggestion).map((c) => c.suggestion!.draft.body);
    expect(extractive).toEqual(
      report.clusters.filter((c) => c.suggestion).map((c) => c.suggestion!.draft.body),
    );
  });
});
