/**
 * Where a ticket's end-to-end time goes. Definitions (also in bench/README.md):
 *
 * - end-to-end (E2E): from just before the ticket is submitted until its outcome is recorded — the reply was
 *   delivered (answered) or the escalation was handed to humans (escalated).
 * - LLM time: time spent waiting for the language model on the ticket's critical path = classify call +
 *   generate call (0 when generation was skipped). Retrieval is not LLM time.
 * - orchestration overhead = E2E − LLM time. Everything that is not the model: queueing, Temporal round trips,
 *   database writes, and retrieval where it is not hidden behind classification.
 * - overhead beyond work = E2E − critical-path work, where work also counts retrieval: with parallel triage
 *   (ticketflow: classify ‖ retrieve) the triage phase costs max(classify, retrieve); run sequentially
 *   (the baseline) it costs classify + retrieve. What is left is pure coordination and bookkeeping.
 * - speculative generation (SPECULATIVE_GENERATION): the answer is drafted as soon as retrieval returns, beside
 *   the classifier, so a sent draft's path is max(classify, retrieve + generate) and its LLM time
 *   max(classify, generate). A draft a gate discarded is off the path (its tokens still count in the cost).
 */

export interface TicketTiming {
  endToEndMs: number;
  /** The classify LLM call, as measured around the HTTP call by the provider. */
  classifyLlmMs: number;
  /** Embedding + vector search. */
  retrieveMs: number;
  /** The generate LLM call; null when generation was skipped by a gate (or its speculative draft discarded). */
  generateLlmMs: number | null;
  /** The generate call started during triage (speculative generation), beside the classifier. */
  speculative?: boolean;
}

export function llmTimeMs(t: TicketTiming): number {
  if (t.speculative && t.generateLlmMs !== null) return Math.max(t.classifyLlmMs, t.generateLlmMs);
  return t.classifyLlmMs + (t.generateLlmMs ?? 0);
}

export function orchestrationOverheadMs(t: TicketTiming): number {
  return t.endToEndMs - llmTimeMs(t);
}

export function criticalPathWorkMs(t: TicketTiming, parallelTriage: boolean): number {
  if (t.speculative && t.generateLlmMs !== null)
    return Math.max(t.classifyLlmMs, t.retrieveMs + t.generateLlmMs);
  const triage = parallelTriage ? Math.max(t.classifyLlmMs, t.retrieveMs) : t.classifyLlmMs + t.retrieveMs;
  return triage + (t.generateLlmMs ?? 0);
}

export function overheadBeyondWorkMs(t: TicketTiming, parallelTriage: boolean): number {
  return t.endToEndMs - criticalPathWorkMs(t, parallelTriage);
}

export interface StepRow {
  step: string;
  status: string;
  latency_ms: number | null;
  /** The step's logged detail; a speculative generate says `speculative: true`. */
  detail?: unknown;
}

/**
 * A ticketflow ticket's timing from its ticket_steps rows (latency_ms as logged by the activities: the LLM
 * call for classify/generate, embedding + search for retrieve). A step that failed or is missing counts 0.
 */
export function timingFromSteps(
  endToEndMs: number,
  steps: readonly StepRow[],
  outcome: { escalated: boolean } = { escalated: false },
): TicketTiming {
  const latency = (name: string): number | null => {
    const row = steps.find((s) => s.step === name && s.status === 'ok');
    return row ? Number(row.latency_ms ?? 0) : null;
  };
  const generate = steps.find((s) => s.step === 'generate');
  const detail = generate?.detail;
  const speculative =
    typeof detail === 'object' &&
    detail !== null &&
    (detail as { speculative?: unknown }).speculative === true;
  const timing: TicketTiming = {
    endToEndMs,
    classifyLlmMs: latency('classify') ?? 0,
    retrieveMs: latency('retrieve') ?? 0,
    // An escalated ticket's speculative draft was discarded by a gate: it was never on the ticket's path.
    generateLlmMs: speculative && outcome.escalated ? null : latency('generate'),
  };
  return speculative ? { ...timing, speculative } : timing;
}
