import { z } from 'zod';

/**
 * The shapes that cross ticketflow's boundaries (API ↔ workflow ↔ activities ↔ providers).
 * Imported by the workflow bundle too, so this file must stay free of I/O.
 */

export const URGENCIES = ['low', 'medium', 'high', 'critical'] as const;
export const SENTIMENTS = ['negative', 'neutral', 'positive'] as const;
export const ESCALATION_REASONS = [
  'customer_requested_human',
  'critical_urgency',
  'low_classifier_confidence',
  'no_grounded_context',
  'agent_uncertainty',
  'llm_unavailable',
  'retrieval_unavailable',
  /** A spend limit stopped the LLM: the API's, or LLM_MONTHLY_BUDGET_USD (no call was made then). */
  'llm_budget_exhausted',
  /** After an AI answer the customer said it did not help (a message or a bad rating). */
  'customer_unsatisfied',
  /** A customer replied after a human's resolution: back to the human queue, never to the AI. */
  'customer_reopened',
  /** No document of the knowledge base answers it clearly better than its runner-up (src/kb/answerability.ts). */
  'not_answerable',
] as const;
export const TICKET_STAGES = [
  'received',
  'triaging',
  'generating',
  'delivering',
  'answered',
  'escalated',
  'resolved',
] as const;

export const urgencySchema = z.enum(URGENCIES);
export const sentimentSchema = z.enum(SENTIMENTS);
export const escalationReasonSchema = z.enum(ESCALATION_REASONS);
export const ticketStageSchema = z.enum(TICKET_STAGES);

export type Urgency = z.infer<typeof urgencySchema>;
export type Sentiment = z.infer<typeof sentimentSchema>;
export type EscalationReason = z.infer<typeof escalationReasonSchema>;
export type TicketStage = z.infer<typeof ticketStageSchema>;

const TICKET_ID_ALPHABET = /^[A-Za-z0-9][A-Za-z0-9._:@-]*$/;
const TICKET_ID_ALPHABET_RULE = 'letters, digits and . _ : @ - only, starting with a letter or digit';

/**
 * The shape of an intake key's scoped ticket id (`<keyId>:<externalId>`, src/tickets/ids.ts). No client may submit
 * an external id of this shape, so a scoped id can only be made by the key it names.
 */
export const SCOPED_TICKET_ID = /^key_[A-Za-z0-9_-]*:/;

/** External ids become workflow ids (`ticket-<externalId>`), so keep them to a safe alphabet. */
export const externalIdSchema = z
  .string()
  .min(1)
  .max(128)
  .regex(TICKET_ID_ALPHABET, TICKET_ID_ALPHABET_RULE)
  .regex(
    new RegExp(`^(?!${SCOPED_TICKET_ID.source.slice(1)})`),
    'must not start with "key_…:" (reserved for scoped ticket ids)',
  );

/** A ticket id as read back: an external id, or an intake key's scoped one (longer by the key id). */
export const ticketIdSchema = z.string().min(1).max(160).regex(TICKET_ID_ALPHABET, TICKET_ID_ALPHABET_RULE);

export const customerSchema = z.object({
  id: z.string().max(200).optional(),
  email: z.string().email().max(320).optional(),
  name: z.string().max(200).optional(),
});

export const channelSchema = z.enum(['api', 'zendesk', 'email', 'cli', 'web']);

export function ticketInputSchema(maxChars: number) {
  return z.object({
    externalId: externalIdSchema,
    subject: z.string().trim().max(300).default(''),
    body: z
      .string()
      .trim()
      .min(1, 'must not be empty')
      .max(maxChars, `must be at most ${maxChars} characters`),
    customer: customerSchema.default({}),
    channel: channelSchema.default('api'),
  });
}

export type TicketInput = z.infer<ReturnType<typeof ticketInputSchema>>;

export function workflowIdFor(externalId: string): string {
  return `ticket-${externalId}`;
}

/**
 * A ticket as one text: the subject (if any) on the first line, then the body. What the rules, the embedder,
 * the KB and the interaction log read, so they all see the same words.
 */
export function ticketText(ticket: { subject?: string | null; body: string }): string {
  return [ticket.subject?.trim() ?? '', ticket.body.trim()].filter(Boolean).join('\n');
}

export function classificationSchema(intents: readonly string[]) {
  return z.object({
    intent: z.enum(intents as [string, ...string[]]),
    urgency: urgencySchema,
    confidence: z.number().min(0).max(1),
    summary: z.string().min(1).max(300),
    sentiment: sentimentSchema,
    language: z.string().regex(/^[a-z]{2}$/, 'ISO 639-1 code'),
  });
}

export interface Classification {
  intent: string;
  urgency: Urgency;
  confidence: number;
  summary: string;
  sentiment: Sentiment;
  language: string;
}

export const passageSourceSchema = z.enum(['kb', 'resolution']);
export type PassageSource = z.infer<typeof passageSourceSchema>;

/** A retrieved chunk, with its text: lives in Postgres and activity memory, never in workflow history. */
export interface Passage {
  id: string;
  documentId: string;
  title: string;
  headingPath: string[];
  text: string;
  score: number;
  source: PassageSource;
  ticketId?: string;
  intents: string[];
}

/** What the workflow keeps of a passage: ids and scores only (claim-check pattern). */
export interface PassageRef {
  id: string;
  documentId: string;
  score: number;
  source: PassageSource;
  /**
   * Passages with the same key give the same answer, so they do not compete as runner-up to each other: human
   * resolutions carrying the same answer text (src/kb/answerability.ts). Absent: the document is its own answer.
   */
  answerKey?: string;
}

export interface TokenUsage {
  model: string;
  inputTokens: number;
  cachedInputTokens: number;
  cacheWriteTokens: number;
  outputTokens: number;
  costUsd: number;
  latencyMs: number;
}

export type Answer =
  | { kind: 'answer'; reply: string; citedPassageIds: string[] }
  | { kind: 'cannot_answer'; reason: string };

export const resolutionSignalSchema = z.object({
  agentId: z.string().trim().min(1).max(200),
  answer: z.string().trim().min(1).max(20000),
  addToKnowledgeBase: z.boolean().default(true),
});

export type ResolutionSignal = z.input<typeof resolutionSignalSchema>;
