import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DEFAULT_EMBEDDING_MODEL } from '../../src/kb/models';

/** The orchestration scripts are plain ES modules; they are exercised in child processes, as npm runs them. */
const repoRoot = path.resolve(__dirname, '..', '..');
const libUrl = (name: string) => `file://${path.join(repoRoot, 'scripts', 'lib', name)}`;

function runModule(code: string, env: NodeJS.ProcessEnv = process.env) {
  return spawnSync(process.execPath, ['--input-type=module', '-e', code], {
    cwd: repoRoot,
    env,
    encoding: 'utf8',
    timeout: 60_000,
  });
}

function runScript(script: string, args: string[], env: NodeJS.ProcessEnv = process.env) {
  return spawnSync(process.execPath, [path.join(repoRoot, 'scripts', script), ...args], {
    cwd: repoRoot,
    env,
    encoding: 'utf8',
    timeout: 120_000,
  });
}

const tempDirs: string[] = [];
const tempDir = () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ticketflow-infra-'));
  tempDirs.push(dir);
  return dir;
};
afterAll(() => tempDirs.forEach((dir) => fs.rmSync(dir, { recursive: true, force: true })));

describe('.env parser', () => {
  it('reads plain, quoted, exported and commented entries', () => {
    const text = [
      '# comment',
      'PLAIN=value # trailing comment',
      'export EXPORTED=yes',
      'DOUBLE="a # not a comment\\nnext"',
      "SINGLE='literal \\n $HOME'",
      'EMPTY=',
      '  SPACED = padded  ',
    ].join('\n');
    const result = runModule(
      `import { parseDotEnv } from '${libUrl('env.mjs')}'; console.log(JSON.stringify(parseDotEnv(${JSON.stringify(text)})));`,
    );
    expect(result.stderr).toBe('');
    expect(JSON.parse(result.stdout)).toEqual({
      PLAIN: 'value',
      EXPORTED: 'yes',
      DOUBLE: 'a # not a comment\nnext',
      SINGLE: 'literal \\n $HOME',
      EMPTY: '',
      SPACED: 'padded',
    });
  });

  it('lets the real environment win over the file and rejects malformed lines', () => {
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, 'ok.env'), 'FROM_FILE=1\nOVERRIDDEN=file\n');
    fs.writeFileSync(path.join(dir, 'bad.env'), '# comment\nANTHROPIC_API_KEY sk-ant-secret\n');
    const result = runModule(
      `import { withDotEnv } from '${libUrl('env.mjs')}';
       const { env } = withDotEnv(${JSON.stringify(path.join(dir, 'ok.env'))}, { OVERRIDDEN: 'real' });
       console.log(JSON.stringify(env));
       try { withDotEnv(${JSON.stringify(path.join(dir, 'bad.env'))}, {}); } catch (e) { console.log(e.message); }`,
    );
    const [envLine, errorLine] = result.stdout.trim().split('\n');
    expect(JSON.parse(envLine ?? '')).toEqual({ FROM_FILE: '1', OVERRIDDEN: 'real' });
    expect(errorLine).toBe('.env line 2: expected KEY=value');
  });
});

describe('CI summary line', () => {
  const summarize = (results: object | undefined) => {
    const file = path.join(tempDir(), 'jest.json');
    if (results) fs.writeFileSync(file, JSON.stringify(results));
    return runScript('ci-summary.mjs', [file]);
  };

  it('prints passed and failed counts from jest --json output', () => {
    const result = summarize({ numPassedTests: 41, numFailedTests: 2, numPendingTests: 0, numTodoTests: 0 });
    expect(result.status).toBe(0);
    expect(result.stdout).toBe('41 passed, 2 failed\n');
  });

  it('appends skipped (pending + todo) tests only when there are some', () => {
    const result = summarize({ numPassedTests: 5, numFailedTests: 0, numPendingTests: 2, numTodoTests: 1 });
    expect(result.stdout).toBe('5 passed, 0 failed, 3 skipped\n');
  });

  it('counts a suite that failed to run (e.g. in afterAll) as a failure', () => {
    const result = summarize({ numPassedTests: 9, numFailedTests: 0, numRuntimeErrorTestSuites: 1 });
    expect(result.stdout).toBe('9 passed, 1 failed\n');
    expect(result.stderr).toMatch(/1 test suite\(s\) failed to run/);
  });

  it('fails without printing a summary when the results file is missing', () => {
    const result = summarize(undefined);
    expect(result.status).toBe(1);
    expect(result.stdout).toBe('');
  });
});

describe('embedding model check', () => {
  const modelId = DEFAULT_EMBEDDING_MODEL;
  const installed = path.join(repoRoot, 'models', modelId);

  it('the setup scripts install the model the application defaults to', () => {
    const result = runModule(
      `import { DEFAULT_MODEL_ID } from '${libUrl('model.mjs')}'; console.log(DEFAULT_MODEL_ID);`,
    );
    expect(result.stdout.trim()).toBe(DEFAULT_EMBEDDING_MODEL);
  });

  it('accepts the installed model and rejects a copy with one altered byte', () => {
    const check = (modelsDir: string) =>
      runScript('setup.mjs', ['model', '--check'], {
        ...process.env,
        MODELS_DIR: modelsDir,
        EMBEDDING_MODEL: modelId,
      });
    const good = check(path.join(repoRoot, 'models'));
    expect(good.stderr).toMatch(/is valid/);
    expect(good.status).toBe(0);

    const copyRoot = tempDir();
    fs.cpSync(installed, path.join(copyRoot, modelId), { recursive: true });
    const onnx = path.join(copyRoot, modelId, 'onnx', 'model_quantized.onnx');
    const bytes = fs.readFileSync(onnx);
    bytes[bytes.length - 10] = (bytes[bytes.length - 10] ?? 0) ^ 0xff;
    fs.writeFileSync(onnx, bytes);
    const bad = check(copyRoot);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/onnx\/model_quantized\.onnx does not match its recorded sha256/);
  });

  it('records the model id, dimension and origin in the manifest', () => {
    const manifest = JSON.parse(fs.readFileSync(path.join(installed, 'ticketflow-model.json'), 'utf8'));
    expect(manifest).toMatchObject({ modelId, dimension: 384, onnxIrVersion: expect.any(Number) });
    expect(manifest.onnxIrVersion).toBeLessThanOrEqual(8);
    expect(manifest.source).toEqual(expect.any(String));
    expect(manifest.sha256).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe('process supervision', () => {
  const alive = (pid: number) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };

  it('stops a child together with the processes it spawned (no orphans)', () => {
    // The child shell starts a background grandchild, then waits; both must be gone after stopAll().
    const result = runModule(
      `import { Supervisor } from '${libUrl('processes.mjs')}';
       import { readFileSync, existsSync } from 'node:fs';
       const pidFile = ${JSON.stringify(path.join(tempDir(), 'grandchild.pid'))};
       const supervisor = new Supervisor();
       const entry = supervisor.start('sleeper', 'sh', ['-c', 'sleep 300 & echo $! > ' + pidFile + '; wait'], { output: 'inherit' });
       while (!existsSync(pidFile) || !readFileSync(pidFile, 'utf8').trim()) await new Promise((r) => setTimeout(r, 50));
       const grandchild = Number(readFileSync(pidFile, 'utf8'));
       await supervisor.stopAll(5000);
       console.log(JSON.stringify({ child: entry.pid, grandchild }));`,
    );
    expect(result.stderr).toBe('');
    const { child, grandchild } = JSON.parse(result.stdout) as { child: number; grandchild: number };
    expect(grandchild).toBeGreaterThan(0);
    expect(alive(child)).toBe(false);
    expect(alive(grandchild)).toBe(false);
  });
});

describe('Supervisor.keepAlive (npm start restarts crashed children)', () => {
  // A child that exits with code 3 a moment after it starts, like a process that crashes on a bad dependency.
  const program = (code: string) => `
    import { Supervisor } from ${JSON.stringify(libUrl('processes.mjs'))};
    const events = [];
    const logger = { info() {}, ok: (m) => events.push('ok: ' + m), warn: (m) => events.push('warn: ' + m), error() {} };
    const supervisor = new Supervisor(logger);
    let launches = 0;
    const launch = async (onExit) => {
      launches += 1;
      const entry = supervisor.start('svc', process.execPath, ['-e', ${JSON.stringify(code)}], { output: 'inherit', onUnexpectedExit: onExit });
      return { entry };
    };
    await new Promise((resolve) => {
      supervisor.keepAlive('svc', launch, {
        label: 'service', maxRestarts: 2, windowMs: 60000, backoffMs: [50],
        onRestart: () => { if (launches === 2 && ${JSON.stringify(code)}.includes('once')) resolve(); },
        onGiveUp: (message) => { events.push('gave up: ' + message); resolve(); },
      });
    });
    await supervisor.stopAll(2000);
    console.log(JSON.stringify({ launches, events }));
    process.exit(0);`;

  it('restarts a child that crashed, and keeps it', () => {
    // Crashes on its first run only (a marker file remembers), then stays up.
    const marker = path.join(tempDir(), 'crashed-once');
    const code = `const fs = require('fs'); if (!fs.existsSync(${JSON.stringify(marker)})) { fs.writeFileSync(${JSON.stringify(marker)}, 'once'); process.exit(3); } setInterval(() => {}, 1000);`;
    const result = runModule(program(code));
    expect(result.stderr).toBe('');
    const { launches, events } = JSON.parse(result.stdout.trim().split('\n').pop()!);
    expect(launches).toBe(2);
    expect(events).toEqual([
      'warn: service exited unexpectedly (exit code 3); restarting it in 0.05 s (crash 1 of 2 allowed within 60 s); everything else keeps running',
      'ok: service restarted',
    ]);
  });

  it('gives up on a crash loop and says which process', () => {
    const result = runModule(program('setTimeout(() => process.exit(3), 20);'));
    const { launches, events } = JSON.parse(result.stdout.trim().split('\n').pop()!);
    expect(launches).toBe(3); // the first start and two restarts
    expect(events.at(-1)).toBe(
      'gave up: service crashed 3 times within 60 s (last: exit code 3); not restarting it again',
    );
  });
});

describe('the note npm start leaves for the CLI', () => {
  test('is written where the CLI reads it: the checkout .data, as loaded by start.mjs and by the CLI', () => {
    const expected = path.join(repoRoot, '.data', 'local-stack.json');
    const env = { ...process.env, TICKETFLOW_DATA_DIR: '' };
    // scripts/start.mjs loads the module through tsx's ESM loader; the CLI through its CommonJS hook.
    const viaStart = runModule(
      `import { importTs } from '${libUrl('paths.mjs')}';
       const m = await importTs('src/cli/local-stack.ts'); console.log(m.localStackPath({}));`,
      env,
    );
    expect(viaStart.stderr).toBe('');
    expect(viaStart.stdout.trim()).toBe(expected);
    const { localStackPath } =
      jest.requireActual<typeof import('../../src/cli/local-stack')>('../../src/cli/local-stack');
    expect(localStackPath({})).toBe(expected);
  });
});
