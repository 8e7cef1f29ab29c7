import type { WorkflowHandle } from '@temporalio/client';
import { PgvectorStore } from '../../src/kb/pgvector-store';
import { statusQuery } from '../../workflows/definitions';
import { checkBookkeeping, finishedNow } from './bookkeeping';
import { eventually, type TestStack } from './stack';
import { DEFAULT_EMBEDDING_MODEL } from '../../src/kb/models';

/** A vector store nothing listens for (port 1): every retrieval attempt fails with a real connection error. */
export function unreachableStore(): PgvectorStore {
  return new PgvectorStore({
    url: 'postgres://nobody:nothing@127.0.0.1:1/none',
    collection: 'kb_unreachable',
    model: { modelId: DEFAULT_EMBEDDING_MODEL, dimension: 384 },
  });
}

/** The ticket escalates `retrieval_unavailable` once retrieval has failed its budget (5 attempts), and nothing is lost. */
export async function expectRetrievalUnavailable(stack: TestStack, handle: WorkflowHandle): Promise<void> {
  const status = await eventually(async () => {
    const s = await handle.query(statusQuery);
    return s.stage === 'escalated' ? s : undefined;
  }, 60_000);
  expect(status.escalationReason).toBe('retrieval_unavailable');
  const row = await stack.db
    .selectFrom('ticket_steps')
    .selectAll()
    .where('workflow_id', '=', handle.workflowId)
    .where('step', '=', 'retrieve')
    .executeTakeFirstOrThrow();
  expect(row).toMatchObject({ status: 'failed', attempts: 5 });
  await checkBookkeeping(stack.db, await finishedNow(stack.client, [handle.workflowId]));
}
