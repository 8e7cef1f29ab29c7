import { z } from 'zod';

/**
 * A classification as stored in Postgres (the classify step's detail, copied into the escalation record) and
 * as every reader shows it: the API, the inbox and the CLI. Parsed here once, leniently: rows written by
 * older code may lack the optional fields, and numerics can come back as strings.
 */
export interface StoredClassification {
  intent: string;
  urgency: string;
  confidence: number;
  summary: string | null;
  sentiment: string | null;
  language: string | null;
}

const storedClassificationSchema = z.object({
  intent: z.string(),
  urgency: z.string(),
  confidence: z.coerce.number(),
  summary: z.string().nullish(),
  sentiment: z.string().nullish(),
  language: z.string().nullish(),
});

/** The classification in a stored JSON value, or null when there is none (the classifier failed). */
export function parseStoredClassification(json: unknown): StoredClassification | null {
  const parsed = storedClassificationSchema.safeParse(json ?? undefined);
  if (!parsed.success || Number.isNaN(parsed.data.confidence)) return null;
  const c = parsed.data;
  return {
    intent: c.intent,
    urgency: c.urgency,
    confidence: c.confidence,
    summary: c.summary ?? null,
    sentiment: c.sentiment ?? null,
    language: c.language ?? null,
  };
}
