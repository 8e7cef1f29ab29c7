/**
 * `node scripts/test.mjs --run bench/gaps-eval.ts`: the knowledge-gap report against the withheld CLINC150 intents,
 * alone (the same suite as `npm run eval -- --suites gaps`; protocol in bench/lib/gaps-suite.ts and bench/README.md).
 */
import path from 'node:path';
import { Command } from 'commander';
import { integer, vectorDbChoice } from './lib/cli-options';
import { REPO_ROOT } from './lib/datasets';
import { runGapsSuite, type GapsSuiteOptions } from './lib/gaps-suite';
import { cleanUpOnSignals } from './lib/stack';

function parseOptions(argv: string[]): GapsSuiteOptions {
  return new Command()
    .name('gaps-eval')
    .description('Knowledge-gap report against the withheld CLINC150 intents')
    .option('--seed <seed>', 'seed for sampling and shuffling', process.env.EVAL_SEED ?? '42')
    .option('--weeks <n>', 'learning weeks before the report', integer(1), 5)
    .option('--week-withheld <n>', 'tickets per withheld intent per week', integer(1), 5)
    .option('--week-kb <n>', 'tickets per intent with an article per week', integer(0), 1)
    .option('--week-oos <n>', 'out-of-scope tickets per week', integer(0), 6)
    .option(
      '--test-per-intent <n>',
      'fresh test queries per intent for the before/after batch',
      integer(1),
      10,
    )
    .option('--test-oos <n>', 'fresh out-of-scope queries in that batch', integer(0), 20)
    .option('--concurrency <n>', 'tickets in flight at once', integer(1), 6)
    .option('--out <dir>', 'where results are written', path.join(REPO_ROOT, 'bench', 'results'))
    .option('--vector-db <where>', 'private or env (as eval.ts)', vectorDbChoice, 'private')
    .parse(argv)
    .opts<GapsSuiteOptions>();
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv);
  cleanUpOnSignals();
  await runGapsSuite(
    options,
    `node scripts/test.mjs --run bench/gaps-eval.ts --seed ${options.seed} --weeks ${options.weeks} --week-withheld ${options.weekWithheld} --week-kb ${options.weekKb} --week-oos ${options.weekOos} --test-per-intent ${options.testPerIntent} --test-oos ${options.testOos}`,
  );
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err instanceof Error ? (err.stack ?? err.message) : err);
    process.exit(1);
  },
);
