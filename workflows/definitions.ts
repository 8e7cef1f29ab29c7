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
  /**
   * Draft the answer while the classifier still runs, as soon as retrieval finds grounding; a gate that then
   * escalates discards the draft (its cost is still logged). Optional: runs started before it existed lack it.
   */
  speculativeGeneration?: boolean;
  /**
   * Triage (classify ‖ retrieve) as local activities, inside the workflow task (patch `local-triage`). Set by the
   * client when the offline provider classifies: a few milliseconds of the worker's own CPU, cheap to run again if
   * a worker restart or a query during triage makes the SDK re-run a local activity. With Claude, classification
   * stays a regular activity, whose result is recorded once and never paid for twice. Optional: runs started before
   * it existed lack it.
   */
  localTriage?: boolean;
  /**
   * How long an answered ticket stays open for the customer's follow-up (durable timer) before it closes as
   * resolved (by the AI, or by the human who answered). 0: closes at once, as before conversations existed.
   */
  followUpWindowMs: number;
  /** Reply turns per workflow run before it continues as new (keeps history small on long threads). */
  conversationTurnsPerRun: number;
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
  followUpWindowMs: 72 * 3_600_000,
  conversationTurnsPerRun: 20,
};

export interface TicketWorkflowInput {
  ticket: TicketInput;
  /** ISO time the intake received the ticket; used for end-to-end latency. */
  receivedAt: string;
  policy?: Partial<TicketPolicy>;
  /** Set when a long conversation continued as new: where it stands (ids and state only, texts in Postgres). */
  conversation?: ConversationState;
}

/** Who answers the customer's next message, and whether anyone is waiting. */
export type ConversationPhase = 'ai' | 'human' | 'human_answered' | 'closed';

export type ConversationOutcome = 'resolved_by_ai' | 'confirmed' | 'resolved_by_human' | 'escalated';

export interface ConversationState {
  phase: ConversationPhase;
  /** This workflow run's number (1 + continue-as-new so far). */
  run: number;
  /** Replies sent so far (AI and human); the first answer is turn 1. */
  turn: number;
  aiTurns: number;
  humanTurns: number;
  reopened: number;
  /** Handed to a human after an AI answer (unhappy, asked for a person, or the AI could not go on). */
  escalatedAfterAi: boolean;
  /** Documents the AI cited before the customer said it did not help. */
  unhappyDocumentIds: string[];
  /** Customer message and feedback ids already taken (idempotency across continue-as-new). */
  seenMessageIds: string[];
  seenFeedbackIds: string[];
  /** Documents cited by the AI's answers in this conversation (recorded against an unhappy customer). */
  citedDocumentIds: string[];
  escalationReason?: EscalationReason;
  classification: Classification | null;
  outcome?: ConversationOutcome;
}

/** A customer's follow-up; the text goes to Postgres (through the handler's activity), the workflow keeps the id. */
export interface CustomerMessage {
  messageId: string;
  text: string;
}

export interface CustomerFeedback {
  feedbackId: string;
  rating: 'good' | 'bad';
  comment?: string;
}

export type ConversationUpdateResult = {
  accepted: true;
  /** True when this id was taken before (nothing new happened). */
  duplicate: boolean;
  turn: number;
  phase: ConversationPhase;
};

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
  /** With speculative generation: whether the draft started during triage was sent or thrown away by a gate. */
  speculativeDraft?: 'used' | 'discarded';
  /** Runs started since `conversation-follow-ups`: where the conversation stands. */
  conversation?: Pick<
    ConversationState,
    'phase' | 'run' | 'turn' | 'aiTurns' | 'humanTurns' | 'reopened' | 'outcome'
  > & { messages: number; feedback: number };
}

export type TicketOutcome = {
  workflowId: string;
  escalated: boolean;
  escalationReason?: EscalationReason;
  replySource: 'ai' | 'human';
  citedPassageIds: string[];
  /** Runs that kept the conversation: how it ended and after how many replies. */
  conversation?: { outcome?: ConversationOutcome; turns: number };
};

export type ResolveResult =
  | { accepted: true }
  | { accepted: false; reason: 'not_awaiting_human' | 'already_resolved' | 'invalid' };

/** Fire-and-forget resolution (what the issue specifies); invalid or duplicate ones are ignored and logged. */
export const resolveSignal = defineSignal<[ResolutionSignal]>('resolve');
/** Same payload as an update, so API callers learn synchronously whether the resolution was taken. */
export const resolveUpdate = defineUpdate<ResolveResult, [ResolutionSignal]>('resolveWithResult');
export const statusQuery = defineQuery<TicketStatus>('status');

/**
 * A customer's follow-up message (idempotent by messageId). Rejected with `ConversationClosed` once the
 * conversation has ended; the API turns that into a 409.
 */
export const customerMessageUpdate = defineUpdate<ConversationUpdateResult, [CustomerMessage]>(
  'customerMessage',
);
/** A rating of the latest reply (idempotent by feedbackId). */
export const customerFeedbackUpdate = defineUpdate<ConversationUpdateResult, [CustomerFeedback]>(
  'customerFeedback',
);
// ── Knowledge-base ingestion (workflows/kb-ingestion.ts) ──

export const KB_INGESTION_WORKFLOW_TYPE = 'kbIngestionWorkflow';

/** The document itself waits in `kb_ingestions` (Postgres): history carries only its id. */
export interface KbIngestionWorkflowInput {
  ingestionId: string;
  /** Chunks embedded per activity: progress moves in these steps, and a retry repeats at most one batch. */
  batchChunks: number;
}

export interface KbIngestionOutcome {
  ingestionId: string;
  documentId: string;
  chunks: number;
}
