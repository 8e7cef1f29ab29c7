import net from 'node:net';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { Command } from 'commander';
import { loadConfig } from '../src/config';
import { temporalConnectionSettings } from '../src/temporal/connection';
import { integer } from './lib/cli-options';
import {
  parseHistogramTotals,
  workflowTaskTimings,
  type Series,
  type WorkflowTaskTimings,
} from './lib/core-metrics';
import { cpuAvailable, cpuSnapshot, cpuSpent } from './lib/cpu';
import type { FloorActivities } from './lib/floor-workflows';
import { markdownTable } from './lib/markdown';
import { runWithConcurrency } from './lib/pool';
import { gitCommit, isoDate, machineInfo, writeResultFile } from './lib/run-info';
import { summarize, type Summary } from './lib/stats';

/**
 * The platform's floor: what workflows that do nothing cost on this machine, in the shapes of a ticket's path
 * (bench/lib/floor-workflows.ts), on the same Temporal dev server and SDK as `npm run bench`. Issue 15's targets
 * are read against it: ticketflow's overhead beyond work minus the floor of its shape is what ticketflow's own
 * code and bookkeeping cost. It is a lower bound for a ticket: no patch markers, search-attribute upserts,
 * payload encryption or activity bodies. Needs the same services as `npm test`:
 *   node scripts/test.mjs --run bench/temporal-floor.ts [--runs 100] [--load 300]
 */

const ROOT = path.resolve(__dirname, '..');
const SHAPES = ['emptyShape', 'activitiesShape', 'localShape'] as const;
type Shape = (typeof SHAPES)[number];

const SHAPE_LABELS: Record<Shape, string> = {
  emptyShape: 'empty (no activity)',
  activitiesShape: 'escalated ticket, Claude path (3 local, 2 activities)',
  localShape: 'escalated ticket, offline path (5 local)',
};

interface Options {
  runs: number;
  load: number;
  concurrency: number;
  warmup: number;
  out: string;
}

interface PhaseResult {
  shape: Shape;
  concurrency: number;
  workflows: number;
  workflowsPerSecond: number;
  /** Client: from the start request until the result arrived. */
  endToEndMs: Summary;
  /** This process holds the client and the worker (as `npm run bench` does); Temporal is the dev server. */
  cpuMsPerWorkflow: { clientAndWorker: number; temporal: number } | null;
  core: WorkflowTaskTimings;
}

function parseOptions(): Options {
  return new Command('temporal-floor')
    .option('--runs <n>', 'workflows per shape at concurrency 1', integer(1), 100)
    .option('--load <n>', 'workflows per shape at --concurrency', integer(1), 300)
    .option('--concurrency <n>', 'lanes for the load phase', integer(1), 20)
    .option('--warmup <n>', 'unmeasured workflows of each shape first', integer(0), 10)
    .option('--out <dir>', 'where results are written', path.join(ROOT, 'bench', 'results'))
    .parse()
    .opts<Options>();
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

async function scrape(url: string): Promise<Series> {
  return parseHistogramTotals(await (await fetch(url)).text());
}

const round = (value: number) => Math.round(value * 10) / 10;

async function main(): Promise<void> {
  const options = parseOptions();
  const config = loadConfig();
  const metricsPort = await freePort();
  const metricsUrl = `http://127.0.0.1:${metricsPort}/metrics`;
  Runtime.install({
    telemetryOptions: { metrics: { prometheus: { bindAddress: `127.0.0.1:${metricsPort}` } } },
  });

  const { address, tls, apiKey } = temporalConnectionSettings(config);
  const auth = { ...(tls ? { tls } : {}), ...(apiKey ? { apiKey } : {}) };
  const taskQueue = `bench-floor-${process.pid}-${Date.now().toString(36)}`;
  const nothing: FloorActivities = { nothing: async () => undefined };
  const worker = await Worker.create({
    connection: await NativeConnection.connect({ address, ...auth }),
    namespace: config.TEMPORAL_NAMESPACE,
    taskQueue,
    workflowsPath: require.resolve('./lib/floor-workflows'),
    activities: nothing,
    // As the ticket worker (workers/main.ts); everything else at the SDK's defaults, as there.
    maxConcurrentActivityTaskExecutions: config.WORKER_MAX_CONCURRENT_ACTIVITIES,
  });
  const client = new Client({
    connection: await Connection.connect({ address, ...auth }),
    namespace: config.TEMPORAL_NAMESPACE,
  });
  const running = worker.run();

  let started = 0;
  const once = async (shape: Shape): Promise<number> => {
    const t0 = performance.now();
    const handle = await client.workflow.start(shape, { taskQueue, workflowId: `${taskQueue}-${started++}` });
    await handle.result();
    return performance.now() - t0;
  };
  const phase = async (shape: Shape, workflows: number, concurrency: number): Promise<PhaseResult> => {
    const metricsBefore = await scrape(metricsUrl);
    const cpuBefore = cpuAvailable() ? cpuSnapshot() : undefined;
    const t0 = performance.now();
    const latencies = await runWithConcurrency(
      Array.from({ length: workflows }, () => shape),
      concurrency,
      once,
    );
    const seconds = (performance.now() - t0) / 1000;
    const cpu = cpuBefore ? cpuSpent(cpuBefore, cpuSnapshot()) : undefined;
    const metricsAfter = await scrape(metricsUrl);
    return {
      shape,
      concurrency,
      workflows,
      workflowsPerSecond: round(workflows / seconds),
      endToEndMs: summarize(latencies),
      cpuMsPerWorkflow: cpu
        ? {
            clientAndWorker: round((cpu['harness+worker'] * 1000) / workflows),
            temporal: round((cpu.temporal * 1000) / workflows),
          }
        : null,
      core: workflowTaskTimings(metricsBefore, metricsAfter, workflows),
    };
  };

  const results: PhaseResult[] = [];
  try {
    for (const shape of SHAPES) {
      for (let i = 0; i < options.warmup; i++) await once(shape);
      results.push(await phase(shape, options.runs, 1));
      process.stderr.write(`${shape}: c=1 done\n`);
      results.push(await phase(shape, options.load, options.concurrency));
      process.stderr.write(`${shape}: c=${options.concurrency} done\n`);
    }
  } finally {
    worker.shutdown();
    await running;
    await client.connection.close();
  }

  const command =
    `node scripts/test.mjs --run bench/temporal-floor.ts --runs ${options.runs} --load ${options.load} ` +
    `--concurrency ${options.concurrency} --warmup ${options.warmup}`;
  const machine = machineInfo();
  const stamp = isoDate();
  const jsonFile = writeResultFile(
    options.out,
    `temporal-floor-${stamp}.json`,
    JSON.stringify({ command, commit: gitCommit(ROOT), machine, results }, null, 2),
  );
  const c1 = results.filter((r) => r.concurrency === 1);
  const loaded = results.filter((r) => r.concurrency > 1);
  const cpu = (r: PhaseResult) =>
    r.cpuMsPerWorkflow ? `${r.cpuMsPerWorkflow.clientAndWorker} / ${r.cpuMsPerWorkflow.temporal}` : 'n/a';
  const summary = [
    `# Temporal floor — ${stamp}`,
    '',
    `Command: \`${command}\` (commit ${gitCommit(ROOT) ?? 'unknown'}).`,
    `Machine: ${machine.cpus} × ${machine.cpuModel}, Node ${machine.node}; 1-minute load average ${machine.loadAverage1m} at the end.`,
    'Workflows that do nothing (bench/lib/floor-workflows.ts); one worker in this process, as `npm run bench` runs it.',
    '',
    `## Concurrency 1 (${options.runs} workflows per shape)`,
    '',
    markdownTable(
      [
        'shape',
        'E2E p50 / p95',
        'workflow tasks',
        'per task: in the worker',
        'matching (schedule → start)',
        'completion RPC',
      ],
      c1.map((r) => [
        SHAPE_LABELS[r.shape],
        `${r.endToEndMs.p50} / ${r.endToEndMs.p95} ms`,
        String(r.core.workflowTasksPerWorkflow),
        `${r.core.workflowTaskInWorkerMs} ms`,
        `${r.core.workflowTaskScheduleToStartMs} ms`,
        `${r.core.respondWorkflowTaskCompletedMs} ms`,
      ]),
    ),
    '',
    `## Concurrency ${options.concurrency} (${options.load} workflows per shape)`,
    '',
    markdownTable(
      ['shape', 'workflows/s', 'E2E p50 / p95', 'CPU ms per workflow: client+worker / Temporal'],
      loaded.map((r) => [
        SHAPE_LABELS[r.shape],
        String(r.workflowsPerSecond),
        `${r.endToEndMs.p50} / ${r.endToEndMs.p95} ms`,
        cpu(r),
      ]),
    ),
    '',
    'Timings per workflow task are means of the SDK core\'s histograms: "in the worker" runs from the activation',
    "reaching the SDK's Node side until its completion returns (local activities run inside it); matching and the",
    'completion RPC are the server. A ticket adds patch markers, search-attribute upserts, payload encryption and',
    'the activities themselves, so this is a lower bound for it.',
  ].join('\n');
  const mdFile = writeResultFile(options.out, `temporal-floor-${stamp}.md`, summary);
  console.log(summary);
  console.log(`\nResults: ${path.relative(ROOT, jsonFile)}, ${path.relative(ROOT, mdFile)}`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
