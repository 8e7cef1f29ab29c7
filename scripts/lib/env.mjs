import fs from 'node:fs';

/**
 * Minimal .env parser: `KEY=value`, optional `export `, `#` comments, single quotes (literal) and double
 * quotes (with \n, \t, \" and \\ escapes). Unquoted values end at ` #`.
 */
export function parseDotEnv(text) {
  const result = {};
  const lines = text.split(/\r?\n/);
  for (const [index, rawLine] of lines.entries()) {
    const line = rawLine.trim();
    if (!line || line.startsWith('#')) continue;
    const match = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(line);
    // The line itself is not echoed: it may hold a secret.
    if (!match) throw new Error(`.env line ${index + 1}: expected KEY=value`);
    const [, key, rest] = match;
    let value;
    if (rest.startsWith('"')) {
      const end = /^"((?:[^"\\]|\\.)*)"/.exec(rest);
      if (!end) throw new Error(`.env: unterminated double quote for ${key}`);
      value = end[1].replace(/\\(.)/g, (_, c) => ({ n: '\n', t: '\t', r: '\r' })[c] ?? c);
    } else if (rest.startsWith("'")) {
      const end = rest.indexOf("'", 1);
      if (end < 0) throw new Error(`.env: unterminated single quote for ${key}`);
      value = rest.slice(1, end);
    } else {
      value = rest.replace(/\s+#.*$/, '').trim();
    }
    result[key] = value;
  }
  return result;
}

/** Variables from `file` under those already in `env` (the real environment always wins). */
export function withDotEnv(file, env = process.env) {
  if (!fs.existsSync(file)) return { env: { ...env }, loaded: false };
  const fromFile = parseDotEnv(fs.readFileSync(file, 'utf8'));
  return { env: { ...fromFile, ...env }, loaded: true, keys: Object.keys(fromFile) };
}
