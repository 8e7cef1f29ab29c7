import fs from 'node:fs/promises';
import path from 'node:path';
import { bundleWorkflowCode, type WorkflowBundleOption } from '@temporalio/worker';
import { ENCRYPTING_FAILURE_CONVERTER_PATH } from '../src/security/codec';

/**
 * The workflow code as Temporal runs it: one webpack bundle of `workflows/`. Building it takes seconds, so
 * production builds it once, in the image (`npx tsx workers/bundle.ts <dir>`, see the Dockerfile), and workers
 * load it from WORKFLOW_BUNDLE_DIR. Without that directory (development, tests) a worker bundles the code at
 * start, once per process. The failure converter that encrypts failure messages must be inside the bundle, so
 * there are two bundles: without it, and with it (PAYLOAD_ENCRYPTION_KEYS set).
 */

const BUNDLE_FILES = {
  plain: 'workflow-bundle.js',
  encryptedFailures: 'workflow-bundle.encrypted-failures.js',
} as const;

function bundleFile(failureConverterPath: string | undefined): string {
  if (failureConverterPath === undefined) return BUNDLE_FILES.plain;
  if (failureConverterPath === ENCRYPTING_FAILURE_CONVERTER_PATH) return BUNDLE_FILES.encryptedFailures;
  throw new Error(`No prebuilt workflow bundle for the failure converter ${failureConverterPath}`);
}

const quietBundlerLogger = {
  log: () => undefined,
  trace: () => undefined,
  debug: () => undefined,
  info: () => undefined,
  warn: (message: string) => console.warn(message),
  error: (message: string) => console.error(message),
};

function bundleNow(failureConverterPath: string | undefined) {
  return bundleWorkflowCode({
    workflowsPath: require.resolve('../workflows'),
    failureConverterPath,
    logger: quietBundlerLogger,
  });
}

const inProcess = new Map<string, Promise<WorkflowBundleOption>>();

/**
 * The bundle for a worker: the prebuilt file in `prebuiltDir` when given (it must exist: a worker must not
 * silently fall back to bundling whatever code it finds), else bundled now, once per process (webpack takes
 * seconds; every worker in the process reuses it).
 */
export async function workflowBundle(
  failureConverterPath?: string,
  prebuiltDir?: string,
): Promise<WorkflowBundleOption> {
  if (prebuiltDir) {
    const codePath = path.resolve(prebuiltDir, bundleFile(failureConverterPath));
    await fs.access(codePath).catch(() => {
      throw new Error(
        `WORKFLOW_BUNDLE_DIR=${prebuiltDir} has no ${path.basename(codePath)}: build it with \`npx tsx workers/bundle.ts ${prebuiltDir}\``,
      );
    });
    return { codePath };
  }
  const key = failureConverterPath ?? '';
  let bundle = inProcess.get(key);
  if (!bundle) {
    bundle = bundleNow(failureConverterPath);
    inProcess.set(key, bundle);
  }
  return bundle;
}

/** Write both bundles into `dir`. */
export async function buildWorkflowBundles(dir: string): Promise<string[]> {
  await fs.mkdir(dir, { recursive: true });
  const written: string[] = [];
  for (const failureConverterPath of [undefined, ENCRYPTING_FAILURE_CONVERTER_PATH]) {
    const { code } = await bundleNow(failureConverterPath);
    const file = path.join(dir, bundleFile(failureConverterPath));
    await fs.writeFile(file, code);
    written.push(file);
  }
  return written;
}

if (require.main === module) {
  const dir = process.argv[2];
  if (!dir) {
    console.error('usage: npx tsx workers/bundle.ts <output directory>');
    process.exit(2);
  }
  buildWorkflowBundles(dir).then(
    (files) => console.log(`workflow bundles written: ${files.join(', ')}`),
    (err: unknown) => {
      console.error(err instanceof Error ? err.message : err);
      process.exit(1);
    },
  );
}
