import type { Config } from '../../src/config';
import { getEmbedder } from '../../src/kb/embedder';
import { createLlmProvider } from '../../src/llm';
import {
  fitOnDomain,
  indexHelpCentre,
  labelledRetrievals,
  loadDomain,
  reportDomain,
  runDomainTest,
  runLearning,
  type DomainReport,
  type LearningWeek,
  type Pipeline,
} from './domains';
import { FOLLOW_UP_ASSUMPTIONS, simulateFollowUps, type FollowUpReport } from './follow-ups';
import { markdownTable, pct } from './markdown';
import { createRng } from './prng';

/**
 * The `domains` suite of `npm run eval`: thresholds fitted on the fit domain's CLINC150 `val` split only, then
 * applied unchanged to the `test` split of every domain (the fit domain's own test split included, marked).
 */

export interface DomainsSuiteOptions {
  fitDomain: string;
  domains: string[];
  perIntent: number;
  weeks: number;
  weekPerUncovered: number;
  weekPerCovered: number;
  targetWrongRate: number;
  seed: string;
}

export interface DomainsSuiteResult {
  /** Thresholds and scores belong to one embedding model. */
  embeddingModel: string;
  fit: {
    domain: string;
    split: 'val';
    targetWrongRate: number;
    thresholds: { minScore: number; minMargin: number };
    expectedAnswerRate: number;
    fitCounts: unknown;
  };
  domains: Array<{
    domain: string;
    fit: boolean;
    report: DomainReport;
    /** The test split's answers followed by simulated follow-ups: honest vs naive resolution rate (issue 17). */
    followUps: FollowUpReport;
    learning: LearningWeek[];
  }>;
}

export async function runDomainsSuite(
  config: Config,
  options: DomainsSuiteOptions,
  progress: (line: string) => void,
): Promise<DomainsSuiteResult> {
  const embedder = getEmbedder(config.EMBEDDING_MODEL, config.MODELS_DIR);
  const llm = createLlmProvider({ ...config, LLM_PROVIDER: 'local' }, { embedder });
  const fitData = loadDomain(options.fitDomain);
  const fitIndex = await indexHelpCentre(embedder, fitData.centre);
  const probe: Pipeline = { embedder, llm, config, thresholds: { minScore: 0, minMargin: 0 } };
  const sample = await labelledRetrievals(probe, fitData, fitIndex, 'val');
  const fitted = fitOnDomain(sample, options.targetWrongRate);
  progress(
    `fitted on ${options.fitDomain} (val, ${sample.length} queries): ANSWER_MIN_SCORE=${fitted.thresholds.minScore} ANSWER_MIN_MARGIN=${fitted.thresholds.minMargin}`,
  );
  const pipeline: Pipeline = { ...probe, thresholds: fitted.thresholds };
  const domains: DomainsSuiteResult['domains'] = [];
  for (const domain of options.domains) {
    const data = loadDomain(domain);
    const index = await indexHelpCentre(embedder, data.centre);
    const outcomes = await runDomainTest(pipeline, data, index, options.perIntent, options.seed);
    const report = reportDomain(outcomes);
    const followUps = simulateFollowUps(outcomes, createRng(`${options.seed}:${domain}:follow-ups`));
    progress(
      `${domain}: wrong ${report.wrong}/${report.answered}, covered correct ${report.coveredCorrect}/${report.covered}, hand-off ${report.uncoveredHandedOff}/${report.uncovered}`,
    );
    const learning = await runLearning(
      pipeline,
      data,
      options.weeks,
      options.weekPerUncovered,
      options.weekPerCovered,
      options.seed,
    );
    progress(
      `${domain} learning: ${learning.map((w) => `${pct(w.escalationRate, 0)} (${w.wrong}/${w.answered} wrong)`).join(' → ')}`,
    );
    domains.push({ domain, fit: domain === options.fitDomain, report, followUps, learning });
  }
  return {
    embeddingModel: config.EMBEDDING_MODEL,
    fit: {
      domain: options.fitDomain,
      split: 'val',
      targetWrongRate: options.targetWrongRate,
      thresholds: fitted.thresholds,
      expectedAnswerRate: fitted.answerRate,
      fitCounts: fitted.counts,
    },
    domains,
  };
}

export function domainsMarkdown(result: DomainsSuiteResult, command: string): string {
  const { fit } = result;
  const lines = [
    `# ticketflow domains evaluation`,
    '',
    `Command: \`${command}\``,
    '',
    `Embedding model: \`${result.embeddingModel}\` (offline provider).`,
    '',
    `Thresholds fitted on **${fit.domain}** (CLINC150 \`val\` split, target ≤ ${pct(fit.targetWrongRate, 0)} wrong answers): ` +
      `ANSWER_MIN_SCORE = ${fit.thresholds.minScore}, ANSWER_MIN_MARGIN = ${fit.thresholds.minMargin} ` +
      `(expected answer rate on the fit sample ${pct(fit.expectedAnswerRate)}). Every domain below is scored on its ` +
      '`test` split with these thresholds; the fit domain is marked. Nothing was changed after the held-out numbers were seen.',
    '',
    markdownTable(
      [
        'domain',
        'wrong answers (of autonomous)',
        'covered answered correctly',
        'hand-off recall (uncovered)',
        'escalations by reason',
      ],
      result.domains.map(({ domain, fit: isFit, report }) => [
        isFit ? `${domain} (fit)` : domain,
        `${pct(report.wrongRate)} (${report.wrong}/${report.answered})`,
        `${pct(report.coveredCorrectRate)} (${report.coveredCorrect}/${report.covered})`,
        `${pct(report.handOffRecall)} (${report.uncoveredHandedOff}/${report.uncovered})`,
        Object.entries(report.escalationsByReason)
          .sort((a, b) => b[1] - a[1])
          .map(([reason, n]) => `${reason} ${n}`)
          .join(', '),
      ]),
    ),
    '',
    '## Honest vs naive resolution rate, with simulated follow-ups',
    '',
    `After each autonomous answer of the test split the customer comes back with "that didn't help" with probability ` +
      `${FOLLOW_UP_ASSUMPTIONS.wrongComesBackUnhappy} when the answer was wrong and ${FOLLOW_UP_ASSUMPTIONS.rightComesBackUnhappy} ` +
      `when it was right; ${FOLLOW_UP_ASSUMPTIONS.rightSaysThanks} of the other right answers say thanks, the rest stay silent. ` +
      "These shares are assumptions (no real follow-up data here); each reply goes through the workflow's own rule " +
      '(`detectFollowUpSignal`). Naive = AI replies / tickets; honest = AI replies the customer did not come back unhappy about / tickets.',
    '',
    markdownTable(
      [
        'domain',
        'naive resolution rate',
        'honest resolution rate',
        'came back unhappy',
        'complaints the rule missed',
        'wrong answers still counted as resolved',
        'confirmed by thanks',
      ],
      result.domains.map(({ domain, fit: isFit, followUps: f }) => [
        isFit ? `${domain} (fit)` : domain,
        `${pct(f.naiveResolutionRate)} (${f.aiAnswers}/${f.tickets})`,
        `${pct(f.honestResolutionRate)} (${f.aiAnswers - f.cameBackUnhappy}/${f.tickets})`,
        String(f.cameBackUnhappy),
        String(f.complaintsMissedByRule),
        String(f.wrongStillCounted),
        String(f.confirmed),
      ]),
    ),
    '',
    '## Learning: escalation rate of uncovered-topic tickets, and wrong answers among all autonomous answers, per week',
    '',
    markdownTable(
      ['domain', ...(result.domains[0]?.learning ?? []).map((w) => `week ${w.week}`)],
      result.domains.map(({ domain, fit: isFit, learning }) => [
        isFit ? `${domain} (fit)` : domain,
        ...learning.map(
          (w) =>
            `${pct(w.escalationRate, 0)} escalated (${w.uncoveredEscalated}/${w.uncoveredTickets}); wrong ${w.wrong}/${w.answered}; +${w.resolutionsAdded} resolutions`,
        ),
      ]),
    ),
  ];
  return lines.join('\n');
}
