import { html } from '../html';
import { bareLayout, LOGO } from './layout';

export function loginPage(options: {
  formToken: string;
  error?: string;
  notice?: string;
  next?: string;
}): string {
  return bareLayout({
    title: 'Sign in',
    active: 'login',
    body: html`<div class="login">
      <div class="login-card">
        <div class="login-brand">
          ${LOGO}<span>ticketflow <small>inbox</small></span>
        </div>
        <h1>Sign in to the support inbox</h1>
        <p class="muted">
          Use your agent or admin API key. It is checked once and never stored in the browser.
        </p>
        ${options.error
          ? html`<div class="alert alert-error" role="alert" id="login-error">${options.error}</div>`
          : ''}
        ${options.notice ? html`<div class="alert alert-info" role="status">${options.notice}</div>` : ''}
        <form method="post" action="/inbox/login" class="stack">
          <input type="hidden" name="_csrf" value="${options.formToken}" />
          ${options.next ? html`<input type="hidden" name="next" value="${options.next}" />` : ''}
          <label for="api-key">API key</label>
          <input
            id="api-key"
            name="apiKey"
            type="password"
            autocomplete="off"
            spellcheck="false"
            required
            autofocus
            placeholder="tf_…"
            ${options.error ? html`aria-invalid="true" aria-describedby="login-error"` : ''}
          />
          <button type="submit" class="button button-primary button-block">Sign in</button>
        </form>
        <p class="login-foot muted">No key? Ask an admin to create one with the <code>agent</code> role.</p>
      </div>
    </div>`,
  });
}
