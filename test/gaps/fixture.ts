import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import type { Db } from '../../src/db/database';
import { ingestPaths, type KbDeps } from '../../src/kb/ingest';

/**
 * The knowledge-gap fixture (test/fixtures/gaps): kb/acme plus one planted article that contradicts it, and
 * escalated tickets with two planted gaps, one well-covered topic and singletons. Rows are written the way the
 * activities write them (tickets, escalations with the classification, resolutions with the KB outcome), so the
 * report reads exactly what a running system would have; the workflow itself is tested elsewhere.
 */

export const FIXTURE_DIR = path.resolve(__dirname, '../fixtures/gaps');
export const ACME_KB_DIR = path.resolve(__dirname, '../../kb/acme');

const fixtureSchema = z.object({
  description: z.string(),
  tickets: z.array(
    z.object({
      id: z.string(),
      topic: z.string(),
      reason: z.string(),
      intent: z.string(),
      subject: z.string(),
      body: z.string(),
      resolution: z.string().nullable(),
    }),
  ),
});
export type FixtureTicket = z.infer<typeof fixtureSchema>['tickets'][number];

export function loadGapFixture(): FixtureTicket[] {
  return fixtureSchema.parse(JSON.parse(fs.readFileSync(path.join(FIXTURE_DIR, 'tickets.json'), 'utf8')))
    .tickets;
}

/** Enough of kb/acme for the API, CLI and inbox tests (the full KB takes minutes to embed on a busy machine). */
export const SMALL_KB = [
  'password-reset',
  'login-troubleshooting',
  'refunds',
  'notifications',
  'data-export',
];

/** kb/acme (or the SMALL_KB part of it) plus the planted article. */
export async function ingestFixtureKb(deps: KbDeps, options: { small?: boolean } = {}): Promise<void> {
  const acme = options.small ? SMALL_KB.map((name) => path.join(ACME_KB_DIR, `${name}.md`)) : [ACME_KB_DIR];
  await ingestPaths(deps, [...acme, path.join(FIXTURE_DIR, 'kb')]);
}

const HOUR = 3_600_000;

/** Escalated tickets (prefix keeps external ids unique per test); returns external id → workflow id. */
export async function seedEscalations(
  db: Db,
  prefix: string,
  now = new Date(),
): Promise<Map<string, string>> {
  const ids = new Map<string, string>();
  const tickets = loadGapFixture();
  for (const [i, t] of tickets.entries()) {
    const externalId = `${prefix}-${t.id}`;
    const workflowId = `ticket-${externalId}`;
    ids.set(externalId, workflowId);
    const createdAt = new Date(now.getTime() - (tickets.length - i) * HOUR);
    await db
      .insertInto('tickets')
      .values({
        workflow_id: workflowId,
        external_id: externalId,
        subject: t.subject,
        body: t.body,
        customer: JSON.stringify({ email: `${t.id}@customers.example` }),
        channel: 'api',
        stage: t.resolution ? 'resolved' : 'escalated',
        created_at: createdAt,
      })
      .execute();
    await db
      .insertInto('escalations')
      .values({
        workflow_id: workflowId,
        reason: t.reason,
        classification: JSON.stringify({ intent: t.intent, confidence: 0.4, urgency: 'medium' }),
        passages: JSON.stringify([]),
        draft: null,
        created_at: createdAt,
        sla_due_at: new Date(createdAt.getTime() + 24 * HOUR),
        resolved_at: t.resolution ? new Date(createdAt.getTime() + HOUR / 2) : null,
        resolved_by: t.resolution ? 'Dana' : null,
      })
      .execute();
    if (t.resolution) {
      await db
        .insertInto('resolutions')
        .values({
          workflow_id: workflowId,
          agent_id: 'Dana',
          answer: t.resolution,
          add_to_kb: true,
          kb_document_id: `resolution-${workflowId}`,
          kb_outcome: 'indexed',
          created_at: new Date(createdAt.getTime() + HOUR / 2),
        })
        .execute();
    }
  }
  return ids;
}

/**
 * Article-health signals on top of the escalations:
 * - `notifications` is retrieved (above the grounding threshold) by six answered tickets and cited by none;
 * - an AI answer citing `refunds` is followed two hours later by an escalated ticket of the same customer;
 * - an escalation whose best passage is `data-export` had a draft the human rewrote entirely.
 */
export async function seedHealthSignals(db: Db, prefix: string, now = new Date()): Promise<void> {
  const answered = async (
    id: string,
    customer: string,
    at: Date,
    passages: Array<{ document: string; score: number }>,
    cited: number[],
  ) => {
    const workflowId = `ticket-${prefix}-${id}`;
    await db
      .insertInto('tickets')
      .values({
        workflow_id: workflowId,
        external_id: `${prefix}-${id}`,
        subject: '',
        body: `Question ${id}`,
        customer: JSON.stringify({ email: customer }),
        channel: 'api',
        stage: 'answered',
        created_at: at,
      })
      .execute();
    await db
      .insertInto('ticket_passages')
      .values(
        passages.map((p, rank) => ({
          workflow_id: workflowId,
          rank,
          passage_id: `${p.document}#${rank}`,
          document_id: p.document,
          title: p.document,
          source: 'kb',
          score: p.score,
          text: `A passage of ${p.document}.`,
          heading_path: JSON.stringify([]),
        })),
      )
      .execute();
    await db
      .insertInto('drafts')
      .values({
        workflow_id: workflowId,
        kind: 'answer',
        reply: 'An answer.',
        cited_passage_ids: JSON.stringify(cited.map((rank) => `${passages[rank]!.document}#${rank}`)),
        reason: null,
      })
      .execute();
    await db
      .insertInto('outbox')
      .values({ workflow_id: workflowId, kind: 'reply', source: 'ai', body: 'An answer.', delivered_at: at })
      .execute();
    // The interaction row puts the ticket in a metrics window (negative feedback is counted per window).
    await db
      .insertInto('interactions')
      .values({
        workflow_id: workflowId,
        timestamp: at,
        ticket_text: `Question ${id}`,
        intent: 'account',
        urgency: 'low',
        confidence: 0.9,
        sentiment: null,
        language: 'en',
        escalated: false,
        reason: null,
        response: 'An answer.',
        response_source: 'ai',
        latency_ms: 1000,
        input_tokens: 0,
        cached_input_tokens: 0,
        output_tokens: 0,
        cost_usd: 0,
        completed_at: at,
        answered_from_resolution: null,
      })
      .execute();
    return workflowId;
  };
  for (let i = 0; i < 6; i++) {
    await answered(
      `notif-${i}`,
      `reader${i}@customers.example`,
      new Date(now.getTime() - (30 + i) * HOUR),
      [
        { document: 'profile-and-email', score: 0.7 },
        { document: 'notifications', score: 0.6 },
      ],
      [0],
    );
  }
  // One customer of an answer citing `profile-and-email` replied that it did not help (issue 17's conversations).
  await db
    .insertInto('conversations')
    .values({
      workflow_id: `ticket-${prefix}-notif-0`,
      outcome: null,
      escalated_after_ai: true,
      unhappy_document_ids: JSON.stringify(['profile-and-email']),
      updated_at: new Date(now.getTime() - 29 * HOUR),
      closed_at: null,
    })
    .execute();
  // The customer of fixture ticket self-2 (escalated) had an AI answer citing `refunds` shortly before it.
  const self2 = loadGapFixture().findIndex((t) => t.id === 'self-2');
  const self2At = new Date(now.getTime() - (loadGapFixture().length - self2) * HOUR);
  await answered(
    'refund-first',
    'self-2@customers.example',
    new Date(self2At.getTime() - 2 * HOUR),
    [{ document: 'refunds', score: 0.66 }],
    [0],
  );

  const workflowId = `ticket-${prefix}-corrected`;
  const at = new Date(now.getTime() - 20 * HOUR);
  await db
    .insertInto('tickets')
    .values({
      workflow_id: workflowId,
      external_id: `${prefix}-corrected`,
      subject: 'Export',
      body: 'How long is the export download link valid?',
      customer: JSON.stringify({}),
      channel: 'api',
      stage: 'resolved',
      created_at: at,
    })
    .execute();
  await db
    .insertInto('ticket_passages')
    .values({
      workflow_id: workflowId,
      rank: 0,
      passage_id: 'data-export#0',
      document_id: 'data-export',
      title: 'Exporting your data',
      source: 'kb',
      score: 0.71,
      text: 'We email a download link that is valid for 7 days.',
      heading_path: JSON.stringify([]),
    })
    .execute();
  await db
    .insertInto('escalations')
    .values({
      workflow_id: workflowId,
      reason: 'agent_uncertainty',
      classification: JSON.stringify({ intent: 'technical' }),
      passages: JSON.stringify([]),
      draft: 'The download link we email is valid for 7 days.',
      draft_withheld_reason: 'reply states figures no cited passage contains',
      created_at: at,
      sla_due_at: new Date(at.getTime() + 24 * HOUR),
      resolved_at: new Date(at.getTime() + HOUR),
      resolved_by: 'Dana',
    })
    .execute();
  await db
    .insertInto('resolutions')
    .values({
      workflow_id: workflowId,
      agent_id: 'Dana',
      answer:
        'Exports of large workspaces are split into parts; each part has its own link, sent separately.',
      add_to_kb: true,
      created_at: new Date(at.getTime() + HOUR),
    })
    .execute();
}
