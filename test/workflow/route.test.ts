import type { ClassifyOutcome, GenerateOutcome } from '../../activities';
import { ESCALATION_REASONS, type Classification, type PassageRef } from '../../src/domain/ticket';
import type { Settled } from '../../workflows/activity-options';
import { DEFAULT_POLICY } from '../../workflows/definitions';
import {
  judgeDraft,
  reasonForFailure,
  route,
  routeByAnswerability,
  type Evidence,
  type Route,
} from '../../workflows/route';

/**
 * The ticket's decisions as a table: every escalation reason and both kinds of answer, each from the smallest
 * inputs that produce it. The workflow calls exactly these functions, so a changed gate changes a row here.
 */

const policy = {
  confidenceThreshold: DEFAULT_POLICY.confidenceThreshold, // 0.65
  minRetrievalScore: DEFAULT_POLICY.minRetrievalScore, // 0.45
  resolutionMatchScore: DEFAULT_POLICY.resolutionMatchScore, // 0.6
  answerMinScore: 0.5,
  answerMinMargin: 0.1,
};

const sure: Classification = {
  intent: 'billing',
  urgency: 'low',
  confidence: 0.9,
  summary: 'Refund question',
  sentiment: 'neutral',
  language: 'en',
};

function classified(
  overrides: Partial<Classification> = {},
  requestedHuman = false,
): Settled<ClassifyOutcome> {
  return {
    ok: true,
    value: { classification: { ...sure, ...overrides }, requestedHuman, criticalSignals: [] },
  };
}
const failed = (failureType?: string) => ({ ok: false as const, failureType, message: 'failed' });

const kb = (score: number, documentId = 'refunds'): PassageRef => ({
  id: `${documentId}#0`,
  documentId,
  score,
  source: 'kb',
});
const resolution = (score: number, documentId = 'resolution-ticket-1'): PassageRef => ({
  id: `${documentId}#0`,
  documentId,
  score,
  source: 'resolution',
});
const found = (...passages: PassageRef[]): Settled<Evidence> => ({ ok: true, value: { passages } });

type Row = [string, Settled<ClassifyOutcome>, Settled<Evidence>, Route];

const rows: Row[] = [
  ['a sure, grounded ticket is answered', classified(), found(kb(0.7)), { kind: 'answer' }],
  ['a passage exactly at the minimum score grounds it', classified(), found(kb(0.45)), { kind: 'answer' }],
  [
    'a sure ticket answered by a human resolution is a plain answer (no override needed)',
    classified(),
    found(resolution(0.9)),
    { kind: 'answer' },
  ],
  [
    'low confidence, but a human resolution matches: answered from it',
    classified({ confidence: 0.3 }),
    found(kb(0.5), resolution(0.62, 'resolution-ticket-7')),
    { kind: 'answer_from_resolution', documentId: 'resolution-ticket-7' },
  ],
  [
    'the classifier failed',
    failed('llm_unavailable'),
    found(kb(0.9)),
    { kind: 'escalate', reason: 'llm_unavailable' },
  ],
  [
    'the classifier failed non-retryably (401)',
    failed('authentication_failed'),
    found(kb(0.9)),
    { kind: 'escalate', reason: 'llm_unavailable' },
  ],
  [
    'the classifier hit a spend limit (API or monthly budget)',
    failed('llm_budget_exhausted'),
    found(kb(0.9)),
    { kind: 'escalate', reason: 'llm_budget_exhausted' },
  ],
  [
    'the customer asked for a human, even when critical and unsure',
    classified({ urgency: 'critical', confidence: 0.1 }, true),
    found(kb(0.9)),
    { kind: 'escalate', reason: 'customer_requested_human' },
  ],
  [
    'critical urgency, even with a matching resolution',
    classified({ urgency: 'critical', confidence: 0.3 }),
    found(resolution(0.95)),
    { kind: 'escalate', reason: 'critical_urgency' },
  ],
  [
    'low confidence and no resolution',
    classified({ confidence: 0.64 }),
    found(kb(0.9)),
    { kind: 'escalate', reason: 'low_classifier_confidence' },
  ],
  [
    'low confidence and a resolution below the match score',
    classified({ confidence: 0.3 }),
    found(resolution(0.59)),
    { kind: 'escalate', reason: 'low_classifier_confidence' },
  ],
  [
    'low confidence and retrieval failed: the confidence gate comes first',
    classified({ confidence: 0.3 }),
    failed('retrieval_unavailable'),
    { kind: 'escalate', reason: 'low_classifier_confidence' },
  ],
  [
    'retrieval failed',
    classified(),
    failed('retrieval_unavailable'),
    { kind: 'escalate', reason: 'retrieval_unavailable' },
  ],
  [
    'nothing above the minimum score',
    classified(),
    found(kb(0.44), kb(0.3, 'invoices')),
    { kind: 'escalate', reason: 'no_grounded_context' },
  ],
  ['nothing retrieved at all', classified(), found(), { kind: 'escalate', reason: 'no_grounded_context' }],
];

test.each(rows)(
  'route (runs before answerability-gate): %s',
  (_label, classifiedInput, retrievedInput, expected) => {
    expect(route(classifiedInput, retrievedInput, policy)).toEqual(expected);
  },
);

/** Since patch `answerability-gate` (answerMinScore 0.5, answerMinMargin 0.1 here). */
const answerabilityRows: Row[] = [
  [
    'one article clearly best: answered from it',
    classified(),
    found(kb(0.7), kb(0.55), kb(0.5, 'invoices')),
    { kind: 'answer', documentId: 'refunds' },
  ],
  [
    'an unsure classifier no longer matters',
    classified({ confidence: 0.05 }),
    found(kb(0.7), kb(0.5, 'invoices')),
    { kind: 'answer', documentId: 'refunds' },
  ],
  [
    'a neighbouring article close behind: not answerable',
    classified(),
    found(kb(0.7), kb(0.65, 'invoices')),
    { kind: 'escalate', reason: 'not_answerable' },
  ],
  [
    'the best article too weak, whatever the margin',
    classified(),
    found(kb(0.49), kb(0.2, 'invoices')),
    { kind: 'escalate', reason: 'not_answerable' },
  ],
  [
    'a human resolution that wins by the margin is answered from',
    classified({ confidence: 0.2 }),
    found(resolution(0.8, 'resolution-ticket-7'), kb(0.6)),
    { kind: 'answer_from_resolution', documentId: 'resolution-ticket-7' },
  ],
  [
    'a human resolution that does not beat the neighbouring article: not answerable',
    classified(),
    found(resolution(0.8, 'resolution-ticket-7'), kb(0.75)),
    { kind: 'escalate', reason: 'not_answerable' },
  ],
  [
    'two resolutions giving the same answer are one answer, not rivals',
    classified(),
    found(
      { ...resolution(0.8, 'resolution-ticket-7'), answerKey: 'answer:a' },
      { ...resolution(0.78, 'resolution-ticket-9'), answerKey: 'answer:a' },
      kb(0.6),
    ),
    { kind: 'answer_from_resolution', documentId: 'resolution-ticket-7' },
  ],
  [
    'the customer asked for a human',
    classified({}, true),
    found(kb(0.9)),
    { kind: 'escalate', reason: 'customer_requested_human' },
  ],
  [
    'critical urgency',
    classified({ urgency: 'critical' }),
    found(kb(0.9)),
    { kind: 'escalate', reason: 'critical_urgency' },
  ],
  ['the classifier failed', failed(), found(kb(0.9)), { kind: 'escalate', reason: 'llm_unavailable' }],
  [
    'retrieval failed',
    classified({ confidence: 0.1 }),
    failed('retrieval_unavailable'),
    { kind: 'escalate', reason: 'retrieval_unavailable' },
  ],
  [
    'nothing above the minimum score',
    classified(),
    found(kb(0.44)),
    { kind: 'escalate', reason: 'no_grounded_context' },
  ],
];

test.each(answerabilityRows)(
  'routeByAnswerability: %s',
  (_label, classifiedInput, retrievedInput, expected) => {
    expect(routeByAnswerability(classifiedInput, retrievedInput, policy)).toEqual(expected);
  },
);

const drafts: Array<[string, Settled<GenerateOutcome>, ReturnType<typeof judgeDraft>]> = [
  [
    'an answer is delivered with its citations',
    { ok: true, value: { kind: 'answer', citedPassageIds: ['refunds#0'] } },
    { kind: 'deliver', citedPassageIds: ['refunds#0'] },
  ],
  [
    'the model cannot answer',
    { ok: true, value: { kind: 'cannot_answer' } },
    { kind: 'escalate', reason: 'agent_uncertainty' },
  ],
  [
    'the model output stayed invalid after repair',
    failed('invalid_model_output'),
    { kind: 'escalate', reason: 'agent_uncertainty' },
  ],
  [
    'generation ran out of its LLM budget',
    failed('llm_unavailable'),
    { kind: 'escalate', reason: 'llm_unavailable' },
  ],
  [
    'generation hit a spend limit',
    failed('llm_budget_exhausted'),
    { kind: 'escalate', reason: 'llm_budget_exhausted' },
  ],
  ['generation failed without a type', failed(), { kind: 'escalate', reason: 'llm_unavailable' }],
];

test.each(drafts)('judgeDraft: %s', (_label, generated, expected) => {
  expect(judgeDraft(generated)).toEqual(expected);
});

/** Reasons a conversation gives after a reply (workflows/conversation.ts, test/workflow/conversation.test.ts). */
const CONVERSATION_REASONS = ['customer_unsatisfied', 'customer_reopened'];

test('the table covers every escalation reason of a first turn and both kinds of answer', () => {
  const outcomes = [...[...rows, ...answerabilityRows].map((r) => r[3]), ...drafts.map((d) => d[2])];
  const reasons = new Set(outcomes.flatMap((o) => (o.kind === 'escalate' ? [o.reason] : [])));
  expect([...reasons].sort()).toEqual(
    ESCALATION_REASONS.filter((r) => !CONVERSATION_REASONS.includes(r)).sort(),
  );
  const kinds = new Set(outcomes.map((o) => o.kind));
  expect(kinds).toEqual(new Set(['answer', 'answer_from_resolution', 'escalate', 'deliver']));
});

test('a failure type no step knows falls back to the step’s own reason', () => {
  expect(reasonForFailure('classify', 'something_new')).toBe('llm_unavailable');
  expect(reasonForFailure('retrieve', undefined)).toBe('retrieval_unavailable');
  expect(reasonForFailure('generate', 'invalid_model_output')).toBe('agent_uncertainty');
});
