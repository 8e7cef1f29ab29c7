import type { Db } from '../../src/db/database';
import { computeMetrics, judge, type EvalMetrics, type ExpectedOutcome, type Verdict } from './confusion';
import { runWithConcurrency } from './pool';
import type { RunStack } from './stack';

/** Running labelled tickets through the real workflow and judging what came back. */

export interface EvalTicket {
  /** Unique within a run; becomes part of the external id. */
  id: string;
  /** acme category, or the CLINC role (kb / withheld / off_topic / oos). */
  group: string;
  /** The dataset label the topic of a correct answer is keyed by (Acme: unused; CLINC: the CLINC intent). */
  datasetIntent?: string;
  subject: string;
  body: string;
  expectedIntent: string;
  expectedOutcome: ExpectedOutcome;
  expectedTopics: string[];
}

export interface EvalOutcome {
  ticket: EvalTicket;
  workflowId: string;
  escalated: boolean;
  reason: string | null;
  predictedIntent: string | null;
  confidence: number | null;
  citedDocuments: string[];
  citedTopics: string[];
  /** The reply the customer got from the AI (null when escalated). */
  reply: string | null;
  /** Answered although the classifier was unsure, because an earlier human resolution matched closely. */
  answeredFromResolution: boolean;
  verdict: Verdict;
}

export async function runEvalTickets(
  stack: RunStack,
  tickets: readonly EvalTicket[],
  options: {
    concurrency: number;
    idPrefix: string;
    topicOf: (documentId: string) => string;
    onDone?: () => void;
  },
): Promise<EvalOutcome[]> {
  const submitted = await runWithConcurrency(
    tickets,
    options.concurrency,
    (ticket) =>
      stack.submitAndWait({
        externalId: `${options.idPrefix}-${ticket.id}`,
        subject: ticket.subject,
        body: ticket.body,
        customer: {},
        channel: 'api',
      }),
    () => options.onDone?.(),
  );
  const details = await loadOutcomeDetails(
    stack.db,
    submitted.map((s) => s.workflowId),
  );
  return submitted.map((s, index) => {
    const ticket = tickets[index]!;
    const detail = details.get(s.workflowId);
    const citedDocuments = s.outcome.escalated ? [] : (detail?.citedDocuments ?? []);
    const citedTopics = [...new Set(citedDocuments.map(options.topicOf))];
    const predictedIntent = detail?.intent ?? null;
    const verdict = judge({
      expectedOutcome: ticket.expectedOutcome,
      expectedTopics: ticket.expectedTopics,
      answered: !s.outcome.escalated,
      citedTopics,
      expectedIntent: ticket.expectedIntent,
      predictedIntent,
    });
    return {
      ticket,
      workflowId: s.workflowId,
      escalated: s.outcome.escalated,
      reason: s.outcome.reason,
      predictedIntent,
      confidence: detail?.confidence ?? null,
      citedDocuments,
      citedTopics,
      reply: s.outcome.escalated ? null : (detail?.reply ?? null),
      answeredFromResolution: detail?.answeredFromResolution ?? false,
      verdict,
    };
  });
}

interface OutcomeDetail {
  intent: string | null;
  confidence: number | null;
  answeredFromResolution: boolean;
  citedDocuments: string[];
  reply: string | null;
}

/** Intent, confidence, the reply and the documents behind the cited passages (claim check: ticket_passages). */
export async function loadOutcomeDetails(
  db: Db,
  workflowIds: readonly string[],
): Promise<Map<string, OutcomeDetail>> {
  const result = new Map<string, OutcomeDetail>();
  if (workflowIds.length === 0) return result;
  const ids = [...workflowIds];
  const interactions = await db
    .selectFrom('interactions')
    .select(['workflow_id', 'intent', 'confidence', 'answered_from_resolution'])
    .where('workflow_id', 'in', ids)
    .execute();
  const drafts = await db
    .selectFrom('drafts')
    .select(['workflow_id', 'kind', 'cited_passage_ids'])
    .where('workflow_id', 'in', ids)
    .execute();
  const passages = await db
    .selectFrom('ticket_passages')
    .select(['workflow_id', 'passage_id', 'document_id'])
    .where('workflow_id', 'in', ids)
    .execute();
  const replies = await db
    .selectFrom('outbox')
    .select(['workflow_id', 'body'])
    .where('workflow_id', 'in', ids)
    .where('kind', '=', 'reply')
    .where('source', '=', 'ai')
    .execute();
  for (const row of interactions) {
    const draft = drafts.find((d) => d.workflow_id === row.workflow_id);
    const cited = draft?.kind === 'answer' ? draft.cited_passage_ids : [];
    const documents = cited
      .map(
        (passageId) =>
          passages.find((p) => p.workflow_id === row.workflow_id && p.passage_id === passageId)?.document_id,
      )
      .filter((d): d is string => d !== undefined);
    result.set(row.workflow_id, {
      intent: row.intent,
      confidence: row.confidence === null ? null : Number(row.confidence),
      answeredFromResolution: row.answered_from_resolution !== null,
      citedDocuments: [...new Set(documents)],
      reply: replies.find((r) => r.workflow_id === row.workflow_id)?.body ?? null,
    });
  }
  return result;
}

export interface GroupReport {
  metrics: EvalMetrics;
  escalationReasons: Record<string, number>;
}

export function reportFor(outcomes: readonly EvalOutcome[]): GroupReport {
  const escalationReasons: Record<string, number> = {};
  for (const o of outcomes)
    if (o.escalated)
      escalationReasons[o.reason ?? 'unknown'] = (escalationReasons[o.reason ?? 'unknown'] ?? 0) + 1;
  return {
    metrics: computeMetrics(
      outcomes.map((o) => ({
        expectedOutcome: o.ticket.expectedOutcome,
        expectedTopics: o.ticket.expectedTopics,
        answered: !o.escalated,
        citedTopics: o.citedTopics,
        expectedIntent: o.ticket.expectedIntent,
        predictedIntent: o.predictedIntent,
      })),
    ),
    escalationReasons,
  };
}

export function reportByGroup(outcomes: readonly EvalOutcome[]): Record<string, GroupReport> {
  const groups: Record<string, GroupReport> = {};
  for (const group of [...new Set(outcomes.map((o) => o.ticket.group))].sort()) {
    groups[group] = reportFor(outcomes.filter((o) => o.ticket.group === group));
  }
  return groups;
}
