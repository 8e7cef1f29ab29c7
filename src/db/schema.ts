import type { ColumnType, Generated, JSONColumnType } from 'kysely';

/** Kysely's view of the tables created by src/db/migrations. */

type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;
/** A jsonb column with a default: optional on insert. */
type JsonWithDefault<T> = ColumnType<T, string | undefined, string>;
type Numeric = ColumnType<number, number | string, number | string>;

export interface TicketsTable {
  workflow_id: string;
  external_id: string;
  subject: string;
  body: string;
  customer: JSONColumnType<{ id?: string; email?: string; name?: string }>;
  channel: string;
  stage: string;
  created_at: Timestamp;
  updated_at: Timestamp;
}

/** The interaction log: the seed's columns plus workflow id, tokens and cost. One row per ticket. */
export interface InteractionsTable {
  workflow_id: string;
  timestamp: Timestamp;
  ticket_text: string;
  intent: string | null;
  urgency: string | null;
  confidence: Numeric | null;
  sentiment: string | null;
  language: string | null;
  escalated: boolean;
  reason: string | null;
  response: string | null;
  response_source: string | null;
  latency_ms: number | null;
  input_tokens: number;
  cached_input_tokens: number;
  output_tokens: number;
  cost_usd: Numeric;
  completed_at: Timestamp | null;
  /** KB document id of the human resolution that overrode low classifier confidence, if any. */
  answered_from_resolution: string | null;
}

/** One row per pipeline step per ticket, keyed (workflow_id, step) so activity retries never duplicate. */
export interface TicketStepsTable {
  workflow_id: string;
  step: string;
  status: string;
  attempts: number;
  started_at: Timestamp;
  finished_at: Timestamp | null;
  latency_ms: number | null;
  model: string | null;
  input_tokens: number;
  cached_input_tokens: number;
  cache_write_tokens: number;
  output_tokens: number;
  cost_usd: Numeric;
  detail: JSONColumnType<Record<string, unknown>>;
  /** Failed attempts caused by the step's own dependency (LLM, vector store); retry budgets count these. */
  failures: Generated<number>;
}

/** Claim check: the full passages a ticket retrieved; the workflow only holds their ids and scores. */
export interface TicketPassagesTable {
  workflow_id: string;
  rank: number;
  passage_id: string;
  document_id: string;
  title: string;
  source: string;
  score: Numeric;
  text: string;
  heading_path: JSONColumnType<string[]>;
}

export interface DraftsTable {
  workflow_id: string;
  kind: string;
  reply: string | null;
  cited_passage_ids: JSONColumnType<string[]>;
  reason: string | null;
  /** A draft the grounding check stopped: shown to the human who takes over, never sent to the customer. */
  withheld_reply: string | null;
  created_at: Timestamp;
}

export interface EscalationsTable {
  workflow_id: string;
  reason: string;
  classification: JSONColumnType<Record<string, unknown> | null>;
  passages: JSONColumnType<Array<Record<string, unknown>>>;
  draft: string | null;
  /** Set when `draft` failed the grounding check (why); the customer never saw it. */
  draft_withheld_reason: string | null;
  created_at: Timestamp;
  sla_due_at: Timestamp;
  overdue_notified_at: Timestamp | null;
  resolved_at: Timestamp | null;
  resolved_by: string | null;
  /** Documents the AI answers cited when the customer came back unhappy (`customer_unsatisfied`). */
  cited_document_ids: JsonWithDefault<string[]>;
}

/** The thread after the first message (which stays in `tickets`): customer follow-ups, AI and human replies. */
export interface TicketMessagesTable {
  id: Generated<number>;
  workflow_id: string;
  /** Customer-chosen for customer messages (idempotency key); `ai-<turn>` / `human-<turn>` for replies. */
  message_id: string;
  author: 'customer' | 'ai' | 'human';
  /** Reply turn: a customer message carries the turn it followed, a reply the turn it is. */
  turn: number;
  body: string;
  /** For AI replies: the passages cited ({ passageId, documentId, title, score }). */
  cited_passages: JsonWithDefault<CitedPassage[]>;
  agent_id: string | null;
  created_at: Timestamp;
  delivered_at: Timestamp | null;
  webhook_status: number | null;
}

export interface CitedPassage {
  passageId: string;
  documentId: string;
  title: string;
  score: number;
}

export interface TicketFeedbackTable {
  id: Generated<number>;
  workflow_id: string;
  feedback_id: string;
  rating: 'good' | 'bad';
  comment: string | null;
  /** The reply turn it rates. */
  turn: number;
  created_at: Generated<Date>;
}

/** How a conversation ended (null while open); the honest resolution rate is computed from it. */
export interface ConversationsTable {
  workflow_id: string;
  outcome: string | null;
  ai_turns: Generated<number>;
  human_turns: Generated<number>;
  reopened: Generated<number>;
  escalated_after_ai: Generated<boolean>;
  unhappy_document_ids: JsonWithDefault<string[]>;
  updated_at: Timestamp;
  closed_at: Timestamp | null;
}

export interface ResolutionsTable {
  workflow_id: string;
  agent_id: string;
  answer: string;
  add_to_kb: boolean;
  kb_document_id: string | null;
  kb_outcome: string | null;
  created_at: Timestamp;
}

/** Messages to the customer. Unique per (workflow_id, kind): a ticket is answered at most once. */
export interface OutboxTable {
  id: Generated<number>;
  workflow_id: string;
  kind: string;
  source: string;
  body: string;
  created_at: Timestamp;
  delivered_at: Timestamp | null;
  webhook_status: number | null;
  webhook_attempts: Generated<number>;
}

export interface ApiKeysTable {
  id: string;
  name: string;
  role: string;
  key_hash: string;
  created_at: Timestamp;
  revoked_at: Timestamp | null;
  last_used_at: Timestamp | null;
}

/** Registry of knowledge-base documents, whichever vector store holds their chunks. */
export interface KbDocumentsTable {
  id: string;
  title: string;
  source: string;
  ticket_id: string | null;
  intents: JSONColumnType<string[]>;
  content_hash: string;
  chunk_count: number;
  body: string;
  origin: string | null;
  created_at: Timestamp;
  updated_at: Timestamp;
}

/** Model-written article drafts of the knowledge-gap report, by what they were drafted from (src/kb/gaps.ts). */
export interface KbGapDraftsTable {
  source_key: string;
  model: string;
  title: string;
  body: string;
  cited_ticket_ids: JSONColumnType<string[]>;
  cost_usd: Numeric;
  created_at: Timestamp;
}

export type KbIngestionStatus = 'queued' | 'embedding' | 'done' | 'failed';

/** One knowledge-base ingestion (migration 008, workflows/kb-ingestion.ts). */
export interface KbIngestionsTable {
  id: string;
  document_id: string;
  content_hash: string;
  title: string;
  body: string | null;
  source: string;
  intents: JSONColumnType<string[]>;
  origin: string | null;
  document_existed: boolean;
  status: KbIngestionStatus;
  chunks_total: number | null;
  chunks_done: ColumnType<number, number | undefined, number>;
  error: string | null;
  created_at: Timestamp;
  updated_at: Timestamp;
  finished_at: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
}

/** Vectors of an ingestion's chunks, staged batch by batch until the document is swapped in. */
export interface KbIngestionChunksTable {
  ingestion_id: string;
  chunk_index: number;
  embedding: number[];
}

export interface ProofRowsTable {
  id: string;
  note: string;
  created_at: Timestamp;
}

export interface Database {
  tickets: TicketsTable;
  interactions: InteractionsTable;
  ticket_steps: TicketStepsTable;
  ticket_passages: TicketPassagesTable;
  drafts: DraftsTable;
  escalations: EscalationsTable;
  resolutions: ResolutionsTable;
  outbox: OutboxTable;
  api_keys: ApiKeysTable;
  kb_documents: KbDocumentsTable;
  kb_gap_drafts: KbGapDraftsTable;
  kb_ingestions: KbIngestionsTable;
  kb_ingestion_chunks: KbIngestionChunksTable;
  proof_rows: ProofRowsTable;
  ticket_messages: TicketMessagesTable;
  ticket_feedback: TicketFeedbackTable;
  conversations: ConversationsTable;
}
