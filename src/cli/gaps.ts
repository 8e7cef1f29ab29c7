import { Command, InvalidArgumentError } from 'commander';
import { buildGapReport, gapReportOptionsSchema, type GapReport } from '../kb/gaps';
import { createLlmProvider } from '../llm';
import { toOneLine } from '../llm/text';
import type { CliContext } from './context';
import type { GapSection } from './report-gaps';

/** `ticketflow kb gaps`: the knowledge-gap report (src/kb/gaps.ts) as tables, or one JSON document. */

export interface GapsCliIo {
  out(text: string): void;
  err(text: string): void;
  setExitCode(code: number): void;
}

function wholeNumber(min: number, max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max)
      throw new InvalidArgumentError(`expected a whole number from ${min} to ${max}`);
    return n;
  };
}

function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  return [line(headers), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

/** The report as text: the groups, then each suggestion, then article health. */
export function formatGapReport(report: GapReport): string {
  const lines: string[] = [
    `Knowledge gaps ${report.window.from.slice(0, 10)} → ${report.window.to.slice(0, 10)}: ` +
      `${report.escalations.considered} escalations, ${report.escalations.clustered} in ${report.clusters.length} groups, ` +
      `${report.gaps} without a good article.`,
    '',
  ];
  if (report.clusters.length === 0) lines.push('No group of similar escalations yet.');
  else {
    lines.push(
      table(
        ['STATUS', 'SIZE', 'NEAREST ARTICLE (SCORE)', 'HUMAN ANSWERS', 'EXAMPLE / SUGGESTED ARTICLE'],
        report.clusters.map((c) => [
          c.status,
          String(c.size),
          c.nearestArticle ? `${c.nearestArticle.documentId} (${c.nearestArticle.score.toFixed(2)})` : '–',
          `${c.humanAnswers.resolved}/${c.size} ${c.humanAnswers.agreement}`,
          toOneLine(c.suggestion ? `→ ${c.suggestion.title}` : (c.examples[0]?.text ?? ''), 70),
        ]),
      ),
    );
  }
  for (const c of report.clusters.filter((c) => c.suggestion)) {
    const s = c.suggestion!;
    lines.push(
      '',
      `Suggested article "${s.title}" (id ${s.documentId}, group ${c.id}, ${s.draft.source} draft` +
        `${s.draft.model ? ` by ${s.draft.model}` : ''})`,
      ...s.questions.map((q) => `  ? ${toOneLine(q, 110)}`),
      `  cites: ${s.draft.citations.map((x) => `#${x.ticketId}`).join(' ') || 'no human answer yet'}`,
    );
    if (s.draft.note) lines.push(`  note: ${s.draft.note}`);
  }
  const h = report.health;
  lines.push('', 'Article health');
  const section = (title: string, items: string[]) =>
    lines.push(`  ${title}: ${items.length === 0 ? 'none' : ''}`, ...items.map((i) => `    ${i}`));
  section(
    'retrieved often, rarely cited',
    h.retrievedButUnused.map(
      (a) => `${a.documentId}: cited in ${a.cited} of ${a.retrieved} tickets that retrieved it`,
    ),
  );
  section(
    'answers followed by an escalation',
    h.followedByEscalation.map(
      (a) => `${a.documentId}: ${a.followed} of ${a.answers} (${a.ticketIds.map((t) => `#${t}`).join(' ')})`,
    ),
  );
  section(
    'answers the customer said did not help',
    h.negativeFeedback.map((a) => `${a.documentId}: ${a.unhappy} of ${a.cited} answers citing it`),
  );
  section(
    'drafts rewritten by humans',
    h.humanCorrections.map(
      (a) =>
        `${a.documentId}: ${a.corrected} of ${a.escalations} (${a.ticketIds.map((t) => `#${t}`).join(' ')})`,
    ),
  );
  section(
    'near-duplicates',
    h.nearDuplicates.map((d) => `${d.a.documentId} ~ ${d.b.documentId} (${d.similarity.toFixed(2)})`),
  );
  section(
    'different figures for the same thing',
    h.contradictions.map(
      (c) =>
        `${c.a.documentId}: "${toOneLine(c.a.sentence, 80)}" vs ${c.b.documentId}: "${toOneLine(c.b.sentence, 80)}"`,
    ),
  );
  return lines.join('\n');
}

async function gapReportFor(
  context: CliContext,
  options: { days: number; limit?: number; minSize?: number; now?: Date },
) {
  const { config } = context;
  const kbDeps = await context.kb();
  return buildGapReport(
    {
      ...kbDeps,
      llm: createLlmProvider(config, { embedder: kbDeps.embedder }),
      llmModel: config.ANTHROPIC_ANSWER_MODEL,
      minRetrievalScore: config.MIN_RETRIEVAL_SCORE,
      ...(options.now ? { now: () => options.now! } : {}),
    },
    gapReportOptionsSchema.parse({ days: options.days, limit: options.limit, minSize: options.minSize }),
  );
}

/** For `ticketflow report --html`: the gap report of the report's window, or why there is none. */
export async function gapSection(context: CliContext, from: Date, to: Date): Promise<GapSection> {
  const days = Math.min(365, Math.max(1, Math.ceil((to.getTime() - from.getTime()) / 86_400_000)));
  try {
    return { report: await gapReportFor(context, { days, now: to }) };
  } catch (error) {
    return { error: error instanceof Error ? error.message : String(error) };
  }
}

export function registerKbGapsCommand(program: Command, io: GapsCliIo, makeContext: () => CliContext): void {
  const kb = program.commands.find((c) => c.name() === 'kb') ?? program.command('kb');
  kb.command('gaps')
    .description(
      'Knowledge gaps: groups of recent escalations no article covers, suggested articles, article health',
    )
    .option('--days <n>', 'escalations of the last N days', wholeNumber(1, 365), 30)
    .option('--limit <n>', 'at most this many escalations, most recent first', wholeNumber(2, 1000), 500)
    .option('--min-size <n>', 'smallest group reported', wholeNumber(2, 100), 3)
    .option('--json', 'print the report as JSON')
    .action(async (options: { days: number; limit: number; minSize: number; json?: boolean }) => {
      const context = makeContext();
      try {
        const report = await gapReportFor(context, options);
        io.out(options.json ? JSON.stringify(report) : formatGapReport(report));
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        if (options.json) io.out(JSON.stringify({ error: message }));
        else io.err(`error: ${message}`);
        io.setExitCode(1);
      } finally {
        await context.close();
      }
    });
}
