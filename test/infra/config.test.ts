import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { generateKeyPairSync } from 'node:crypto';
import os from 'node:os';
import { ConfigError, FILE_SETTINGS, configSchema, loadConfig } from '../../src/config';
import { pgConnection } from '../../src/db/tls';
import { temporalConnectionSettings } from '../../src/temporal/connection';

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

describe('secrets and certificates from files (*_FILE)', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tf-config-files-'));
  const write = (name: string, content: string) => {
    const file = path.join(dir, name);
    fs.writeFileSync(file, content);
    return file;
  };
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  // A real certificate and key: the config checks that PEM content parses, not just its markers.
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const keyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const certPem = fs.readFileSync(path.join(repoRoot, 'test', 'fixtures', 'tls', 'example-ca.pem'), 'utf8');

  it('offers a *_FILE form for every secret and certificate, and nothing else', () => {
    const fileKeys = Object.keys(configSchema.shape).filter((key) => key.endsWith('_FILE'));
    expect(fileKeys.map((key) => key.replace(/_FILE$/, '')).sort()).toEqual([...FILE_SETTINGS].sort());
    for (const name of Object.keys(configSchema.shape)) {
      if (/(_KEY|_SECRET|_KEYS|_CA|_CERT)$/.test(name) || name.endsWith('DATABASE_URL'))
        expect({ name, file: FILE_SETTINGS.includes(name as never) }).toEqual({ name, file: true });
    }
  });

  it('reads the value from the file, trimming a secret and keeping PEM as written', () => {
    const config = loadConfig({
      ADMIN_API_KEY_FILE: write('admin', '  tf_admin_key_from_a_file_0123  \n'),
      DATABASE_URL_FILE: write(
        'db-url',
        'postgres://app:s3cret@db.internal:5432/ticketflow?sslmode=verify-full\n',
      ),
      TEMPORAL_TLS_CA_FILE: write('ca.pem', certPem),
      TEMPORAL_TLS_CERT_FILE: write('client.pem', certPem),
      TEMPORAL_TLS_KEY_FILE: write('client.key', keyPem),
    });
    expect(config.ADMIN_API_KEY).toBe('tf_admin_key_from_a_file_0123');
    expect(config.DATABASE_URL).toBe('postgres://app:s3cret@db.internal:5432/ticketflow?sslmode=verify-full');
    expect(config.TEMPORAL_TLS_CA).toBe(certPem);
    expect(config.TEMPORAL_TLS_KEY).toBe(keyPem);
  });

  it('names the file setting and path, never the content, when the value is wrong', () => {
    const file = write('short-admin', 'short');
    expect(configIssues({ ADMIN_API_KEY_FILE: file })).toEqual([
      `ADMIN_API_KEY_FILE: ${file}: must be at least 16 characters`,
    ]);
    const notPem = write('not-pem', 'not a certificate');
    expect(configIssues({ TEMPORAL_TLS_CA_FILE: notPem })).toEqual([
      `TEMPORAL_TLS_CA_FILE: ${notPem}: expected a PEM certificate (-----BEGIN CERTIFICATE-----)`,
    ]);
    const brokenPem = write('broken.pem', '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n');
    expect(configIssues({ TEMPORAL_TLS_CA_FILE: brokenPem })[0]).toMatch(
      /^TEMPORAL_TLS_CA_FILE: .*broken\.pem: not a valid certificate/,
    );
    expect(
      configIssues({ TEMPORAL_TLS_KEY_FILE: notPem, TEMPORAL_TLS_CERT_FILE: write('c.pem', certPem) }),
    ).toEqual([
      `TEMPORAL_TLS_KEY_FILE: ${notPem}: expected an unencrypted PEM private key (-----BEGIN PRIVATE KEY-----)`,
    ]);
  });

  it('refuses a missing or empty file, and both forms at once', () => {
    const missing = path.join(dir, 'nope.pem');
    expect(configIssues({ TEMPORAL_TLS_CA_FILE: missing })).toEqual([
      `TEMPORAL_TLS_CA_FILE: cannot read ${missing} (ENOENT)`,
    ]);
    const empty = write('empty', '\n');
    expect(configIssues({ QDRANT_API_KEY_FILE: empty })).toEqual([
      `QDRANT_API_KEY_FILE: cannot read ${empty} (the file is empty)`,
    ]);
    expect(configIssues({ QDRANT_API_KEY: 'k', QDRANT_API_KEY_FILE: write('q', 'k') })).toEqual([
      'QDRANT_API_KEY_FILE: QDRANT_API_KEY is set too; set one of them',
    ]);
  });

  it('checks Temporal TLS settings against each other', () => {
    expect(configIssues({ TEMPORAL_TLS_CERT_FILE: write('only-cert.pem', certPem) })).toEqual([
      'TEMPORAL_TLS_KEY: mTLS needs both TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY (or their *_FILE forms)',
    ]);
    expect(configIssues({ TEMPORAL_TLS: 'false', TEMPORAL_API_KEY: 'k' })).toEqual([
      'TEMPORAL_TLS: is false, but TEMPORAL_API_KEY is set (an API key is never sent in plaintext) (got "false")',
    ]);
  });

  it('accepts libpq sslmodes node-postgres can honour in the database URLs, and explains the rest', () => {
    for (const mode of ['disable', 'require', 'verify-ca', 'verify-full'])
      expect(configIssues({ DATABASE_URL: `postgres://u@h/d?sslmode=${mode}` })).toEqual([]);
    expect(configIssues({ DATABASE_URL: 'postgres://u@h/d?sslmode=prefer' })[0]).toMatch(
      /^DATABASE_URL: sslmode=prefer is not supported; use disable, require, verify-ca, verify-full/,
    );
    expect(configIssues({ VECTOR_DATABASE_URL: 'postgres://u@h/d?sslrootcert=/x.pem' })[0]).toMatch(
      /^VECTOR_DATABASE_URL: sslrootcert in the URL is not supported; give the CA with the \*_SSL_CA or \*_SSL_CA_FILE setting/,
    );
    expect(configIssues({ VECTOR_DATABASE_SSL_CA_FILE: write('v.pem', certPem) })[0]).toMatch(
      /^VECTOR_DATABASE_SSL_CA_FILE: .*v\.pem: applies to VECTOR_DATABASE_URL, which is unset/,
    );
  });
});

describe('pgConnection: sslmode with libpq meaning', () => {
  const ca = '-----BEGIN CERTIFICATE-----\n...\n-----END CERTIFICATE-----\n';
  it.each([
    ['no sslmode, no CA', 'postgres://h/d', undefined, false],
    ['no sslmode, a CA: verify-full', 'postgres://h/d', ca, { ca }],
    ['disable', 'postgres://h/d?sslmode=disable', ca, false],
    [
      'require without a CA: encrypted, unverified',
      'postgres://h/d?sslmode=require',
      undefined,
      { rejectUnauthorized: false },
    ],
    [
      'require with a CA: verify-ca',
      'postgres://h/d?sslmode=require',
      ca,
      { ca, checkServerIdentity: expect.any(Function) },
    ],
    ['verify-ca', 'postgres://h/d?sslmode=verify-ca', ca, { ca, checkServerIdentity: expect.any(Function) }],
    ['verify-full with the system CAs', 'postgres://h/d?sslmode=verify-full', undefined, {}],
  ])('%s', (_name, url, givenCa, ssl) => {
    const connection = pgConnection(url, givenCa);
    expect(connection.ssl).toEqual(ssl);
    // node-postgres never sees sslmode: it would apply its own (verify-full) reading of it.
    expect(connection.connectionString).not.toContain('sslmode');
  });
});

describe('Temporal connection settings', () => {
  it('stay plaintext with nothing set (npm start, npm test)', () => {
    expect(temporalConnectionSettings(loadConfig({}))).toEqual({ address: 'localhost:7233' });
  });
  it('turn TLS on with an API key alone (Temporal Cloud), using the system CAs', () => {
    expect(
      temporalConnectionSettings(
        loadConfig({ TEMPORAL_API_KEY: 'k', TEMPORAL_ADDRESS: 'ns.acct.tmprl.cloud:7233' }),
      ),
    ).toEqual({
      address: 'ns.acct.tmprl.cloud:7233',
      apiKey: 'k',
      tls: {},
    });
  });
  it('turn TLS on with TEMPORAL_TLS=true alone', () => {
    expect(temporalConnectionSettings(loadConfig({ TEMPORAL_TLS: 'true' })).tls).toEqual({});
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
  const runnerOnly = [
    'TEMPORAL_PORT',
    'TEMPORAL_UI_PORT',
    'PGLITE_PORT',
    'TICKETFLOW_DATA_DIR',
    'LOG_FORMAT',
  ];

  it('documents every configuration variable', () => {
    const missing = Object.keys(configSchema.shape).filter((key) => !entries.has(key));
    expect(missing).toEqual([]);
  });

  it('lists nothing the application or the local runner does not read', () => {
    const known = new Set([...Object.keys(configSchema.shape), ...runnerOnly]);
    expect([...entries.keys()].filter((key) => !known.has(key))).toEqual([]);
  });

  // Defaults that follow EMBEDDING_MODEL stay empty in the file (a copied .env must not pin them to one model), and
  // the comment gives the default model's value instead.
  const modelDependent = ['ANSWER_MIN_SCORE', 'ANSWER_MIN_MARGIN'];

  it('shows the real default for every variable that has one, under a comment', () => {
    const defaults = loadConfig({});
    for (const key of Object.keys(configSchema.shape) as Array<keyof typeof defaults>) {
      const entry = entries.get(key);
      expect({ key, commented: entry?.comment.startsWith('#') }).toEqual({ key, commented: true });
      if (modelDependent.includes(key)) {
        expect({ key, value: entry?.value }).toEqual({ key, value: '' });
        expect(entry?.comment).toContain(`(${String(defaults[key])}`);
        continue;
      }
      const documented = entry?.value ? loadConfig({ [key]: entry.value })[key] : undefined;
      expect({ key, value: documented }).toEqual({ key, value: defaults[key] });
    }
  });

  it('the answerability thresholds follow the embedding model unless set', () => {
    expect(loadConfig({})).toMatchObject({ ANSWER_MIN_SCORE: 0.63, ANSWER_MIN_MARGIN: 0.29 });
    expect(loadConfig({ EMBEDDING_MODEL: 'sentence-transformers/all-MiniLM-L6-v2' })).toMatchObject({
      ANSWER_MIN_SCORE: 0.45,
      ANSWER_MIN_MARGIN: 0.25,
    });
    expect(
      loadConfig({ EMBEDDING_MODEL: 'sentence-transformers/all-MiniLM-L6-v2', ANSWER_MIN_SCORE: '0.5' }),
    ).toMatchObject({ ANSWER_MIN_SCORE: 0.5, ANSWER_MIN_MARGIN: 0.25 });
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
