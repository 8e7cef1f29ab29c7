import type { TicketDetail } from '../../src/tickets';
import { loadConfig } from '../../src/config';
import { ESCALATION_REASONS } from '../../src/domain/ticket';
import { axisTicks, barChart, lineChart } from '../../src/inbox/charts';
import { duration, reasonLabel, reasonSentence } from '../../src/inbox/format';
import { escapeHtml, html } from '../../src/inbox/html';
import { SESSION_TTL_MS, SessionSigner, sessionSecret } from '../../src/inbox/session';
import { buildTimeline, ticketPage } from '../../src/inbox/views/ticket';
import { ASSET_VERSION } from '../../src/inbox/views/layout';

/**
 * The inbox's pure parts: escaping, session tokens, reason wording, chart scales and the ticket page template
 * (the AI-draft pre-fill, which the live stack cannot produce on demand). The browser suite covers the rest.
 */

const config = loadConfig({ ADMIN_API_KEY: 'tf_render_test_admin_key_000000000' });

describe('html templates', () => {
  test('interpolated values are escaped, nested templates are not escaped twice', () => {
    const hostile = `<script>alert("x")</script>&'\``;
    const rendered = html`<p title="${hostile}">${hostile}${html`<b>${hostile}</b>`}</p>`.toString();
    expect(rendered).not.toContain('<script>');
    expect(rendered).toBe(
      `<p title="${escapeHtml(hostile)}">${escapeHtml(hostile)}<b>${escapeHtml(hostile)}</b></p>`,
    );
    expect(escapeHtml(hostile)).toBe('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#39;&#96;');
    expect(html`${null}${undefined}${false}${0}${['a', '<']}`.toString()).toBe('0a&lt;');
  });
});

describe('session tokens', () => {
  const signer = new SessionSigner(sessionSecret(config).secret);

  test('a token issued for a key reads back; a tampered, foreign or expired one does not', () => {
    const now = Date.now();
    const { token, sessionId } = signer.issueSession('key_abc', now);
    expect(signer.readSession(token, now)).toMatchObject({ sid: sessionId, kid: 'key_abc' });

    const [body, signature] = token.split('.');
    const forged = Buffer.from(
      JSON.stringify({ v: 1, sid: sessionId, kid: 'bootstrap-admin', exp: now + 1e9 }),
    ).toString('base64url');
    expect(signer.readSession(`${forged}.${signature}`, now)).toBeUndefined();
    expect(signer.readSession(`${body}.${signature!.slice(0, -2)}AA`, now)).toBeUndefined();
    expect(signer.readSession(`${body}`, now)).toBeUndefined();
    expect(signer.readSession(undefined, now)).toBeUndefined();
    expect(signer.readSession(token, now + SESSION_TTL_MS + 1)).toBeUndefined();

    const other = new SessionSigner(
      sessionSecret(loadConfig({ ADMIN_API_KEY: 'tf_some_other_admin_key_0000000000' })).secret,
    );
    expect(other.readSession(token, now)).toBeUndefined();
  });

  test('CSRF tokens are bound to the session; login form tokens to the form cookie', () => {
    const a = signer.issueSession('key_a');
    const b = signer.issueSession('key_a');
    expect(signer.checkCsrf(a.sessionId, signer.csrfToken(a.sessionId))).toBe(true);
    expect(signer.checkCsrf(a.sessionId, signer.csrfToken(b.sessionId))).toBe(false);
    expect(signer.checkCsrf(a.sessionId, undefined)).toBe(false);

    const form = signer.issueLoginForm();
    const another = signer.issueLoginForm();
    expect(signer.checkLoginForm(form.cookie, form.formToken)).toBe(true);
    expect(signer.checkLoginForm(form.cookie, another.formToken)).toBe(false);
    expect(signer.checkLoginForm(undefined, form.formToken)).toBe(false);
    expect(signer.checkLoginForm(form.cookie, form.formToken, Date.now() + 2 * 3_600_000)).toBe(false);
  });

  test('without a configured secret every process signs with its own random one', () => {
    const noAdmin = loadConfig({});
    expect(sessionSecret(noAdmin).source).toBe('random');
    expect(sessionSecret(noAdmin).secret.equals(sessionSecret(noAdmin).secret)).toBe(false);
    expect(sessionSecret(config).secret.equals(sessionSecret(config).secret)).toBe(true);
    expect(sessionSecret(noAdmin, 'given secret').source).toBe('option');
  });

  test('INBOX_SESSION_SECRET wins over the admin key, so rotating that key keeps agents signed in', () => {
    const secret = 'a-shared-inbox-session-secret-for-all-replicas';
    const before = sessionSecret(
      loadConfig({ INBOX_SESSION_SECRET: secret, ADMIN_API_KEY: 'tf_admin_key_one_000000' }),
    );
    const after = sessionSecret(
      loadConfig({ INBOX_SESSION_SECRET: secret, ADMIN_API_KEY: 'tf_admin_key_two_000000' }),
    );
    expect(before.source).toBe('config');
    expect(before.secret.equals(after.secret)).toBe(true);
    expect(() => loadConfig({ INBOX_SESSION_SECRET: 'short' })).toThrow(
      /INBOX_SESSION_SECRET: must be at least 32 characters$/m,
    );
  });
});

describe('wording', () => {
  test('every escalation reason has its own label and sentence', () => {
    const sentences = ESCALATION_REASONS.map((reason) =>
      reasonSentence(reason, config, { confidence: 0.41 }),
    );
    expect(new Set(sentences).size).toBe(ESCALATION_REASONS.length);
    expect(new Set(ESCALATION_REASONS.map(reasonLabel)).size).toBe(ESCALATION_REASONS.length);
    for (const sentence of sentences) expect(sentence).toMatch(/^[A-Z].+\.$/);
    expect(reasonSentence('low_classifier_confidence', config, { confidence: 0.41 })).toContain('41%');
    expect(reasonSentence('low_classifier_confidence', config, { confidence: 0.41 })).toContain('65%');
  });

  test('durations read like a person would say them', () => {
    expect([45_000, 12 * 60_000, 3 * 3_600_000 + 5 * 60_000, 50 * 3_600_000].map(duration)).toEqual([
      '45s',
      '12m',
      '3h 05m',
      '2d 2h',
    ]);
  });
});

describe('charts', () => {
  const days = ['2026-01-01', '2026-01-02', '2026-01-03'];

  test('axes land on round steps: counts on whole numbers, latencies on clock steps', () => {
    expect(
      axisTicks({ series: [{ name: 'n', color: '#000', values: [6, 2, null] }], integer: true }),
    ).toEqual([0, 2, 4, 6]);
    expect(axisTicks({ series: [{ name: 'c', color: '#000', values: [0.09, 0.06] }] })).toEqual([
      0, 0.05, 0.1,
    ]);
    expect(
      axisTicks({ series: [{ name: 'l', color: '#000', values: [4_000_000] }], scale: 'duration' }),
    ).toEqual([0, 1_800_000, 3_600_000, 5_400_000]);
    expect(axisTicks({ series: [{ name: 'r', color: '#000', values: [0.3] }], yMax: 1 })).toEqual([
      0, 0.25, 0.5, 0.75, 1,
    ]);
  });

  test('one point per value, breaks at missing days, an explicit empty state, and escaped labels', () => {
    const svg = lineChart({
      label: 'Rate <by> intent',
      days,
      series: [{ name: '<b>billing</b>', color: '#2563eb', values: [0.5, null, 0.25] }],
      format: (v) => `${v}`,
      yMax: 1,
    }).toString();
    expect(svg.match(/<circle /g)).toHaveLength(2);
    const path = /<path d="([^"]*)"/.exec(svg)?.[1] ?? '';
    expect(path.match(/M/g)).toHaveLength(2); // the line restarts after the gap
    expect(path).not.toContain('L');
    expect(svg).not.toContain('<b>');
    expect(svg).toContain('Rate &lt;by&gt; intent');

    const empty = barChart({
      label: 'Cost',
      days,
      series: [{ name: 'cost', color: '#000', values: [0, 0, 0] }],
      format: String,
      zeroIsEmpty: true,
      emptyText: 'No LLM spend in this window',
    }).toString();
    expect(empty).toContain('No LLM spend in this window');
    expect(empty).not.toContain('<rect');
  });
});

describe('ticket page', () => {
  const detail: TicketDetail = {
    ticketId: 'T-1',
    workflowId: 'ticket-T-1',
    stage: 'escalated',
    workflowStatus: 'RUNNING',
    awaitingHuman: true,
    channel: 'api',
    subject: 'Refund <please>',
    customer: { name: 'Ana' },
    createdAt: '2026-01-01T10:00:00.000Z',
    classification: {
      intent: 'billing',
      urgency: 'high',
      confidence: 0.42,
      summary: 'refund',
      sentiment: 'negative',
      language: 'en',
    },
    reply: null,
    escalation: {
      reason: 'agent_uncertainty',
      createdAt: '2026-01-01T10:00:05.000Z',
      slaDueAt: '2026-01-01T14:00:05.000Z',
      overdue: false,
      resolvedAt: null,
      resolvedBy: null,
      draft: 'Hello </textarea><script>alert(1)</script> we refunded you.',
      draftWithheld: null,
    },
    resolution: null,
    timings: {
      receivedAt: '2026-01-01T10:00:00.000Z',
      completedAt: null,
      latencyMs: null,
      milestones: {
        received: '2026-01-01T10:00:00.000Z',
        escalated: '2026-01-01T10:00:05.000Z',
        classified: '2026-01-01T10:00:01.000Z',
      },
      steps: [
        {
          step: 'classify',
          status: 'ok',
          attempts: 1,
          model: 'local',
          latencyMs: 120,
          startedAt: '2026-01-01T10:00:00.500Z',
          finishedAt: '2026-01-01T10:00:01.000Z',
        },
        {
          step: 'generate',
          status: 'failed',
          attempts: 3,
          model: null,
          latencyMs: null,
          startedAt: '2026-01-01T10:00:02.000Z',
          finishedAt: '2026-01-01T10:00:04.000Z',
        },
      ],
    },
    usage: { inputTokens: 0, cachedInputTokens: 0, outputTokens: 0, costUsd: 0 },
    thread: [],
    feedback: [],
    conversation: null,
  };
  const extras = { body: 'Please refund me', passages: [], draft: null, escalationDraft: null };
  const ctx = {
    principal: { keyId: 'k', name: 'Dana', role: 'agent' as const },
    csrfToken: 'csrf-token-value',
    openCount: 1,
    overdueCount: 0,
  };

  /** The editor's initial text as a browser reads it (a newline right after <textarea> is dropped by the parser). */
  function editorText(page: string): string {
    const match = /<textarea id="answer"[^>]*>([\s\S]*?)<\/textarea\s*>/.exec(page);
    if (!match) throw new Error('no answer editor on the page');
    return match[1]!.replace(/^\r?\n/, '');
  }

  test('the AI draft pre-fills the editor, escaped, with a note to check it', () => {
    const page = ticketPage(ctx, { detail, extras, config, now: new Date('2026-01-01T11:00:00Z') });
    expect(editorText(page)).toBe(
      'Hello &lt;/textarea&gt;&lt;script&gt;alert(1)&lt;/script&gt; we refunded you.',
    );
    expect(page).toContain("Pre-filled with the AI's draft");
    expect(page.match(/<script\b[^>]*>/g)).toEqual([
      `<script src="/inbox/static/inbox.js?v=${ASSET_VERSION}" defer>`,
    ]);
    expect(page).toContain('name="_csrf" value="csrf-token-value"');
    expect(page).toContain('Refund &lt;please&gt;');
  });

  test('a reopened conversation shows the thread, escaped, with citations and the rating', () => {
    const reopened: TicketDetail = {
      ...detail,
      escalation: { ...detail.escalation!, reason: 'customer_reopened' },
      thread: [
        {
          messageId: 'initial',
          author: 'customer',
          turn: 0,
          body: 'Please refund me',
          at: '2026-01-01T10:00:00.000Z',
          deliveredAt: null,
          citations: [],
        },
        {
          messageId: 'reply',
          author: 'ai',
          turn: 1,
          body: 'Go to Billing.',
          at: '2026-01-01T10:00:03.000Z',
          deliveredAt: '2026-01-01T10:00:03.000Z',
          citations: [],
        },
        {
          messageId: 'm-1',
          author: 'customer',
          turn: 1,
          body: 'Still <no> money',
          at: '2026-01-02T10:00:00.000Z',
          deliveredAt: null,
          citations: [],
        },
        {
          messageId: 'ai-2',
          author: 'ai',
          turn: 2,
          body: 'It takes 5–10 business days.',
          at: '2026-01-02T10:00:02.000Z',
          deliveredAt: '2026-01-02T10:00:02.000Z',
          citations: [{ passageId: 'refunds#1', documentId: 'refunds', title: 'Refund policy', score: 0.7 }],
        },
      ],
      feedback: [{ rating: 'bad', comment: 'not yet', turn: 2, at: '2026-01-03T10:00:00.000Z' }],
      conversation: {
        outcome: null,
        aiTurns: 2,
        humanTurns: 0,
        reopened: 0,
        escalatedAfterAi: true,
        closedAt: null,
      },
    };
    const page = ticketPage(ctx, { detail: reopened, extras, config, now: new Date('2026-01-03T11:00:00Z') });
    const card = page.slice(page.indexOf('id="conversation"'));
    expect(card).toContain('Still &lt;no&gt; money');
    expect(card).toContain('Cites: Refund policy');
    expect(card).toMatch(/>Bad<\/span\s*>\s*rating of reply 2: “not yet”/);
    expect(card).not.toContain('Go to Billing.'); // the first reply is not repeated in the conversation card
    expect(page).toContain('id="answer"'); // the agent can answer the reopened ticket
  });

  test('a draft the grounding check stopped pre-fills the editor with a warning saying why it was not sent', () => {
    const withheld = {
      ...detail,
      escalation: {
        ...detail.escalation!,
        draft: 'We will refund you $500 <today>.',
        draftWithheld: 'Draft withheld: it states "$500", which no cited passage contains',
      },
    };
    const page = ticketPage(ctx, { detail: withheld, extras, config, now: new Date('2026-01-01T11:00:00Z') });
    expect(editorText(page)).toBe('We will refund you $500 &lt;today&gt;.');
    expect(page).toMatch(
      /an AI draft that was <strong>not sent<\/strong> to the customer:\s+Draft withheld: it states &quot;\$500&quot;/,
    );
    expect(page).not.toContain("Pre-filled with the AI's draft. Check it");
  });

  test('what the agent typed wins over the draft when a send is refused', () => {
    const page = ticketPage(ctx, {
      detail,
      extras,
      config,
      now: new Date(),
      answerText: 'my own words',
      addToKnowledgeBase: false,
    });
    expect(editorText(page)).toBe('my own words');
    expect(page).not.toMatch(/id="add-to-kb"\s+checked/);
  });

  test('the timeline merges milestones with steps, oldest first, failed steps marked, and ends waiting', () => {
    const timeline = buildTimeline(detail);
    expect(timeline.map((e) => [e.title, e.state])).toEqual([
      ['Ticket received', 'ok'],
      ['Classified', 'ok'],
      ['Answer attempted (failed)', 'failed'],
      ['Escalated to a human', 'ok'],
      ['Waiting for a human answer', 'pending'],
    ]);
    expect(timeline[1]!.detail).toBe('ok · 1 attempt · 120 ms · local');
  });
});
