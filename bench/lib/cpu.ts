import fs from 'node:fs';

/**
 * CPU time by component on this machine, read from /proc (Linux): this process (the harness and, when it runs
 * in-process, the worker with its embedding thread), other worker processes, the Temporal dev server, and the
 * databases (Postgres: live backends plus what the postmaster reaped; PGlite servers). Two snapshots give the
 * CPU-seconds each component spent in between.
 */

export type Component = 'harness+worker' | 'worker processes' | 'temporal' | 'postgres' | 'pglite';
export type CpuSnapshot = Record<Component, number>;

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

interface ProcInfo {
  pid: number;
  ppid: number;
  comm: string;
  cmdline: string;
  /** utime + stime, seconds. */
  own: number;
  /** cutime + cstime (children it has waited for), seconds. */
  children: number;
}

function readProc(pid: number): ProcInfo | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // comm is in parentheses and may contain spaces: split after the last ')'.
    const close = stat.lastIndexOf(')');
    const comm = stat.slice(stat.indexOf('(') + 1, close);
    const fields = stat.slice(close + 2).split(' ');
    // fields[0] is state (field 3); utime is field 14 → index 11.
    const n = (i: number) => Number(fields[i]);
    const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
    return {
      pid,
      ppid: n(1),
      comm,
      cmdline,
      own: (n(11) + n(12)) / TICKS_PER_SECOND,
      children: (n(13) + n(14)) / TICKS_PER_SECOND,
    };
  } catch {
    return undefined; // exited meanwhile, or not readable
  }
}

export function cpuAvailable(): boolean {
  return fs.existsSync('/proc/self/stat');
}

/** `workerPids`: separate worker processes started by the harness (their own CPU, threads included). */
export function cpuSnapshot(workerPids: number[] = []): CpuSnapshot {
  const snapshot: CpuSnapshot = {
    'harness+worker': 0,
    'worker processes': 0,
    temporal: 0,
    postgres: 0,
    pglite: 0,
  };
  const usage = process.cpuUsage();
  snapshot['harness+worker'] = (usage.user + usage.system) / 1e6;
  const procs = fs
    .readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .map((name) => readProc(Number(name)))
    .filter((p): p is ProcInfo => p !== undefined);
  for (const p of procs) {
    if (workerPids.includes(p.pid)) snapshot['worker processes'] += p.own;
    else if (/\btemporal\b.*\bstart-dev\b/.test(p.cmdline)) snapshot.temporal += p.own;
    else if (p.cmdline.includes('pglite-serve')) snapshot.pglite += p.own;
    else if (p.comm === 'postgres') {
      // The postmaster also carries the CPU of backends that have exited (reaped children).
      const isPostmaster = procs.find((q) => q.pid === p.ppid)?.comm !== 'postgres';
      snapshot.postgres += p.own + (isPostmaster ? p.children : 0);
    }
  }
  return snapshot;
}

export function cpuSpent(before: CpuSnapshot, after: CpuSnapshot): CpuSnapshot {
  const spent = { ...after };
  for (const key of Object.keys(spent) as Component[]) {
    spent[key] = Math.max(0, Math.round((after[key] - before[key]) * 1000) / 1000);
  }
  return spent;
}
