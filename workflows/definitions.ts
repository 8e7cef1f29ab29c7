import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type {
  Classification,
  EscalationReason,
  ResolutionSignal,
  TicketInput,
  TicketStage,
} from '../src/domain/ticket';

/** The contract between clients (API, CLI, inbox) and the ticket workflow. */

export const WORKFLOW_TYPE = 'ticketWorkflow';

/** Thresholds and retry budgets, fixed per ticket at start (from config) so a run never changes mid-flight. */
export interface TicketPolicy {
  confidenceThreshold: number;
  minRetrievalScore: number;
  /**
   * A passage from a human resolution scoring at least this means a person already answered this question:
   * the ticket is answered from it even when classifier confidence is low (critical tickets and requests for a
   * human still escalate). 1 turns it off.
   */
  resolutionMatchScore: number;
  /**
   * The answerability gate (runs since patch `answerability-gate`): the best document's score must reach
   * `answerMinScore` and beat the runner-up document by `answerMinMargin`, else `not_answerable`.
   */
  answerMinScore: number;
  answerMinMargin: number;
  slaMinutes: Record<'critical' | 'high' | 'medium' | 'low', number>;
  /** `maximumAttempts`: failed LLM calls per step (counted by the activity) before `llm_unavailable`. */
  llmRetry: { initialIntervalMs: number; maximumIntervalMs: number; maximumAttempts: number };
  llmTimeoutMs: number;
}

export const DEFAULT_POLICY: TicketPolicy = {
  confidenceThreshold: 0.65,
  minRetrievalScore: 0.45,
  resolutionMatchScore: 0.6,
  answerMinScore: 0.45,
  answerMinMargin: 0.25,
  slaMinutes: { critical: 60, high: 240, medium: 1440, low: 4320 },
  llmRetry: { initialIntervalMs: 1000, maximumIntervalMs: 20000, maximumAttempts: 5 },
  llmTimeoutMs: 30000,
};

export interface TicketWorkflowInput {
  ticket: TicketInput;
  /** ISO time the intake received the ticket; used for end-to-end latency. */
  receivedAt: string;
  policy?: Partial<TicketPolicy>;
}

export interface TicketStatus {
  workflowId: string;
  externalId: string;
  stage: TicketStage;
  classification?: Classification;
  requestedHuman?: boolean;
  escalationReason?: EscalationReason;
  awaitingHuman: boolean;
  replySource?: 'ai' | 'human';
  citedPassageIds: string[];
  slaDueAt?: string;
  overdue: boolean;
  timestamps: Partial<
    Record<
      'received' | 'classified' | 'retrieved' | 'generated' | 'escalated' | 'replied' | 'resolved',
      string
    >
  >;
  ignoredResolutions: number;
  /** Set when low classifier confidence was overridden by this earlier human resolution (its document id). */
  answeredFromResolution?: string;
}

export type TicketOutcome = {
  workflowId: string;
  escalated: boolean;
  escalationReason?: EscalationReason;
  replySource: 'ai' | 'human';
  citedPassageIds: string[];
};

export type ResolveResult =
  | { accepted: true }
  | { accepted: false; reason: 'not_awaiting_human' | 'already_resolved' | 'invalid' };

/** Fire-and-forget resolution (what the issue specifies); invalid or duplicate ones are ignored and logged. */
export const resolveSignal = defineSignal<[ResolutionSignal]>('resolve');
/** Same payload as an update, so API callers learn synchronously whether the resolution was taken. */
export const resolveUpdate = defineUpdate<ResolveResult, [ResolutionSignal]>('resolveWithResult');
export const statusQuery = defineQuery<TicketStatus>('status');
