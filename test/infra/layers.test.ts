import fs from 'node:fs';
import path from 'node:path';

/**
 * The layering of docs/ARCHITECTURE.md, checked on the source: the API, the inbox and the CLI are peers on top
 * of the tickets service (src/tickets) and the stores; none imports another. A new page or route that reaches
 * into a peer's files fails here, naming the import.
 */

const SRC = path.join(__dirname, '..', '..', 'src');
const PEERS = ['api', 'inbox', 'cli'] as const;
/** Process entry points a peer may start (the CLI's `api` command runs the server); nothing else crosses. */
const ENTRY_POINTS = new Set([path.join(SRC, 'api', 'main')]);

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(full);
    return /\.(ts|mts|mjs|js)$/.test(entry.name) ? [full] : [];
  });
}

/** Relative module specifiers of every static import, dynamic import and re-export in a file. */
function importsOf(file: string): string[] {
  const text = fs.readFileSync(file, 'utf8');
  const specifiers = [...text.matchAll(/(?:from|import)\s*\(?\s*['"](\.[^'"]+)['"]/g)].map((m) => m[1]!);
  return specifiers.map((s) => path.resolve(path.dirname(file), s));
}

function peerOf(absolute: string): string | undefined {
  const [top] = path.relative(SRC, absolute).split(path.sep);
  return (PEERS as readonly string[]).includes(top ?? '') ? top : undefined;
}

test.each(PEERS)('src/%s imports no other front end (API, inbox, CLI are peers)', (peer) => {
  const crossings = sourceFiles(path.join(SRC, peer)).flatMap((file) =>
    importsOf(file)
      .filter((target) => {
        const other = peerOf(target);
        return other !== undefined && other !== peer && !ENTRY_POINTS.has(target.replace(/\.ts$/, ''));
      })
      .map((target) => `${path.relative(SRC, file)} → ${path.relative(SRC, target)}`),
  );
  expect(crossings).toEqual([]);
});

test('the check sees imports at all (it would pass vacuously on an empty tree)', () => {
  const files = sourceFiles(path.join(SRC, 'inbox'));
  expect(files.length).toBeGreaterThan(3);
  expect(files.flatMap(importsOf).some((target) => target.includes(`${path.sep}tickets`))).toBe(true);
});
