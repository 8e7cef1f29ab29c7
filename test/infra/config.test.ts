import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { ConfigError, configSchema, loadConfig } from '../../src/config';

const repoRoot = path.resolve(__dirname, '..', '..');

/** A minimal environment for child processes, so the developer's own variables cannot mask a failure. */
function bareEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    TICKETFLOW_ENV_FILE: 'does-not-exist.env',
    TICKETFLOW_SKIP_INSTALL: '1',
    ...extra,
  };
}

function configIssues(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.issues;
    throw error;
  }
  return [];
}

describe('loadConfig', () => {
  it('accepts an empty environment and fills in the defaults', () => {
    const config = loadConfig({});
    expect(config.API_PORT).toBe(3000);
    expect(config.VECTOR_STORE).toBe('pgvector');
    expect(config.INTENTS.length).toBeGreaterThanOrEqual(2);
  });

  it('treats empty strings as unset', () => {
    expect(loadConfig({ DATABASE_URL: '', API_PORT: '' }).API_PORT).toBe(3000);
  });

  const badValues: Array<[string, string]> = [
    ['DATABASE_URL', 'nonsense'],
    ['DATABASE_URL', 'mysql://user@host/db'],
    ['VECTOR_DATABASE_URL', 'http://localhost:5432/x'],
    ['API_PORT', 'abc'],
    ['API_PORT', '70000'],
    ['LLM_PROVIDER', 'x'],
    ['TEMPORAL_ADDRESS', 'localhost'],
    ['TEMPORAL_UI_URL', 'localhost:8233'],
    ['MIN_RETRIEVAL_SCORE', '2'],
    ['CONFIDENCE_THRESHOLD', 'high'],
    ['RETRIEVAL_TOP_K', '0'],
    ['PII_REDACTION', 'maybe'],
    ['KB_COLLECTION', 'Bad-Name'],
    ['INTENTS', 'only_one'],
    ['QDRANT_URL', 'ftp://qdrant'],
    ['VECTOR_STORE', 'faiss'],
    ['NODE_ENV', 'staging'],
  ];

  it.each(badValues)('rejects %s=%s with one issue naming the variable and the value', (name, value) => {
    const issues = configIssues({ [name]: value });
    expect(issues).toHaveLength(1);
    expect(issues[0]?.startsWith(`${name}:`)).toBe(true);
    expect(issues[0]).toContain(`"${value}"`);
  });

  it('names a bad secret without repeating it, and masks passwords in URLs', () => {
    const [keyIssue] = configIssues({ ADMIN_API_KEY: 'short-secret' });
    expect(keyIssue).toMatch(/^ADMIN_API_KEY: /);
    expect(keyIssue).not.toContain('short-secret');
    const [urlIssue] = configIssues({ DATABASE_URL: 'mysql://admin:hunter2@db/x' });
    expect(urlIssue).toContain('mysql://admin:***@db/x');
    expect(urlIssue).not.toContain('hunter2');
  });

  it('reports every bad variable, not just the first', () => {
    const issues = configIssues({ DATABASE_URL: 'nonsense', API_PORT: 'abc', LLM_PROVIDER: 'x' });
    expect(issues.map((i) => i.split(':')[0]).sort()).toEqual(['API_PORT', 'DATABASE_URL', 'LLM_PROVIDER']);
  });
});

describe('.env.example', () => {
  const text = fs.readFileSync(path.join(repoRoot, '.env.example'), 'utf8');
  const lines = text.split('\n');
  const entries = new Map<string, { value: string; comment: string }>();
  lines.forEach((line, index) => {
    const match = /^#?\s*([A-Z][A-Z0-9_]*)=(.*)$/.exec(line);
    if (match?.[1]) entries.set(match[1], { value: match[2] ?? '', comment: lines[index - 1] ?? '' });
  });
  const runnerOnly = ['TEMPORAL_PORT', 'TEMPORAL_UI_PORT', 'PGLITE_PORT', 'TICKETFLOW_DATA_DIR'];

  it('documents every configuration variable', () => {
    const missing = Object.keys(configSchema.shape).filter((key) => !entries.has(key));
    expect(missing).toEqual([]);
  });

  it('lists nothing the application or the local runner does not read', () => {
    const known = new Set([...Object.keys(configSchema.shape), ...runnerOnly]);
    expect([...entries.keys()].filter((key) => !known.has(key))).toEqual([]);
  });

  it('shows the real default for every variable that has one, under a comment', () => {
    const defaults = loadConfig({});
    for (const key of Object.keys(configSchema.shape) as Array<keyof typeof defaults>) {
      const entry = entries.get(key);
      expect({ key, commented: entry?.comment.startsWith('#') }).toEqual({ key, commented: true });
      const documented = entry?.value ? loadConfig({ [key]: entry.value })[key] : undefined;
      expect({ key, value: documented }).toEqual({ key, value: defaults[key] });
    }
  });
});

describe('configuration check at start-up (child processes)', () => {
  it('scripts/check-config.mjs exits non-zero with one line naming DATABASE_URL', () => {
    const result = spawnSync(process.execPath, ['scripts/check-config.mjs'], {
      cwd: repoRoot,
      env: bareEnv({ DATABASE_URL: 'nonsense' }),
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(result.status).toBe(2);
    const stderrLines = result.stderr.trim().split('\n');
    expect(stderrLines).toHaveLength(1);
    expect(stderrLines[0]).toMatch(
      /^ticketflow: invalid configuration: DATABASE_URL: .*postgres.*"nonsense"/,
    );
    expect(result.stdout).toBe('');
  });

  it('scripts/check-config.mjs accepts a valid environment', () => {
    const result = spawnSync(process.execPath, ['scripts/check-config.mjs'], {
      cwd: repoRoot,
      env: bareEnv({ DATABASE_URL: 'postgres://u:p@db.example:5432/t', LLM_PROVIDER: 'local' }),
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/configuration OK/);
  });

  it('npm start (scripts/start.mjs) refuses a bad value before starting anything', () => {
    // Ports that would collide with anything already running make no difference: nothing may be started.
    const result = spawnSync(process.execPath, ['scripts/start.mjs'], {
      cwd: repoRoot,
      env: bareEnv({ DATABASE_URL: 'nonsense', API_PORT: 'abc' }),
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(result.status).toBe(2);
    const stderrLines = result.stderr.trim().split('\n');
    expect(stderrLines).toHaveLength(1);
    expect(stderrLines[0]).toContain('DATABASE_URL');
    expect(stderrLines[0]).toContain('API_PORT');
    expect(result.stdout).toBe('');
  });

  it('npm start rejects a malformed runner port with one line naming it', () => {
    const result = spawnSync(process.execPath, ['scripts/start.mjs'], {
      cwd: repoRoot,
      env: bareEnv({ TEMPORAL_PORT: 'seven' }),
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(result.status).toBe(2);
    expect(result.stderr.trim().split('\n')).toEqual([expect.stringMatching(/TEMPORAL_PORT: .*"seven"/)]);
  });
});
