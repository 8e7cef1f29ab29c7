import { z } from 'zod';
import { classificationSchema, type Answer, type Classification } from '../domain/ticket';

/**
 * The two tools the Anthropic provider forces the model to call, their zod schemas (the single source of
 * truth: the tools' JSON Schemas are generated from them) and the validation of what comes back.
 */

export const CLASSIFY_TOOL_NAME = 'record_ticket_classification';
export const ANSWER_TOOL_NAME = 'record_support_answer';

export function classificationToolSchema(intents: readonly string[]) {
  return classificationSchema(intents).extend({
    summary: z.string().min(1).max(300).describe('One line (no line breaks), at most ~120 characters.'),
    confidence: z.number().min(0).max(1).describe('Probability that the chosen intent is correct, 0 to 1.'),
    language: z
      .string()
      .regex(/^[a-z]{2}$/, 'ISO 639-1 code')
      .describe('ISO 639-1 code of the ticket language.'),
  });
}

export const answerToolSchema = z.object({
  status: z
    .enum(['answer', 'cannot_answer'])
    .describe('"answer" only if the passages fully support a reply; otherwise "cannot_answer".'),
  reply: z.string().optional().describe('The reply to the customer (required when status is "answer").'),
  cited_passage_ids: z
    .array(z.string())
    .optional()
    .describe('Ids of every passage the reply relies on (required, non-empty, when status is "answer").'),
  reason: z
    .string()
    .optional()
    .describe('Why the passages cannot answer (required when status is "cannot_answer").'),
});

export type AnswerToolInput = z.infer<typeof answerToolSchema>;

/** JSON Schema for a tool's `input_schema`, generated from zod (without the `$schema` marker). */
export function toInputSchema(schema: z.ZodType): { type: 'object'; [key: string]: unknown } {
  const { $schema: _ignored, ...rest } = z.toJSONSchema(schema) as Record<string, unknown>;
  if (rest.type !== 'object') throw new Error('tool input schemas must be JSON objects');
  return rest as { type: 'object'; [key: string]: unknown };
}

export type Validated<T> = { ok: true; value: T } | { ok: false; error: string };

function describeIssues(error: z.ZodError): string {
  return error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`).join('; ');
}

/** Harmless normalisation before validation (case, whitespace), so trivia never costs a repair round trip. */
function normaliseClassification(raw: unknown): unknown {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) return raw;
  const value: Record<string, unknown> = { ...(raw as Record<string, unknown>) };
  for (const key of ['intent', 'urgency', 'sentiment', 'language']) {
    if (typeof value[key] === 'string') value[key] = (value[key] as string).trim().toLowerCase();
  }
  if (typeof value.summary === 'string') value.summary = value.summary.replace(/\s+/g, ' ').trim();
  return value;
}

export function validateClassification(raw: unknown, intents: readonly string[]): Validated<Classification> {
  const parsed = classificationToolSchema(intents).safeParse(normaliseClassification(raw));
  return parsed.success
    ? { ok: true, value: parsed.data }
    : { ok: false, error: describeIssues(parsed.error) };
}

/**
 * A grounded answer must cite at least one passage, and only passages it was given: a citation of an
 * unknown id means the model invented a source, which is invalid output.
 */
export function validateAnswer(raw: unknown, passageIds: readonly string[]): Validated<Answer> {
  const parsed = answerToolSchema.safeParse(raw);
  if (!parsed.success) return { ok: false, error: describeIssues(parsed.error) };
  const input = parsed.data;
  if (input.status === 'cannot_answer') {
    const reason = input.reason?.trim();
    if (!reason) return { ok: false, error: 'reason: required when status is "cannot_answer"' };
    return { ok: true, value: { kind: 'cannot_answer', reason } };
  }
  const reply = input.reply?.trim();
  if (!reply) return { ok: false, error: 'reply: required when status is "answer"' };
  const cited = [...new Set((input.cited_passage_ids ?? []).map((id) => id.trim()))];
  if (cited.length === 0) return { ok: false, error: 'cited_passage_ids: cite at least one passage id' };
  const known = new Set(passageIds);
  const unknown = cited.filter((id) => !known.has(id));
  if (unknown.length > 0) {
    return {
      ok: false,
      error: `cited_passage_ids: ${unknown.map((id) => JSON.stringify(id)).join(', ')} not among the given passages (${[
        ...known,
      ]
        .map((id) => JSON.stringify(id))
        .join(', ')})`,
    };
  }
  return { ok: true, value: { kind: 'answer', reply, citedPassageIds: cited } };
}

/**
 * Fallback only: JSON objects found in free text, in order of preference: fenced ```json blocks, the
 * whole text, then every balanced top-level {...} span. Used when the model answered in text instead of
 * calling the tool.
 */
export function extractJsonObjects(text: string): unknown[] {
  const candidates: string[] = [];
  for (const match of text.matchAll(/```(?:json|JSON)?\s*\n?([\s\S]*?)```/g)) {
    if (match[1]) candidates.push(match[1]);
  }
  candidates.push(text);
  candidates.push(...balancedObjectSpans(text));
  const found: unknown[] = [];
  for (const candidate of candidates) {
    try {
      const value: unknown = JSON.parse(candidate.trim());
      if (value && typeof value === 'object' && !Array.isArray(value)) found.push(value);
    } catch {
      // not JSON; try the next candidate
    }
  }
  return found;
}

function balancedObjectSpans(text: string): string[] {
  const spans: string[] = [];
  let depth = 0;
  let start = -1;
  let inString = false;
  let escaped = false;
  for (let i = 0; i < text.length; i++) {
    const char = text[i];
    if (inString) {
      if (escaped) escaped = false;
      else if (char === '\\') escaped = true;
      else if (char === '"') inString = false;
      continue;
    }
    if (char === '"') inString = depth > 0;
    else if (char === '{') {
      if (depth === 0) start = i;
      depth++;
    } else if (char === '}' && depth > 0) {
      depth--;
      if (depth === 0) spans.push(text.slice(start, i + 1));
    }
  }
  return spans;
}
