import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { run } from './processes.mjs';
import { repoRoot } from './paths.mjs';

const STAMP = path.join(repoRoot, 'node_modules', '.ticketflow-lock-sha256');
const lockHash = () =>
  crypto
    .createHash('sha256')
    .update(fs.readFileSync(path.join(repoRoot, 'package-lock.json')))
    .digest('hex');

/**
 * Why node_modules needs (re)installing, or undefined when it matches package-lock.json. Fresh when the
 * lockfile hash equals the one recorded at our last install, or when npm's own hidden lockfile
 * (node_modules/.package-lock.json, written at the end of every install) is at least as new as
 * package-lock.json — someone installed after the lockfile last changed.
 */
export function dependenciesStaleReason() {
  const nodeModules = path.join(repoRoot, 'node_modules');
  const lockfile = path.join(repoRoot, 'package-lock.json');
  if (!fs.existsSync(nodeModules)) return 'node_modules is missing';
  if (!fs.existsSync(lockfile)) return undefined;
  const hash = lockHash();
  if (fs.existsSync(STAMP) && fs.readFileSync(STAMP, 'utf8').trim() === hash) return undefined;
  const hidden = path.join(nodeModules, '.package-lock.json');
  if (fs.existsSync(hidden) && fs.statSync(hidden).mtimeMs >= fs.statSync(lockfile).mtimeMs) {
    fs.writeFileSync(STAMP, `${hash}\n`);
    return undefined;
  }
  return 'package-lock.json is newer than the installed node_modules';
}

/** `npm ci` (or `npm install` without a lockfile) only when node_modules is missing or stale. */
export async function ensureDependencies(logger) {
  const reason = dependenciesStaleReason();
  if (!reason) {
    logger.ok('node_modules matches package-lock.json');
    return;
  }
  const hasLock = fs.existsSync(path.join(repoRoot, 'package-lock.json'));
  const args = hasLock ? ['ci', '--no-audit', '--no-fund'] : ['install', '--no-audit', '--no-fund'];
  logger.step(`${reason}: running npm ${args.join(' ')}`);
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const result = await run(npm, args, { cwd: repoRoot });
  if (result.code !== 0) throw new Error(`npm ${args[0]} failed with exit code ${result.code}`);
  if (hasLock) fs.writeFileSync(STAMP, `${lockHash()}\n`);
}
