import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createRequire } from 'node:module';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Absolute path of `name` on PATH (executable), or undefined. */
export function findExecutable(name) {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, name);
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      if (fs.statSync(candidate).isFile()) return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** file:// URL of tsx's loader, so children run TypeScript as `node --import <loader> file.ts` (no npx layer). */
export function tsxLoaderUrl() {
  const require = createRequire(path.join(repoRoot, 'package.json'));
  return pathToFileURL(require.resolve('tsx')).href;
}

/** Node flags that make a plain `node` process understand TypeScript (and .ts imports from .mjs). */
export const tsxNodeFlags = () => ['--import', tsxLoaderUrl()];

/** [command, args] running a TypeScript (or .ts-importing) entry point from the repository with tsx. */
export function tsCommand(relativeFile, args = []) {
  return [process.execPath, [...tsxNodeFlags(), path.resolve(repoRoot, relativeFile), ...args]];
}

/** Import a TypeScript module of the project into this (plain Node) process. */
export async function importTs(relativeFile) {
  const { tsImport } = await import('tsx/esm/api');
  const mod = await tsImport(pathToFileURL(path.join(repoRoot, relativeFile)).href, import.meta.url);
  return mod.default && typeof mod.default === 'object' ? { ...mod.default, ...mod } : mod;
}
