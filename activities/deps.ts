import type { Config } from '../src/config';
import type { Db } from '../src/db/database';
import type { SendOutboundWebhook } from '../src/integrations/outbound-webhook';
import type { Embedder, VectorStore } from '../src/kb/types';
import type { LlmProvider } from '../src/llm/types';
import type { Logger } from '../src/logger';

/** Everything the activities talk to; the worker builds it from config, tests swap parts of it. */
export interface ActivityDeps {
  config: Config;
  db: Db;
  store: VectorStore;
  embedder: Embedder;
  llm: LlmProvider;
  logger: Logger;
  /** Sends reply/escalation events to the ticketing system; absent when no webhook is configured. */
  sendWebhook?: SendOutboundWebhook;
  /** Adds a document to the knowledge base (chunk, embed, upsert, register). */
  ingestDocument: (doc: {
    id: string;
    title: string;
    body: string;
    source: 'kb' | 'resolution';
    ticketId?: string;
    intents?: string[];
    origin?: string;
  }) => Promise<{ documentId: string; chunks: number; skipped: boolean }>;
}
