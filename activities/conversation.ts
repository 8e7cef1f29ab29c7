import { ApplicationFailure } from '@temporalio/activity';
import type { CitedPassage } from '../src/db/schema';
import type { EscalationReason } from '../src/domain/ticket';
import { searchTopAnswers } from '../src/kb/answer-key';
import { restatementsFromRegistry } from '../src/kb/restatements';
import { judgeAnswerability } from '../src/kb/answerability';
import { hitToPassage } from '../src/kb/ingest';
import { checkReplyGrounding } from '../src/llm/grounding';
import { detectCriticalSignals, detectFollowUpSignal, type FollowUpSignal } from '../src/llm/signals';
import type { LlmProvider, TicketForLlm } from '../src/llm/types';
import { redactForLlm } from '../src/pii';
import { storableJson, storableText } from '../src/text';
import type { ActivityDeps } from './deps';
import { isRetry, webhookFailure, type TicketRecord } from './ticket-record';
import { confirmInsertedOrSame, confirmRow, confirmRows, lostWrite } from './writes';

/** Thread messages the model sees in full; older ones are summarised by a count (long threads stay cheap). */
const THREAD_TAIL = 6;
const MESSAGE_CHARS = 1200;

export type FollowUpAnswer =
  | { kind: 'answer'; cited: Array<{ passageId: string; documentId: string }> }
  | {
      kind: 'escalate';
      reason: Extract<
        EscalationReason,
        'critical_urgency' | 'no_grounded_context' | 'not_answerable' | 'agent_uncertainty'
      >;
    };

export type ConversationOutcomeRecord = {
  workflowId: string;
  outcome: string | null;
  aiTurns: number;
  humanTurns: number;
  reopened: number;
  escalatedAfterAi: boolean;
  unhappyDocumentIds: string[];
};

/**
 * The conversation after the first answer: customer follow-ups and feedback, AI follow-up turns (the latest
 * message is what is retrieved for; the model sees the thread), human replies after a reopen, and how the
 * conversation ended. Texts stay here in Postgres; the workflow gets ids and verdicts.
 */
export function conversationActivities(deps: ActivityDeps, record: TicketRecord) {
  const { db, config } = deps;

  async function messageById(workflowId: string, messageId: string) {
    return db
      .selectFrom('ticket_messages')
      .selectAll()
      .where('workflow_id', '=', workflowId)
      .where('message_id', '=', messageId)
      .executeTakeFirst();
  }

  /**
   * The customer's latest message (what is answered and retrieved for) and the thread before it as context:
   * the first message, then the last few messages in full, older ones summarised by a count.
   */
  async function threadForLlm(workflowId: string): Promise<TicketForLlm & { body: string; thread: string }> {
    const ticket = await db
      .selectFrom('tickets')
      .select(['subject', 'body'])
      .where('workflow_id', '=', workflowId)
      .executeTakeFirstOrThrow();
    const messages = await db
      .selectFrom('ticket_messages')
      .select(['author', 'body'])
      .where('workflow_id', '=', workflowId)
      .orderBy('id')
      .execute();
    const latestIndex = messages.map((m) => m.author).lastIndexOf('customer');
    if (latestIndex < 0)
      throw ApplicationFailure.nonRetryable(`No follow-up stored for ${workflowId}`, 'missing_message');
    const clip = (text: string) => redactForLlm(config, text.slice(0, MESSAGE_CHARS));
    const before = messages.slice(0, latestIndex);
    const tail = before.slice(-THREAD_TAIL);
    const omitted = before.length - tail.length;
    const thread = [
      `Customer (first message): ${clip(ticket.body)}`,
      ...(omitted > 0 ? [`[${omitted} earlier messages of this conversation omitted]`] : []),
      ...tail.map((m) => `${m.author === 'customer' ? 'Customer' : 'Support'}: ${clip(m.body)}`),
    ].join('\n\n');
    return {
      subject: redactForLlm(config, ticket.subject),
      body: clip(messages[latestIndex]!.body),
      thread,
    };
  }

  /** A reply row (AI or human), written once per turn; a retry finds it and checks it is the same. */
  async function insertReply(values: {
    workflowId: string;
    messageId: string;
    author: 'ai' | 'human';
    turn: number;
    body: string;
    cited?: CitedPassage[];
    agentId?: string;
  }): Promise<void> {
    const body = storableText(values.body);
    const inserted = await db
      .insertInto('ticket_messages')
      .values({
        workflow_id: values.workflowId,
        message_id: values.messageId,
        author: values.author,
        turn: values.turn,
        body,
        cited_passages: storableJson(values.cited ?? []),
        agent_id: values.agentId ?? null,
      })
      .onConflict((oc) => oc.columns(['workflow_id', 'message_id']).doNothing())
      .returning(['body'])
      .executeTakeFirst();
    await confirmInsertedOrSame(
      inserted,
      () =>
        db
          .selectFrom('ticket_messages')
          .select(['body'])
          .where('workflow_id', '=', values.workflowId)
          .where('message_id', '=', values.messageId)
          .executeTakeFirst(),
      { body },
      `${values.author} reply ${values.turn} of ${values.workflowId}`,
    );
  }

  async function saveConversation(values: ConversationOutcomeRecord & { closed: boolean }): Promise<void> {
    const row = {
      outcome: values.outcome,
      ai_turns: values.aiTurns,
      human_turns: values.humanTurns,
      reopened: values.reopened,
      escalated_after_ai: values.escalatedAfterAi,
      unhappy_document_ids: storableJson(values.unhappyDocumentIds),
      updated_at: new Date(),
      closed_at: values.closed ? new Date() : null,
    };
    const saved = await db
      .insertInto('conversations')
      .values({ workflow_id: values.workflowId, ...row })
      .onConflict((oc) => oc.column('workflow_id').doUpdateSet(row))
      .returning('outcome')
      .executeTakeFirst();
    if (confirmRow(saved, `conversation of ${values.workflowId}`).outcome !== values.outcome)
      throw lostWrite(`conversation of ${values.workflowId} (outcome differs)`);
  }

  return {
    /**
     * Store a customer's follow-up (once per messageId) and say what it means for the conversation. The
     * verdict is computed from the stored text, so a reused id gets the verdict of its first message.
     */
    async recordCustomerMessage(input: {
      workflowId: string;
      messageId: string;
      text: string;
      turn: number;
    }): Promise<{ signal: FollowUpSignal }> {
      await db
        .insertInto('ticket_messages')
        .values({
          workflow_id: input.workflowId,
          message_id: input.messageId,
          author: 'customer',
          turn: input.turn,
          body: storableText(input.text),
        })
        .onConflict((oc) => oc.columns(['workflow_id', 'message_id']).doNothing())
        .execute();
      const stored = confirmRow(
        await messageById(input.workflowId, input.messageId),
        `message ${input.messageId} of ${input.workflowId}`,
      );
      return { signal: detectFollowUpSignal(stored.body) };
    },

    async recordFeedback(input: {
      workflowId: string;
      feedbackId: string;
      rating: 'good' | 'bad';
      comment?: string;
      turn: number;
    }): Promise<void> {
      const inserted = await db
        .insertInto('ticket_feedback')
        .values({
          workflow_id: input.workflowId,
          feedback_id: input.feedbackId,
          rating: input.rating,
          comment: input.comment ? storableText(input.comment) : null,
          turn: input.turn,
        })
        .onConflict((oc) => oc.columns(['workflow_id', 'feedback_id']).doNothing())
        .returning('rating')
        .executeTakeFirst();
      await confirmInsertedOrSame(
        inserted,
        () =>
          db
            .selectFrom('ticket_feedback')
            .select('rating')
            .where('workflow_id', '=', input.workflowId)
            .where('feedback_id', '=', input.feedbackId)
            .executeTakeFirst(),
        { rating: input.rating },
        `feedback ${input.feedbackId} of ${input.workflowId}`,
      );
    },

    /**
     * An AI follow-up turn: retrieve for the latest message, answer with the thread in view, check the draft's
     * grounding. The reply is stored (not yet delivered) as `ai-<turn>`.
     */
    async answerFollowUp(input: {
      workflowId: string;
      turn: number;
      minScore: number;
      maxLlmFailures?: number;
    }): Promise<FollowUpAnswer> {
      const { workflowId, turn } = input;
      const messageId = `ai-${turn}`;
      const step = `generate:${turn}`;
      if (isRetry()) {
        const stored = await messageById(workflowId, messageId);
        if (stored) return { kind: 'answer', cited: stored.cited_passages };
      }
      const thread = await threadForLlm(workflowId);
      if (detectCriticalSignals(thread.body).length > 0)
        return { kind: 'escalate', reason: 'critical_urgency' };
      const [vector] = await deps.embedder.embed([thread.body]);
      // Retrieved and gated as in the first turn: an answer only when one document answers the latest message
      // clearly better than the runner-up (issue 13).
      const retrieved = await searchTopAnswers(
        deps.store,
        vector!,
        config.RETRIEVAL_TOP_K,
        restatementsFromRegistry(db),
      );
      const grounding = retrieved.filter(({ hit }) => hit.score >= input.minScore);
      if (grounding.length === 0) return { kind: 'escalate', reason: 'no_grounded_context' };
      const gate = judgeAnswerability(
        retrieved.map(({ ref }) => ref),
        { minScore: config.ANSWER_MIN_SCORE, minMargin: config.ANSWER_MIN_MARGIN },
      );
      if (!gate.answerable || !gate.best) return { kind: 'escalate', reason: 'not_answerable' };
      const chosen = gate.best.answerKey;
      const passages = grounding
        .filter(({ ref }) => (ref.answerKey ?? ref.documentId) === chosen)
        .map(({ hit }) => hitToPassage(hit));
      if (passages.length === 0) return { kind: 'escalate', reason: 'no_grounded_context' };
      let drafted: Awaited<ReturnType<LlmProvider['answer']>>;
      try {
        drafted = await deps.llm.answer(thread, passages);
      } catch (err) {
        throw await record.llmFailure(workflowId, step, err, record.llmBudget(input.maxLlmFailures));
      }
      const { answer, usage } = drafted;
      const cited =
        answer.kind === 'answer' ? passages.filter((p) => answer.citedPassageIds.includes(p.id)) : [];
      const grounded =
        answer.kind === 'answer' &&
        checkReplyGrounding(answer.reply, cited, config.INTENTS).ok &&
        cited.length > 0;
      await record.logStep(workflowId, step, 'ok', usage, {
        kind: grounded ? 'answer' : 'cannot_answer',
        cited: cited.map((p) => p.id),
      });
      if (answer.kind !== 'answer' || !grounded) return { kind: 'escalate', reason: 'agent_uncertainty' };
      const citedRows: CitedPassage[] = cited.map((p) => ({
        passageId: p.id,
        documentId: p.documentId,
        title: p.title,
        score: Number(p.score.toFixed(4)),
      }));
      await insertReply({ workflowId, messageId, author: 'ai', turn, body: answer.reply, cited: citedRows });
      return {
        kind: 'answer',
        cited: citedRows.map(({ passageId, documentId }) => ({ passageId, documentId })),
      };
    },

    /** A human's answer after a reopen, and the reopened escalation closed by it. */
    async recordHumanReply(input: {
      workflowId: string;
      turn: number;
      agentId: string;
      answer: string;
    }): Promise<void> {
      await insertReply({
        workflowId: input.workflowId,
        messageId: `human-${input.turn}`,
        author: 'human',
        turn: input.turn,
        body: input.answer,
        agentId: storableText(input.agentId),
      });
      await db
        .updateTable('escalations')
        .set({ resolved_at: new Date(), resolved_by: input.agentId })
        .where('workflow_id', '=', input.workflowId)
        .where('resolved_at', 'is', null)
        .execute();
    },

    /** Send a stored reply (`ai-<turn>` / `human-<turn>`) to the ticketing system with its turn; once. */
    async deliverMessage(input: { workflowId: string; messageId: string }): Promise<void> {
      const message = confirmRow(
        await messageById(input.workflowId, input.messageId),
        `reply ${input.messageId} of ${input.workflowId}`,
      );
      if (message.delivered_at) return;
      const source = message.author === 'human' ? 'human' : 'ai';
      const sent = await record.notifyTicketingSystem({
        type: 'reply',
        workflowId: input.workflowId,
        source,
        body: message.body,
        turn: message.turn,
      });
      if (sent && sent.status >= 300) throw webhookFailure(sent.status);
      const delivered = await db
        .updateTable('ticket_messages')
        .set({ delivered_at: new Date(), webhook_status: sent?.status ?? null })
        .where('id', '=', message.id)
        .executeTakeFirst();
      confirmRows(delivered, 1, `delivery of ${input.messageId} of ${input.workflowId}`);
      // As for the first reply (deliverReply): a delivered AI answer leaves the ticket answered, a human's resolved,
      // so a reopened ticket the human answered again no longer reads as escalated.
      await record.recordStage(input.workflowId, source === 'ai' ? 'answered' : 'resolved');
    },

    /**
     * Hand the conversation to the human queue: a new escalation (after an AI answer) or the old one opened
     * again (a reply after a human's resolution). The values come from the workflow, so a retry writes the same.
     */
    async handToHuman(
      input: ConversationOutcomeRecord & {
        reason: EscalationReason;
        slaDueAt: string;
        turn: number;
        citedDocumentIds: string[];
      },
    ): Promise<void> {
      const { workflowId } = input;
      const passages = await record.passagesForHuman(workflowId);
      const values = {
        reason: input.reason,
        sla_due_at: input.slaDueAt,
        resolved_at: null,
        resolved_by: null,
        overdue_notified_at: null,
        cited_document_ids: storableJson(input.citedDocumentIds),
      };
      await db
        .insertInto('escalations')
        .values({
          workflow_id: workflowId,
          classification: JSON.stringify((await record.classifyDetail(workflowId)) ?? null),
          passages: JSON.stringify(passages),
          ...values,
        })
        .onConflict((oc) => oc.column('workflow_id').doUpdateSet(values))
        .execute();
      await saveConversation({ ...input, closed: false });
      await record.recordStage(workflowId, 'escalated');
      const sent = await record.notifyTicketingSystem({
        type: 'escalation',
        workflowId,
        reason: input.reason,
        slaDueAt: input.slaDueAt,
        turn: input.turn,
      });
      if (sent && sent.status >= 300) throw webhookFailure(sent.status);
    },

    /** The conversation's end (or, with `outcome` null, its state so far) for the honest metrics. */
    async closeConversation(input: ConversationOutcomeRecord & { closed: boolean }): Promise<void> {
      await saveConversation(input);
    },
  };
}
