import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import { integer } from './lib/cli-options';
import { gitCommit, isoDate, machineInfo, writeResultFile } from './lib/run-info';
import { summarize } from './lib/stats';
import { buildWorkflowBundles } from '../workers/bundle';

/**
 * Worker start time, two ways: the workflow bundle built when the worker starts (what `npm start` and the tests
 * do) and prebuilt (what the Docker image does: WORKFLOW_BUNDLE_DIR). Each run is a fresh
 * `node --import tsx workers/main.ts` process, timed from spawn to its "ticketflow worker started" log line
 * (connected, migrated, bundle loaded, worker created), then stopped with SIGTERM. Runs alternate between the
 * two ways so drift in machine load hits both. Needs the same services as `npm test`:
 *   node scripts/test.mjs --run bench/worker-start.ts [--runs 5]
 */

const ROOT = path.resolve(__dirname, '..');
const READY = 'ticketflow worker started';

interface Options {
  runs: number;
  warmup: number;
  /** One start of this kind, timed, then exit (for timing whole processes from outside). */
  one?: 'bundledAtStart' | 'prebuilt';
  bundleDir?: string;
}

function startWorker(env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'workers', 'main.ts')], {
      cwd: ROOT,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    let readyMs: number | undefined;
    const onData = (chunk: Buffer) => {
      output += chunk.toString('utf8');
      if (readyMs === undefined && output.includes(READY)) {
        readyMs = Number(process.hrtime.bigint() - started) / 1e6;
        child.kill('SIGTERM');
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (readyMs !== undefined) resolve(readyMs);
      else
        reject(new Error(`worker exited (${code ?? signal}) before it was ready:\n${output.slice(-2000)}`));
    });
  });
}

async function main(): Promise<void> {
  const program = new Command('worker-start')
    .option('--runs <n>', 'measured starts of each kind', integer(1), 5)
    .option('--warmup <n>', 'unmeasured starts of each kind first', integer(0), 1)
    .option('--one <kind>', 'start one worker (bundledAtStart | prebuilt), print its start time, exit')
    .option('--bundle-dir <dir>', 'with --one prebuilt: bundles built by `npx tsx workers/bundle.ts <dir>`')
    .parse();
  const options = program.opts<Options>();
  if (options.one) {
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      LOG_LEVEL: 'info',
      TEMPORAL_TASK_QUEUE: `bench-worker-start-${process.pid}`,
    };
    if (options.one === 'prebuilt') env.WORKFLOW_BUNDLE_DIR = options.bundleDir;
    else delete env.WORKFLOW_BUNDLE_DIR;
    console.log(`${options.one}: ${Math.round(await startWorker(env))} ms`);
    return;
  }
  const bundleDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ticketflow-bench-bundle-'));
  const buildStarted = Date.now();
  await buildWorkflowBundles(bundleDir);
  const buildMs = Date.now() - buildStarted;

  const baseEnv: NodeJS.ProcessEnv = {
    ...process.env,
    LOG_LEVEL: 'info',
    LLM_PROVIDER: 'local',
    TEMPORAL_TASK_QUEUE: `bench-worker-start-${process.pid}`,
    KB_COLLECTION: `kb_bench_worker_start_${process.pid}`,
  };
  delete baseEnv.WORKFLOW_BUNDLE_DIR;
  const kinds = {
    bundledAtStart: baseEnv,
    prebuilt: { ...baseEnv, WORKFLOW_BUNDLE_DIR: bundleDir },
  };
  const samples: Record<keyof typeof kinds, number[]> = { bundledAtStart: [], prebuilt: [] };
  try {
    for (let i = 0; i < options.warmup + options.runs; i++) {
      for (const kind of Object.keys(kinds) as Array<keyof typeof kinds>) {
        const ms = await startWorker(kinds[kind]);
        if (i >= options.warmup) samples[kind].push(ms);
        process.stderr.write(
          `${i < options.warmup ? 'warm-up' : `run ${i - options.warmup + 1}`} ${kind}: ${Math.round(ms)} ms\n`,
        );
      }
    }
  } finally {
    fs.rmSync(bundleDir, { recursive: true, force: true });
  }
  const result = {
    command: `node scripts/test.mjs --run bench/worker-start.ts --runs ${options.runs} --warmup ${options.warmup}`,
    commit: gitCommit(ROOT),
    machine: machineInfo(),
    bundleBuildMs: buildMs,
    startMs: {
      bundledAtStart: summarize(samples.bundledAtStart, 0),
      prebuilt: summarize(samples.prebuilt, 0),
    },
    samples,
  };
  const file = writeResultFile(
    path.join(ROOT, 'bench', 'results'),
    `worker-start-${isoDate()}.json`,
    JSON.stringify(result, null, 2),
  );
  const row = (kind: keyof typeof kinds) => {
    const s = result.startMs[kind];
    return `| ${kind} | ${s.p50} | ${s.min} | ${s.max} |`;
  };
  console.log(
    [
      `Worker start, ${options.runs} runs each (load average ${result.machine.loadAverage1m}); bundle build ${buildMs} ms`,
      '| workflow bundle | median ms | min | max |',
      '|---|---|---|---|',
      row('bundledAtStart'),
      row('prebuilt'),
      `written to ${path.relative(ROOT, file)}`,
    ].join('\n'),
  );
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
