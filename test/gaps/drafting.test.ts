import {
  conflictingFigures,
  extractiveArticleDraft,
  groupAnswers,
  validateArticleDraft,
  type ArticleDraftRequest,
} from '../../src/llm/article-draft';
import { disagreeingUnits, figureSentences, figuresWithUnits, maskNumbers } from '../../src/kb/figures';

/** Pure parts of the gap report: figures with units, contradictions, the extractive draft, the model-draft check. */

describe('figures with units', () => {
  it('reads days, business days, ranges, percentages, money and number words', () => {
    const figures = figuresWithUnits(
      'Refunds within 30 days; money back in 5-10 business days. Fee: 2.5% or $12. Links last fourteen days.',
    );
    expect(figures.map((f) => `${f.value} ${f.unit}`)).toEqual([
      '30 day',
      '5 business_day',
      '10 business_day',
      '2.5 percent',
      '14 day',
      '12 usd',
    ]);
  });

  it('says two texts disagree only when they share a unit but no value', () => {
    const a = figuresWithUnits('within 30 days');
    expect(disagreeingUnits(a, figuresWithUnits('within 60 days'))).toEqual(['day']);
    expect(disagreeingUnits(a, figuresWithUnits('within 30 days, or 2 hours'))).toEqual([]);
    expect(disagreeingUnits(a, figuresWithUnits('costs $30'))).toEqual([]);
  });

  it('keeps only the sentences that state figures, with their numbers masked', () => {
    const sentences = figureSentences('# Refunds\n\nAsk within 30 days of payment. We are happy to help.');
    expect(sentences.map((s) => s.masked)).toEqual(['Ask within N days of payment.']);
    expect(maskNumbers('$12 for ten users')).toBe('N for N users');
  });
});

const request: ArticleDraftRequest = {
  titleHint: 'Task dependencies',
  questions: ['Can one task wait for another?', 'How do I block a task?'],
  answers: [
    {
      ticketId: 't1',
      answer: 'Open the task, choose Add dependency and pick the task that must finish first.',
    },
    {
      ticketId: 't2',
      answer: 'Open the task, choose Add dependency, then pick the task that must finish first.',
    },
    { ticketId: 't3', answer: 'Dependencies are available on the Team plan for 30 days of history.' },
  ],
};

describe('the extractive draft', () => {
  it('merges answers that say the same thing and cites every ticket', () => {
    expect(groupAnswers(request.answers).map((g) => g.ticketIds)).toEqual([['t1', 't2'], ['t3']]);
    const draft = extractiveArticleDraft(request);
    expect(draft.title).toBe('Task dependencies');
    expect(draft.body).toContain('# Task dependencies');
    expect(draft.body).toContain('- Can one task wait for another?');
    expect(draft.body).toContain('pick the task that must finish first. [#t1] [#t2]');
    expect(draft.body).toContain('## Other answers agents gave');
    expect(draft.citedTicketIds).toEqual(['t1', 't2', 't3']);
  });

  it('warns when the answers give different figures, and says when nobody answered', () => {
    expect(conflictingFigures(['Within 14 days.', 'Within 30 days.', 'Within 14 days, sure.'])).toEqual([
      '14 days vs 30 days',
      '30 days vs 14 days',
    ]);
    const conflicting = extractiveArticleDraft({
      ...request,
      answers: [
        { ticketId: 'a', answer: 'Annual plans are refunded within 14 days.' },
        { ticketId: 'b', answer: 'You have 30 days to ask for your money back on an annual plan.' },
      ],
    });
    expect(conflicting.body).toContain(
      'Check before publishing: the answers above state different figures (14 days vs 30 days)',
    );
    const empty = extractiveArticleDraft({ ...request, answers: [] });
    expect(empty.citedTicketIds).toEqual([]);
    expect(empty.body).toContain('No human agent has answered these questions yet');
  });
});

describe("checking a model's draft", () => {
  it('accepts a draft that cites given resolutions and states only their figures', () => {
    const result = validateArticleDraft(
      {
        title: 'Dependencies',
        body: 'Choose Add dependency [#t1]. History: 30 days [#t3].',
        cited_ticket_ids: ['t1', 't3', 't1'],
      },
      request,
    );
    expect(result).toEqual({
      ok: true,
      value: {
        title: 'Dependencies',
        body: 'Choose Add dependency [#t1]. History: 30 days [#t3].',
        citedTicketIds: ['t1', 't3'],
      },
    });
  });

  it('refuses unknown citations, invented figures and a malformed shape, saying why', () => {
    const bad = validateArticleDraft(
      {
        title: 'Dependencies',
        body: 'Dependencies cost $5 and last 90 days [#t9].',
        cited_ticket_ids: ['t9'],
      },
      request,
    );
    expect(bad.ok).toBe(false);
    if (!bad.ok) {
      expect(bad.error).toContain('unknown resolutions: t9');
      expect(bad.error).toContain('$5');
      expect(bad.error).toContain('90 days');
    }
    const malformed = validateArticleDraft({ title: 'x', cited_ticket_ids: [] }, request);
    expect(malformed.ok).toBe(false);
  });
});
