import type { Config } from '../config';
import { ESCALATION_REASONS, type EscalationReason } from '../domain/ticket';

/** Words for the codes the workflow records, so agents never have to decode them. */

export const REASON_LABELS: Record<EscalationReason, string> = {
  customer_requested_human: 'Asked for a person',
  customer_unsatisfied: 'AI answer did not help',
  customer_reopened: 'Reopened by the customer',
  critical_urgency: 'Critical urgency',
  low_classifier_confidence: 'Unclear request',
  no_grounded_context: 'Nothing in the KB',
  agent_uncertainty: 'AI not sure',
  llm_unavailable: 'AI unavailable',
  retrieval_unavailable: 'KB unavailable',
  llm_budget_exhausted: 'AI budget used up',
  not_answerable: 'No article clearly answers',
};

export function isEscalationReason(value: string): value is EscalationReason {
  return (ESCALATION_REASONS as readonly string[]).includes(value);
}

export function reasonLabel(reason: string): string {
  return isEscalationReason(reason) ? REASON_LABELS[reason] : reason.replace(/_/g, ' ');
}

/** One sentence per reason, with the thresholds this deployment uses. */
export function reasonSentence(
  reason: string,
  config: Pick<Config, 'CONFIDENCE_THRESHOLD' | 'MIN_RETRIEVAL_SCORE'>,
  context: { confidence?: number | null; declineReason?: string | null } = {},
): string {
  switch (reason) {
    case 'customer_requested_human':
      return 'The customer asked to talk to a person, so the AI handed the ticket over without replying.';
    case 'critical_urgency':
      return 'The ticket looks critical (an outage, a security or legal risk, or money at stake), so it goes straight to a human.';
    case 'low_classifier_confidence':
      return (
        `The AI could not tell what the customer needs with enough confidence` +
        (typeof context.confidence === 'number' ? ` (${percent(context.confidence)}` : ' (') +
        ` against a threshold of ${percent(config.CONFIDENCE_THRESHOLD)}), so it did not try to answer.`
      );
    case 'no_grounded_context':
      return `Nothing in the knowledge base was close enough to answer from (no passage scored ${config.MIN_RETRIEVAL_SCORE.toFixed(2)} or more), and the AI does not answer from memory.`;
    case 'not_answerable':
      return 'No article of the knowledge base answers this clearly better than its neighbours (best match too weak, or a close runner-up on another topic), so the AI handed it over rather than risk answering from the wrong article.';
    case 'agent_uncertainty':
      return (
        'The AI read the passages it found but was not confident they answer this ticket, so it declined to reply' +
        (context.declineReason ? `: “${context.declineReason}”.` : '.')
      );
    case 'llm_unavailable':
      return 'The language model could not be reached, even after retries, so a human has to answer this one.';
    case 'llm_budget_exhausted':
      return 'The AI spend limit for this month is used up (ticketflow’s own budget or the Anthropic account’s), so no reply was drafted; a human has to answer this one.';
    case 'retrieval_unavailable':
      return 'The knowledge base could not be searched (the vector store did not answer), so the AI had nothing to ground a reply on.';
    default:
      return `Escalated for an unrecognised reason (“${reason}”).`;
  }
}

export function percent(value: number | null | undefined, digits = 0): string {
  return value === null || value === undefined || Number.isNaN(value)
    ? '—'
    : `${(value * 100).toFixed(digits)}%`;
}

/** Compact duration for SLAs and ages: 45s, 12m, 3h 05m, 2d 4h. */
export function duration(ms: number): string {
  const seconds = Math.max(0, Math.round(Math.abs(ms) / 1000));
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m`;
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return `${hours}h ${String(minutes % 60).padStart(2, '0')}m`;
  const days = Math.floor(hours / 24);
  return `${days}d ${hours % 24}h`;
}

/** Latencies: 850 ms, 4.2 s, 3.5 min, 2.1 h. */
export function latency(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || Number.isNaN(ms)) return '—';
  const oneDecimal = (n: number) => n.toFixed(1).replace(/\.0$/, '');
  if (ms === 0) return '0';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${oneDecimal(ms / 1000)} s`;
  if (ms < 3_600_000) return `${oneDecimal(ms / 60_000)} min`;
  return `${oneDecimal(ms / 3_600_000)} h`;
}

export function usd(value: number | null | undefined): string {
  if (value === null || value === undefined || Number.isNaN(value)) return '—';
  if (value !== 0 && Math.abs(value) < 0.01) return `$${value.toFixed(4)}`;
  return `$${value.toFixed(2)}`;
}

/** Server-rendered UTC time; the browser script rewrites it in the agent's local time zone. */
export function utcTime(value: Date | string): string {
  const date = new Date(value);
  return `${date.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

export function humanize(code: string): string {
  const text = code.replace(/_/g, ' ');
  return text.charAt(0).toUpperCase() + text.slice(1);
}

export const URGENCY_RANK: Record<string, number> = { critical: 0, high: 1, medium: 2, low: 3 };
