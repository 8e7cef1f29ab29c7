import {
  ticketText,
  type Classification,
  type EscalationReason,
  type TicketInput,
  type TicketStage,
} from '../src/domain/ticket';
import { maybeRedact } from '../src/pii';
import { storableJson, storableText } from '../src/text';
import type { ActivityDeps } from './deps';
import type { TicketRecord } from './ticket-record';
import { confirmInsertedOrSame, confirmRow, lostWrite } from './writes';

/** The log: the ticket as received, and the interaction row that says how it ended. */
export function logActivities(deps: ActivityDeps, record: TicketRecord) {
  const { db, config } = deps;

  return {
    /** Persist the ticket so later steps (and humans) read it from Postgres, not from workflow history. */
    async recordTicket(input: {
      workflowId: string;
      ticket: TicketInput;
      receivedAt: string;
    }): Promise<void> {
      const { workflowId, ticket } = input;
      // Whatever reached the workflow is stored: NULs and broken surrogates would make Postgres refuse it forever.
      const content = {
        external_id: ticket.externalId,
        subject: storableText(ticket.subject ?? ''),
        body: storableText(ticket.body),
      };
      const inserted = await db
        .insertInto('tickets')
        .values({
          workflow_id: workflowId,
          ...content,
          customer: storableJson(ticket.customer ?? {}),
          channel: ticket.channel ?? 'api',
          stage: 'received',
          created_at: input.receivedAt,
        })
        .onConflict((oc) => oc.column('workflow_id').doNothing())
        .returning(['external_id', 'subject', 'body'])
        .executeTakeFirst();
      await confirmInsertedOrSame(
        inserted,
        () =>
          db
            .selectFrom('tickets')
            .select(['external_id', 'subject', 'body'])
            .where('workflow_id', '=', workflowId)
            .executeTakeFirst(),
        content,
        `ticket ${workflowId}`,
      );
    },

    /** The interaction log row (the seed's columns plus workflow id, tokens and $), upserted per ticket. */
    async recordOutcome(input: {
      workflowId: string;
      escalated: boolean;
      reason?: EscalationReason;
      replySource?: 'ai' | 'human';
      answeredFromResolution?: string;
      /** From the workflow; undefined for runs started by older code (then read from the classify step). */
      classification?: Classification | null;
      /** The stage the ticket ends in, recorded with the row. */
      stage?: TicketStage;
    }): Promise<void> {
      const { workflowId } = input;
      const ticket = await db
        .selectFrom('tickets')
        .selectAll()
        .where('workflow_id', '=', workflowId)
        .executeTakeFirstOrThrow();
      const steps = await db
        .selectFrom('ticket_steps')
        .selectAll()
        .where('workflow_id', '=', workflowId)
        .execute();
      const classification = await record.classificationOf(workflowId, input.classification);
      const reply = input.replySource
        ? await db
            .selectFrom('outbox')
            .select('body')
            .where('workflow_id', '=', workflowId)
            .where('kind', '=', 'reply')
            .executeTakeFirst()
        : undefined;
      const sum = (key: 'input_tokens' | 'cached_input_tokens' | 'output_tokens' | 'cost_usd') =>
        steps.reduce((total, s) => total + Number(s[key] ?? 0), 0);
      const completedAt = new Date();
      const values = {
        ticket_text: maybeRedact(config, ticketText(ticket)),
        intent: classification?.intent ?? null,
        urgency: classification?.urgency ?? null,
        confidence: classification?.confidence ?? null,
        sentiment: classification?.sentiment ?? null,
        language: classification?.language ?? null,
        escalated: input.escalated,
        reason: input.reason ?? null,
        response: reply?.body ? maybeRedact(config, reply.body) : null,
        response_source: input.replySource ?? null,
        latency_ms: input.replySource ? completedAt.getTime() - new Date(ticket.created_at).getTime() : null,
        input_tokens: sum('input_tokens'),
        cached_input_tokens: sum('cached_input_tokens'),
        output_tokens: sum('output_tokens'),
        cost_usd: sum('cost_usd'),
        completed_at: input.replySource ? completedAt : null,
        answered_from_resolution: input.answeredFromResolution ?? null,
      };
      const row = await db
        .insertInto('interactions')
        .values({ workflow_id: workflowId, timestamp: ticket.created_at, ...values })
        .onConflict((oc) => oc.column('workflow_id').doUpdateSet(values))
        .returning(['escalated', 'response_source'])
        .executeTakeFirst();
      const logged = confirmRow(row, `interaction row of ${workflowId}`);
      if (logged.escalated !== values.escalated || logged.response_source !== values.response_source)
        throw lostWrite(`interaction row of ${workflowId} (the stored row differs)`);
      if (input.stage) await record.recordStage(workflowId, input.stage);
    },
  };
}
