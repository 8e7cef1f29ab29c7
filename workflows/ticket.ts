import { upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import type { EscalationReason } from '../src/domain/ticket';
import { EscalationReason as EscalationReasonKey, TicketEscalated } from '../src/temporal/search-attributes';
import { settle, ticketActivities } from './activity-options';
import {
  DEFAULT_POLICY,
  type TicketOutcome,
  type TicketPolicy,
  type TicketWorkflowInput,
} from './definitions';
import {
  deliversBeforeLearning,
  gatesOnAnswerability,
  routeForThisRun,
  usesLocalBookkeeping,
} from './patches';
import { judgeDraft, route, routeByAnswerability } from './route';
import { trackTicket } from './ticket-status';

/**
 * One support ticket, from intake to a reply. Pure orchestration: every read and write happens in activities,
 * texts stay in Postgres (the workflow holds ids, scores and categorical results), and time comes from Temporal.
 * Each activity is told the stage it runs in, so Postgres records the same stage the workflow shows.
 */
export async function ticketWorkflow(input: TicketWorkflowInput): Promise<TicketOutcome> {
  const policy: TicketPolicy = { ...DEFAULT_POLICY, ...input.policy };
  const { workflowId } = workflowInfo();
  const acts = ticketActivities(policy, usesLocalBookkeeping());
  const ticket = trackTicket(workflowId, input);
  const { status, now } = ticket;
  const llmBudget = policy.llmRetry.maximumAttempts;

  await acts.bookkeeping.recordTicket({ workflowId, ticket: input.ticket, receivedAt: input.receivedAt });

  // ── Triage: classification and retrieval do not depend on each other, so run them together. ──
  ticket.setStage('triaging');
  const [classified, retrieved] = await Promise.all([
    settle(acts.llm.classifyTicket({ workflowId, maxLlmFailures: llmBudget, stage: 'triaging' })),
    settle(acts.retrieval.retrievePassages({ workflowId })),
  ]);
  ticket.triaged(classified, retrieved);
  const classification = classified.ok ? classified.value.classification : null;

  // ── Decide everything we can before paying for generation. ──
  const evidence = retrieved.ok ? { ok: true as const, value: { passages: retrieved.value } } : retrieved;
  const decision = gatesOnAnswerability()
    ? routeByAnswerability(classified, evidence, policy)
    : routeForThisRun(route(classified, evidence, policy));
  if (decision.kind === 'escalate') return escalate(decision.reason);
  if (decision.kind === 'answer_from_resolution') status.answeredFromResolution = decision.documentId;

  // ── Answer from the knowledge base, or hand over when the model cannot. ──
  ticket.setStage('generating');
  const generated = await settle(
    acts.llm.generateAnswer({
      workflowId,
      minScore: policy.minRetrievalScore,
      // The gate chose the document that answers: the reply comes from it alone, not from its neighbours.
      ...('documentId' in decision && decision.documentId ? { documentId: decision.documentId } : {}),
      maxLlmFailures: llmBudget,
      stage: 'generating',
    }),
  );
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
  return { workflowId, escalated: false, replySource: 'ai', citedPassageIds: status.citedPassageIds };

  /** From here on only a human's answer goes to the customer. */
  async function escalate(reason: EscalationReason): Promise<TicketOutcome> {
    const slaDueAt = new Date(Date.now() + policy.slaMinutes[classification?.urgency ?? 'high'] * 60_000);
    status.escalationReason = reason;
    status.slaDueAt = slaDueAt.toISOString();
    await acts.bookkeeping.escalateTicket({
      workflowId,
      reason,
      slaDueAt: status.slaDueAt,
      stage: 'escalated',
    });
    await acts.bookkeeping.recordOutcome({ workflowId, escalated: true, reason, classification });
    // Only now, with the escalation record written, does the ticket show as awaiting a human.
    status.timestamps.escalated = now();
    status.awaitingHuman = true;
    ticket.setStage('escalated');
    upsertSearchAttributes([
      { key: TicketEscalated, value: true },
      { key: EscalationReasonKey, value: reason },
    ]);

    if (!(await ticket.waitForResolution(slaDueAt))) {
      status.overdue = true;
      await acts.bookkeeping.notifyOverdue({ workflowId });
      await ticket.waitForResolution();
    }
    const resolution = ticket.resolution();
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
