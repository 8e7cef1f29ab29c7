import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { run } from './processes.mjs';
import { findExecutable, repoRoot } from './paths.mjs';

/**
 * kustomize renders deploy/k8s's overlays in `npm test` (test/infra/kubernetes.test.ts). Built from the Go
 * module proxy like the Temporal CLI, pinned, cached in .tools/kustomize/ (TICKETFLOW_TOOLS_DIR relocates it).
 * v5.8.1 is the newest release that builds with Go 1.24 (v5.8.2 needs 1.26, v5.8.3 1.27).
 */
export const KUSTOMIZE_GO_MODULE = 'sigs.k8s.io/kustomize/kustomize/v5';
export const KUSTOMIZE_GO_VERSION = 'v5.8.1';

export const cachedKustomizeDir = () =>
  path.join(path.resolve(repoRoot, process.env.TICKETFLOW_TOOLS_DIR || '.tools'), 'kustomize');
export const cachedKustomizePath = () => path.join(cachedKustomizeDir(), 'kustomize');

async function kustomizeVersion(binary) {
  const result = await run(binary, ['version'], { capture: true, timeoutMs: 30_000 });
  const text = `${result.stdout}${result.stderr}`.trim();
  if (result.code !== 0 || !/v\d+\.\d+/.test(text))
    return { ok: false, detail: text.split('\n')[0] || `exit ${result.code}` };
  return { ok: true, version: text.split('\n')[0] };
}

/**
 * $KUSTOMIZE_PATH, the cached build, or `kustomize` on PATH; otherwise `go install` the pinned version into the
 * cache. Returns { binary, version }.
 */
export async function ensureKustomize(logger, { install = true } = {}) {
  const candidates = [];
  if (process.env.KUSTOMIZE_PATH) candidates.push([process.env.KUSTOMIZE_PATH, '$KUSTOMIZE_PATH']);
  if (fs.existsSync(cachedKustomizePath())) candidates.push([cachedKustomizePath(), 'cache']);
  const onPath = findExecutable('kustomize');
  if (onPath) candidates.push([onPath, 'PATH']);
  for (const [binary, source] of candidates) {
    const check = await kustomizeVersion(binary);
    if (check.ok) {
      logger.ok(`kustomize: ${binary} — source: ${source} — ${check.version}`);
      return { binary, version: check.version };
    }
    if (source === '$KUSTOMIZE_PATH')
      throw new Error(`KUSTOMIZE_PATH=${binary} does not run: ${check.detail}`);
    logger.warn(`ignoring ${binary} (${source}): ${check.detail}`);
  }
  if (!install) throw new Error('no kustomize found; run `npm run setup -- kustomize`');

  const go =
    findExecutable('go') ?? (fs.existsSync('/usr/local/go/bin/go') ? '/usr/local/go/bin/go' : undefined);
  if (!go)
    throw new Error('kustomize is missing and there is no Go toolchain to build it (set KUSTOMIZE_PATH)');
  const target = `${KUSTOMIZE_GO_MODULE}@${KUSTOMIZE_GO_VERSION}`;
  logger.info(`building ${target} with ${go} (under a minute with a warm module cache) ...`);
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ticketflow-kustomize-'));
  try {
    const gobin = path.join(workDir, 'bin');
    const result = await run(go, ['install', target], {
      env: { ...process.env, GOBIN: gobin },
      capture: true,
      timeoutMs: 15 * 60_000,
    });
    const built = path.join(gobin, 'kustomize');
    if (result.code !== 0 || !fs.existsSync(built)) {
      throw new Error(
        `go install ${target} failed: ${(result.stderr || result.stdout).trim().split('\n').slice(-3).join(' | ')}`,
      );
    }
    fs.mkdirSync(cachedKustomizeDir(), { recursive: true });
    const destination = cachedKustomizePath();
    fs.copyFileSync(built, `${destination}.partial`);
    fs.chmodSync(`${destination}.partial`, 0o755);
    fs.renameSync(`${destination}.partial`, destination);
    const check = await kustomizeVersion(destination);
    if (!check.ok) throw new Error(`the built kustomize does not run: ${check.detail}`);
    logger.ok(`kustomize installed at ${destination} — source: go install ${target} — ${check.version}`);
    return { binary: destination, version: check.version };
  } finally {
    fs.rmSync(workDir, { recursive: true, force: true });
  }
}
