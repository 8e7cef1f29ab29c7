import type { EscalationReason, ResolutionSignal, TicketStage } from '../src/domain/ticket';
import { storableText } from '../src/text';
import type { ActivityDeps } from './deps';
import { webhookFailure, type TicketRecord } from './ticket-record';
import { confirmInsertedOrSame, confirmRow, lostWrite } from './writes';

/** Escalation: the record a human needs, the SLA reminder, and the human's resolution. */
export function escalationActivities(deps: ActivityDeps, record: TicketRecord) {
  const { db } = deps;

  return {
    /** The record a human needs: classification, passages, any draft, the reason and the SLA. */
    async escalateTicket(input: {
      workflowId: string;
      reason: EscalationReason;
      slaDueAt: string;
      /** The stage the written record puts the ticket in (`escalated`; runs started by older code omit it). */
      stage?: TicketStage;
      /** A speculative draft that a gate overruled: the human does not get it as a suggestion. */
      discardDraft?: boolean;
    }): Promise<void> {
      const { workflowId } = input;
      // The classify step's whole detail (with the rules' findings), for the human to see.
      const classifyDetail = await record.classifyDetail(workflowId);
      const passages = await record.passagesForHuman(workflowId);
      const draft = input.discardDraft
        ? undefined
        : await db
            .selectFrom('drafts')
            .select(['reply', 'withheld_reply', 'reason'])
            .where('workflow_id', '=', workflowId)
            .executeTakeFirst();
      const withheld = !draft?.reply && Boolean(draft?.withheld_reply);
      const values = {
        reason: input.reason,
        classification: JSON.stringify(classifyDetail ?? null),
        passages: JSON.stringify(passages),
        draft: draft?.reply ?? draft?.withheld_reply ?? null,
        draft_withheld_reason: withheld ? (draft?.reason ?? 'failed the grounding check') : null,
        sla_due_at: input.slaDueAt,
      };
      const inserted = await db
        .insertInto('escalations')
        .values({ workflow_id: workflowId, ...values })
        .onConflict((oc) => oc.column('workflow_id').doNothing())
        .returning('reason')
        .executeTakeFirst();
      await confirmInsertedOrSame(
        inserted,
        () =>
          db
            .selectFrom('escalations')
            .select('reason')
            .where('workflow_id', '=', workflowId)
            .executeTakeFirst(),
        { reason: input.reason },
        `escalation of ${workflowId}`,
      );
      await record.recordStage(workflowId, input.stage ?? 'escalated');
      const sent = await record.notifyTicketingSystem({
        type: 'escalation',
        workflowId,
        reason: input.reason,
        slaDueAt: input.slaDueAt,
      });
      if (sent && sent.status >= 300) throw webhookFailure(sent.status);
    },

    /** Past the SLA: say so once (the webhook too), however often this is retried. */
    async notifyOverdue(input: { workflowId: string }): Promise<void> {
      const row = await db
        .updateTable('escalations')
        .set({ overdue_notified_at: new Date() })
        .where('workflow_id', '=', input.workflowId)
        .where('overdue_notified_at', 'is', null)
        .returning(['sla_due_at'])
        .executeTakeFirst();
      if (!row) {
        // Nothing changed: an earlier attempt noted it already, or the note is missing (a lost write).
        const earlier = await db
          .selectFrom('escalations')
          .select('overdue_notified_at')
          .where('workflow_id', '=', input.workflowId)
          .executeTakeFirst();
        if (!earlier?.overdue_notified_at) throw lostWrite(`overdue note on ${input.workflowId}`);
      }
      deps.logger.warn({ workflowId: input.workflowId }, 'Escalation is past its SLA');
      if (row) {
        await record.notifyTicketingSystem({
          type: 'overdue',
          workflowId: input.workflowId,
          slaDueAt: new Date(row.sla_due_at).toISOString(),
        });
      }
    },

    /** The human's answer, and the escalation closed by it, in one transaction. */
    async recordResolution(input: { workflowId: string; resolution: ResolutionSignal }): Promise<void> {
      const { workflowId, resolution } = input;
      const agentId = storableText(resolution.agentId);
      const answer = storableText(resolution.answer);
      await db.transaction().execute(async (trx) => {
        const inserted = await trx
          .insertInto('resolutions')
          .values({
            workflow_id: workflowId,
            agent_id: agentId,
            answer,
            add_to_kb: resolution.addToKnowledgeBase !== false,
          })
          .onConflict((oc) => oc.column('workflow_id').doNothing())
          .returning(['agent_id', 'answer'])
          .executeTakeFirst();
        await confirmInsertedOrSame(
          inserted,
          () =>
            trx
              .selectFrom('resolutions')
              .select(['agent_id', 'answer'])
              .where('workflow_id', '=', workflowId)
              .executeTakeFirst(),
          { agent_id: agentId, answer },
          `resolution of ${workflowId}`,
        );
        const closed = await trx
          .updateTable('escalations')
          .set({ resolved_at: new Date(), resolved_by: resolution.agentId })
          .where('workflow_id', '=', workflowId)
          .where('resolved_at', 'is', null)
          .returning('resolved_at')
          .executeTakeFirst();
        if (!closed) {
          const earlier = await trx
            .selectFrom('escalations')
            .select('resolved_at')
            .where('workflow_id', '=', workflowId)
            .executeTakeFirst();
          confirmRow(earlier?.resolved_at ?? undefined, `escalation of ${workflowId} closed`);
        }
      });
    },
  };
}
