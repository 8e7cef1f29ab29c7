import {
  ApplicationFailure,
  allHandlersFinished,
  condition,
  continueAsNew,
  setHandler,
} from '@temporalio/workflow';
import type { Classification, EscalationReason } from '../src/domain/ticket';
import { settle, type ticketActivities } from './activity-options';
import {
  customerFeedbackUpdate,
  customerMessageUpdate,
  type ConversationOutcome,
  type ConversationState,
  type ConversationUpdateResult,
  type CustomerFeedback,
  type CustomerMessage,
  type TicketOutcome,
  type TicketPolicy,
  type TicketWorkflowInput,
} from './definitions';
import type { TrackedTicket } from './ticket-status';

/** Ids are the customer's; long ones are refused rather than carried through every continue-as-new. */
const MAX_ID_CHARS = 200;
const MAX_MESSAGE_CHARS = 20_000;
/** Ids remembered for idempotency across continue-as-new (the oldest are forgotten first). */
const MAX_SEEN_IDS = 1000;

type Inbound =
  | { kind: 'message'; signal: 'human' | 'unhappy' | 'thanks' | 'question' }
  | { kind: 'feedback'; rating: 'good' | 'bad' };

export function newConversationState(classification: Classification | null = null): ConversationState {
  return {
    phase: 'ai',
    run: 1,
    turn: 0,
    aiTurns: 0,
    humanTurns: 0,
    reopened: 0,
    escalatedAfterAi: false,
    unhappyDocumentIds: [],
    seenMessageIds: [],
    seenFeedbackIds: [],
    citedDocumentIds: [],
    classification,
  };
}

/**
 * The ticket as a conversation (runs started since `conversation-follow-ups`). After each reply the customer
 * has `followUpWindowMs` (a durable timer) to write again or rate it: a new question gets an AI turn, "that
 * didn't help" or a bad rating hands over to a human (`customer_unsatisfied`, with the cited articles),
 * thanks or a good rating closes it as confirmed, silence closes it as resolved. Once a human is involved the
 * AI stays silent; a reply after a human's answer reopens the ticket to the human queue.
 *
 * The update handlers are registered at the start of the run, so messages that arrive during the first turn
 * are kept and answered after it.
 */
export function trackConversation(deps: {
  workflowId: string;
  input: TicketWorkflowInput;
  policy: TicketPolicy;
  acts: ReturnType<typeof ticketActivities>;
  ticket: TrackedTicket;
  state: ConversationState;
}) {
  const { workflowId, input, policy, acts, ticket, state } = deps;
  const { status, now } = ticket;
  const inbox: Inbound[] = [];
  const seenMessages = new Set(state.seenMessageIds);
  const seenFeedback = new Set(state.seenFeedbackIds);
  let messages = 0;
  let feedback = 0;
  let turnsThisRun = 0;
  let slaDueAt = status.slaDueAt ? new Date(status.slaDueAt) : undefined;

  const publish = () => {
    status.conversation = {
      phase: state.phase,
      run: state.run,
      turn: state.turn,
      aiTurns: state.aiTurns,
      humanTurns: state.humanTurns,
      reopened: state.reopened,
      outcome: state.outcome,
      messages,
      feedback,
    };
  };
  publish();

  const result = (duplicate: boolean): ConversationUpdateResult => ({
    accepted: true,
    duplicate,
    turn: state.turn,
    phase: state.phase,
  });
  const remember = (ids: string[], id: string) => {
    ids.push(id);
    if (ids.length > MAX_SEEN_IDS) ids.splice(0, ids.length - MAX_SEEN_IDS);
  };
  /** Humans read everything in Postgres; only the AI's and the reopen logic's phases act on what arrives. */
  const listening = () => state.phase === 'ai' || state.phase === 'human_answered';
  const refuseWhenClosed = (id: unknown) => {
    if (typeof id !== 'string' || id.length === 0 || id.length > MAX_ID_CHARS)
      throw ApplicationFailure.nonRetryable('invalid', 'ConversationRejected');
    if (state.phase === 'closed') throw ApplicationFailure.nonRetryable('closed', 'ConversationRejected');
  };

  setHandler(
    customerMessageUpdate,
    async (message: CustomerMessage) => {
      if (seenMessages.has(message.messageId)) return result(true);
      seenMessages.add(message.messageId);
      remember(state.seenMessageIds, message.messageId);
      const { signal } = await acts.bookkeeping.recordCustomerMessage({
        workflowId,
        messageId: message.messageId,
        text: message.text,
        turn: state.turn,
      });
      messages += 1;
      if (listening()) inbox.push({ kind: 'message', signal });
      publish();
      return result(false);
    },
    {
      validator: (message: CustomerMessage) => {
        refuseWhenClosed(message?.messageId);
        if (
          typeof message.text !== 'string' ||
          message.text.trim() === '' ||
          message.text.length > MAX_MESSAGE_CHARS
        )
          throw ApplicationFailure.nonRetryable('invalid', 'ConversationRejected');
      },
    },
  );
  setHandler(
    customerFeedbackUpdate,
    async (given: CustomerFeedback) => {
      if (seenFeedback.has(given.feedbackId)) return result(true);
      seenFeedback.add(given.feedbackId);
      remember(state.seenFeedbackIds, given.feedbackId);
      await acts.bookkeeping.recordFeedback({
        workflowId,
        feedbackId: given.feedbackId,
        rating: given.rating,
        comment: given.comment,
        turn: state.turn,
      });
      feedback += 1;
      if (listening()) inbox.push({ kind: 'feedback', rating: given.rating });
      publish();
      return result(false);
    },
    {
      validator: (given: CustomerFeedback) => {
        refuseWhenClosed(given?.feedbackId);
        if (given.rating !== 'good' && given.rating !== 'bad')
          throw ApplicationFailure.nonRetryable('invalid', 'ConversationRejected');
        if (
          given.comment !== undefined &&
          (typeof given.comment !== 'string' || given.comment.length > MAX_MESSAGE_CHARS)
        )
          throw ApplicationFailure.nonRetryable('invalid', 'ConversationRejected');
        if (state.turn === 0)
          throw ApplicationFailure.nonRetryable('nothing_to_rate', 'ConversationRejected');
      },
    },
  );

  const record = () => ({
    workflowId,
    outcome: state.outcome ?? null,
    aiTurns: state.aiTurns,
    humanTurns: state.humanTurns,
    reopened: state.reopened,
    escalatedAfterAi: state.escalatedAfterAi,
    unhappyDocumentIds: state.unhappyDocumentIds,
  });

  function outcome(): TicketOutcome {
    return {
      workflowId,
      escalated: state.escalationReason !== undefined,
      escalationReason: state.escalationReason,
      replySource: state.humanTurns > 0 ? 'human' : 'ai',
      citedPassageIds: status.citedPassageIds,
      conversation: { outcome: state.outcome, turns: state.turn },
    };
  }

  async function close(how: ConversationOutcome): Promise<TicketOutcome> {
    state.phase = 'closed';
    state.outcome = how;
    publish();
    await acts.bookkeeping.closeConversation({ ...record(), closed: true });
    return outcome();
  }

  /** To the human queue: a new escalation after an AI answer, or the old one reopened after a human's. */
  async function handOver(reason: EscalationReason): Promise<void> {
    if (reason === 'customer_reopened') state.reopened += 1;
    else if (state.aiTurns > 0) state.escalatedAfterAi = true;
    if (reason === 'customer_unsatisfied')
      state.unhappyDocumentIds = [...new Set([...state.unhappyDocumentIds, ...state.citedDocumentIds])];
    state.phase = 'human';
    state.escalationReason = reason;
    inbox.length = 0;
    slaDueAt = new Date(Date.now() + policy.slaMinutes[state.classification?.urgency ?? 'high'] * 60_000);
    ticket.reopen();
    status.escalationReason = reason;
    status.slaDueAt = slaDueAt.toISOString();
    status.overdue = false;
    publish();
    await acts.bookkeeping.handToHuman({
      ...record(),
      reason,
      slaDueAt: status.slaDueAt,
      turn: state.turn,
      citedDocumentIds: reason === 'customer_unsatisfied' ? state.citedDocumentIds : [],
    });
    ticket.awaitingHuman(reason);
  }

  /** A human answers (the ticket waits as long as that takes, with the SLA reminder as in the first turn). */
  async function humanTurn(): Promise<void> {
    const resolution = await ticket.waitForHuman(slaDueAt, () =>
      acts.bookkeeping.notifyOverdue({ workflowId }),
    );
    const turn = state.turn + 1;
    await acts.bookkeeping.recordHumanReply({
      workflowId,
      turn,
      agentId: resolution.agentId,
      answer: resolution.answer,
    });
    status.awaitingHuman = false;
    ticket.setStage('delivering');
    await acts.bookkeeping.deliverMessage({ workflowId, messageId: `human-${turn}` });
    state.turn = turn;
    state.humanTurns += 1;
    turnsThisRun += 1;
    state.phase = 'human_answered';
    status.replySource = 'human';
    status.timestamps.replied = now();
    status.timestamps.resolved = now();
    ticket.setStage('resolved');
    publish();
  }

  /** A follow-up question for the AI: retrieval for the latest message, an answer that sees the thread. */
  async function aiTurn(): Promise<void> {
    const turn = state.turn + 1;
    ticket.setStage('generating');
    const answered = await settle(
      acts.llm.answerFollowUp({
        workflowId,
        turn,
        minScore: policy.minRetrievalScore,
        maxLlmFailures: policy.llmRetry.maximumAttempts,
      }),
    );
    if (!answered.ok)
      return handOver(
        answered.failureType === 'llm_budget_exhausted' ? 'llm_budget_exhausted' : 'llm_unavailable',
      );
    if (answered.value.kind === 'escalate') return handOver(answered.value.reason);
    ticket.setStage('delivering');
    await acts.bookkeeping.deliverMessage({ workflowId, messageId: `ai-${turn}` });
    const { cited } = answered.value;
    state.turn = turn;
    state.aiTurns += 1;
    turnsThisRun += 1;
    state.citedDocumentIds = [...new Set(cited.map((c) => c.documentId))];
    status.citedPassageIds = cited.map((c) => c.passageId);
    status.replySource = 'ai';
    status.timestamps.replied = now();
    ticket.setStage('answered');
    publish();
  }

  return {
    state,

    /** The first turn escalated: the AI is silent from here, whatever arrives is for the human. */
    enteredHumanQueue(reason: EscalationReason): void {
      state.phase = 'human';
      state.escalationReason = reason;
      inbox.length = 0;
      publish();
    },

    /** The first turn ended with a reply (from the AI, citing these documents, or from a human). */
    replied(source: 'ai' | 'human', citedDocumentIds: string[], classification: Classification | null): void {
      state.turn = 1;
      turnsThisRun = 1;
      state.classification = classification;
      if (source === 'ai') {
        state.aiTurns = 1;
        state.citedDocumentIds = citedDocumentIds;
      } else {
        state.humanTurns = 1;
        state.phase = 'human_answered';
      }
      publish();
    },

    /** Keep the conversation until it closes (or continue as new after `conversationTurnsPerRun` turns). */
    async converse(): Promise<TicketOutcome> {
      for (;;) {
        if (state.phase === 'human') {
          await humanTurn();
          continue;
        }
        if (turnsThisRun >= policy.conversationTurnsPerRun && inbox.length === 0) {
          await condition(allHandlersFinished);
          if (inbox.length === 0) {
            const { externalId, channel, customer } = input.ticket;
            // Texts stay in Postgres: the next run gets the ticket's ids and the conversation's state only.
            return continueAsNew<(next: TicketWorkflowInput) => Promise<TicketOutcome>>({
              ...input,
              ticket: { externalId, channel, customer, subject: '', body: '' },
              conversation: { ...state, run: state.run + 1 },
            });
          }
        }
        const heard = await condition(() => inbox.length > 0, policy.followUpWindowMs);
        if (!heard) {
          // A message being stored right now still counts: wait for it before closing.
          await condition(allHandlersFinished);
          if (inbox.length > 0) continue;
          return close(state.phase === 'ai' ? 'resolved_by_ai' : 'resolved_by_human');
        }
        const next = inbox.shift()!;
        const verdict =
          next.kind === 'feedback' ? (next.rating === 'good' ? 'thanks' : 'unhappy') : next.signal;
        if (verdict === 'thanks') return close('confirmed');
        if (state.phase === 'human_answered') await handOver('customer_reopened');
        else if (verdict === 'unhappy') await handOver('customer_unsatisfied');
        else if (verdict === 'human') await handOver('customer_requested_human');
        else await aiTurn();
      }
    },
  };
}

export type TrackedConversation = ReturnType<typeof trackConversation>;
