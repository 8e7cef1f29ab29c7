import { randomBytes, randomUUID } from 'node:crypto';
import { Client, Connection, WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure, type DataConverter } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { NativeConnection, Worker } from '@temporalio/worker';
import { loadConfig } from '../../src/config';
import { createDataConverter, ENCRYPTED_ENCODING } from '../../src/security/codec';
import type { EchoActivities, EchoResult, echoWorkflow } from './fixtures/echo-workflow';
import { collect, encodingOf } from './history-scan';

/**
 * End to end on the real Temporal dev server: with the data converter from createDataConverter, no secret
 * reaches Temporal's stored history, neither in payloads nor in failure messages and stack traces. The same
 * workflow without encryption must show the secret, which proves the scan would catch a leak.
 */

const config = loadConfig({
  ...process.env,
  PAYLOAD_ENCRYPTION_KEYS: `e2e-${randomUUID().slice(0, 8)}:${randomBytes(32).toString('base64')}`,
});
const namespace = config.TEMPORAL_NAMESPACE;

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

interface RunRecord {
  secret: string;
  events: HistoryEvent[];
  historyBytes: Buffer;
  result?: EchoResult;
  error?: unknown;
}

interface Outcome {
  success: RunRecord;
  failure: RunRecord;
}

let connection: Connection;
let nativeConnection: NativeConnection;
let encrypted: Outcome;
let plain: Outcome;

async function rawHistory(
  workflowId: string,
  runId: string,
): Promise<{ events: HistoryEvent[]; bytes: Buffer }> {
  const events: HistoryEvent[] = [];
  let nextPageToken: Uint8Array | undefined;
  do {
    const page = await connection.workflowService.getWorkflowExecutionHistory({
      namespace,
      execution: { workflowId, runId },
      nextPageToken,
    });
    events.push(...(page.history?.events ?? []));
    nextPageToken = page.nextPageToken?.length ? page.nextPageToken : undefined;
  } while (nextPageToken);
  const bytes = Buffer.from(temporal.api.history.v1.History.encode({ events }).finish());
  return { events, bytes };
}

/** Runs the echo workflow twice (completing, and failing at the end) on a worker with `dataConverter`. */
async function runEcho(dataConverter: DataConverter): Promise<Outcome> {
  const taskQueue = `security-echo-${randomUUID()}`;
  const activities: EchoActivities = {
    async echoSecret(secret) {
      return `echo:${secret}`;
    },
    async failWithSecret(secret) {
      throw ApplicationFailure.nonRetryable(`card declined for ${secret}`, 'CardDeclined');
    },
  };
  const worker = await Worker.create({
    connection: nativeConnection,
    namespace,
    taskQueue,
    workflowsPath: require.resolve('./fixtures/echo-workflow'),
    activities,
    dataConverter,
  });
  const client = new Client({ connection, namespace, dataConverter });

  async function run(failAtEnd: boolean): Promise<RunRecord> {
    const secret = `secret-${randomUUID()}`;
    const handle = await client.workflow.start<typeof echoWorkflow>('echoWorkflow', {
      args: [secret, failAtEnd],
      taskQueue,
      workflowId: `security-echo-${randomUUID()}`,
    });
    let result: EchoResult | undefined;
    let error: unknown;
    try {
      result = await handle.result();
    } catch (caught) {
      error = caught;
    }
    const history = await rawHistory(handle.workflowId, handle.firstExecutionRunId);
    return { secret, events: history.events, historyBytes: history.bytes, result, error };
  }

  return worker.runUntil(async () => ({ success: await run(false), failure: await run(true) }));
}

beforeAll(async () => {
  connection = await Connection.connect({ address: config.TEMPORAL_ADDRESS });
  nativeConnection = await NativeConnection.connect({ address: config.TEMPORAL_ADDRESS });
  encrypted = await runEcho(createDataConverter(config));
  plain = await runEcho({});
});

afterAll(async () => {
  await nativeConnection?.close();
  await connection?.close();
});

describe('with payload encryption', () => {
  it('still works end to end: the worker and client decrypt inputs, results and failures', () => {
    expect(encrypted.success.error).toBeUndefined();
    expect(encrypted.success.result).toEqual({
      echoed: `echo:${encrypted.success.secret}`,
      activityFailureMessage: `card declined for ${encrypted.success.secret}`,
    });
    const { error } = encrypted.failure;
    expect(error).toBeInstanceOf(WorkflowFailedError);
    const cause = (error as WorkflowFailedError).cause;
    expect(cause).toBeInstanceOf(ApplicationFailure);
    expect((cause as ApplicationFailure).message).toBe(`workflow gave up on ${encrypted.failure.secret}`);
  });

  it.each(['success', 'failure'] as const)('keeps the secret out of the raw %s history', (which) => {
    const run = encrypted[which];
    expect(run.events.length).toBeGreaterThan(5);
    expect(run.historyBytes.includes(Buffer.from(run.secret, 'utf8'))).toBe(false);
    // The secret's UUID alone, in case some field re-encoded the prefix.
    expect(run.historyBytes.includes(Buffer.from(run.secret.slice('secret-'.length), 'utf8'))).toBe(false);
    expect(JSON.stringify(run.events)).not.toContain(run.secret.slice('secret-'.length));

    const { payloads, failures } = collect(run.events);
    expect(payloads.length).toBeGreaterThanOrEqual(4);
    expect(payloads.map(encodingOf).filter((encoding) => encoding !== ENCRYPTED_ENCODING)).toEqual([]);
    expect(failures.length).toBeGreaterThanOrEqual(which === 'failure' ? 2 : 1);
    for (const failure of failures) {
      expect(failure.message).toBe('Encoded failure');
      expect(failure.stackTrace ?? '').toBe('');
      expect(encodingOf(failure.encodedAttributes ?? {})).toBe(ENCRYPTED_ENCODING);
    }
  });
});

describe('without payload encryption (control)', () => {
  it.each(['success', 'failure'] as const)('the same %s run exposes the secret in raw history', (which) => {
    const run = plain[which];
    expect(run.historyBytes.includes(Buffer.from(run.secret, 'utf8'))).toBe(true);
    const { payloads, failures } = collect(run.events);
    expect(payloads.map(encodingOf)).toContain('json/plain');
    expect(failures.some((failure) => failure.message?.includes(run.secret))).toBe(true);
  });
});
