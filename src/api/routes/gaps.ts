import { z } from 'zod';
import { cachedGapReport, gapReportOptionsSchema } from '../../kb/gaps';
import { API_KEY_SECURITY, type AppDeps, type ZodApp } from '../context';
import { gapReportDeps } from '../../kb/documents';
import { AUTHENTICATED_PROBLEMS, isoDateTime, problemResponses } from '../schemas';

/** `GET /v1/kb/gaps`: the knowledge-gap report (src/kb/gaps.ts) for agents and admins. */

const articleRef = z.object({ documentId: z.string(), title: z.string() });

const clusterOut = z.object({
  id: z.string().describe('Stable while the group has the same tickets'),
  status: z.enum(['gap', 'covered']).describe('gap: no curated article covers these questions well'),
  size: z.number().int(),
  ticketIds: z.array(z.string()),
  firstSeen: isoDateTime,
  lastSeen: isoDateTime,
  escalationReasons: z.record(z.string(), z.number().int()),
  intents: z.record(z.string(), z.number().int()),
  examples: z.array(z.object({ ticketId: z.string(), text: z.string().describe('PII-redacted') })),
  nearestArticle: articleRef.extend({ score: z.number() }).nullable(),
  humanAnswers: z.object({
    resolved: z.number().int(),
    learned: z.number().int(),
    agreement: z.enum(['none', 'single', 'consistent', 'mixed', 'conflicting']),
    similarity: z.number().nullable(),
    conflictingFigures: z.array(z.string()),
  }),
  suggestion: z
    .object({
      documentId: z.string(),
      title: z.string(),
      questions: z.array(z.string()),
      intents: z.array(z.string()),
      draft: z.object({
        body: z.string().describe('Markdown citing the resolutions as [#ticketId]'),
        source: z.enum(['extractive', 'model']),
        model: z.string().nullable(),
        citations: z.array(z.object({ ticketId: z.string(), agentId: z.string(), resolvedAt: isoDateTime })),
        note: z.string().nullable(),
      }),
    })
    .nullable()
    .describe('A suggested article; null for a group an article already covers'),
});

const gapReportOut = z.object({
  generatedAt: isoDateTime,
  window: z.object({ from: isoDateTime, to: isoDateTime, days: z.number().int() }),
  settings: z.record(z.string(), z.unknown()),
  escalations: z.object({
    considered: z.number().int(),
    clustered: z.number().int(),
    unclustered: z.number().int(),
  }),
  gaps: z.number().int(),
  clusters: z.array(clusterOut),
  health: z.object({
    retrievedButUnused: z.array(
      articleRef.extend({ retrieved: z.number().int(), cited: z.number().int(), citationRate: z.number() }),
    ),
    followedByEscalation: z.array(
      articleRef.extend({
        answers: z.number().int(),
        followed: z.number().int(),
        ticketIds: z.array(z.string()),
      }),
    ),
    humanCorrections: z.array(
      articleRef.extend({
        escalations: z.number().int(),
        corrected: z.number().int(),
        ticketIds: z.array(z.string()),
      }),
    ),
    nearDuplicates: z.array(z.object({ a: articleRef, b: articleRef, similarity: z.number() })),
    contradictions: z.array(
      z.object({
        a: articleRef.extend({ sentence: z.string() }),
        b: articleRef.extend({ sentence: z.string() }),
        units: z.array(z.string()),
        similarity: z.number(),
      }),
    ),
    negativeFeedback: z
      .array(
        articleRef.extend({
          cited: z.number().int(),
          unhappy: z.number().int(),
          unhappyRate: z.number().nullable(),
        }),
      )
      .describe(
        'Articles cited by AI answers after which the customer came back unhappy (didn’t help, bad rating)',
      ),
  }),
});

export function registerGapRoutes(app: ZodApp, deps: AppDeps): void {
  app.get(
    '/v1/kb/gaps',
    {
      config: { permission: 'kb:read' },
      schema: {
        tags: ['knowledge base'],
        summary: 'Knowledge gaps: groups of recent escalations, suggested articles, article health',
        description:
          'Recent escalations grouped by what they ask; for each group the nearest curated article and its score, ' +
          'the human answers and whether they agree, and for groups no article covers a suggested article drafted ' +
          'from those answers with citations (by the model when ANTHROPIC_API_KEY is set, else extractive). Plus ' +
          'article health. Computed on request (cached for a minute); PUT a suggestion to /v1/kb/documents/{id} to publish it.',
        security: API_KEY_SECURITY,
        querystring: gapReportOptionsSchema,
        response: { 200: gapReportOut, ...problemResponses(...AUTHENTICATED_PROBLEMS) },
      },
    },
    async (request) => cachedGapReport(gapReportDeps(deps), request.query),
  );
}
