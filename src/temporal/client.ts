import {
  Client,
  Connection,
  WorkflowExecutionAlreadyStartedError,
  WorkflowIdReusePolicy,
  type DataConverter,
} from '@temporalio/client';
import { ticketPolicy, type Config } from '../config';
import { workflowIdFor, type TicketInput } from '../domain/ticket';
import { WORKFLOW_TYPE, type TicketPolicy, type TicketWorkflowInput } from '../../workflows/definitions';
import { createDataConverter } from '../security/codec';
import { explainTemporalConnectFailure, temporalConnectionSettings } from './connection';
import { TicketStage } from './search-attributes';

export interface ConnectTemporalOptions {
  /**
   * Defaults to the encrypting converter from PAYLOAD_ENCRYPTION_KEYS; it must match the worker's, or neither
   * side can read the other's payloads.
   */
  dataConverter?: DataConverter;
  /** Fail fast instead of waiting for the server (readiness checks, CLI). */
  connectTimeoutMs?: number;
}

/** One gRPC connection and a client bound to the configured namespace. Close with `client.connection.close()`. */
export async function connectTemporal(config: Config, options: ConnectTemporalOptions = {}): Promise<Client> {
  const { address, tls, apiKey } = temporalConnectionSettings(config);
  const connection = await Connection.connect({
    address,
    ...(tls ? { tls } : {}),
    ...(apiKey ? { apiKey } : {}),
    connectTimeout: options.connectTimeoutMs ?? 10_000,
  }).catch(async (error: unknown) => {
    throw await explainTemporalConnectFailure(config, error);
  });
  return new Client({
    connection,
    namespace: config.TEMPORAL_NAMESPACE,
    dataConverter: options.dataConverter ?? createDataConverter(config),
  });
}

export interface StartTicketResult {
  workflowId: string;
  /** false when a workflow with this external id already exists (running or finished): nothing was started. */
  created: boolean;
}

/** Policy fields given here override the ones derived from config (tests shorten retries this way). */
export interface StartTicketOptions extends Partial<TicketPolicy> {
  /** Who submitted it (API key id); kept in the memo so intake keys can read back only their own tickets. */
  submittedBy?: string;
  receivedAt?: Date;
}

/**
 * Start the ticket workflow once per external id. The workflow id is derived from the external id and reuse is
 * rejected, so a retried submission (client retry, webhook redelivery) finds the existing run instead of
 * starting a second one.
 */
export async function startTicket(
  client: Client,
  config: Config,
  input: TicketInput,
  options: StartTicketOptions = {},
): Promise<StartTicketResult> {
  const workflowId = workflowIdFor(input.externalId);
  const { submittedBy, receivedAt, ...policyOverrides } = options;
  const args: TicketWorkflowInput = {
    ticket: input,
    receivedAt: (receivedAt ?? new Date()).toISOString(),
    policy: { ...ticketPolicy(config), ...policyOverrides },
  };
  try {
    await client.workflow.start(WORKFLOW_TYPE, {
      workflowId,
      taskQueue: config.TEMPORAL_TASK_QUEUE,
      args: [args],
      workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
      // Memo is shown in the Temporal UI next to the run. It carries no customer data (the ticket is in the
      // encrypted input), only the submitting key id that scopes intake keys' reads.
      ...(submittedBy ? { memo: { submittedBy } } : {}),
      typedSearchAttributes: [{ key: TicketStage, value: 'received' }],
    });
    return { workflowId, created: true };
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) return { workflowId, created: false };
    throw err;
  }
}
