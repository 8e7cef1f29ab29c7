import type { Browser, BrowserContext, Page } from 'playwright-core';
import { getDocument } from '../../src/kb/ingest';
import { ingestFixtureKb, seedEscalations, seedHealthSignals } from '../gaps/fixture';
import { launchChromium, screenshot, signIn, startInboxTestEnv, type InboxTestEnv } from './support';

/**
 * The inbox's Knowledge gaps page in headless Chromium on the real stack (Postgres, pgvector, embeddings, the API
 * on a port), on the gap fixture: the page, the prefilled editor, publishing an article from a suggestion.
 * Screenshots: test-results/screenshots/gaps-*.png.
 */

jest.setTimeout(300_000);

let browser: Browser;
let env: InboxTestEnv;
const contexts: BrowserContext[] = [];

beforeAll(async () => {
  browser = await launchChromium();
  env = await startInboxTestEnv();
  const { db, deps } = env.stack;
  await ingestFixtureKb({ db, store: deps.store, embedder: deps.embedder }, { small: true });
  await seedEscalations(db, 'web');
  await seedHealthSignals(db, 'web');
}, 600_000);

afterAll(async () => {
  for (const context of contexts) await context.close().catch(() => undefined);
  await browser?.close();
  await env?.close();
});

async function signedIn(key: string): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
  contexts.push(context);
  const page = await context.newPage();
  // The first visit builds the report (embeddings, clustering): slow on a busy machine.
  page.setDefaultTimeout(180_000);
  page.setDefaultNavigationTimeout(180_000);
  await signIn(page, env.baseUrl, key);
  await page.waitForURL(/\/inbox\/queue/);
  return page;
}

describe('Knowledge gaps in the inbox', () => {
  it('shows agents the gaps, the covered topic and article health, without a publish button', async () => {
    const page = await signedIn(env.keys.agent);
    await page.getByRole('link', { name: 'Knowledge gaps' }).click();
    await page.waitForURL(/\/inbox\/gaps/);
    await expect(page.locator('#gap-count').textContent()).resolves.toBe('2');
    const gapCards = page.locator('[data-gap-status="gap"]');
    await expect(gapCards.count()).resolves.toBe(2);
    const coveredCards = page.locator('[data-gap-status="covered"]');
    await expect(coveredCards.count()).resolves.toBe(1);
    await expect(coveredCards.first().textContent()).resolves.toContain('password-reset');
    const text = (await page.locator('main').textContent()) ?? '';
    expect(text).toContain('Suggested article');
    expect(text).toContain('Publishing articles needs an admin key.');
    expect(text).not.toContain('jo.bloggs@example.com');
    expect(text).toContain('[email]');
    const health = (await page.locator('#article-health').textContent()) ?? '';
    expect(health).toContain('billing-faq');
    expect(health).toContain('60 days');
    expect(health).toContain('notifications');
    await expect(
      page.getByRole('link', { name: 'Create article from this suggestion' }).count(),
    ).resolves.toBe(0);
    await screenshot(page, 'gaps-page');
  });

  it('lets an admin create an article from a suggestion in one click, edit it and publish it', async () => {
    const page = await signedIn(env.keys.admin);
    await page.goto(`${env.baseUrl}/inbox/gaps`);
    const card = page.locator('[data-gap-status="gap"]', { hasText: 'web-dep-1' });
    await card.getByRole('link', { name: 'Create article from this suggestion' }).click();
    await page.waitForURL(/\/inbox\/gaps\/g-[0-9a-f]{12}\/article/);
    const body = await page.getByLabel('Article (Markdown)').inputValue();
    expect(body).toContain('Add dependency');
    expect(body).toMatch(/\[#web-dep-\d\]/);
    const documentId = await page.getByLabel('Document id').inputValue();
    expect(documentId).toMatch(/^[a-z0-9-]+$/);
    await page.getByLabel('Title').fill('Task dependencies');
    await screenshot(page, 'gaps-editor');
    await page.getByRole('button', { name: 'Publish article' }).click();
    await page.waitForURL(/\/inbox\/gaps\?days=30&published=/);
    await expect(page.locator('.alert-success').textContent()).resolves.toContain(documentId);
    const stored = await getDocument(env.stack.db, documentId);
    expect(stored).toMatchObject({ title: 'Task dependencies', source: 'kb' });
    expect(stored!.origin).toMatch(/^inbox:.*:gap-report$/);
    // The published article now covers those questions: one gap left.
    await expect(page.locator('#gap-count').textContent()).resolves.toBe('1');
    await screenshot(page, 'gaps-published');

    // Publishing again under an existing id is refused, and the text is kept.
    const other = page.locator('[data-gap-status="gap"]').first();
    await other.getByRole('link', { name: 'Create article from this suggestion' }).click();
    await page.getByLabel('Document id').fill(documentId);
    await page.getByRole('button', { name: 'Publish article' }).click();
    await expect(page.locator('.alert-error').textContent()).resolves.toContain('already exists');
    expect(await page.getByLabel('Document id').inputValue()).toBe(documentId);
  });
});
