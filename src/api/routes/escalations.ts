import { z } from 'zod';
import { listOpenEscalations } from '../../tickets';
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
    async (request) => ({ items: await listOpenEscalations(deps, request.query) }),
  );
}
