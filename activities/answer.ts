import { ApplicationFailure } from '@temporalio/activity';
import { sql } from 'kysely';
import type { Passage, TicketStage } from '../src/domain/ticket';
import { checkReplyGrounding } from '../src/llm/grounding';
import type { LlmProvider } from '../src/llm/types';
import { storableJson, storableText } from '../src/text';
import type { ActivityDeps } from './deps';
import { isRetry, webhookFailure, type TicketRecord } from './ticket-record';
import { confirmInsertedOrSame, confirmRow, confirmRows, lostWrite } from './writes';

export type GenerateOutcome = { kind: 'answer'; citedPassageIds: string[] } | { kind: 'cannot_answer' };

/** Proof that the reply is in the outbox and delivered; the workflow reports the ticket answered only after it. */
export interface DeliveredReply {
  outboxId: number;
  deliveredAt: string;
}

/** Answering: a draft from the stored passages only, and its delivery to the customer (AI or human reply). */
export function answerActivities(deps: ActivityDeps, record: TicketRecord) {
  const { db, config } = deps;

  async function recordedDraft(workflowId: string): Promise<GenerateOutcome | undefined> {
    const [step, draft] = await Promise.all([
      db
        .selectFrom('ticket_steps')
        .select('status')
        .where('workflow_id', '=', workflowId)
        .where('step', '=', 'generate')
        .executeTakeFirst(),
      db
        .selectFrom('drafts')
        .select(['kind', 'cited_passage_ids'])
        .where('workflow_id', '=', workflowId)
        .executeTakeFirst(),
    ]);
    if (step?.status !== 'ok' || !draft) return undefined;
    return draft.kind === 'answer'
      ? { kind: 'answer', citedPassageIds: draft.cited_passage_ids }
      : { kind: 'cannot_answer' };
  }

  async function replyText(workflowId: string, source: 'ai' | 'human'): Promise<string | null | undefined> {
    if (source === 'ai') {
      const draft = await db
        .selectFrom('drafts')
        .select('reply')
        .where('workflow_id', '=', workflowId)
        .executeTakeFirst();
      return draft?.reply;
    }
    const resolution = await db
      .selectFrom('resolutions')
      .select('answer')
      .where('workflow_id', '=', workflowId)
      .executeTakeFirst();
    return resolution?.answer;
  }

  return {
    /** Answer from the stored passages only; the draft goes to Postgres, the workflow gets the verdict. */
    async generateAnswer(input: {
      workflowId: string;
      minScore: number;
      /** The document the answerability gate chose: only its passages are given to the model (absent: all). */
      documentId?: string;
      maxLlmFailures?: number;
      stage?: TicketStage;
      /** Started during triage, before the gates; logged so its cost can be told apart when a gate discards it. */
      speculative?: boolean;
    }): Promise<GenerateOutcome> {
      if (input.stage) await record.recordStage(input.workflowId, input.stage);
      const recorded = isRetry() ? await recordedDraft(input.workflowId) : undefined;
      if (recorded) return recorded;
      const ticket = await record.loadForLlm(input.workflowId);
      const rows = await db
        .selectFrom('ticket_passages')
        .selectAll()
        .where('workflow_id', '=', input.workflowId)
        .orderBy('rank')
        .execute();
      const passages: Passage[] = rows
        .filter((r) => r.score >= input.minScore)
        .filter((r) => input.documentId === undefined || r.document_id === input.documentId)
        .map((r) => ({
          id: r.passage_id,
          documentId: r.document_id,
          title: r.title,
          headingPath: r.heading_path,
          text: r.text,
          score: r.score,
          source: r.source === 'resolution' ? 'resolution' : 'kb',
          intents: [],
        }));
      let drafted: Awaited<ReturnType<LlmProvider['answer']>>;
      try {
        drafted = await deps.llm.answer(ticket, passages);
      } catch (err) {
        throw await record.llmFailure(
          input.workflowId,
          'generate',
          err,
          record.llmBudget(input.maxLlmFailures),
        );
      }
      const { usage } = drafted;
      let answer = drafted.answer;
      let withheldReply: string | null = null;
      if (answer.kind === 'answer') {
        // Do not trust the model with what goes to the customer: no leaked instructions, no invented figures.
        const cited = passages.filter(
          (p) => answer.kind === 'answer' && answer.citedPassageIds.includes(p.id),
        );
        const verdict = checkReplyGrounding(answer.reply, cited, config.INTENTS);
        if (!verdict.ok) {
          // Kept for the human who takes over (a starting point to correct), never sent to the customer.
          withheldReply = storableText(answer.reply);
          answer = { kind: 'cannot_answer', reason: `Draft withheld: ${verdict.reason}` };
        }
      }
      const values =
        answer.kind === 'answer'
          ? {
              kind: 'answer',
              reply: storableText(answer.reply),
              cited_passage_ids: storableJson(answer.citedPassageIds),
              reason: null,
            }
          : {
              kind: 'cannot_answer',
              reply: null,
              cited_passage_ids: storableJson([]),
              reason: storableText(answer.reason),
            };
      const draftValues = { ...values, withheld_reply: withheldReply };
      const draft = await db
        .insertInto('drafts')
        .values({ workflow_id: input.workflowId, ...draftValues })
        .onConflict((oc) => oc.column('workflow_id').doUpdateSet(draftValues))
        .returning(['kind', 'reply'])
        .executeTakeFirst();
      const stored = confirmRow(draft, `draft of ${input.workflowId}`);
      if (stored.kind !== values.kind || stored.reply !== values.reply)
        throw lostWrite(`draft of ${input.workflowId} (the stored draft differs)`);
      await record.logStep(input.workflowId, 'generate', 'ok', usage, {
        kind: answer.kind,
        cited: answer.kind === 'answer' ? answer.citedPassageIds : [],
        reason: answer.kind === 'cannot_answer' ? answer.reason : undefined,
        ...(input.speculative ? { speculative: true } : {}),
      });
      return answer.kind === 'answer'
        ? { kind: 'answer', citedPassageIds: answer.citedPassageIds }
        : { kind: 'cannot_answer' };
    },

    /**
     * Exactly one reply per ticket: the outbox row is unique per (workflow_id, 'reply'), so a retried activity
     * finds the row and only finishes the webhook delivery it may have missed. Returns only once the row is
     * read back delivered: a reply that did not reach the outbox fails the activity, and Temporal retries it.
     */
    async deliverReply(input: {
      workflowId: string;
      source: 'ai' | 'human';
      stage?: TicketStage;
    }): Promise<DeliveredReply> {
      const { workflowId, source } = input;
      if (input.stage) await record.recordStage(workflowId, input.stage);
      const body = await replyText(workflowId, source);
      if (!body)
        throw ApplicationFailure.nonRetryable(
          `No ${source} reply text stored for ${workflowId}`,
          'missing_reply',
        );
      const outboxRow = ['id', 'delivered_at', 'body', 'source'] as const;
      const inserted = await db
        .insertInto('outbox')
        .values({ workflow_id: workflowId, kind: 'reply', source, body })
        .onConflict((oc) => oc.columns(['workflow_id', 'kind']).doNothing())
        .returning(outboxRow)
        .executeTakeFirst();
      const row = await confirmInsertedOrSame(
        inserted,
        () =>
          db
            .selectFrom('outbox')
            .select(outboxRow)
            .where('workflow_id', '=', workflowId)
            .where('kind', '=', 'reply')
            .executeTakeFirst(),
        { source, body },
        `reply to ${workflowId}`,
      );
      let deliveredAt = row.delivered_at;
      if (deliveredAt === null) {
        // The first reply is turn 1 of the conversation; its event id stays what it always was.
        const sent = await record.notifyTicketingSystem({ type: 'reply', workflowId, source, body, turn: 1 });
        if (sent) {
          const counted = await db
            .updateTable('outbox')
            .set({ webhook_status: sent.status, webhook_attempts: sql`webhook_attempts + 1` })
            .where('id', '=', row.id)
            .executeTakeFirst();
          confirmRows(counted, 1, `webhook status of the reply to ${workflowId}`);
          if (sent.status >= 300) throw webhookFailure(sent.status);
        }
        const delivered = await db
          .updateTable('outbox')
          .set({ delivered_at: new Date() })
          .where('id', '=', row.id)
          .returning('delivered_at')
          .executeTakeFirst();
        deliveredAt = confirmRow(
          delivered?.delivered_at ?? undefined,
          `delivery of the reply to ${workflowId}`,
        );
      }
      // Runs started before the workflow passed its stage recorded the end of the ticket here.
      if (!input.stage) await record.recordStage(workflowId, source === 'ai' ? 'answered' : 'resolved');
      return { outboxId: row.id, deliveredAt: new Date(deliveredAt).toISOString() };
    },
  };
}
