import type { Passage } from '../domain/ticket';
import { answerSystemPrompt, classifySystemPrompt } from './prompts';

/**
 * Checks on a drafted reply that do not trust the model: whatever a ticket talked the model into, a reply that
 * quotes our instructions, or states amounts and percentages that no cited passage contains, is not sent. The
 * ticket goes to a human instead (`agent_uncertainty`).
 */

const SHINGLE_WORDS = 8;

function words(text: string): string[] {
  return text
    .toLowerCase()
    .split(/[^a-z0-9"]+/)
    .filter(Boolean);
}

/** Word 8-grams of `source` that also appear in `text`: a verbatim leak of the source. */
export function sharedShingles(text: string, source: string, n = SHINGLE_WORDS): string[] {
  const haystack = ` ${words(text).join(' ')} `;
  const sourceWords = words(source);
  const found: string[] = [];
  for (let i = 0; i + n <= sourceWords.length; i++) {
    const phrase = sourceWords.slice(i, i + n).join(' ');
    if (haystack.includes(` ${phrase} `)) found.push(phrase);
  }
  return found;
}

/** Money amounts and percentages, normalised ("$1,200.00" → "$1200", "15 %" → "15%"). */
export function figuresIn(text: string): string[] {
  const found = new Set<string>();
  const normalise = (s: string) => s.replace(/[\s,]/g, '').replace(/\.0+(?=\D|$)/, '');
  for (const m of text.matchAll(/\d[\d,]*(?:\.\d+)?\s?%/g)) found.add(normalise(m[0]));
  for (const m of text.matchAll(/[$€£]\s?\d[\d,]*(?:\.\d+)?/g)) found.add(normalise(m[0]));
  for (const m of text.matchAll(/\d[\d,]*(?:\.\d+)?\s?(?:USD|EUR|GBP|dollars?|euros?)\b/gi)) {
    found.add(normalise(m[0]).toLowerCase());
  }
  return [...found];
}

export type GroundingVerdict = { ok: true } | { ok: false; reason: string };

export function checkReplyGrounding(
  reply: string,
  cited: readonly Pick<Passage, 'text' | 'title'>[],
  intents: readonly string[],
): GroundingVerdict {
  // Both wordings: through a tool, and as JSON outputs (they differ in one line).
  const instructions = (['forced_tool', 'json_schema'] as const).flatMap((path) => [
    answerSystemPrompt(path),
    classifySystemPrompt(intents, path),
  ]);
  const leaked = instructions.flatMap((prompt) => sharedShingles(reply, prompt));
  if (leaked.length > 0) {
    return { ok: false, reason: `reply repeats the agent's instructions ("${leaked[0]}")` };
  }
  const sourceFigures = new Set(figuresIn(cited.map((p) => `${p.title}\n${p.text}`).join('\n')));
  const unsupported = figuresIn(reply).filter((figure) => !sourceFigures.has(figure));
  if (unsupported.length > 0) {
    return {
      ok: false,
      reason: `reply states figures no cited passage contains: ${unsupported.slice(0, 5).join(', ')}`,
    };
  }
  return { ok: true };
}
