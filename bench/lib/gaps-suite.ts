/**
 * The gaps suite (`npm run eval -- --suites gaps`, or `node scripts/test.mjs --run bench/gaps-eval.ts`): does the knowledge-gap report find the topics the knowledge
 * base was built without, and do its suggested articles, published as written, bring escalations down?
 *
 * On the CLINC150 subset of `npm run eval` (data/eval-kb has articles for 7 intents; 5 intents are withheld):
 * 1. learning weeks as in eval.ts: each week withheld-intent, with-article and out-of-scope queries go through
 *    the real workflow and a simulated agent resolves every escalation with the intent's canned answer;
 * 2. the gap report runs on the escalations of those weeks; its suggested groups are compared with the withheld
 *    intents (bench/lib/gaps-measure.ts: precision and recall);
 * 3. one fresh batch (CLINC test split, disjoint from the weeks) runs against four knowledge bases: the eval
 *    articles alone; plus the resolutions learned in the weeks; plus every suggested article published exactly
 *    as drafted; the suggested articles instead of the resolutions. Escalation rate and wrong answers per group.
 * The report's thresholds were chosen on the Acme fixture of test/gaps and not changed for this data.
 * Offline (local provider: extractive drafts) unless ANTHROPIC_API_KEY is set.
 */
import { loadConfig, resolveLlmProvider } from '../../src/config';
import { buildGapReport } from '../../src/kb/gaps';
import { deleteKbDocument } from '../../src/kb/ingest';
import { resolveUpdate } from '../../workflows/definitions';
import { countVerdicts } from './confusion';
import { EVAL_KB_DIR, loadClinc, REPO_ROOT, type ClincMapping } from './datasets';
import { reportFor, runEvalTickets, type EvalOutcome, type EvalTicket } from './eval-run';
import { acceptSuggestions, topicAgreement } from './gaps-measure';
import { markdownTable, pct } from './markdown';
import { createRng } from './prng';
import { gitCommit, isoDate, machineInfo, writeResultFile } from './run-info';
import { startRunStack, uniqueSuffix, type RunStack } from './stack';
import { share } from './stats';

/** The knobs of the gaps suite (bench/gaps-eval.ts and `npm run eval -- --suites gaps`). */
export interface GapsSuiteOptions {
  seed: string;
  weeks: number;
  weekWithheld: number;
  weekKb: number;
  weekOos: number;
  testPerIntent: number;
  testOos: number;
  concurrency: number;
  out: string;
  vectorDb: 'private' | 'env';
}

/** What a CLINC query is expected to get, given which intents the KB can answer. */
function ticketFor(
  mapping: ClincMapping,
  intent: string | null,
  text: string,
  id: string,
  answerable: (intent: string) => boolean,
): EvalTicket {
  const spec = intent ? mapping.intents[intent] : undefined;
  const canAnswer = spec !== undefined && intent !== null && answerable(intent);
  return {
    id,
    group: spec?.role ?? 'oos',
    datasetIntent: intent ?? 'oos',
    subject: '',
    body: text,
    expectedIntent: spec?.ticketflowIntent ?? mapping.oos.ticketflowIntent,
    expectedOutcome: canAnswer ? 'answer' : 'escalate',
    expectedTopics: canAnswer && intent ? [intent] : [],
  };
}

const CONDITIONS = [
  ['neither', 'eval articles'],
  ['resolutions', '+ learned resolutions'],
  ['resolutionsAndArticles', '+ resolutions + suggested'],
  ['articlesOnly', '+ suggested, no resolutions'],
] as const;

function agreementRow(label: string, a: ReturnType<typeof topicAgreement>) {
  return [
    label,
    a.suggested,
    a.matching,
    pct(a.precision),
    pct(a.recall),
    a.withheldFound.join(', '),
    a.withheldMissed.join(', ') || '–',
  ];
}

function batchSummary(outcomes: readonly EvalOutcome[]) {
  const groups = [...new Set(outcomes.map((o) => o.ticket.group))].sort();
  const row = (subset: readonly EvalOutcome[]) => {
    const counts = countVerdicts(subset.map((o) => o.verdict));
    const escalated = subset.filter((o) => o.escalated).length;
    return {
      tickets: subset.length,
      escalated,
      escalationRate: share(escalated, subset.length),
      answeredCorrectly: counts.answered_correctly,
      answeredWrongly: counts.answered_wrongly,
      escalationReasons: reportFor(subset).escalationReasons,
    };
  };
  return {
    all: row(outcomes),
    byGroup: Object.fromEntries(groups.map((g) => [g, row(outcomes.filter((o) => o.ticket.group === g))])),
  };
}

async function resolveAll(
  stack: RunStack,
  mapping: ClincMapping,
  outcomes: readonly EvalOutcome[],
  learned: Map<string, string>,
): Promise<void> {
  for (const outcome of [...outcomes]
    .filter((o) => o.escalated)
    .sort((a, b) => a.ticket.id.localeCompare(b.ticket.id))) {
    const intent = outcome.ticket.datasetIntent ?? 'oos';
    const spec = mapping.intents[intent];
    const addToKnowledgeBase = spec !== undefined && spec.role !== 'off_topic';
    const handle = stack.client.workflow.getHandle(outcome.workflowId);
    await handle.executeUpdate(resolveUpdate, {
      args: [
        {
          agentId: 'simulated-agent',
          answer: spec?.cannedAnswer ?? mapping.oos.cannedAnswer,
          addToKnowledgeBase,
        },
      ],
    });
    await handle.result();
    const row = await stack.db
      .selectFrom('resolutions')
      .select(['kb_document_id'])
      .where('workflow_id', '=', outcome.workflowId)
      .executeTakeFirst();
    if (row?.kb_document_id) learned.set(row.kb_document_id, intent);
  }
}

/** Runs the whole protocol on its own stack and writes `gaps-eval-<date>.{json,md}` into `options.out`. */
export async function runGapsSuite(options: GapsSuiteOptions, command: string): Promise<void> {
  const startedAt = new Date();
  const config = loadConfig({ LOG_LEVEL: 'warn', ...process.env });
  const provider = resolveLlmProvider(config);
  const { subset, mapping } = loadClinc();
  const rng = createRng(options.seed).fork('gaps');
  const runId = `gaps-${uniqueSuffix()}`;
  const withheld = Object.entries(mapping.intents)
    .filter(([, spec]) => spec.role === 'withheld')
    .map(([intent]) => intent)
    .sort();
  const articleTopic = new Map(
    Object.entries(mapping.intents)
      .filter(([, spec]) => spec.article)
      .map(([intent, spec]) => [spec.article!, intent]),
  );
  const learned = new Map<string, string>(); // resolution document → intent
  const accepted = new Map<string, string>(); // suggested article → intent of its group's majority
  const topicOf = (doc: string) =>
    articleTopic.get(doc) ?? learned.get(doc) ?? accepted.get(doc) ?? `document:${doc}`;

  const stack = await startRunStack({
    label: 'gapseval',
    env: { LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn' },
    vectorDb: options.vectorDb,
  });
  try {
    await stack.ingest([EVAL_KB_DIR]);
    const labels = new Map<string, string>(); // external id → CLINC intent or oos
    const learnedIntents = new Set<string>();
    // 1. Learning weeks (queries from train+val, as eval.ts).
    const pools = new Map<string, string[]>();
    for (const [intent, spec] of Object.entries(mapping.intents)) {
      if (spec.role === 'off_topic') continue;
      pools.set(
        intent,
        rng
          .fork(`weeks/${intent}`)
          .shuffle([...subset.intents[intent]!.train, ...subset.intents[intent]!.val]),
      );
    }
    const oosPool = rng.fork('weeks/oos').shuffle([...subset.oos.train, ...subset.oos.val]);
    for (let week = 0; week < options.weeks; week++) {
      const batch: EvalTicket[] = [];
      for (const [intent, pool] of [...pools.entries()].sort(([a], [b]) => a.localeCompare(b))) {
        const perWeek = mapping.intents[intent]!.role === 'withheld' ? options.weekWithheld : options.weekKb;
        pool
          .slice(week * perWeek, (week + 1) * perWeek)
          .forEach((text, i) =>
            batch.push(
              ticketFor(
                mapping,
                intent,
                text,
                `w${week + 1}-${intent}-${i}`,
                (x) => mapping.intents[x]!.role === 'kb' || learnedIntents.has(x),
              ),
            ),
          );
      }
      oosPool
        .slice(week * options.weekOos, (week + 1) * options.weekOos)
        .forEach((text, i) =>
          batch.push(ticketFor(mapping, null, text, `w${week + 1}-oos-${i}`, () => false)),
        );
      const tickets = rng.fork(`weeks/order/${week}`).shuffle(batch);
      const outcomes = await runEvalTickets(stack, tickets, {
        concurrency: options.concurrency,
        idPrefix: `${runId}-learn`,
        topicOf,
      });
      for (const o of outcomes) labels.set(`${runId}-learn-${o.ticket.id}`, o.ticket.datasetIntent ?? 'oos');
      await resolveAll(stack, mapping, outcomes, learned);
      for (const intent of learned.values()) learnedIntents.add(intent);
      process.stderr.write(
        `week ${week + 1}: ${outcomes.filter((o) => o.escalated).length}/${outcomes.length} escalated\n`,
      );
    }

    // 2. The gap report on those escalations.
    const kb = { db: stack.db, store: stack.deps.store, embedder: stack.deps.embedder };
    const reportStarted = Date.now();
    const report = await buildGapReport(
      {
        ...kb,
        llm: stack.deps.llm,
        llmModel: config.ANTHROPIC_ANSWER_MODEL,
        minRetrievalScore: config.MIN_RETRIEVAL_SCORE,
      },
      { days: 365 },
    );
    const reportSeconds = (Date.now() - reportStarted) / 1000;
    const agreement = topicAgreement(report, labels, withheld);
    const agreementTop = topicAgreement(report, labels, withheld, { top: withheld.length });

    // 3. A fresh batch before and after publishing the suggestions as written.
    const testTickets = (answerable: (intent: string) => boolean, tag: string): EvalTicket[] => {
      const tickets: EvalTicket[] = [];
      for (const intent of [...pools.keys()].sort()) {
        rng
          .fork(`test/${intent}`)
          .sample(subset.intents[intent]!.test, options.testPerIntent)
          .forEach((text, i) =>
            tickets.push(ticketFor(mapping, intent, text, `${tag}-${intent}-${i}`, answerable)),
          );
      }
      rng
        .fork('test/oos')
        .sample(subset.oos.test, options.testOos)
        .forEach((text, i) => tickets.push(ticketFor(mapping, null, text, `${tag}-oos-${i}`, () => false)));
      return rng.fork('test/order').shuffle(tickets);
    };
    const runBatch = (tag: string, answerable: (intent: string) => boolean) =>
      runEvalTickets(stack, testTickets(answerable, tag), {
        concurrency: options.concurrency,
        idPrefix: `${runId}-test`,
        topicOf,
      });
    const withArticle = (x: string) => mapping.intents[x]!.role === 'kb';
    // A: what the learning loop left (articles + the humans' resolutions).
    const withResolutions = await runBatch('res', (x) => withArticle(x) || learnedIntents.has(x));
    // B: the suggested articles published as written, on top.
    const published = await acceptSuggestions(kb, report);
    const clusterTopic = new Map(agreement.clusters.map((c) => [c.clusterId, c.topic]));
    for (const [doc, clusterId] of published) accepted.set(doc, clusterTopic.get(clusterId) ?? 'unknown');
    const acceptedTopics = new Set(accepted.values());
    const withBoth = await runBatch(
      'both',
      (x) => withArticle(x) || learnedIntents.has(x) || acceptedTopics.has(x),
    );
    // C: the suggested articles instead of the individual resolutions (resolution documents removed).
    for (const doc of learned.keys()) await deleteKbDocument(kb, doc);
    const articlesOnly = await runBatch('art', (x) => withArticle(x) || acceptedTopics.has(x));
    // D: neither: the knowledge base as it started.
    for (const doc of published.keys()) await deleteKbDocument(kb, doc);
    const neither = await runBatch('none', withArticle);
    const conditions = {
      neither: batchSummary(neither),
      resolutions: batchSummary(withResolutions),
      resolutionsAndArticles: batchSummary(withBoth),
      articlesOnly: batchSummary(articlesOnly),
    };
    const finishedAt = new Date();
    const date = isoDate(startedAt);
    const result = {
      schema: 'ticketflow-gaps-eval/1',
      date,
      durationSeconds: Math.round((finishedAt.getTime() - startedAt.getTime()) / 1000),
      command,
      commit: gitCommit(REPO_ROOT),
      machine: machineInfo(),
      llmProvider: provider,
      withheldTopics: withheld,
      report: {
        seconds: reportSeconds,
        escalations: report.escalations,
        settings: report.settings,
        clusters: report.clusters.map((c) => ({
          id: c.id,
          status: c.status,
          size: c.size,
          nearestArticle: c.nearestArticle,
          humanAnswers: c.humanAnswers,
          title: c.suggestion?.title ?? null,
          draftSource: c.suggestion?.draft.source ?? null,
        })),
      },
      agreement,
      agreementTop,
      acceptance: { published: Object.fromEntries(published), conditions },
    };
    const md = [
      `# Knowledge-gap report vs withheld topics — ${date}`,
      '',
      `Command: \`${result.command}\` (LLM provider: ${provider}; commit ${result.commit ?? 'unknown'}; ${result.durationSeconds} s).`,
      '',
      `Escalations after ${options.weeks} learning weeks: ${report.escalations.considered} (${report.escalations.clustered} in groups of ≥ ${report.settings.minSize}). ` +
        `Report built in ${reportSeconds.toFixed(1)} s.`,
      '',
      markdownTable(
        [
          '',
          'suggested groups',
          'matching a withheld topic',
          'precision',
          'recall',
          'withheld topics found',
          'missed',
        ],
        [agreementRow('all suggestions', agreement), agreementRow(`top ${withheld.length}`, agreementTop)],
      ),
      '',
      markdownTable(
        ['group', 'status', 'size', 'majority topic', 'purity', 'nearest article (score)', 'human answers'],
        report.clusters.map((c, i) => [
          c.suggestion?.title ?? `(covered) ${c.examples[0]?.text.slice(0, 50) ?? ''}`,
          c.status,
          c.size,
          agreement.clusters[i]!.topic,
          pct(agreement.clusters[i]!.purity, 0),
          c.nearestArticle ? `${c.nearestArticle.documentId} (${c.nearestArticle.score.toFixed(2)})` : '–',
          `${c.humanAnswers.resolved} (${c.humanAnswers.agreement})`,
        ]),
      ),
      '',
      `The same fresh batch (CLINC test split, ${options.testPerIntent} per intent + ${options.testOos} out of scope) against four ` +
        `knowledge bases: the eval articles alone; plus the ${learned.size} resolution documents learned in the weeks; plus the ` +
        `${published.size} suggested article(s) published as written; the suggested articles instead of the resolutions.`,
      '',
      markdownTable(
        [
          'group',
          'tickets',
          ...CONDITIONS.map(([, label]) => `escalated: ${label}`),
          ...CONDITIONS.map(([, label]) => `wrong: ${label}`),
        ],
        ['all', ...Object.keys(conditions.neither.byGroup)].map((g) => {
          const pick = (key: keyof typeof conditions) =>
            g === 'all' ? conditions[key].all : conditions[key].byGroup[g]!;
          return [
            g,
            pick('neither').tickets,
            ...CONDITIONS.map(([key]) => pct(pick(key).escalationRate)),
            ...CONDITIONS.map(([key]) => pick(key).answeredWrongly),
          ];
        }),
      ),
      '',
      'Why withheld-intent tickets still escalated: ' +
        CONDITIONS.map(
          ([key, label]) =>
            `${label}: ${
              Object.entries(conditions[key].byGroup.withheld?.escalationReasons ?? {})
                .map(([reason, n]) => `${reason} ${n}`)
                .join(', ') || 'none'
            }`,
        ).join('; ') +
        '.',
      '',
    ].join('\n');
    writeResultFile(options.out, `gaps-eval-${date}.json`, JSON.stringify(result, null, 2));
    writeResultFile(options.out, `gaps-eval-${date}.md`, md);
    process.stdout.write(`\n${md}\n`);
  } finally {
    await stack.close();
  }
}
