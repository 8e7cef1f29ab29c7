import type { ResolutionSignal } from './ticket';

/**
 * The resolve signal/update checked inside the workflow, without zod: the workflow sandbox re-evaluates every
 * module it imports for each new workflow run, and zod's schema classes cost ~7 ms of worker CPU per ticket
 * there (bench/README.md, CPU per ticket). Same rules as `resolutionSignalSchema` in ticket.ts (a test holds
 * the two together): an object with `agentId` (1–200 characters once trimmed), `answer` (1–20,000 once trimmed),
 * optional boolean `addToKnowledgeBase` (default true); other keys are dropped.
 */
export interface ParsedResolution {
  agentId: string;
  answer: string;
  addToKnowledgeBase: boolean;
}

function trimmed(value: unknown, max: number): string | undefined {
  if (typeof value !== 'string') return undefined;
  const text = value.trim();
  return text.length >= 1 && text.length <= max ? text : undefined;
}

export function parseResolutionSignal(candidate: unknown): ParsedResolution | undefined {
  if (typeof candidate !== 'object' || candidate === null || Array.isArray(candidate)) return undefined;
  const input = candidate as Partial<Record<keyof ResolutionSignal, unknown>>;
  const agentId = trimmed(input.agentId, 200);
  const answer = trimmed(input.answer, 20_000);
  const addToKnowledgeBase = input.addToKnowledgeBase === undefined ? true : input.addToKnowledgeBase;
  if (agentId === undefined || answer === undefined || typeof addToKnowledgeBase !== 'boolean')
    return undefined;
  return { agentId, answer, addToKnowledgeBase };
}
