import { ApplicationFailure, condition, log, setHandler, upsertSearchAttributes } from '@temporalio/workflow';
import type { ClassifyOutcome } from '../activities';
import { parseResolutionSignal } from '../src/domain/resolution-signal';
import type { EscalationReason, ResolutionSignal, TicketStage as Stage } from '../src/domain/ticket';
import {
  EscalationReason as EscalationReasonKey,
  TicketEscalated,
  TicketIntent,
  TicketStage,
  TicketUrgency,
} from '../src/temporal/search-attributes';
import type { Settled } from './activity-options';
import {
  resolveSignal,
  resolveUpdate,
  statusQuery,
  type ResolveResult,
  type TicketStatus,
  type TicketWorkflowInput,
} from './definitions';

/**
 * What the outside world sees of a running ticket: the `status` query, the stage (also a search attribute),
 * and the `resolve` signal/update through which a human answers. The workflow changes it; this module keeps
 * the rules for who may resolve and when.
 */
export function trackTicket(workflowId: string, input: TicketWorkflowInput) {
  const status: TicketStatus = {
    workflowId,
    externalId: input.ticket.externalId,
    stage: 'received',
    awaitingHuman: false,
    citedPassageIds: [],
    overdue: false,
    timestamps: { received: input.receivedAt },
    ignoredResolutions: 0,
  };
  let resolution: ResolutionSignal | undefined;
  const now = () => new Date().toISOString(); // deterministic inside a workflow

  /** Shared by the signal and the update: only the first valid resolution of an escalated ticket counts. */
  const checkResolution = (candidate: unknown): ResolveResult => {
    if (!parseResolutionSignal(candidate)) return { accepted: false, reason: 'invalid' };
    if (resolution !== undefined || status.stage === 'resolved')
      return { accepted: false, reason: 'already_resolved' };
    if (!status.awaitingHuman) return { accepted: false, reason: 'not_awaiting_human' };
    return { accepted: true };
  };
  const acceptResolution = (candidate: ResolutionSignal) => {
    resolution = parseResolutionSignal(candidate);
  };

  setHandler(statusQuery, () => status);
  setHandler(resolveSignal, (candidate) => {
    const verdict = checkResolution(candidate);
    if (verdict.accepted) acceptResolution(candidate);
    else {
      status.ignoredResolutions += 1;
      log.warn('Resolution ignored', { workflowId, reason: verdict.reason });
    }
  });
  setHandler(
    resolveUpdate,
    (candidate) => {
      acceptResolution(candidate);
      return { accepted: true } as const;
    },
    {
      // Rejected updates never reach history; the caller gets the reason (the API turns it into a 409).
      validator: (candidate) => {
        const verdict = checkResolution(candidate);
        if (!verdict.accepted) throw ApplicationFailure.nonRetryable(verdict.reason, 'ResolutionRejected');
      },
    },
  );

  return {
    status,
    now,

    setStage(stage: Stage): void {
      status.stage = stage;
      upsertSearchAttributes([{ key: TicketStage, value: stage }]);
    },

    /** Triage results become visible: the classification in the status and as search attributes. */
    triaged(classified: Settled<ClassifyOutcome>, retrieved: Settled<unknown>): void {
      if (classified.ok) {
        const { classification } = classified.value;
        status.classification = classification;
        status.requestedHuman = classified.value.requestedHuman;
        status.timestamps.classified = now();
        upsertSearchAttributes([
          { key: TicketIntent, value: classification.intent },
          { key: TicketUrgency, value: classification.urgency },
        ]);
      }
      if (retrieved.ok) status.timestamps.retrieved = now();
    },

    /**
     * Wait for a human's resolution until `deadline`; false if it passed first. Without a deadline, wait as
     * long as it takes.
     */
    async waitForResolution(deadline?: Date): Promise<boolean> {
      if (!deadline) {
        await condition(() => resolution !== undefined);
        return true;
      }
      return condition(() => resolution !== undefined, Math.max(0, deadline.getTime() - Date.now()));
    },

    /** The escalation record is written: only now does the ticket show as awaiting a human. */
    awaitingHuman(reason: EscalationReason): void {
      status.timestamps.escalated = now();
      status.awaitingHuman = true;
      this.setStage('escalated');
      upsertSearchAttributes([
        { key: TicketEscalated, value: true },
        { key: EscalationReasonKey, value: reason },
      ]);
    },

    /** Wait for a human until the SLA, say once that it is overdue, then wait as long as it takes. */
    async waitForHuman(
      slaDueAt: Date | undefined,
      notifyOverdue: () => Promise<void>,
    ): Promise<ResolutionSignal> {
      if (!(await this.waitForResolution(slaDueAt))) {
        status.overdue = true;
        await notifyOverdue();
        await this.waitForResolution();
      }
      return this.resolution();
    },

    /** The ticket is back in the human queue (a conversation reopened): the next resolution counts again. */
    reopen(): void {
      resolution = undefined;
    },

    /** The accepted resolution (after `waitForResolution` returned true). */
    resolution(): ResolutionSignal {
      if (!resolution) throw new Error('No resolution has been accepted');
      return resolution;
    },
  };
}

export type TrackedTicket = ReturnType<typeof trackTicket>;
