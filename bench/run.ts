/**
 * `npm run bench`: ticketflow's real workflow (Temporal dev server, Postgres, embeddings, pgvector) against a
 * seed-style sequential baseline, on the same tickets, at the same concurrency, with the same LLM stand-in.
 * See bench/README.md for what is measured and how.
 */
import { Command, InvalidArgumentError } from 'commander';
import { databaseChoice, integer, vectorDbChoice } from './lib/cli-options';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { loadConfig, type Config } from '../src/config';
import type { TicketInput } from '../src/domain/ticket';
import {
  AnthropicProvider,
  anthropicOptions,
  buildPriceTable,
  createLlmProvider,
  planCall,
  resolvePrice,
  type CallPlan,
} from '../src/llm';
import type { LlmProvider } from '../src/llm/types';
import { startFakeAnthropic, type FakeAnthropic } from '../test/support/fake-anthropic';
import { handleTicketSequentially, type BaselineDeps } from './lib/baseline';
import {
  compareRuns,
  comparisonTable,
  summarizeRun,
  type RunRow,
  type RunSummary,
  type TokenCounts,
} from './lib/bench-report';
import { ACME_KB_DIR, loadAcmeTickets, loadClinc, REPO_ROOT } from './lib/datasets';
import { markdownTable, ms, pct } from './lib/markdown';
import { buildMix, buildPools, DEFAULT_SHARES, type MixPools, type MixTicket } from './lib/mix';
import { timingFromSteps } from './lib/overhead';
import { runWithConcurrency } from './lib/pool';
import { createRng } from './lib/prng';
import { startProgress } from './lib/progress';
import { gitCommit, isoDate, machineInfo, writeResultFile } from './lib/run-info';
import { cpuAvailable, cpuSnapshot, cpuSpent, type CpuSnapshot } from './lib/cpu';
import { budgetFromHistory, summariseBudgets, type BudgetSegment } from './lib/latency-budget';
import { cleanUpOnSignals, startRunStack, uniqueSuffix, type RunStack } from './lib/stack';

interface BenchOptions {
  tickets: number;
  concurrency: number;
  classifyLatency: number;
  generateLatency: number;
  zeroLatencyTickets: number;
  warmup: number;
  seed: string;
  out: string;
  zeroLatency: boolean;
  vectorDb: 'private' | 'env';
  database: 'postgres' | 'embedded';
  budgetSample: number;
  workers: number;
  llm: 'stand-in' | 'local';
  label?: string;
}

function parseOptions(argv: string[]): BenchOptions {
  const env = process.env;
  const program = new Command()
    .name('bench')
    .description(
      'Throughput, latency, orchestration overhead and cost of ticketflow vs a seed-style baseline',
    )
    .option(
      '-n, --tickets <n>',
      'tickets per measured run (env BENCH_TICKETS)',
      integer(1),
      Number(env.BENCH_TICKETS ?? 200),
    )
    .option(
      '-c, --concurrency <n>',
      'tickets in flight at once (env BENCH_CONCURRENCY)',
      integer(1),
      Number(env.BENCH_CONCURRENCY ?? 20),
    )
    .option(
      '--classify-latency <ms>',
      'fake LLM latency of a classify call (env BENCH_CLASSIFY_LATENCY_MS)',
      integer(0),
      Number(env.BENCH_CLASSIFY_LATENCY_MS ?? 350),
    )
    .option(
      '--generate-latency <ms>',
      'fake LLM latency of a generate call (env BENCH_GENERATE_LATENCY_MS)',
      integer(0),
      Number(env.BENCH_GENERATE_LATENCY_MS ?? 900),
    )
    .option('--zero-latency-tickets <n>', 'tickets per zero-latency run (default: --tickets)', integer(1))
    .option('--no-zero-latency', 'skip the zero-latency (orchestration ceiling) runs')
    .option(
      '--warmup <n>',
      'unmeasured tickets per system before each measured run',
      integer(0),
      Number(env.BENCH_WARMUP ?? 10),
    )
    .option('--seed <seed>', 'seed for the ticket mix (env BENCH_SEED)', env.BENCH_SEED ?? '42')
    .option('--out <dir>', 'where results are written', path.join(REPO_ROOT, 'bench', 'results'))
    .option(
      '--label <name>',
      'suffix for the result file names (<date>-<name>.json), to keep a non-default run apart',
      (v: string) => {
        if (!/^[a-z0-9-]+$/.test(v)) throw new InvalidArgumentError('lower-case letters, digits and - only');
        return v;
      },
    )
    .option(
      '--vector-db <where>',
      'private: a PGlite+pgvector server for this run; env: VECTOR_DATABASE_URL/QDRANT_URL',
      vectorDbChoice,
      'private',
    )
    .option(
      '--database <which>',
      'postgres: a fresh database on DATABASE_URL; embedded: one PGlite + pgvector server for everything, as npm start runs',
      databaseChoice,
      'postgres',
    )
    .option(
      '--workers <n>',
      '0: the worker runs inside the bench process; n: that many worker processes (workers/main.ts) share the task queue',
      integer(0),
      0,
    )
    .option(
      '--llm <which>',
      'stand-in: the Anthropic wire stand-in (classify/generate latencies apply); local: the offline provider, as `npm start` runs without a key (zero latencies only)',
      (v: string) => {
        if (v !== 'stand-in' && v !== 'local') throw new InvalidArgumentError('expected stand-in or local');
        return v;
      },
      'stand-in',
    )
    .option(
      '--budget-sample <n>',
      'tickets per run whose event histories make the latency budget (spread evenly over the run)',
      integer(1),
      20,
    )
    .parse(argv);
  const opts = program.opts<Omit<BenchOptions, 'zeroLatencyTickets'> & { zeroLatencyTickets?: number }>();
  if (opts.llm === 'local' && (opts.classifyLatency !== 0 || opts.generateLatency !== 0))
    throw new InvalidArgumentError(
      '--llm local computes its answers itself: use --classify-latency 0 --generate-latency 0',
    );
  return { ...opts, zeroLatencyTickets: opts.zeroLatencyTickets ?? opts.tickets };
}

/**
 * The stand-in classifies by keywords and gives 0.4 confidence to tickets without one, which a real model
 * would place confidently. Such in-scope tickets would escalate on low confidence and make ticketflow's gates
 * look cheaper than they are, so the in-scope pool keeps only tickets the stand-in classifies at or above the
 * confidence threshold; the other pools (critical, human request, out of scope) are kept whole.
 */
async function calibrateInScopePool(pools: MixPools, provider: LlmProvider, threshold: number) {
  const kept: MixTicket[] = [];
  const excluded: string[] = [];
  for (const ticket of pools.in_scope) {
    const { classification } = await provider.classify({ subject: ticket.subject, body: ticket.body });
    if (classification.confidence >= threshold) kept.push(ticket);
    else excluded.push(ticket.sourceId);
  }
  return { pools: { ...pools, in_scope: kept }, excluded };
}

/**
 * The provider as the worker builds it from config, pointed at a stand-in. The stand-in bills what the real API
 * would (src/llm/models.ts): the tool-use system prompt on the tool paths, the newer tokenizer's counts, and no
 * prompt cache below each model's minimum prefix.
 */
function anthropicAgainst(fake: FakeAnthropic, config: Config): AnthropicProvider {
  return new AnthropicProvider({ apiKey: 'bench-fake-key', baseURL: fake.url, ...anthropicOptions(config) });
}

function toTicketInput(ticket: MixTicket, externalId: string): TicketInput {
  return { externalId, subject: ticket.subject, body: ticket.body, customer: {}, channel: 'api' };
}

function perTicket(spent: CpuSnapshot, tickets: number): CpuSnapshot {
  const out = { ...spent };
  for (const key of Object.keys(out) as Array<keyof CpuSnapshot>) out[key] = out[key] / tickets;
  return out;
}

/** The last ticketflow run's submissions, for the latency budget read from their histories. */
let lastSubmitted: Awaited<ReturnType<RunStack['submitAndWait']>>[] = [];

/**
 * The latency budget of `sample` tickets of the last run: the client's start request, the critical path through
 * the event history (bench/lib/latency-budget.ts), and the harness's notification path (the interaction-log
 * write → LISTEN/NOTIFY → the harness).
 */
async function latencyBudget(stack: RunStack, sample: number) {
  // Spread over the whole run, not its first tickets: at c=20 those are the start-up burst, all submitted at once.
  const step = Math.max(1, lastSubmitted.length / Math.max(1, sample));
  const picked = Array.from(
    { length: Math.min(sample, lastSubmitted.length) },
    (_, i) => lastSubmitted[Math.floor(i * step)]!,
  );
  const budgets = await Promise.all(
    picked.map(async (s) => {
      const history = await stack.client.workflow.getHandle(s.workflowId).fetchHistory();
      const budget = budgetFromHistory(history);
      const extra: BudgetSegment[] = [
        {
          what: 'start request (client → WorkflowExecutionStarted)',
          ms: budget.startedAtMs - s.submittedWallMs,
        },
      ];
      if (budget.outcomeWrittenAtMs !== undefined)
        extra.push({
          what: 'harness notification (outcome written → harness)',
          ms: s.outcome.observedWallMs - budget.outcomeWrittenAtMs,
        });
      return { ...budget, segments: [...extra, ...budget.segments] };
    }),
  );
  const median = (values: number[]) =>
    [...values].sort((a, b) => a - b)[Math.floor((values.length - 1) / 2)] ?? 0;
  return {
    tickets: budgets.length,
    endToEndP50Ms: median(picked.map((s) => s.endToEndMs)),
    workflowTasksP50: median(budgets.map((b) => b.workflowTasks)),
    activitiesP50: median(budgets.map((b) => b.activities)),
    searchAttributeUpsertsP50: median(budgets.map((b) => b.searchAttributeUpserts)),
    segments: summariseBudgets(budgets),
  };
}

async function runTicketflow(
  stack: RunStack,
  tickets: readonly MixTicket[],
  concurrency: number,
  idPrefix: string,
  label: string,
) {
  const progress = startProgress(label, tickets.length);
  const submitted = await runWithConcurrency(
    tickets,
    concurrency,
    (ticket, index) => stack.submitAndWait(toTicketInput(ticket, `${idPrefix}-${index}`)),
    () => progress.tick(),
  );
  progress.stop();
  const ids = submitted.map((s) => s.workflowId);
  lastSubmitted = submitted;
  if (stack.config.SPECULATIVE_GENERATION) await discardedDraftsSettled(stack, ids);
  const steps = await stack.db
    .selectFrom('ticket_steps')
    .select([
      'workflow_id',
      'step',
      'status',
      'latency_ms',
      'detail',
      'input_tokens',
      'cached_input_tokens',
      'cache_write_tokens',
      'output_tokens',
      'cost_usd',
    ])
    .where('workflow_id', 'in', ids)
    .execute();
  return submitted.map((s, index): RunRow => {
    const own = steps.filter((row) => row.workflow_id === s.workflowId);
    const llmSteps = own.filter((row) => row.step === 'classify' || row.step === 'generate');
    const tokens: TokenCounts = {
      input: llmSteps.reduce((t, r) => t + r.input_tokens, 0),
      cachedInput: llmSteps.reduce((t, r) => t + r.cached_input_tokens, 0),
      cacheWrite: llmSteps.reduce((t, r) => t + r.cache_write_tokens, 0),
      output: llmSteps.reduce((t, r) => t + r.output_tokens, 0),
      costUsd: llmSteps.reduce((t, r) => t + Number(r.cost_usd), 0),
    };
    return {
      kind: tickets[index]!.kind,
      timing: timingFromSteps(s.endToEndMs, own, { escalated: s.outcome.escalated }),
      generated: own.some((row) => row.step === 'generate'),
      escalated: s.outcome.escalated,
      reason: s.outcome.reason,
      tokens,
      startedAt: s.submittedAt,
      finishedAt: s.outcome.observedAt,
    };
  });
}

/**
 * A draft a gate discarded is still being written when its ticket's outcome is recorded; its tokens are part of
 * the cost, so wait until the number of logged generate steps stops changing (three polls, 0.5 s apart).
 */
async function discardedDraftsSettled(stack: RunStack, ids: string[]): Promise<void> {
  let last = -1;
  for (let stable = 0, polls = 0; stable < 3 && polls < 120; polls++) {
    const { n } = await stack.db
      .selectFrom('ticket_steps')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('workflow_id', 'in', ids)
      .where('step', '=', 'generate')
      .executeTakeFirstOrThrow();
    stable = Number(n) === last ? stable + 1 : 0;
    last = Number(n);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

async function runBaseline(
  deps: BaselineDeps,
  tickets: readonly MixTicket[],
  concurrency: number,
  idPrefix: string,
  label: string,
) {
  const progress = startProgress(label, tickets.length);
  const rows = await runWithConcurrency(
    tickets,
    concurrency,
    async (ticket, index): Promise<RunRow> => {
      const startedAt = performance.now();
      const result = await handleTicketSequentially(deps, `${idPrefix}-${index}`, {
        subject: ticket.subject,
        body: ticket.body,
      });
      const finishedAt = performance.now();
      return {
        kind: ticket.kind,
        timing: {
          endToEndMs: result.endToEndMs,
          classifyLlmMs: result.classifyLlmMs,
          retrieveMs: result.retrieveMs,
          generateLlmMs: result.generateLlmMs,
        },
        generated: true,
        escalated: result.escalated,
        reason: result.reason,
        tokens: {
          input: result.usage.reduce((t, u) => t + u.inputTokens, 0),
          cachedInput: result.usage.reduce((t, u) => t + u.cachedInputTokens, 0),
          cacheWrite: result.usage.reduce((t, u) => t + u.cacheWriteTokens, 0),
          output: result.usage.reduce((t, u) => t + u.outputTokens, 0),
          costUsd: result.usage.reduce((t, u) => t + u.costUsd, 0),
        },
        startedAt,
        finishedAt,
      };
    },
    () => progress.tick(),
  );
  progress.stop();
  return rows;
}

interface PhaseResult {
  latencyMs: { classify: number; generate: number };
  ticketflow: RunSummary;
  baseline: RunSummary;
  ratios: ReturnType<typeof compareRuns>;
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv);
  cleanUpOnSignals();
  const startedAt = new Date();
  const baseConfig = loadConfig({ LOG_LEVEL: 'warn', FOLLOW_UP_WINDOW_MINUTES: '0', ...process.env });
  const rng = createRng(options.seed);
  const acme = loadAcmeTickets();
  const { subset } = loadClinc();
  const machineStart = machineInfo();

  // One stand-in for every LLM call of the run (in-process or in worker processes); phases set its latencies.
  const llmFake = await startFakeAnthropic({
    classifyLatencyMs: options.classifyLatency,
    answerLatencyMs: options.generateLatency,
  });
  const zeroFake = await startFakeAnthropic({ classifyLatencyMs: 0, answerLatencyMs: 0 });
  const zeroLatency = anthropicAgainst(zeroFake, baseConfig);
  const llm = anthropicAgainst(llmFake, baseConfig);

  const calibrated = await calibrateInScopePool(
    buildPools(acme, subset.oos.test),
    zeroLatency,
    baseConfig.CONFIDENCE_THRESHOLD,
  );
  const pools = calibrated.pools;
  const measured = buildMix(pools, options.tickets, rng.fork('measured'));
  const zeroMeasured = buildMix(pools, options.zeroLatencyTickets, rng.fork('zero-latency'));
  const warmup = buildMix(pools, options.warmup, rng.fork('warmup'));

  process.stderr.write(
    `Starting the stack (Temporal ${baseConfig.TEMPORAL_ADDRESS}, ${options.database === 'embedded' ? 'private PGlite for everything' : 'fresh Postgres database'}, new KB collection)…\n`,
  );
  const stack = await startRunStack({
    label: 'bench',
    env: {
      LOG_LEVEL: 'warn',
      // The bench measures tickets that close at their first reply (no follow-up window).
      FOLLOW_UP_WINDOW_MINUTES: process.env.FOLLOW_UP_WINDOW_MINUTES ?? '0',
      ...(options.llm === 'local'
        ? { LLM_PROVIDER: 'local' }
        : {
            LLM_PROVIDER: 'anthropic',
            ANTHROPIC_API_KEY: 'bench-fake-key',
            ANTHROPIC_BASE_URL: llmFake.url,
          }),
    },
    overrides: options.llm === 'local' ? {} : { llm },
    vectorDb: options.vectorDb,
    database: options.database,
    workerProcesses: options.workers,
  });
  const config = stack.config;
  const runId = `bench-${uniqueSuffix()}`;
  const phases: Record<string, PhaseResult> = {};
  const budgets: Record<string, Awaited<ReturnType<typeof latencyBudget>>> = {};
  const cpu: Record<string, { ticketflow: CpuSnapshot; baseline: CpuSnapshot }> = {};
  try {
    const ingestProgress = startProgress('Ingesting kb/acme', 1);
    const kb = await stack.ingest([ACME_KB_DIR]);
    ingestProgress.tick();
    ingestProgress.stop();
    process.stderr.write(`KB: ${kb.documents} documents, ${kb.chunks} chunks\n`);

    const baselineDeps: BaselineDeps = {
      // Both systems use the same provider: the stand-in, or the offline one the worker uses.
      llm:
        options.llm === 'local'
          ? createLlmProvider({ ...config, LLM_PROVIDER: 'local' }, { embedder: stack.deps.embedder })
          : llm,
      embedder: stack.deps.embedder,
      store: stack.deps.store,
      db: stack.db,
      topK: config.RETRIEVAL_TOP_K,
      confidenceThreshold: config.CONFIDENCE_THRESHOLD,
    };

    const runPhase = async (name: string, tickets: MixTicket[], latency: PhaseResult['latencyMs']) => {
      llmFake.setLatencies({ classifyLatencyMs: latency.classify, answerLatencyMs: latency.generate });
      if (warmup.length > 0) {
        await runTicketflow(
          stack,
          warmup,
          options.concurrency,
          `${runId}-${name}-warm`,
          `[${name}] warm-up ticketflow`,
        );
        await runBaseline(
          baselineDeps,
          warmup,
          options.concurrency,
          `${runId}-${name}-warm`,
          `[${name}] warm-up baseline`,
        );
      }
      const tfCpuBefore = cpuSnapshot(stack.workerPids());
      const tf = await runTicketflow(
        stack,
        tickets,
        options.concurrency,
        `${runId}-${name}`,
        `[${name}] ticketflow`,
      );
      const tfCpu = cpuSpent(tfCpuBefore, cpuSnapshot(stack.workerPids()));
      const blCpuBefore = cpuSnapshot();
      const bl = await runBaseline(
        baselineDeps,
        tickets,
        options.concurrency,
        `${runId}-${name}`,
        `[${name}] baseline`,
      );
      const blCpu = cpuSpent(blCpuBefore, cpuSnapshot());
      cpu[name] = {
        ticketflow: perTicket(tfCpu, tickets.length),
        baseline: perTicket(blCpu, tickets.length),
      };
      budgets[name] = await latencyBudget(stack, options.budgetSample);
      const ticketflow = summarizeRun('ticketflow', tf, options.concurrency);
      const baseline = summarizeRun('baseline', bl, options.concurrency);
      phases[name] = { latencyMs: latency, ticketflow, baseline, ratios: compareRuns(ticketflow, baseline) };
    };

    await runPhase('latency', measured, {
      classify: options.classifyLatency,
      generate: options.generateLatency,
    });
    if (options.zeroLatency) await runPhase('zero-latency', zeroMeasured, { classify: 0, generate: 0 });
  } finally {
    await stack.close();
    await llmFake.close();
    await zeroFake.close();
  }

  const finishedAt = new Date();
  const date = isoDate(startedAt);
  const command =
    `npm run bench -- --tickets ${options.tickets} --concurrency ${options.concurrency} --classify-latency ${options.classifyLatency} ` +
    `--generate-latency ${options.generateLatency} --seed ${options.seed} --vector-db ${options.vectorDb} --database ${options.database}` +
    `${options.workers ? ` --workers ${options.workers}` : ''}` +
    `${options.zeroLatency ? '' : ' --no-zero-latency'}${options.llm === 'local' ? ' --llm local' : ''}${options.warmup !== 10 ? ` --warmup ${options.warmup}` : ''}${options.label ? ` --label ${options.label}` : ''}`;
  const prices = buildPriceTable(config.LLM_PRICES);
  const counts = (tickets: MixTicket[]) =>
    tickets.reduce<Record<string, number>>((acc, t) => ({ ...acc, [t.kind]: (acc[t.kind] ?? 0) + 1 }), {});
  const result = {
    schema: 'ticketflow-bench/1',
    date,
    startedAt: startedAt.toISOString(),
    finishedAt: finishedAt.toISOString(),
    durationSeconds: Math.round((finishedAt.getTime() - startedAt.getTime()) / 1000),
    command,
    commit: gitCommit(REPO_ROOT),
    machine: { ...machineStart, loadAverage1mAtEnd: machineInfo().loadAverage1m },
    settings: {
      tickets: options.tickets,
      zeroLatencyTickets: options.zeroLatency ? options.zeroLatencyTickets : 0,
      concurrency: options.concurrency,
      warmupPerSystem: options.warmup,
      seed: options.seed,
      llm: options.llm,
      fakeLatencyMs: { classify: options.classifyLatency, generate: options.generateLatency },
      targetShares: DEFAULT_SHARES,
      mix: counts(measured),
      pools: {
        inScope: pools.in_scope.length,
        inScopeExcludedForLowStandInConfidence: calibrated.excluded,
        critical: pools.critical.length,
        humanRequest: pools.human_request.length,
        outOfScope: pools.out_of_scope.length,
      },
      vectorDb: options.vectorDb,
      database: options.database,
      workerProcesses: options.workers,
      models: { classify: config.ANTHROPIC_CLASSIFY_MODEL, answer: config.ANTHROPIC_ANSWER_MODEL },
      // How each call asks for its result (src/llm/models.ts): JSON outputs bill no tool-use system prompt.
      calls: {
        classify: planCall(config.ANTHROPIC_CLASSIFY_MODEL, {
          thinking: false,
          effort: config.ANTHROPIC_CLASSIFY_EFFORT,
          path: config.ANTHROPIC_STRUCTURED_OUTPUT,
          maxTokens: config.LLM_MAX_TOKENS,
        }),
        answer: planCall(config.ANTHROPIC_ANSWER_MODEL, {
          thinking: config.ANTHROPIC_ANSWER_THINKING,
          effort: config.ANTHROPIC_ANSWER_EFFORT,
          path: config.ANTHROPIC_STRUCTURED_OUTPUT,
          maxTokens: config.LLM_MAX_TOKENS,
        }),
      },
      prices: {
        [config.ANTHROPIC_CLASSIFY_MODEL]: resolvePrice(config.ANTHROPIC_CLASSIFY_MODEL, prices) ?? null,
        [config.ANTHROPIC_ANSWER_MODEL]: resolvePrice(config.ANTHROPIC_ANSWER_MODEL, prices) ?? null,
      },
      policy: {
        confidenceThreshold: config.CONFIDENCE_THRESHOLD,
        minRetrievalScore: config.MIN_RETRIEVAL_SCORE,
        retrievalTopK: config.RETRIEVAL_TOP_K,
        speculativeGeneration: config.SPECULATIVE_GENERATION,
      },
      databasePoolMax: config.DATABASE_POOL_MAX,
      vectorStore: config.VECTOR_STORE,
      embeddingModel: config.EMBEDDING_MODEL,
    },
    definitions: {
      endToEnd:
        'ticketflow: from just before startTicket() until the workflow recorded the outcome in the interaction log (reply delivered, or escalation handed to humans), observed via Postgres NOTIFY; baseline: one call of the sequential handler',
      llmTime:
        'classify call + generate call (0 if generation was skipped), from ticket_steps.latency_ms / the provider usage',
      orchestrationOverhead: 'end-to-end − LLM time, per ticket',
      overheadBeyondWork:
        'end-to-end − critical-path work; work = max(classify, retrieve) + generate for ticketflow (parallel triage), classify + retrieve + generate for the baseline',
      throughput: 'measured tickets ÷ (last outcome − first submission)',
    },
    runs: phases,
    latencyBudget: budgets,
    cpuSecondsPerTicket: cpuAvailable() ? cpu : undefined,
  };

  const markdown = renderMarkdown(result);
  const baseName = options.label ? `${date}-${options.label}` : date;
  const jsonFile = writeResultFile(options.out, `${baseName}.json`, JSON.stringify(result, null, 2));
  const mdFile = writeResultFile(options.out, `${baseName}.md`, markdown);
  process.stdout.write(`\n${markdown}\n`);
  process.stderr.write(
    `Results: ${path.relative(process.cwd(), jsonFile)}, ${path.relative(process.cwd(), mdFile)}\n`,
  );
}

interface ResultForMarkdown {
  date: string;
  command: string;
  commit: string | null;
  durationSeconds: number;
  machine: {
    cpus: number;
    cpuModel: string;
    memoryGiB: number;
    node: string;
    loadAverage1m: number;
    loadAverage1mAtEnd: number;
  };
  settings: {
    tickets: number;
    concurrency: number;
    mix: Record<string, number>;
    models: { classify: string; answer: string };
    calls?: { classify: CallPlan; answer: CallPlan };
    policy?: { speculativeGeneration?: boolean };
    llm?: 'stand-in' | 'local';
  };
  runs: Record<string, PhaseResult>;
  latencyBudget?: Record<string, Awaited<ReturnType<typeof latencyBudget>>>;
  cpuSecondsPerTicket?: Record<string, { ticketflow: CpuSnapshot; baseline: CpuSnapshot }>;
}

function callNote(plan: CallPlan | undefined): string {
  return plan ? `: ${plan.path}, thinking ${plan.thinkingOn ? 'on' : 'off'}` : '';
}

function renderMarkdown(result: ResultForMarkdown): string {
  const lines: string[] = [];
  const m = result.machine;
  lines.push(`# ticketflow benchmark — ${result.date}`);
  lines.push('');
  lines.push(
    `Command: \`${result.command}\` (commit ${result.commit ?? 'unknown'}, ${result.durationSeconds} s in total).`,
  );
  lines.push(
    `Machine: ${m.cpus} × ${m.cpuModel}, ${m.memoryGiB} GiB, Node ${m.node}; 1-minute load average ${m.loadAverage1m} at start, ${m.loadAverage1mAtEnd} at end.`,
  );
  const mix = result.settings.mix;
  lines.push(
    `Ticket mix (${result.settings.tickets} tickets, concurrency ${result.settings.concurrency}): ` +
      Object.entries(mix)
        .map(([kind, n]) => `${kind} ${n}`)
        .join(', ') +
      (result.settings.llm === 'local'
        ? '. LLM: the offline provider (as `npm start` without a key), in both systems; no model calls, $0.'
        : `. LLM: the wire-level Anthropic stand-in, priced as ${result.settings.models.classify} (classify${callNote(result.settings.calls?.classify)}) and ${result.settings.models.answer} (generate${callNote(result.settings.calls?.answer)}).`) +
      ` Speculative generation: ${result.settings.policy?.speculativeGeneration ? 'on' : 'off'}.`,
  );
  for (const [name, phase] of Object.entries(result.runs)) {
    const budget = result.latencyBudget?.[name];
    lines.push('');
    lines.push(
      name === 'latency'
        ? `## With LLM latency (classify ${phase.latencyMs.classify} ms, generate ${phase.latencyMs.generate} ms)`
        : '## Zero LLM latency (orchestration ceiling on this machine)',
    );
    lines.push('');
    lines.push(comparisonTable(phase.ticketflow, phase.baseline, phase.ratios, name === 'latency'));
    const cpuUse = result.cpuSecondsPerTicket?.[name];
    if (cpuUse) {
      lines.push('');
      lines.push(
        'CPU milliseconds per ticket, by process, while each system ran (from /proc; the harness, the fake LLM and ' +
          'the in-process worker share one process; postgres is the whole cluster):',
      );
      lines.push('');
      const components = (Object.keys(cpuUse.ticketflow) as Array<keyof CpuSnapshot>).filter(
        (c) => cpuUse.ticketflow[c] > 0 || cpuUse.baseline[c] > 0,
      );
      const total = (s: CpuSnapshot) => Object.values(s).reduce((a, b) => a + b, 0);
      lines.push(
        markdownTable(
          ['', ...components, 'total'],
          (['ticketflow', 'baseline'] as const).map((system) => [
            system,
            ...components.map((c) => (cpuUse[system][c] * 1000).toFixed(1)),
            (total(cpuUse[system]) * 1000).toFixed(1),
          ]),
        ),
      );
    }
    if (budget) {
      lines.push('');
      lines.push(
        `Latency budget (${budget.tickets} tickets' event histories; end-to-end p50 ${ms(budget.endToEndP50Ms)}; ` +
          `per ticket p50: ${budget.workflowTasksP50} workflow tasks, ${budget.activitiesP50} activities on the critical path, ` +
          `${budget.searchAttributeUpsertsP50} search-attribute upserts). Local activities run inside the workflow task that lists them.`,
      );
      lines.push('');
      lines.push(
        markdownTable(
          ['segment (critical path, in order)', 'p50', 'mean'],
          budget.segments.map((segment) => [segment.what, ms(segment.p50), ms(segment.mean)]),
        ),
      );
    }
    if (name === 'latency') {
      lines.push('');
      lines.push('Per kind of ticket (ticketflow):');
      lines.push('');
      lines.push(
        markdownTable(
          ['kind', 'tickets', 'paid for generation', 'E2E p50', '$ per ticket', 'baseline $ per ticket'],
          Object.entries(phase.ticketflow.byKind).map(([kind, v]) => [
            kind,
            v.tickets,
            pct(v.generationShare),
            ms(v.endToEndP50Ms),
            `$${v.costPerTicketUsd.toFixed(5)}`,
            `$${(phase.baseline.byKind[kind]?.costPerTicketUsd ?? NaN).toFixed(5)}`,
          ]),
        ),
      );
      lines.push('');
      lines.push(
        'Escalation reasons (ticketflow): ' +
          (Object.entries(phase.ticketflow.escalationReasons)
            .map(([reason, n]) => `${reason} ${n}`)
            .join(', ') || 'none'),
      );
    }
  }
  lines.push('');
  lines.push(
    'Orchestration overhead = end-to-end − LLM time (classify + generate calls); "overhead beyond work" also subtracts retrieval ' +
      '(ticketflow runs it in parallel with classification, so only max(classify, retrieve) counts). See bench/README.md.',
  );
  return lines.join('\n') + '\n';
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err instanceof Error ? (err.stack ?? err.message) : err);
    process.exit(1);
  },
);
