import { html } from '../html';
import { bareLayout, layout, type PageContext } from './layout';

export function errorPage(
  ctx: PageContext | undefined,
  options: { status: number; title: string; message: string; requestId?: string },
): string {
  const body = html`<div class="error-page">
    <p class="error-code">${options.status}</p>
    <h1>${options.title}</h1>
    <p>${options.message}</p>
    ${options.requestId ? html`<p class="muted small">Request id <code>${options.requestId}</code></p>` : ''}
    <p><a class="button" href="/inbox/queue">Back to the queue</a></p>
  </div>`;
  return ctx
    ? layout(ctx, { title: options.title, active: 'error', body })
    : bareLayout({ title: options.title, active: 'error', body });
}
