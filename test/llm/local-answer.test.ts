import { DEFAULT_INTENTS } from '../../src/config';
import type { Passage } from '../../src/domain/ticket';
import { getEmbedder } from '../../src/kb/embedder';
import { LocalProvider } from '../../src/llm/local';
import { DEFAULT_EMBEDDING_MODEL } from '../../src/kb/models';

/**
 * Extractive answers from real passages written here (the KB under kb/acme is written elsewhere and may
 * not exist yet), with real embeddings.
 */

function passage(id: string, documentId: string, title: string, text: string): Passage {
  return { id, documentId, title, headingPath: [], text, score: 0.5, source: 'kb', intents: [] };
}

const KB: Passage[] = [
  passage(
    'refunds#1',
    'refund-policy',
    'Refund policy',
    'You can request a full refund within 30 days of your first payment. To request a refund, open Settings, choose Billing and click Request refund. Refunds are paid back to the original payment method within 5 to 10 business days. Annual plans cancelled after 30 days are refunded pro rata for the unused months.',
  ),
  passage(
    'password#1',
    'password-reset',
    'Resetting your password',
    'Click Forgot password on the sign-in page and enter your account email. We send a reset link that is valid for 60 minutes. If the email does not arrive, check your spam folder and make sure you typed the address you signed up with.',
  ),
  passage(
    '2fa#1',
    'two-factor',
    'Two-factor authentication',
    'Turn on two-factor authentication under Profile, Security. We support authenticator apps such as Google Authenticator, 1Password and Authy. Save your backup codes: if you lose your phone, a backup code is the only way to sign in without contacting support.',
  ),
  passage(
    'export#1',
    'exporting-data',
    'Exporting data',
    '## Export to CSV\n\nYou can export contacts, projects and invoices as CSV from the list view: open the list, click the three-dot menu and choose **Export CSV**. Exports include only the rows that match the current filters. Large exports are emailed to you as a download link.',
  ),
  passage(
    'api#1',
    'api-limits',
    'API rate limits',
    'Each API key may send up to 100 requests per minute. Requests above the limit receive HTTP 429 with a Retry-After header telling you how many seconds to wait. Contact sales if you need a higher limit.',
  ),
  passage(
    'seats#1',
    'plans',
    'Seat limits',
    'The Starter plan includes up to 5 users. To add more users, upgrade to the Pro plan from Settings, Billing.',
  ),
];

const embedder = getEmbedder(DEFAULT_EMBEDDING_MODEL, process.env.MODELS_DIR ?? 'models');
const provider = new LocalProvider({ embedder, intents: DEFAULT_INTENTS });

describe('LocalProvider.answer', () => {
  it.each([
    [
      'Refund',
      'I paid two weeks ago and want my money back. How do I get a refund?',
      'refunds#1',
      /Request refund/,
    ],
    [
      'Password reset',
      "I forgot my password, how can I reset it? The email didn't come.",
      'password#1',
      /Forgot password/,
    ],
    ['Lost phone', 'I lost my phone and cannot get my 2FA code. How do I log in?', '2fa#1', /backup code/],
    ['Export', 'How do I export my contacts to a CSV file?', 'export#1', /Export CSV/],
    [
      '429 errors',
      'Our integration gets 429 Too Many Requests from the API. What is the limit?',
      'api#1',
      /100 requests per minute/,
    ],
  ])('answers "%s" from the right passage, citing it', async (subject, body, expectedId, expectedText) => {
    const { answer, usage } = await provider.answer({ subject, body }, KB);
    expect(answer.kind).toBe('answer');
    if (answer.kind !== 'answer') return;
    expect(answer.citedPassageIds).toContain(expectedId);
    expect(answer.reply).toMatch(expectedText);
    // Extractive: every sentence quoted comes from a cited passage, and markdown is gone.
    expect(answer.reply).not.toMatch(/\*\*|##/);
    expect(usage).toMatchObject({ model: 'local', costUsd: 0, inputTokens: 0, outputTokens: 0 });
  });

  it.each([
    ['On-premise', 'Do you offer an on-premise version that we can host in our own data centre?'],
    ['Office visit', 'Can I visit your office in Berlin next week?'],
    ['Invoice design', 'How do I change the colours and font of the invoice template?'],
    ['Android', 'Is there an Android app?'],
    ['GDPR', 'Where do you store our data and are you GDPR compliant?'],
  ])('cannot answer "%s": the passages do not cover it', async (subject, body) => {
    const { answer } = await provider.answer({ subject, body }, KB);
    expect(answer.kind).toBe('cannot_answer');
    if (answer.kind === 'cannot_answer') expect(answer.reason).toMatch(/similarity/);
  });

  it('cannot answer without passages', async () => {
    const { answer } = await provider.answer({ subject: 'Refund', body: 'How do I get a refund?' }, []);
    expect(answer).toEqual({
      kind: 'cannot_answer',
      reason: expect.stringMatching(/No knowledge-base passages/),
    });
  });

  describe('two equally relevant sources that say different things', () => {
    const ambiguous = {
      subject: 'Plan limits',
      body: 'What limits does my plan have for users and API calls?',
    };

    it('cannot answer when the top two passages from different documents score alike but differ', async () => {
      const strict = new LocalProvider({
        embedder,
        intents: DEFAULT_INTENTS,
        tuning: { conflictScoreGap: 0.1 },
      });
      const { answer } = await strict.answer(ambiguous, KB);
      expect(answer.kind).toBe('cannot_answer');
      if (answer.kind === 'cannot_answer')
        expect(answer.reason).toMatch(/API rate limits.*Seat limits|Seat limits.*API rate limits/);
    });

    it('answers the same ticket when the scores are not close (conflict check off)', async () => {
      const lenient = new LocalProvider({
        embedder,
        intents: DEFAULT_INTENTS,
        tuning: { conflictScoreGap: 0 },
      });
      const { answer } = await lenient.answer(ambiguous, KB);
      expect(answer.kind).toBe('answer');
    });

    it('does not treat two passages of the same document as a conflict', async () => {
      const sameDocument = KB.map((p) => (p.id === 'seats#1' ? { ...p, documentId: 'api-limits' } : p));
      const strict = new LocalProvider({
        embedder,
        intents: DEFAULT_INTENTS,
        tuning: { conflictScoreGap: 0.1 },
      });
      const { answer } = await strict.answer(ambiguous, sameDocument);
      expect(answer.kind).toBe('answer');
    });
  });

  it('is deterministic', async () => {
    const ticket = { subject: 'Refund', body: 'How do I get a refund for my annual plan?' };
    const first = await provider.answer(ticket, KB);
    const second = await provider.answer(ticket, [...KB].reverse());
    expect(second.answer).toEqual(first.answer);
  });
});
