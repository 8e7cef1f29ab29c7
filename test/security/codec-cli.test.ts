import { execFile } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import Fastify, { type FastifyInstance } from 'fastify';
import { loadConfig } from '../../src/config';
import { createDataConverter, createPayloadCodec, ENCRYPTED_ENCODING } from '../../src/security/codec';
import { registerCodecRoutes } from '../../src/security/codec-server';

/**
 * Interoperability with a real consumer of the remote codec protocol: the Temporal CLI (same protocol as the
 * Web UI) reads an encrypted history through our endpoint and shows the plaintext.
 */

const execFileAsync = promisify(execFile);
const TOKEN = `Bearer cli-${randomUUID()}`;

const config = loadConfig({
  ...process.env,
  PAYLOAD_ENCRYPTION_KEYS: `cli:${randomBytes(32).toString('base64')}`,
});

function temporalCli(): string {
  const candidates = [
    process.env.TEMPORAL_CLI_PATH,
    path.join(__dirname, '..', '..', '.tools', 'temporal', 'temporal'),
  ];
  const found = candidates.find((candidate) => candidate && existsSync(candidate));
  if (!found)
    throw new Error(
      'Temporal CLI not found: set TEMPORAL_CLI_PATH or run the setup that installs .tools/temporal',
    );
  return found;
}

let connection: Connection;
let app: FastifyInstance;
let codecEndpoint: string;
let workflowId: string;
const secret = `cli-secret-${randomUUID()}`;

interface ShownPayload {
  metadata?: Record<string, string>;
  data?: string;
}

async function startedInput(extraArgs: string[]): Promise<ShownPayload> {
  const { stdout } = await execFileAsync(
    temporalCli(),
    [
      'workflow',
      'show',
      '--address',
      config.TEMPORAL_ADDRESS,
      '--namespace',
      config.TEMPORAL_NAMESPACE,
      '-w',
      workflowId,
      '--output',
      'json',
      ...extraArgs,
    ],
    { encoding: 'utf8', timeout: 60_000 },
  );
  const history = JSON.parse(stdout) as {
    events: Array<{ workflowExecutionStartedEventAttributes?: { input?: { payloads?: ShownPayload[] } } }>;
  };
  const payload = history.events[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0];
  if (!payload) throw new Error('no workflow input in the CLI output');
  return payload;
}

const decode64 = (value: string | undefined) => Buffer.from(value ?? '', 'base64').toString('utf8');

beforeAll(async () => {
  connection = await Connection.connect({ address: config.TEMPORAL_ADDRESS });
  const client = new Client({
    connection,
    namespace: config.TEMPORAL_NAMESPACE,
    dataConverter: createDataConverter(config),
  });
  workflowId = `codec-cli-${randomUUID()}`;
  // No worker needed: the start event alone holds the encrypted input.
  await client.workflow.start('codecCliProbe', {
    taskQueue: `codec-cli-${randomUUID()}`,
    workflowId,
    args: [secret],
  });

  const codec = createPayloadCodec(config);
  if (!codec) throw new Error('expected a codec');
  app = Fastify();
  await registerCodecRoutes(app, {
    codec,
    config,
    authorize: (request) => request.headers.authorization === TOKEN,
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  codecEndpoint = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}/codec`;
});

afterAll(async () => {
  await connection?.workflowService
    .terminateWorkflowExecution({
      namespace: config.TEMPORAL_NAMESPACE,
      workflowExecution: { workflowId },
      reason: 'codec CLI test done',
    })
    .catch(() => undefined);
  await app?.close();
  await connection?.close();
});

test('without the codec endpoint the CLI sees only ciphertext', async () => {
  const payload = await startedInput([]);
  expect(decode64(payload.metadata?.encoding)).toBe(ENCRYPTED_ENCODING);
  expect(decode64(payload.data)).not.toContain(secret);
});

test('through the codec endpoint the CLI shows the decrypted input', async () => {
  const payload = await startedInput(['--codec-endpoint', codecEndpoint, '--codec-auth', TOKEN]);
  expect(decode64(payload.metadata?.encoding)).toBe('json/plain');
  expect(JSON.parse(decode64(payload.data))).toBe(secret);
});
