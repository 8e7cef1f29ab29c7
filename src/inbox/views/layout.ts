import type { ApiPrincipal } from '../../auth/api-keys';
import { html, type HtmlValue, type SafeHtml } from '../html';

export type InboxPage = 'queue' | 'ticket' | 'knowledge' | 'gaps' | 'metrics' | 'error' | 'login';

export interface PageContext {
  principal: ApiPrincipal;
  csrfToken: string;
  openCount: number;
  overdueCount: number;
}

export interface Flash {
  kind: 'success' | 'error' | 'info';
  text: HtmlValue;
}

// Bump when anything under public/ changes, so browsers holding a cached copy fetch the new one.
export const ASSET_VERSION = '4';

function head(title: string, csrfToken?: string): SafeHtml {
  return html`<head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <meta name="referrer" content="same-origin" />
    ${csrfToken ? html`<meta name="csrf-token" content="${csrfToken}" />` : ''}
    <title>${title} · ticketflow inbox</title>
    <link rel="stylesheet" href="/inbox/static/inbox.css?v=${ASSET_VERSION}" />
    <link rel="icon" href="/inbox/static/favicon.svg" type="image/svg+xml" />
    <script src="/inbox/static/inbox.js?v=${ASSET_VERSION}" defer></script>
  </head>`;
}

export const LOGO = html`<svg class="logo" width="28" height="28" viewBox="0 0 32 32" aria-hidden="true">
  <rect width="32" height="32" rx="8" fill="#2563eb" />
  <path d="M8 11h16M8 16h11M8 21h7" stroke="#fff" stroke-width="2.6" stroke-linecap="round" />
  <circle cx="23" cy="21" r="3.2" fill="#34d399" />
</svg>`;

const NAV: Array<{ page: InboxPage; href: string; label: string; key: string }> = [
  { page: 'queue', href: '/inbox/queue', label: 'Queue', key: 'g q' },
  { page: 'knowledge', href: '/inbox/knowledge', label: 'Knowledge', key: 'g k' },
  { page: 'gaps', href: '/inbox/gaps', label: 'Knowledge gaps', key: '' },
  { page: 'metrics', href: '/inbox/metrics', label: 'Metrics', key: 'g m' },
];

const NAV_ICONS: Record<string, SafeHtml> = {
  queue: html`<svg width="18" height="18" viewBox="0 0 24 24" aria-hidden="true">
    <path
      d="M4 5h16v10h-4l-2 3h-4l-2-3H4z"
      fill="none"
      stroke="currentColor"
      stroke-width="1.8"
      stroke-linejoin="round"
    />
  </svg>`,
  knowledge: html`<svg width="18" height="18" viewBox="0 0 24 24" aria-hidden="true">
    <path
      d="M5 4h9l5 5v11H5z M14 4v5h5"
      fill="none"
      stroke="currentColor"
      stroke-width="1.8"
      stroke-linejoin="round"
    />
  </svg>`,
  gaps: html`<svg width="18" height="18" viewBox="0 0 24 24" aria-hidden="true">
    <path
      d="M5 4h9l5 5v11H5z M12 11v4 M12 17.5v.5"
      fill="none"
      stroke="currentColor"
      stroke-width="1.8"
      stroke-linecap="round"
    />
  </svg>`,
  metrics: html`<svg width="18" height="18" viewBox="0 0 24 24" aria-hidden="true">
    <path
      d="M4 20V10M10 20V4M16 20v-7M21 20H3"
      fill="none"
      stroke="currentColor"
      stroke-width="1.8"
      stroke-linecap="round"
    />
  </svg>`,
};

export function flashBanner(flash: Flash | undefined): SafeHtml | '' {
  if (!flash) return '';
  return html`<div class="alert alert-${flash.kind}" role="${flash.kind === 'error' ? 'alert' : 'status'}">
    ${flash.text}
  </div>`;
}

/** The frame of every signed-in page: sidebar with live queue count, account, and the page's content. */
export function layout(
  ctx: PageContext,
  page: { title: string; active: InboxPage; body: SafeHtml; flash?: Flash },
): string {
  const active = page.active === 'ticket' ? 'queue' : page.active;
  return `<!doctype html>${html`<html lang="en">
    ${head(page.title, ctx.csrfToken)}
    <body data-page="${page.active}">
      <a class="skip-link" href="#main">Skip to content</a>
      <div class="shell">
        <aside class="sidebar">
          <a class="brand" href="/inbox/queue"
            >${LOGO}<span>ticketflow <small>inbox</small></span></a
          >
          <nav aria-label="Main">
            <ul>
              ${NAV.map(
                (item) =>
                  html`<li>
                    <a
                      href="${item.href}"
                      ${item.page === active ? html`aria-current="page"` : ''}
                      title="${item.key ? `${item.label} (${item.key})` : item.label}"
                    >
                      ${NAV_ICONS[item.page]}<span class="nav-label">${item.label}</span>
                      ${item.page === 'queue'
                        ? html`<span
                            class="badge ${ctx.overdueCount > 0 ? 'badge-danger' : ''}"
                            id="nav-open-count"
                            data-live-count
                            aria-label="${ctx.openCount} open escalations"
                            >${ctx.openCount}</span
                          >`
                        : ''}
                    </a>
                  </li>`,
              )}
            </ul>
          </nav>
          <div class="account">
            <div class="account-name" title="Signed in with key ${ctx.principal.keyId}">
              <span class="avatar" aria-hidden="true">${ctx.principal.name.slice(0, 1).toUpperCase()}</span>
              <span><strong>${ctx.principal.name}</strong><small>${ctx.principal.role}</small></span>
            </div>
            <form method="post" action="/inbox/logout">
              <input type="hidden" name="_csrf" value="${ctx.csrfToken}" />
              <button type="submit" class="button button-ghost button-small">Sign out</button>
            </form>
            <p class="shortcut-hint">Press <kbd>?</kbd> for shortcuts</p>
          </div>
        </aside>
        <main id="main" tabindex="-1">${flashBanner(page.flash)} ${page.body}</main>
      </div>
      <div class="visually-hidden" aria-live="polite" id="live-announcer"></div>
      <dialog id="shortcuts" aria-labelledby="shortcuts-title">
        <h2 id="shortcuts-title">Keyboard shortcuts</h2>
        <dl class="shortcuts">
          <dt><kbd>g</kbd> <kbd>q</kbd></dt>
          <dd>Go to the queue</dd>
          <dt><kbd>g</kbd> <kbd>k</kbd></dt>
          <dd>Go to knowledge</dd>
          <dt><kbd>g</kbd> <kbd>m</kbd></dt>
          <dd>Go to metrics</dd>
          <dt><kbd>j</kbd> / <kbd>k</kbd></dt>
          <dd>Next / previous ticket in the queue</dd>
          <dt><kbd>Enter</kbd></dt>
          <dd>Open the selected ticket</dd>
          <dt><kbd>/</kbd></dt>
          <dd>Focus the filters or search</dd>
          <dt><kbd>Ctrl</kbd> + <kbd>Enter</kbd></dt>
          <dd>Send the answer (in the editor)</dd>
        </dl>
        <form method="dialog"><button class="button">Close</button></form>
      </dialog>
    </body>
  </html>`}`;
}

/** Pages without the signed-in frame (sign-in, errors before a session exists). */
export function bareLayout(page: { title: string; active: InboxPage; body: SafeHtml }): string {
  return `<!doctype html>${html`<html lang="en">
    ${head(page.title)}
    <body data-page="${page.active}" class="bare">
      <main id="main">${page.body}</main>
    </body>
  </html>`}`;
}
