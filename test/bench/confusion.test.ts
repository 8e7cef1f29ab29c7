import {
  answerOverlap,
  CARRIES_ANSWER_OVERLAP,
  computeMetrics,
  judge,
  type JudgedTicket,
} from '../../bench/lib/confusion';

const ticket = (overrides: Partial<JudgedTicket>): JudgedTicket => ({
  expectedOutcome: 'answer',
  expectedTopics: ['refunds'],
  answered: true,
  citedTopics: ['refunds'],
  expectedIntent: 'billing',
  predictedIntent: 'billing',
  ...overrides,
});

describe('judging one ticket', () => {
  test('an answer citing an expected article is correct, any other citation is wrong', () => {
    expect(judge(ticket({}))).toBe('answered_correctly');
    expect(judge(ticket({ citedTopics: ['invoices', 'refunds'] }))).toBe('answered_correctly');
    expect(judge(ticket({ citedTopics: ['invoices'] }))).toBe('answered_wrongly');
    expect(judge(ticket({ citedTopics: [] }))).toBe('answered_wrongly');
  });

  test('answering a ticket that needed a human is wrong whatever it cites', () => {
    expect(judge(ticket({ expectedOutcome: 'escalate', expectedTopics: [], citedTopics: ['refunds'] }))).toBe(
      'answered_wrongly',
    );
  });

  test('escalations are correct or unnecessary by what was expected', () => {
    expect(
      judge(ticket({ expectedOutcome: 'escalate', expectedTopics: [], answered: false, citedTopics: [] })),
    ).toBe('escalated_correctly');
    expect(judge(ticket({ answered: false, citedTopics: [] }))).toBe('escalated_unnecessarily');
  });
});

describe('metrics over many tickets', () => {
  const tickets: JudgedTicket[] = [
    ticket({}), // answered correctly
    ticket({ citedTopics: ['invoices'], predictedIntent: 'account' }), // answered wrongly (wrong article)
    ticket({ expectedOutcome: 'escalate', expectedTopics: [], citedTopics: ['refunds'] }), // answered wrongly (should escalate)
    ticket({
      expectedOutcome: 'escalate',
      expectedTopics: [],
      answered: false,
      citedTopics: [],
      predictedIntent: null,
    }), // escalated correctly
    ticket({ expectedOutcome: 'escalate', expectedTopics: [], answered: false, citedTopics: [] }), // escalated correctly
    ticket({ answered: false, citedTopics: [], predictedIntent: 'technical' }), // escalated unnecessarily
  ];

  test('confusion counts partition the tickets', () => {
    const m = computeMetrics(tickets);
    expect(m.counts).toEqual({
      answered_correctly: 1,
      answered_wrongly: 2,
      escalated_correctly: 2,
      escalated_unnecessarily: 1,
    });
    expect(m.answeredWrongArticle).toBe(1);
    expect(m.answeredShouldEscalate).toBe(1);
    expect(m.answered + m.escalated).toBe(tickets.length);
  });

  test('precision, recall and intent accuracy', () => {
    const m = computeMetrics(tickets);
    expect(m.escalationPrecision).toBeCloseTo(2 / 3, 4); // 2 of 3 escalations were needed
    expect(m.escalationRecall).toBeCloseTo(2 / 3, 4); // 2 of 3 needed escalations happened
    expect(m.answerPrecision).toBeCloseTo(1 / 3, 4);
    expect(m.answerRecall).toBeCloseTo(1 / 3, 4);
    // 5 tickets have a classification; 3 of them match (the null one is not counted).
    expect(m.intentAccuracy).toBe(0.6);
  });

  test('metrics without a denominator are null, not zero', () => {
    const m = computeMetrics([ticket({})]);
    expect(m.escalationPrecision).toBeNull();
    expect(m.escalationRecall).toBeNull();
    expect(computeMetrics([]).intentAccuracy).toBeNull();
  });
});

describe('does a learned reply carry the human answer?', () => {
  const human =
    "Your card's expiry date is printed on the front of the card as month and year, and the app shows it under Cards, Card details.";

  test('a reply quoting the answer overlaps strongly; one echoing a question does not', () => {
    const quoting = `Thanks for reaching out. ${human} If this does not solve it, reply to this message.`;
    const echoing =
      'Thanks for reaching out. i need to know when my card is set to expire please. tell me the date.';
    expect(answerOverlap(quoting, human)).toBe(1);
    expect(answerOverlap(quoting, human)).toBeGreaterThanOrEqual(CARRIES_ANSWER_OVERLAP);
    expect(answerOverlap(echoing, human)).toBeLessThan(CARRIES_ANSWER_OVERLAP);
  });

  test('counts distinct content words of the reference, case-insensitively', () => {
    expect(answerOverlap('PRINTED on the FRONT', 'printed front printed back')).toBeCloseTo(2 / 3, 10);
    expect(answerOverlap('anything', 'a an the')).toBe(0);
  });
});
