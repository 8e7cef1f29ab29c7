import { z } from 'zod';
import type { Db } from '../../db/database';
import { API_KEY_SECURITY, type AppDeps, type ZodApp } from '../context';
import {
  AUTHENTICATED_PROBLEMS,
  classificationOut,
  isoDateTime,
  passageOut,
  problemResponses,
  queryBoolean,
} from '../schemas';

export const escalationItemSchema = z.object({
  ticketId: z.string(),
  workflowId: z.string(),
  subject: z.string(),
  body: z.string().describe('The ticket text as the customer wrote it'),
  customer: z.object({
    id: z.string().optional(),
    email: z.string().optional(),
    name: z.string().optional(),
  }),
  channel: z.string(),
  classification: classificationOut.nullable(),
  passages: z.array(passageOut).describe('What retrieval found, best first'),
  draft: z.string().nullable().describe('The AI draft, if one was written before escalating'),
  draftWithheld: z
    .string()
    .nullable()
    .describe(
      'Why the draft was not sent to the customer (it failed the grounding check); null if it passed or there is none',
    ),
  reason: z.string(),
  createdAt: isoDateTime,
  ageSeconds: z.number().int(),
  slaDueAt: isoDateTime,
  overdue: z.boolean(),
});
export type EscalationItem = z.infer<typeof escalationItemSchema>;

const queueQuery = z.object({
  limit: z.coerce.number().int().min(1).max(200).default(50),
  reason: z.string().min(1).max(64).optional(),
  overdue: queryBoolean.optional(),
});

const numberish = z.union([z.number(), z.string().transform(Number)]);
const storedPassage = z.object({
  passage_id: z.string(),
  document_id: z.string(),
  title: z.string(),
  source: z.string(),
  score: numberish,
  text: z.string(),
});
const storedClassification = z.object({
  intent: z.string(),
  urgency: z.string(),
  confidence: numberish,
  summary: z.string().nullish(),
  sentiment: z.string().nullish(),
  language: z.string().nullish(),
});

/** The open queue (unresolved escalations), most urgent SLA first. Shared by the API and the CLI. */
export async function listOpenEscalations(
  db: Db,
  options: { limit?: number; reason?: string; overdue?: boolean; now?: Date } = {},
): Promise<EscalationItem[]> {
  const now = options.now ?? new Date();
  let query = db
    .selectFrom('escalations as e')
    .innerJoin('tickets as t', 't.workflow_id', 'e.workflow_id')
    .select([
      'e.workflow_id',
      'e.reason',
      'e.classification',
      'e.passages',
      'e.draft',
      'e.draft_withheld_reason',
      'e.created_at',
      'e.sla_due_at',
      't.external_id',
      't.subject',
      't.body',
      't.customer',
      't.channel',
    ])
    .where('e.resolved_at', 'is', null);
  if (options.reason) query = query.where('e.reason', '=', options.reason);
  if (options.overdue === true) query = query.where('e.sla_due_at', '<', now);
  if (options.overdue === false) query = query.where('e.sla_due_at', '>=', now);
  const rows = await query
    .orderBy('e.sla_due_at', 'asc')
    .orderBy('e.workflow_id')
    .limit(options.limit ?? 50)
    .execute();

  return rows.map((row) => {
    const classification = storedClassification.safeParse(row.classification ?? undefined);
    const passages = z.array(storedPassage).safeParse(row.passages);
    const createdAt = new Date(row.created_at);
    const slaDueAt = new Date(row.sla_due_at);
    return {
      ticketId: row.external_id,
      workflowId: row.workflow_id,
      subject: row.subject,
      body: row.body,
      customer: row.customer ?? {},
      channel: row.channel,
      classification: classification.success
        ? {
            intent: classification.data.intent,
            urgency: classification.data.urgency,
            confidence: classification.data.confidence,
            summary: classification.data.summary ?? null,
            sentiment: classification.data.sentiment ?? null,
            language: classification.data.language ?? null,
          }
        : null,
      passages: passages.success
        ? passages.data.map((p) => ({
            passageId: p.passage_id,
            documentId: p.document_id,
            title: p.title,
            source: p.source,
            score: p.score,
            text: p.text,
          }))
        : [],
      draft: row.draft,
      draftWithheld: row.draft_withheld_reason,
      reason: row.reason,
      createdAt: createdAt.toISOString(),
      ageSeconds: Math.max(0, Math.floor((now.getTime() - createdAt.getTime()) / 1000)),
      slaDueAt: slaDueAt.toISOString(),
      overdue: slaDueAt.getTime() < now.getTime(),
    };
  });
}

export function registerEscalationRoutes(app: ZodApp, deps: AppDeps): void {
  app.get(
    '/v1/escalations',
    {
      config: { permission: 'escalations:read' },
      schema: {
        tags: ['escalations'],
        summary: 'Open escalations: what a human needs to answer, most urgent SLA first',
        security: API_KEY_SECURITY,
        querystring: queueQuery,
        response: {
          200: z.object({ items: z.array(escalationItemSchema) }),
          ...problemResponses(...AUTHENTICATED_PROBLEMS),
        },
      },
    },
    async (request) => ({ items: await listOpenEscalations(deps.db, request.query) }),
  );
}
