import { upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import type { EscalationReason } from '../src/domain/ticket';
import { TicketEscalated } from '../src/temporal/search-attributes';
import type { GenerateOutcome } from '../activities';
import { settle, ticketActivities, type Settled } from './activity-options';
import {
  DEFAULT_POLICY,
  type TicketOutcome,
  type TicketPolicy,
  type TicketWorkflowInput,
} from './definitions';
import { newConversationState, trackConversation } from './conversation';
import {
  deliversBeforeLearning,
  gatesOnAnswerability,
  keepsConversations,
  routeForThisRun,
  usesLocalBookkeeping,
  usesLocalTriage,
} from './patches';
import { draftSource, judgeDraft, route, routeByAnswerability, type Evidence } from './route';
import { trackTicket } from './ticket-status';

/**
 * One support ticket, from intake to a reply. Pure orchestration: every read and write happens in activities,
 * texts stay in Postgres (the workflow holds ids, scores and categorical results), and time comes from Temporal.
 * Each activity is told the stage it runs in, so Postgres records the same stage the workflow shows.
 */
export async function ticketWorkflow(input: TicketWorkflowInput): Promise<TicketOutcome> {
  const policy: TicketPolicy = { ...DEFAULT_POLICY, ...input.policy };
  const { workflowId } = workflowInfo();
  const acts = ticketActivities(policy, {
    bookkeeping: usesLocalBookkeeping(),
    // Asked only when the policy wants it, so runs with regular triage record no marker for it.
    triage: policy.localTriage === true && usesLocalTriage(),
  });
  const ticket = trackTicket(workflowId, input);
  const { status, now } = ticket;
  const llmBudget = policy.llmRetry.maximumAttempts;
  const track = { workflowId, input, policy, acts, ticket };
  if (input.conversation) {
    // A long conversation continued as new: it picks up where the previous run stood (after a reply).
    const { conversation: state } = input;
    status.stage = state.phase === 'ai' ? 'answered' : 'resolved';
    status.replySource = state.phase === 'ai' ? 'ai' : 'human';
    status.escalationReason = state.escalationReason;
    return trackConversation({ ...track, state }).converse();
  }
  const conversation = keepsConversations()
    ? trackConversation({ ...track, state: newConversationState() })
    : undefined;
  /** Whether this run keeps the conversation open after its first reply. */
  const followsUp = () => conversation !== undefined && policy.followUpWindowMs > 0;

  await acts.bookkeeping.recordTicket({ workflowId, ticket: input.ticket, receivedAt: input.receivedAt });

  // ── Triage: classification and retrieval do not depend on each other, so run them together. ──
  ticket.setStage('triaging');
  // Scheduled in this order (classify, then retrieve), as every recorded history has them.
  const classifying = settle(
    acts.classify.classifyTicket({ workflowId, maxLlmFailures: llmBudget, stage: 'triaging' }),
  );
  const retrieval = settle(acts.retrieval.retrievePassages({ workflowId })).then(
    (r): Settled<Evidence> => (r.ok ? { ok: true, value: { passages: r.value } } : r),
  );
  // Speculative generation: once retrieval grounds an answer, draft it while the classifier still runs. The
  // draft is only sent if route() below says answer; otherwise it is discarded (its cost is still logged).
  let speculativeDraft: Promise<Settled<GenerateOutcome>> | undefined;
  let speculativeDocument: string | undefined;
  const speculation = policy.speculativeGeneration
    ? retrieval.then((evidence) => {
        const source = draftSource(evidence, policy, gatesOnAnswerability());
        if (!source) return;
        speculativeDocument = source.documentId;
        speculativeDraft = draftAnswer(undefined, source.documentId);
      })
    : undefined;
  const [classified, evidence] = await Promise.all([classifying, retrieval, speculation]);
  ticket.triaged(classified, evidence);
  const classification = classified.ok ? classified.value.classification : null;

  // ── Decide everything we can before paying for generation. ──
  const decision = gatesOnAnswerability()
    ? routeByAnswerability(classified, evidence, policy)
    : routeForThisRun(route(classified, evidence, policy));
  if (decision.kind === 'escalate') return escalate(decision.reason);
  if (decision.kind === 'answer_from_resolution') status.answeredFromResolution = decision.documentId;

  // ── Answer from the knowledge base, or hand over when the model cannot. ──
  ticket.setStage('generating');
  // The gate chose the document that answers: the reply comes from it alone, not from its neighbours.
  const chosenDocument = 'documentId' in decision ? decision.documentId : undefined;
  let generated: Settled<GenerateOutcome>;
  if (speculativeDraft && speculativeDocument === chosenDocument) {
    status.speculativeDraft = 'used';
    generated = await speculativeDraft;
  } else {
    // Cannot happen with the same evidence, but if the draft was written from another document it is not
    // sent: it finishes first (one writer of the draft row at a time), then the answer is drafted afresh.
    if (speculativeDraft) {
      status.speculativeDraft = 'discarded';
      await speculativeDraft;
    }
    generated = await draftAnswer('generating', chosenDocument);
  }
  status.timestamps.generated = now();
  const draft = judgeDraft(generated);
  if (draft.kind === 'escalate') return escalate(draft.reason);

  status.citedPassageIds = draft.citedPassageIds;
  ticket.setStage('delivering');
  await acts.bookkeeping.deliverReply({ workflowId, source: 'ai', stage: 'delivering' });
  status.replySource = 'ai';
  status.timestamps.replied = now();
  ticket.setStage('answered');
  upsertSearchAttributes([{ key: TicketEscalated, value: false }]);
  await acts.bookkeeping.recordOutcome({
    workflowId,
    escalated: false,
    replySource: 'ai',
    answeredFromResolution: status.answeredFromResolution,
    classification,
    stage: 'answered',
  });
  if (conversation && followsUp()) {
    const citedDocuments = evidence.ok
      ? evidence.value.passages.filter((p) => draft.citedPassageIds.includes(p.id)).map((p) => p.documentId)
      : [];
    conversation.replied('ai', [...new Set(citedDocuments)], classification);
    return conversation.converse();
  }
  return { workflowId, escalated: false, replySource: 'ai', citedPassageIds: status.citedPassageIds };

  /** Answer from the stored passages; a speculative draft runs without a stage (triage still owns it). */
  function draftAnswer(stage?: 'generating', documentId?: string): Promise<Settled<GenerateOutcome>> {
    return settle(
      acts.llm.generateAnswer({
        workflowId,
        minScore: policy.minRetrievalScore,
        ...(documentId ? { documentId } : {}),
        maxLlmFailures: llmBudget,
        ...(stage ? { stage } : { speculative: true }),
      }),
    );
  }

  /** From here on only a human's answer goes to the customer. */
  async function escalate(reason: EscalationReason): Promise<TicketOutcome> {
    const slaDueAt = new Date(Date.now() + policy.slaMinutes[classification?.urgency ?? 'high'] * 60_000);
    conversation?.enteredHumanQueue(reason);
    status.escalationReason = reason;
    status.slaDueAt = slaDueAt.toISOString();
    // A draft a gate overruled is never shown as a suggestion: whether it finished by now is a matter of timing.
    const discardDraft = speculativeDraft !== undefined && status.speculativeDraft !== 'used';
    if (discardDraft) status.speculativeDraft = 'discarded';
    await acts.bookkeeping.escalateTicket({
      workflowId,
      reason,
      slaDueAt: status.slaDueAt,
      stage: 'escalated',
      ...(discardDraft ? { discardDraft } : {}),
    });
    await acts.bookkeeping.recordOutcome({ workflowId, escalated: true, reason, classification });
    ticket.awaitingHuman(reason);
    const resolution = await ticket.waitForHuman(slaDueAt, () =>
      acts.bookkeeping.notifyOverdue({ workflowId }),
    );
    status.awaitingHuman = false;
    await acts.bookkeeping.recordResolution({ workflowId, resolution });
    const learn = resolution.addToKnowledgeBase !== false;

    if (deliversBeforeLearning()) {
      // The customer gets the human's answer first; the knowledge base learns it after, however long that takes.
      ticket.setStage('delivering');
      await acts.bookkeeping.deliverReply({ workflowId, source: 'human', stage: 'delivering' });
      resolved();
      if (learn) await acts.learning.indexResolution({ workflowId, classification, stage: 'resolved' });
    } else {
      if (learn) await acts.learning.indexResolution({ workflowId });
      await acts.bookkeeping.deliverReply({ workflowId, source: 'human' });
      resolved();
    }
    await acts.bookkeeping.recordOutcome({
      workflowId,
      escalated: true,
      reason,
      replySource: 'human',
      classification,
      stage: 'resolved',
    });
    if (conversation && followsUp()) {
      conversation.replied('human', [], classification);
      return conversation.converse();
    }
    return {
      workflowId,
      escalated: true,
      escalationReason: reason,
      replySource: 'human',
      citedPassageIds: [],
    };
  }

  function resolved(): void {
    status.replySource = 'human';
    status.timestamps.replied = now();
    status.timestamps.resolved = now();
    ticket.setStage('resolved');
  }
}
