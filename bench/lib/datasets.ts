import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';

/** The datasets the benchmark and the evaluation read, validated on load. Paths are relative to the repo root. */

export const REPO_ROOT = path.resolve(__dirname, '..', '..');
export const ACME_TICKETS_PATH = path.join(REPO_ROOT, 'data', 'acme-tickets.json');
export const ACME_KB_DIR = path.join(REPO_ROOT, 'kb', 'acme');
export const EVAL_KB_DIR = path.join(REPO_ROOT, 'data', 'eval-kb');
export const CLINC_SUBSET_PATH = path.join(REPO_ROOT, 'data', 'clinc150', 'clinc150-subset.json');
export const CLINC_MAPPING_PATH = path.join(REPO_ROOT, 'data', 'clinc150', 'mapping.json');

export const ACME_CATEGORIES = [
  'answerable',
  'not_covered',
  'critical',
  'human_request',
  'out_of_scope',
] as const;
export type AcmeCategory = (typeof ACME_CATEGORIES)[number];

const acmeTicketSchema = z
  .object({
    id: z.string().regex(/^[a-z0-9-]+$/),
    category: z.enum(ACME_CATEGORIES),
    subject: z.string(),
    body: z.string().min(1),
    expectedIntent: z.string().min(1),
    expectedOutcome: z.enum(['answer', 'escalate']),
    expectedArticles: z.array(z.string().min(1)).optional(),
  })
  .refine((t) => (t.expectedOutcome === 'answer') === Boolean(t.expectedArticles?.length), {
    message: 'answerable tickets need expectedArticles, escalations must not have them',
  });

export type AcmeTicket = z.infer<typeof acmeTicketSchema>;

const acmeFileSchema = z.object({ description: z.string(), tickets: z.array(acmeTicketSchema).min(1) });

export function loadAcmeTickets(file = ACME_TICKETS_PATH): AcmeTicket[] {
  const parsed = acmeFileSchema.parse(JSON.parse(fs.readFileSync(file, 'utf8')));
  const ids = new Set<string>();
  for (const ticket of parsed.tickets) {
    if (ids.has(ticket.id)) throw new Error(`${file}: duplicate ticket id ${ticket.id}`);
    ids.add(ticket.id);
  }
  return parsed.tickets;
}

const splitsSchema = z.object({
  train: z.array(z.string()),
  val: z.array(z.string()),
  test: z.array(z.string()),
});
const clincSubsetSchema = z.object({
  source: z.string(),
  intents: z.record(z.string(), splitsSchema),
  oos: splitsSchema,
});
export type ClincSubset = z.infer<typeof clincSubsetSchema>;
export type ClincSplits = z.infer<typeof splitsSchema>;

export const CLINC_ROLES = ['kb', 'withheld', 'off_topic'] as const;
export type ClincRole = (typeof CLINC_ROLES)[number];

const mappingSchema = z.object({
  description: z.string(),
  intents: z.record(
    z.string(),
    z.object({
      domain: z.string(),
      role: z.enum(CLINC_ROLES),
      ticketflowIntent: z.string(),
      article: z.string().optional(),
      cannedAnswer: z.string().min(20).optional(),
    }),
  ),
  oos: z.object({ ticketflowIntent: z.string(), cannedAnswer: z.string().min(20) }),
});
export type ClincMapping = z.infer<typeof mappingSchema>;

export function loadClinc(
  subsetFile = CLINC_SUBSET_PATH,
  mappingFile = CLINC_MAPPING_PATH,
): { subset: ClincSubset; mapping: ClincMapping } {
  const subset = clincSubsetSchema.parse(JSON.parse(fs.readFileSync(subsetFile, 'utf8')));
  const mapping = mappingSchema.parse(JSON.parse(fs.readFileSync(mappingFile, 'utf8')));
  for (const [intent, spec] of Object.entries(mapping.intents)) {
    if (!subset.intents[intent]) throw new Error(`${mappingFile}: intent ${intent} is not in ${subsetFile}`);
    if (spec.role === 'kb' && !spec.article)
      throw new Error(`${mappingFile}: kb intent ${intent} needs an article`);
    if (spec.role !== 'off_topic' && !spec.cannedAnswer)
      throw new Error(`${mappingFile}: ${intent} needs a cannedAnswer`);
  }
  return { subset, mapping };
}
