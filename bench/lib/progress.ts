import cliProgress from 'cli-progress';
import { performance } from 'node:perf_hooks';

/** A progress bar on stderr (drawn only on a terminal), with a one-line summary when the phase ends. */
export function startProgress(label: string, total: number): { tick(): void; stop(): void } {
  const bar = new cliProgress.SingleBar(
    {
      format: `${label.padEnd(34)} [{bar}] {value}/{total}  {duration_formatted}`,
      stream: process.stderr,
      hideCursor: true,
      clearOnComplete: true,
    },
    cliProgress.Presets.shades_classic,
  );
  const started = performance.now();
  let done = 0;
  bar.start(total, 0);
  return {
    tick() {
      done += 1;
      bar.increment();
    },
    stop() {
      bar.stop();
      process.stderr.write(
        `${label}: ${done}/${total} in ${((performance.now() - started) / 1000).toFixed(1)} s\n`,
      );
    },
  };
}
