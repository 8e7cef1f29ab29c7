import { performance } from 'node:perf_hooks';
import type { Db } from '../../src/db/database';
import type { TokenUsage } from '../../src/domain/ticket';
import { hitToPassage } from '../../src/kb/ingest';
import type { Embedder, VectorStore } from '../../src/kb/types';
import type { LlmProvider, TicketForLlm } from '../../src/llm/types';

/**
 * The comparison point: what the seed's `handle_ticket` did, in one process, without Temporal and without
 * gates. Classify, then retrieve, then generate — always, sequentially — then decide after the fact whether
 * to send the draft or hand the ticket to a person, and write one interaction-log row. It calls the same LLM
 * provider, embedder and vector store as the workflow's activities, so the two differ only in orchestration.
 */

export interface BaselineDeps {
  llm: LlmProvider;
  embedder: Embedder;
  store: VectorStore;
  db: Db;
  topK: number;
  confidenceThreshold: number;
}

export interface BaselineResult {
  id: string;
  endToEndMs: number;
  classifyLlmMs: number;
  retrieveMs: number;
  generateLlmMs: number;
  escalated: boolean;
  reason: 'agent_uncertainty' | 'low_classifier_confidence' | null;
  usage: TokenUsage[];
}

export async function handleTicketSequentially(
  deps: BaselineDeps,
  id: string,
  ticket: TicketForLlm,
): Promise<BaselineResult> {
  const started = performance.now();
  const classified = await deps.llm.classify(ticket);

  const retrieveStarted = performance.now();
  const [vector] = await deps.embedder.embed([`${ticket.subject}\n${ticket.body}`.trim()]);
  const hits = await deps.store.search(vector!, deps.topK);
  const retrieveMs = performance.now() - retrieveStarted;

  // No gates: every ticket pays for generation, whatever its urgency, scope or wish for a human.
  const generated = await deps.llm.answer(ticket, hits.map(hitToPassage));
  const reason =
    generated.answer.kind === 'cannot_answer'
      ? ('agent_uncertainty' as const)
      : classified.classification.confidence < deps.confidenceThreshold
        ? ('low_classifier_confidence' as const)
        : null;

  const usage = [classified.usage, generated.usage];
  await deps.db
    .insertInto('interactions')
    .values({
      workflow_id: `baseline-${id}`,
      ticket_text: [ticket.subject, ticket.body].filter(Boolean).join('\n'),
      intent: classified.classification.intent,
      urgency: classified.classification.urgency,
      confidence: classified.classification.confidence,
      sentiment: classified.classification.sentiment,
      language: classified.classification.language,
      escalated: reason !== null,
      reason,
      response: generated.answer.kind === 'answer' ? generated.answer.reply : null,
      response_source: reason === null ? 'ai' : null,
      latency_ms: Math.round(performance.now() - started),
      input_tokens: usage.reduce((sum, u) => sum + u.inputTokens, 0),
      cached_input_tokens: usage.reduce((sum, u) => sum + u.cachedInputTokens, 0),
      output_tokens: usage.reduce((sum, u) => sum + u.outputTokens, 0),
      cost_usd: usage.reduce((sum, u) => sum + u.costUsd, 0),
      completed_at: new Date(),
    })
    .execute();

  return {
    id,
    endToEndMs: performance.now() - started,
    classifyLlmMs: classified.usage.latencyMs,
    retrieveMs,
    generateLlmMs: generated.usage.latencyMs,
    escalated: reason !== null,
    reason,
    usage,
  };
}
