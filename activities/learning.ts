import { Context } from '@temporalio/activity';
import { ticketText, type Classification, type TicketStage } from '../src/domain/ticket';
import { maybeRedact } from '../src/pii';
import type { ActivityDeps } from './deps';
import type { TicketRecord } from './ticket-record';
import { confirmRows } from './writes';

/** Learning: a human's answer becomes knowledge the next customer's question can find. */
export function learningActivities(deps: ActivityDeps, record: TicketRecord) {
  const { db, config } = deps;

  return {
    /**
     * Teach the knowledge base: the customer's question and the human's answer become a `resolution` document,
     * unless an existing resolution already says the same thing.
     */
    async indexResolution(input: {
      workflowId: string;
      /** From the workflow; undefined for runs started by older code (then read from the classify step). */
      classification?: Classification | null;
      stage?: TicketStage;
    }): Promise<{ outcome: 'indexed' | 'duplicate'; documentId: string }> {
      const { workflowId } = input;
      if (input.stage) await record.recordStage(workflowId, input.stage);
      const ticket = await db
        .selectFrom('tickets')
        .select(['subject', 'body'])
        .where('workflow_id', '=', workflowId)
        .executeTakeFirstOrThrow();
      const resolution = await db
        .selectFrom('resolutions')
        .selectAll()
        .where('workflow_id', '=', workflowId)
        .executeTakeFirstOrThrow();
      const intent = (await record.classificationOf(workflowId, input.classification))?.intent;
      // The KB is read by every future customer's answer: strip personal data before it gets there.
      const question = maybeRedact(config, ticketText(ticket));
      const answer = maybeRedact(config, resolution.answer);
      const body = `${question}\n\n${answer}`;
      const documentId = `resolution-${workflowId}`;
      Context.current().heartbeat('embedding');

      const [vector] = await deps.embedder.embed([body]);
      const nearest = await deps.store.search(vector!, 1, { source: 'resolution' });
      const duplicate = nearest.find(
        (hit) => hit.payload.documentId !== documentId && hit.score >= config.RESOLUTION_DUPLICATE_SCORE,
      );
      if (duplicate) {
        const noted = await db
          .updateTable('resolutions')
          .set({ kb_outcome: `duplicate_of:${duplicate.payload.documentId}` })
          .where('workflow_id', '=', workflowId)
          .executeTakeFirst();
        confirmRows(noted, 1, `KB outcome of ${workflowId}`);
        return { outcome: 'duplicate', documentId: duplicate.payload.documentId };
      }
      Context.current().heartbeat('indexing');
      // The question becomes the title (embedded with every chunk, so similar questions find it); the body is
      // the human's answer alone, so an extractive answer quotes the answer, not the customer's question back.
      const title = question.replace(/\s+/g, ' ').trim().slice(0, 300);
      await deps.ingestDocument({
        id: documentId,
        title,
        body: answer,
        source: 'resolution',
        ticketId: workflowId,
        intents: intent ? [intent] : [],
        origin: `ticket:${workflowId}`,
      });
      const noted = await db
        .updateTable('resolutions')
        .set({ kb_document_id: documentId, kb_outcome: 'indexed' })
        .where('workflow_id', '=', workflowId)
        .executeTakeFirst();
      confirmRows(noted, 1, `KB outcome of ${workflowId}`);
      return { outcome: 'indexed', documentId };
    },
  };
}
