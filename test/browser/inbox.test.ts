import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { WorkflowHandle } from '@temporalio/client';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { checkBookkeeping, finishedNow } from '../support/bookkeeping';
import { uniqueSuffix } from '../support/stack';
import { statusQuery } from '../../workflows/definitions';
import { readQueueState } from '../../src/inbox/live';
import {
  launchChromium,
  screenshot,
  seedInteractionHistory,
  signIn,
  startInboxTestEnv,
  waitFor,
  type InboxTestEnv,
  type SeededDay,
} from './support';

/**
 * The agent inbox in a real browser against the real stack: Temporal dev server, Postgres, the worker in-process,
 * the API listening on a port. Screenshots of every page land in test-results/screenshots/.
 */

// The whole stack shares a busy CI machine with other suites: allow for slow workflow tasks.
jest.setTimeout(300_000);

interface Escalation {
  ticketId: string;
  handle: WorkflowHandle;
}

const HOSTILE = {
  subject: '<script>window.pwnedBySubject = 1</script><b>bold?</b>',
  body: '<script>window.pwned = 1</script><img src=x onerror="window.pwned = 2"> I want to talk to a human about this.',
  customer: { name: '<i>Mallory</i>', email: 'mallory@example.com' },
};

let browser: Browser;
let env: InboxTestEnv;
let seeded: SeededDay[];
const contexts: BrowserContext[] = [];
/** Tickets the tests work on, submitted together up front so their workflows run while earlier tests do. */
let tickets: Record<'first' | 'second' | 'conflict' | 'filter' | 'hostile' | 'csrf', Promise<Escalation>>;

beforeAll(async () => {
  // Chromium first: without it the suite fails here, loudly, instead of skipping.
  browser = await launchChromium();
  env = await startInboxTestEnv();
  seeded = await seedInteractionHistory(env.stack);
  tickets = {
    first: submitEscalation({
      subject: 'Charged twice for the Pro plan',
      body: 'Hello, I was charged twice for my Pro plan this month. I want to talk to a human please.',
      customer: { name: 'Ana Silva', email: 'ana@example.com' },
    }),
    second: submitEscalation({
      subject: 'Cannot find my invoice',
      body: 'Where can I download my invoices? Please let me speak to a real person.',
      customer: { name: 'Bo Chen', email: 'bo@example.com' },
    }),
    conflict: submitEscalation({
      subject: 'Two agents, one ticket',
      body: 'Can a person look at my account settings? I want to speak to a human.',
    }),
    filter: submitEscalation({
      subject: 'Filter check',
      body: 'Please connect me with a human about my subscription.',
    }),
    hostile: submitEscalation(HOSTILE),
    csrf: submitEscalation({ subject: 'CSRF check', body: 'I want to talk to a human about my invoice.' }),
  };
  // Each test awaits its own; this only keeps an early failure from being reported as unhandled.
  for (const pending of Object.values(tickets)) pending.catch(() => undefined);
}, 300_000);

afterAll(async () => {
  for (const context of contexts) await context.close().catch(() => undefined);
  await browser?.close();
  await env?.close();
});

async function newPage(options: { javaScriptEnabled?: boolean } = {}): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1440, height: 900 }, ...options });
  contexts.push(context);
  const page = await context.newPage();
  page.setDefaultTimeout(20_000);
  return page;
}

async function signedInPage(
  key = env.keys.agent,
  options: { javaScriptEnabled?: boolean } = {},
): Promise<Page> {
  const page = await newPage(options);
  await signIn(page, env.baseUrl, key);
  await page.waitForURL(/\/inbox\/queue/);
  return page;
}

/** Submit a ticket that asks for a person (the local classifier always escalates those) and wait until it waits. */
async function submitEscalation(ticket: {
  subject: string;
  body: string;
  customer?: { name?: string; email?: string };
}): Promise<Escalation> {
  const ticketId = `inbox-${uniqueSuffix()}`;
  const handle = await env.stack.submit({ externalId: ticketId, ...ticket });
  const workflowId = `ticket-${ticketId}`;
  // Postgres first (cheap to poll), then the workflow itself: only then does it accept a resolution.
  await waitFor(
    () =>
      env.stack.db
        .selectFrom('escalations')
        .select('workflow_id')
        .where('workflow_id', '=', workflowId)
        .executeTakeFirst(),
    240_000,
    500,
  );
  await waitFor(async () => (await handle.query(statusQuery)).awaitingHuman, 240_000, 500);
  return { ticketId, handle };
}

/** Another agent answers through the API; returns once the escalation is closed, so queue counts are settled. */
async function resolveThroughApi(ticketId: string, answer: string): Promise<Response> {
  const response = await fetch(`${env.baseUrl}/v1/tickets/${ticketId}/resolution`, {
    method: 'POST',
    headers: { authorization: `Bearer ${env.keys.admin}`, 'content-type': 'application/json' },
    body: JSON.stringify({ answer, addToKnowledgeBase: false }),
  });
  if (response.ok) {
    await waitFor(
      () =>
        env.stack.db
          .selectFrom('escalations')
          .select('resolved_at')
          .where('workflow_id', '=', `ticket-${ticketId}`)
          .where('resolved_at', 'is not', null)
          .executeTakeFirst(),
      120_000,
    );
  }
  return response;
}

async function openCount(page: Page): Promise<number> {
  return Number(await page.locator('#queue-open-count').textContent());
}

describe('signing in', () => {
  test('a bad, revoked or intake key is refused and no session cookie is set', async () => {
    const page = await newPage();
    await page.goto(`${env.baseUrl}/inbox/queue`);
    expect(new URL(page.url()).pathname).toBe('/inbox/login');
    await expect(
      page.getByRole('heading', { name: 'Sign in to the support inbox' }).isVisible(),
    ).resolves.toBe(true);
    await screenshot(page, 'sign-in');

    for (const [key, message] of [
      ['tf_this_key_does_not_exist_0123456789abcdef', 'This API key is not valid.'],
      ['not-even-a-key', 'This API key is not valid.'],
      [env.keys.revoked, 'This API key has been revoked.'],
      [env.keys.intake, 'An intake key cannot use the inbox.'],
    ] as const) {
      await page.getByLabel('API key').fill(key);
      const [response] = await Promise.all([
        page.waitForResponse((r) => r.url().endsWith('/inbox/login') && r.request().method() === 'POST'),
        page.getByRole('button', { name: 'Sign in' }).click(),
      ]);
      expect([401, 403]).toContain(response.status());
      await expect(page.getByRole('alert').textContent()).resolves.toContain(message);
      expect(new URL(page.url()).pathname).toBe('/inbox/login');
    }
    const cookies = await page.context().cookies();
    expect(cookies.find((c) => c.name === 'tf_inbox_session')).toBeUndefined();

    // And the queue is still out of reach.
    await page.goto(`${env.baseUrl}/inbox/queue`);
    expect(new URL(page.url()).pathname).toBe('/inbox/login');
  });

  test('a sign-in post that did not come from the form (login CSRF) is refused', async () => {
    const response = await fetch(`${env.baseUrl}/inbox/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ apiKey: env.keys.agent }).toString(),
      redirect: 'manual',
    });
    expect(response.status).toBe(403);
    expect(response.headers.get('set-cookie') ?? '').not.toContain('tf_inbox_session=');
  });

  test('the inbox stays out of the API: not in the OpenAPI document, and API errors stay problem+json', async () => {
    const spec = (await (await fetch(`${env.baseUrl}/openapi.json`)).json()) as {
      paths: Record<string, unknown>;
    };
    expect(Object.keys(spec.paths).length).toBeGreaterThan(0);
    expect(Object.keys(spec.paths).filter((p) => p.startsWith('/inbox'))).toEqual([]);
    const missing = await fetch(`${env.baseUrl}/v1/no-such-route`);
    expect(missing.headers.get('content-type')).toContain('application/problem+json');
    const missingPage = await fetch(`${env.baseUrl}/inbox/no-such-page`);
    expect(missingPage.status).toBe(404);
    expect(missingPage.headers.get('content-type')).toContain('text/html');
  });

  test('a good key gets an http-only, SameSite=Strict session cookie; signing out ends it', async () => {
    const page = await signedInPage();
    const session = (await page.context().cookies()).find((c) => c.name === 'tf_inbox_session');
    expect(session).toMatchObject({ httpOnly: true, sameSite: 'Strict', secure: false, path: '/inbox' });
    await expect(page.locator('.account-name strong').textContent()).resolves.toBe('Dana Agent');

    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL(/\/inbox\/login\?signedOut=1/);
    await expect(page.getByRole('status').textContent()).resolves.toContain('You are signed out.');
    await page.goto(`${env.baseUrl}/inbox/queue`);
    expect(new URL(page.url()).pathname).toBe('/inbox/login');
  });
});

describe('working the queue', () => {
  test('sign in, open an escalation, edit and send the answer; the queue shrinks and the workflow completes', async () => {
    // Every pre-submitted ticket is in the queue before counting, so only this test changes the count.
    await Promise.all(Object.values(tickets));
    const [first, second] = await Promise.all([tickets.first, tickets.second]);

    const page = await signedInPage();
    const rows = page.locator('#queue-rows tr');
    await expect(rows.filter({ hasText: 'Charged twice for the Pro plan' }).count()).resolves.toBe(1);
    await expect(rows.filter({ hasText: 'Cannot find my invoice' }).count()).resolves.toBe(1);
    const before = await openCount(page);
    expect(before).toBeGreaterThanOrEqual(2);
    await expect(page.locator('#nav-open-count').textContent()).resolves.toBe(String(before));
    await screenshot(page, 'queue');

    // Open it from the queue, with the keyboard where it counts.
    await page.getByRole('link', { name: 'Charged twice for the Pro plan' }).focus();
    await page.keyboard.press('Enter');
    await page.waitForURL(new RegExp(`/inbox/tickets/${first.ticketId}$`));

    await expect(page.locator('#ticket-body').textContent()).resolves.toBe(
      'Hello, I was charged twice for my Pro plan this month. I want to talk to a human please.',
    );
    await expect(page.locator('#escalation-reason').textContent()).resolves.toContain(
      'asked to talk to a person',
    );
    const classification = page.locator('section[aria-labelledby="classification-title"]');
    for (const label of ['Intent', 'Urgency', 'Sentiment', 'Confidence']) {
      await expect(classification.locator('dt', { hasText: label }).count()).resolves.toBe(1);
    }
    await expect(page.locator('#confidence-value').textContent()).resolves.toMatch(/^\d{1,3}%$/);
    // Retrieval found passages from the sample articles: titles and scores are shown.
    const passages = page.locator('section[aria-labelledby="passages-title"] li.passage');
    expect(await passages.count()).toBeGreaterThan(0);
    await expect(passages.first().locator('.passage-title').textContent()).resolves.toMatch(/\w/);
    await expect(passages.first().locator('.score-value').textContent()).resolves.toMatch(/^0\.\d\d$/);
    // The timeline has the workflow's steps with times, and the run links to the Temporal UI.
    const timeline = await page.locator('#timeline').textContent();
    for (const step of [
      'Ticket received',
      'Classified',
      'Knowledge base searched',
      'Escalated to a human',
      'Waiting for a human answer',
    ]) {
      expect(timeline).toContain(step);
    }
    await expect(page.locator('#temporal-link').getAttribute('href')).resolves.toBe(
      `http://localhost:8233/namespaces/default/workflows/ticket-${first.ticketId}`,
    );
    await expect(page.getByLabel('Add to knowledge base').isChecked()).resolves.toBe(true);
    await screenshot(page, 'ticket');

    const answer =
      'Hi Ana, sorry about the double charge. We refunded the duplicate payment for your Pro plan today; ' +
      'it will be back on your card within 5 to 10 business days.';
    await page.getByLabel('Reply to the customer').fill(answer);
    await page.getByRole('button', { name: 'Send answer' }).click();
    await page.waitForURL(/\/inbox\/queue\?resolved=/);
    await expect(page.locator('.alert-success').textContent()).resolves.toContain(`#${first.ticketId}`);
    await expect(rows.filter({ hasText: 'Charged twice for the Pro plan' }).count()).resolves.toBe(0);
    await expect(rows.filter({ hasText: 'Cannot find my invoice' }).count()).resolves.toBe(1);
    expect(await openCount(page)).toBe(before - 1);

    // The workflow completes with the human's answer delivered, and the answer is learned.
    const outcome = await first.handle.result();
    expect(outcome).toMatchObject({
      escalated: true,
      escalationReason: 'customer_requested_human',
      replySource: 'human',
    });
    const reply = await env.stack.db
      .selectFrom('outbox')
      .select(['body', 'source'])
      .where('workflow_id', '=', `ticket-${first.ticketId}`)
      .where('kind', '=', 'reply')
      .executeTakeFirstOrThrow();
    expect(reply).toEqual({ body: answer, source: 'human' });
    await checkBookkeeping(env.stack.db, await finishedNow(env.stack.client, [first.handle.workflowId]));
    const resolution = await env.stack.db
      .selectFrom('resolutions')
      .select(['agent_id', 'add_to_kb', 'kb_outcome'])
      .where('workflow_id', '=', `ticket-${first.ticketId}`)
      .executeTakeFirstOrThrow();
    expect(resolution).toEqual({ agent_id: 'Dana Agent', add_to_kb: true, kb_outcome: 'indexed' });

    // The ticket page now shows the resolution instead of the editor.
    await page.goto(`${env.baseUrl}/inbox/tickets/${first.ticketId}`);
    await expect(page.locator('#outcome-title').textContent()).resolves.toBe('Resolved by Dana Agent');
    await expect(page.locator('#resolve-form').count()).resolves.toBe(0);
    expect((await page.locator('#workflow-status').textContent())?.trim()).toBe('Completed');

    // Knowledge: the learned answer is listed and found by search.
    await page.goto(`${env.baseUrl}/inbox/knowledge`);
    await expect(page.locator('#learned-table').textContent()).resolves.toContain(
      'Charged twice for the Pro plan',
    );
    await page.getByLabel('Question or keywords').fill('refund for a duplicate charge on the Pro plan');
    await page.getByLabel('Source').selectOption('resolution');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.waitForURL(/\/inbox\/knowledge\?q=/);
    const results = page.locator('#kb-results li');
    expect(await results.count()).toBeGreaterThan(0);
    await expect(results.first().textContent()).resolves.toContain('We refunded the duplicate payment');
    await page.getByLabel('Source').selectOption('');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.waitForURL(/\/inbox\/knowledge\?q=/);
    await screenshot(page, 'knowledge');

    await resolveThroughApi(second.ticketId, 'Invoices are under Settings → Billing.');
  });

  test('a link to a ticket followed from another site opens the ticket for a signed-in agent', async () => {
    const { ticketId } = await tickets.first;
    const page = await signedInPage();
    // localhost and 127.0.0.1 are different sites: the SameSite=Strict cookie stays behind on the first hop.
    const chat = http.createServer((_request, response) => {
      response.setHeader('content-type', 'text/html; charset=utf-8');
      response.end(`<a id="go" href="${env.baseUrl}/inbox/tickets/${ticketId}">Ticket ${ticketId}</a>`);
    });
    await new Promise<void>((resolve) => chat.listen(0, 'localhost', resolve));
    try {
      const { port } = chat.address() as AddressInfo;
      await page.goto(`http://localhost:${port}/`);
      await page.locator('#go').click();
      await page.waitForURL(new RegExp(`/inbox/tickets/${ticketId}$`));
      await expect(page.locator('h1').textContent()).resolves.toBe('Charged twice for the Pro plan');
    } finally {
      await new Promise((resolve) => chat.close(resolve));
    }
  });

  test('the queue count and rows update live when tickets arrive and are resolved elsewhere', async () => {
    await Promise.all(Object.values(tickets));
    const page = await signedInPage();
    const fetched: string[] = [];
    page.on('request', (request) => {
      const url = new URL(request.url());
      if (url.pathname.startsWith('/inbox/api/')) fetched.push(url.pathname);
    });
    await page.reload();
    await page.evaluate(() => ((globalThis as unknown as { inboxMarker: string }).inboxMarker = 'same page'));
    // Pushed, not polled: the page opens the event stream and, while nothing changes, fetches no list
    // (the old page polled /inbox/api/queue every 4 s).
    await waitFor(async () => fetched.includes('/inbox/api/events'), 10_000);
    // Workflows of earlier tests may still be writing escalations; a quiet window is one in which the queue's
    // state (as the server computes it) did not move. Changes during a window legitimately cause a fetch.
    let quietWindowFetches: string[] | undefined;
    // The server's open count in the quiet window: the arrival below must add to it. (Read from the page before
    // the window, it could include escalations earlier tests were still resolving.)
    let before = 0;
    for (let attempt = 0; attempt < 5 && !quietWindowFetches; attempt++) {
      const stateBefore = await readQueueState(env.stack);
      // One broadcast interval (2 s) for a change made just before to reach the page, then the window.
      await new Promise((resolve) => setTimeout(resolve, 3_000));
      fetched.length = 0;
      await new Promise((resolve) => setTimeout(resolve, 6_000));
      if (JSON.stringify(await readQueueState(env.stack)) === JSON.stringify(stateBefore)) {
        quietWindowFetches = [...fetched];
        before = stateBefore.open;
      }
    }
    expect(quietWindowFetches).toBeDefined();
    expect(quietWindowFetches!.filter((path) => path === '/inbox/api/queue')).toEqual([]);

    const arriving = await submitEscalation({
      subject: 'Live arrival check',
      body: 'My export is stuck. I would like to talk to a human agent, please.',
    });
    await page
      .locator('#queue-rows tr', { hasText: 'Live arrival check' })
      .waitFor({ state: 'visible', timeout: 30_000 });
    // Earlier tests' tickets may still join or leave the queue; the page must follow the server's count.
    const followsServer = async (atLeast: number) => {
      const open = (await readQueueState(env.stack)).open;
      return open >= atLeast && (await openCount(page)) === open;
    };
    await waitFor(() => followsServer(before + 1), 30_000);
    await expect(page.locator('#nav-open-count').textContent()).resolves.toBe(String(await openCount(page)));

    const resolved = await resolveThroughApi(arriving.ticketId, 'Your export has been restarted.');
    expect(resolved.status).toBe(200);
    await page
      .locator('#queue-rows tr', { hasText: 'Live arrival check' })
      .waitFor({ state: 'detached', timeout: 30_000 });
    await waitFor(() => followsServer(0), 30_000);
    // All of it without reloading the page.
    await expect(
      page.evaluate(() => (globalThis as unknown as { inboxMarker?: string }).inboxMarker),
    ).resolves.toBe('same page');
  });

  test('sending an answer to a ticket someone else already resolved shows a clear 409', async () => {
    const ticket = await tickets.conflict;
    // One agent with scripts off (the plain form path), one with the live page.
    const plain = await signedInPage(env.keys.agent, { javaScriptEnabled: false });
    await plain.goto(`${env.baseUrl}/inbox/tickets/${ticket.ticketId}`);
    const live = await signedInPage(env.keys.admin);
    await live.goto(`${env.baseUrl}/inbox/tickets/${ticket.ticketId}`);

    expect((await resolveThroughApi(ticket.ticketId, 'Settings are under your avatar menu.')).status).toBe(
      200,
    );
    await ticket.handle.result();

    // The live page notices on its own and blocks sending.
    await live.locator('#resolved-elsewhere').waitFor({ state: 'visible', timeout: 20_000 });
    await expect(live.locator('#resolved-elsewhere').textContent()).resolves.toContain(
      'Already resolved by admin-key',
    );
    await expect(live.getByRole('button', { name: 'Send answer' }).isDisabled()).resolves.toBe(true);

    // The plain page still has the editor; sending is refused with 409 and says why, keeping the text.
    await plain.getByLabel('Reply to the customer').fill('My late answer that must not be sent');
    const [response] = await Promise.all([
      plain.waitForResponse((r) => r.url().endsWith('/resolve')),
      plain.getByRole('button', { name: 'Send answer' }).click(),
    ]);
    expect(response.status()).toBe(409);
    await expect(plain.locator('#conflict-message').textContent()).resolves.toContain(
      'admin-key already resolved this ticket',
    );
    await expect(plain.locator('details.unsent').textContent()).resolves.toContain(
      'My late answer that must not be sent',
    );
    await screenshot(plain, 'ticket-conflict');
    const reply = await env.stack.db
      .selectFrom('outbox')
      .select('body')
      .where('workflow_id', '=', `ticket-${ticket.ticketId}`)
      .where('kind', '=', 'reply')
      .executeTakeFirstOrThrow();
    expect(reply.body).toBe('Settings are under your avatar menu.');
    // One reply: the late answer from the plain page was not sent.
    await checkBookkeeping(env.stack.db, await finishedNow(env.stack.client, [ticket.handle.workflowId]));
  });

  test('filters narrow the queue, which is sorted by SLA due time', async () => {
    const ticket = await tickets.filter;
    const page = await signedInPage();
    const slaTimes = await page
      .locator('#queue-rows time[data-sla]')
      .evaluateAll((nodes) => nodes.map((n) => n.getAttribute('datetime') ?? ''));
    expect(slaTimes.length).toBeGreaterThan(0);
    expect([...slaTimes].sort()).toEqual(slaTimes);

    await page.getByLabel('Reason').selectOption('customer_requested_human');
    await page.waitForURL(/reason=customer_requested_human/);
    const reasons = await page.locator('#queue-rows .reason').allTextContents();
    expect(reasons.length).toBeGreaterThan(0);
    expect(new Set(reasons)).toEqual(new Set(['Asked for a person']));

    await page.getByLabel('Waiting').selectOption('gt24h');
    await page.waitForURL(/age=gt24h/);
    await expect(page.locator('#queue-rows tr').count()).resolves.toBe(0);
    await expect(page.locator('#queue-empty').textContent()).resolves.toContain(
      'Nothing matches these filters.',
    );

    await page.getByLabel('Waiting').selectOption('lt1h');
    await page.waitForURL(/age=lt1h/);
    await expect(page.locator('#queue-rows tr', { hasText: 'Filter check' }).count()).resolves.toBe(1);

    const intent = (await ticket.handle.query(statusQuery)).classification!.intent;
    const other = env.stack.config.INTENTS.find((candidate) => candidate !== intent)!;
    await page.getByLabel('Intent').selectOption(other);
    await page.waitForURL(new RegExp(`intent=${other}`));
    await expect(page.locator('#queue-rows tr', { hasText: 'Filter check' }).count()).resolves.toBe(0);
    await page.getByLabel('Intent').selectOption(intent);
    await page.waitForURL(new RegExp(`intent=${intent}`));
    await expect(page.locator('#queue-rows tr', { hasText: 'Filter check' }).count()).resolves.toBe(1);

    // j / k move through the rows, Enter opens one.
    await page.getByRole('link', { name: 'Clear' }).click();
    await page.waitForURL(/\/inbox\/queue$/);
    await page.locator('body').press('j');
    await expect(page.locator('#queue-rows tr.selected').count()).resolves.toBe(1);
    await page.keyboard.press('Enter');
    await page.waitForURL(/\/inbox\/tickets\//);

    await resolveThroughApi(ticket.ticketId, 'Done.');
  });
});

describe('safety', () => {
  test('ticket text containing <script> is shown as text and never runs; pages carry a strict CSP', async () => {
    const hostile = HOSTILE;
    const ticket = await tickets.hostile;
    const page = await signedInPage();
    const dialogs: string[] = [];
    page.on('dialog', (dialog) => {
      dialogs.push(dialog.message());
      void dialog.dismiss();
    });

    const row = page.locator('#queue-rows tr', { hasText: '<script>window.pwnedBySubject = 1</script>' });
    await expect(row.count()).resolves.toBe(1);

    const response = await page.goto(`${env.baseUrl}/inbox/tickets/${ticket.ticketId}`);
    const csp = response!.headers()['content-security-policy'];
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("default-src 'none'");
    expect(csp).not.toContain('unsafe-inline');

    await expect(page.locator('h1').textContent()).resolves.toBe(hostile.subject);
    await expect(page.locator('#ticket-body').textContent()).resolves.toBe(hostile.body);
    await expect(
      page.locator('#ticket-body script, #ticket-body img, h1 script, h1 b').count(),
    ).resolves.toBe(0);
    await expect(page.locator('script:not([src])').count()).resolves.toBe(0);
    await expect(page.getByText('<i>Mallory</i>').count()).resolves.toBeGreaterThan(0);
    const injected = await page.evaluate(() => {
      const w = globalThis as unknown as { pwned?: number; pwnedBySubject?: number };
      return [w.pwned, w.pwnedBySubject];
    });
    expect(injected).toEqual([undefined, undefined]);
    expect(dialogs).toEqual([]);

    await resolveThroughApi(ticket.ticketId, 'Handled.');
  });

  test('a state-changing request without the CSRF token, or from another origin, is refused', async () => {
    const ticket = await tickets.csrf;
    const page = await signedInPage();
    await page.goto(`${env.baseUrl}/inbox/tickets/${ticket.ticketId}`);
    const token = await page.locator('meta[name="csrf-token"]').getAttribute('content');
    expect(token).toBeTruthy();

    const withoutToken = await page.request.post(`${env.baseUrl}/inbox/tickets/${ticket.ticketId}/resolve`, {
      form: { answer: 'forged answer', addToKnowledgeBase: 'on' },
      maxRedirects: 0,
    });
    expect(withoutToken.status()).toBe(403);
    const wrongToken = await page.request.post(`${env.baseUrl}/inbox/tickets/${ticket.ticketId}/resolve`, {
      form: { answer: 'forged answer', _csrf: 'A'.repeat(43) },
      maxRedirects: 0,
    });
    expect(wrongToken.status()).toBe(403);
    const otherOrigin = await page.request.post(`${env.baseUrl}/inbox/tickets/${ticket.ticketId}/resolve`, {
      form: { answer: 'forged answer', _csrf: token! },
      headers: { origin: 'https://attacker.example' },
      maxRedirects: 0,
    });
    expect(otherOrigin.status()).toBe(403);
    expect((await ticket.handle.query(statusQuery)).awaitingHuman).toBe(true);

    // An empty answer is refused by validation, with the form still there.
    await page.getByLabel('Reply to the customer').fill('   ');
    await page.locator('#answer').evaluate((node) => node.removeAttribute('required'));
    const [empty] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith('/resolve')),
      page.getByRole('button', { name: 'Send answer' }).click(),
    ]);
    expect(empty.status()).toBe(400);
    await expect(page.getByRole('alert').first().textContent()).resolves.toContain(
      'Write an answer before sending.',
    );
    expect((await ticket.handle.query(statusQuery)).awaitingHuman).toBe(true);

    await resolveThroughApi(ticket.ticketId, 'Handled.');
  });
});

describe('metrics', () => {
  test('charts show escalation rate by intent over time, autonomy, p95 latency, cost per day and KB growth', async () => {
    const page = await signedInPage();
    await page.goto(`${env.baseUrl}/inbox/metrics`);
    for (const id of [
      'chart-escalation-by-intent',
      'chart-autonomous',
      'chart-latency',
      'chart-cost',
      'chart-kb',
    ]) {
      await expect(page.locator(`#${id} svg[role="img"]`).count()).resolves.toBe(1);
    }
    // The escalation-rate table behind the chart holds exactly the seeded rates per day and intent.
    const billing = seeded.filter((s) => s.intent === 'billing');
    const table = page.locator('#chart-escalation-by-intent table');
    const headers = await table.locator('thead th').allTextContents();
    const billingColumn = headers.indexOf('Billing');
    expect(billingColumn).toBeGreaterThan(0);
    for (const day of billing) {
      const cells = await table
        .locator('tbody tr', { has: page.locator(`th:text-is("${day.day}")`) })
        .locator('th, td')
        .allTextContents();
      expect(cells[billingColumn]).toBe(`${((day.escalated / day.tickets) * 100).toFixed(0)}%`);
    }
    // One bar per seeded day in the cost chart (today's local-model tickets cost nothing).
    await expect(page.locator('#chart-cost svg rect').count()).resolves.toBeGreaterThanOrEqual(6);
    await expect(page.locator('#chart-latency svg path').count()).resolves.toBe(1);
    await expect(page.locator('#kpi-kb .kpi-value').textContent()).resolves.toMatch(/^\d+$/);
    // Tickets are conversations: the honest resolution rate stands beside the naive one.
    await expect(page.locator('#kpi-honest-resolution').textContent()).resolves.toMatch(
      /Resolved by AI[\s\S]*naive/,
    );
    await screenshot(page, 'metrics');
  });
});
