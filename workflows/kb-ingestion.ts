import { ActivityFailure, proxyActivities } from '@temporalio/workflow';
import type { KbIngestionActivities } from '../activities/kb-ingestion';
import type { KbIngestionOutcome, KbIngestionWorkflowInput } from './definitions';

/** Retrying cannot help: the ingestion row is gone, or the staged vectors do not match the document. */
export const NON_RETRYABLE_KB_INGESTION_FAILURES = ['kb_ingestion_missing', 'kb_ingestion_incomplete'];

const steps = proxyActivities<
  Pick<KbIngestionActivities, 'beginKbIngestion' | 'embedKbIngestionBatch' | 'commitKbIngestion'>
>({
  // A batch is a few seconds of model time on a busy machine; this only guards against a stuck worker.
  startToCloseTimeout: '2m',
  retry: {
    initialInterval: '1s',
    backoffCoefficient: 2,
    maximumInterval: '30s',
    maximumAttempts: 8,
    nonRetryableErrorTypes: NON_RETRYABLE_KB_INGESTION_FAILURES,
  },
});

// Recording the failure must not itself fail for good: a database outage delays it.
const bookkeeping = proxyActivities<Pick<KbIngestionActivities, 'failKbIngestion'>>({
  startToCloseTimeout: '30s',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '1m' },
});

/**
 * One knowledge-base document into the vector store, off the API's request path: chunk it, embed the chunks in
 * batches (each batch an activity that stages its vectors and advances the progress `GET /v1/kb/ingestions/:id`
 * shows), then swap the document's chunks in the store in one step, so searches see the old version or the new
 * one, never half of either. Pure orchestration: the text stays in Postgres.
 */
export async function kbIngestionWorkflow(input: KbIngestionWorkflowInput): Promise<KbIngestionOutcome> {
  const { ingestionId } = input;
  try {
    const { chunks } = await steps.beginKbIngestion(ingestionId);
    for (let from = 0; from < chunks; from += input.batchChunks) {
      await steps.embedKbIngestionBatch(ingestionId, from, Math.min(chunks, from + input.batchChunks));
    }
    return await steps.commitKbIngestion(ingestionId);
  } catch (error) {
    const cause = error instanceof ActivityFailure && error.cause ? error.cause : error;
    await bookkeeping.failKbIngestion(ingestionId, cause instanceof Error ? cause.message : String(cause));
    throw error;
  }
}
