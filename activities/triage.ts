import { ApplicationFailure } from '@temporalio/activity';
import { z } from 'zod';
import {
  classificationSchema,
  type Classification,
  type PassageRef,
  type TicketStage,
} from '../src/domain/ticket';
import { zeroUsage } from '../src/llm/cost';
import {
  CriticalMeaningDetector,
  detectCriticalSignalsDeobfuscated,
  loadCriticalExampleFile,
  referenceExamples,
} from '../src/llm/critical-meaning';
import { CRITICAL_SIGNALS, detectHumanRequest } from '../src/llm/signals';
import { searchTopAnswers, type RetrievedPassage } from '../src/kb/answer-key';
import { restatementsFromRegistry } from '../src/kb/restatements';
import type { LlmProvider } from '../src/llm/types';
import { storableJson } from '../src/text';
import type { ActivityDeps } from './deps';
import { isRetry, type TicketRecord } from './ticket-record';
import { confirmRows } from './writes';

/** Attempts the vector store gets before a ticket escalates with `retrieval_unavailable`. */
export const RETRIEVAL_MAX_ATTEMPTS = 5;

export interface ClassifyOutcome {
  classification: Classification;
  requestedHuman: boolean;
  /** Critical signals found by rules or by meaning; they force urgency to critical whatever the model said. */
  criticalSignals: string[];
}

/** What a successful classify attempt logs in ticket_steps.detail (and a retry may reuse). */
function recordedClassifySchema(intents: readonly string[]) {
  return classificationSchema(intents).extend({
    requestedHuman: z.boolean(),
    criticalSignals: z.array(z.string()),
  });
}

/** Triage: what the ticket is about and how urgent (classify), and what the knowledge base says (retrieve). */
export function triageActivities(deps: ActivityDeps, record: TicketRecord) {
  const { db, config } = deps;
  const criticalMeaning = new CriticalMeaningDetector(
    deps.embedder,
    referenceExamples(loadCriticalExampleFile()),
  );

  async function recordedClassification(workflowId: string): Promise<ClassifyOutcome | undefined> {
    const row = await db
      .selectFrom('ticket_steps')
      .select(['status', 'detail'])
      .where('workflow_id', '=', workflowId)
      .where('step', '=', 'classify')
      .executeTakeFirst();
    if (row?.status !== 'ok') return undefined;
    const parsed = recordedClassifySchema(config.INTENTS).safeParse(row.detail);
    if (!parsed.success) return undefined;
    const { requestedHuman, criticalSignals, ...classification } = parsed.data;
    return { classification, requestedHuman, criticalSignals };
  }

  return {
    async classifyTicket(input: {
      workflowId: string;
      maxLlmFailures?: number;
      /** Runs started before the workflow passed its stage were triaging here too. */
      stage?: TicketStage;
    }): Promise<ClassifyOutcome> {
      await record.recordStage(input.workflowId, input.stage ?? 'triaging');
      // Only a retry can find an earlier attempt's result: the first attempt skips the lookup.
      const recorded = isRetry() ? await recordedClassification(input.workflowId) : undefined;
      if (recorded) return recorded;
      const ticket = await record.loadForLlm(input.workflowId);
      let classified: Awaited<ReturnType<LlmProvider['classify']>>;
      try {
        classified = await deps.llm.classify(ticket);
      } catch (err) {
        throw await record.llmFailure(
          input.workflowId,
          'classify',
          err,
          record.llmBudget(input.maxLlmFailures),
        );
      }
      const { classification, usage } = classified;
      // Rules outside the model: a ticket cannot talk its way out of being critical or out of reaching a human.
      // Keywords first, then meaning (paraphrases, obfuscated spellings) for what they miss.
      const byRules = detectCriticalSignalsDeobfuscated(ticket.text);
      const byMeaning = byRules.length > 0 ? undefined : await criticalMeaning.detect(ticket.text);
      const criticalSignals = CRITICAL_SIGNALS.filter(
        (signal) => byRules.includes(signal) || byMeaning?.signal === signal,
      );
      const requestedHuman = detectHumanRequest(ticket.text);
      const final: Classification =
        criticalSignals.length > 0 ? { ...classification, urgency: 'critical' } : classification;
      await record.logStep(input.workflowId, 'classify', 'ok', usage, {
        ...final,
        modelUrgency: classification.urgency,
        criticalSignals,
        ...(byMeaning
          ? { criticalByMeaning: { signal: byMeaning.signal, similarity: byMeaning.similarity } }
          : {}),
        requestedHuman,
      });
      return { classification: final, requestedHuman, criticalSignals };
    },

    /** Embed the ticket, search the KB, keep the passages in Postgres, return only ids and scores. */
    async retrievePassages(input: { workflowId: string }): Promise<PassageRef[]> {
      const ticket = await record.loadForLlm(input.workflowId);
      const started = Date.now();
      let retrieved: RetrievedPassage[];
      try {
        const [vector] = await deps.embedder.embed([ticket.text]);
        retrieved = await searchTopAnswers(
          deps.store,
          vector!,
          config.RETRIEVAL_TOP_K,
          restatementsFromRegistry(db),
        );
      } catch (err) {
        // Only the vector store has a retry budget; Postgres errors (below) retry until Postgres is back, so a
        // database outage delays the ticket instead of escalating it as `retrieval_unavailable`. If the failure
        // cannot even be logged, Postgres is down too: retry without spending the budget.
        const failures = await record
          .logStep(input.workflowId, 'retrieve', 'failed', undefined, {
            message: err instanceof Error ? err.message.slice(0, 500) : String(err),
          })
          .catch(() => 0);
        if (failures >= RETRIEVAL_MAX_ATTEMPTS) {
          throw ApplicationFailure.nonRetryable(
            `Vector store unavailable after ${failures} attempts: ${err instanceof Error ? err.message : String(err)}`,
            'retrieval_unavailable',
          );
        }
        throw err;
      }
      const hits = retrieved.map((r) => r.hit);
      await db.transaction().execute(async (trx) => {
        await trx.deleteFrom('ticket_passages').where('workflow_id', '=', input.workflowId).execute();
        if (hits.length > 0) {
          const inserted = await trx
            .insertInto('ticket_passages')
            .values(
              hits.map((hit, rank) => ({
                workflow_id: input.workflowId,
                rank,
                passage_id: hit.id,
                document_id: hit.payload.documentId,
                title: hit.payload.title,
                source: hit.payload.source,
                score: hit.score,
                text: hit.payload.text,
                heading_path: storableJson(hit.payload.headingPath),
              })),
            )
            .executeTakeFirst();
          confirmRows(inserted, hits.length, `passages of ${input.workflowId}`);
        }
      });
      await record.logStep(
        input.workflowId,
        'retrieve',
        'ok',
        { ...zeroUsage(deps.embedder.modelId), latencyMs: Date.now() - started },
        { hits: hits.map((h) => ({ id: h.id, score: Number(h.score.toFixed(4)) })) },
      );
      return retrieved.map((r) => r.ref);
    },
  };
}
