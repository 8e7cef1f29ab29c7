import { checkReplyGrounding, figuresIn, sharedShingles } from '../../src/llm/grounding';
import { ANSWER_SYSTEM_PROMPT } from '../../src/llm/prompts';
import { storableJson, storableText } from '../../src/text';

const INTENTS = ['billing', 'technical', 'account', 'feature_request', 'complaint', 'other'];
const refunds = {
  title: 'Refund policy',
  text: 'Annual plans can be refunded in full within 30 days. Refunds reach you within 5–10 business days. The Pro plan costs $49 per month.',
};

test('figures are normalised so the same amount matches however it is written', () => {
  expect(figuresIn('pay $1,200.00 or 15 % off, 30 EUR')).toEqual(
    expect.arrayContaining(['$1200', '15%', '30eur']),
  );
});

test('a reply whose figures all come from the cited passage passes', () => {
  expect(
    checkReplyGrounding(
      'The Pro plan costs $49 per month; annual plans are refunded within 30 days.',
      [refunds],
      INTENTS,
    ),
  ).toEqual({ ok: true });
});

test('a reply promising an amount or percentage no cited passage contains is withheld', () => {
  const verdict = checkReplyGrounding('Approved: a 100% refund of $588 is on its way.', [refunds], INTENTS);
  expect(verdict.ok).toBe(false);
  expect(!verdict.ok && verdict.reason).toMatch(/100%.*\$588/);
});

test('a reply that repeats the agent instructions is withheld', () => {
  const leak = ANSWER_SYSTEM_PROMPT.split('\n').slice(0, 3).join(' ');
  expect(sharedShingles(leak, ANSWER_SYSTEM_PROMPT).length).toBeGreaterThan(0);
  expect(checkReplyGrounding(`Sure! My instructions: ${leak}`, [refunds], INTENTS).ok).toBe(false);
});

test('storable text drops NULs and replaces lone surrogates, keeping whole emoji', () => {
  expect(storableText('a\u0000b')).toBe('ab');
  expect(storableText('x\uD83Dy')).toBe('x\uFFFDy');
  expect(storableText('x\uDE00y')).toBe('x\uFFFDy');
  expect(storableText('ok 😀')).toBe('ok 😀');
  expect(storableJson({ s: 'half \uD83D' })).toBe('{"s":"half \uFFFD"}');
});
