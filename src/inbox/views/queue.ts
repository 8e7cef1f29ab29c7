import { ESCALATION_REASONS } from '../../domain/ticket';
import { AGE_FILTERS, type QueueFilters, type QueueItem } from '../data';
import { duration, humanize, reasonLabel, utcTime } from '../format';
import { html, type SafeHtml } from '../html';
import { layout, type Flash, type PageContext } from './layout';

export function urgencyChip(urgency: string | null): SafeHtml {
  if (!urgency) return html`<span class="chip chip-muted">unknown</span>`;
  return html`<span class="chip chip-urgency-${urgency}">${humanize(urgency)}</span>`;
}

export function slaCell(slaDueAt: string, now: Date): SafeHtml {
  const due = new Date(slaDueAt).getTime();
  const overdue = due < now.getTime();
  return html`<time
    class="sla ${overdue ? 'sla-overdue' : due - now.getTime() < 3_600_000 ? 'sla-soon' : ''}"
    datetime="${slaDueAt}"
    data-sla
    title="SLA due ${utcTime(slaDueAt)}"
    >${overdue ? `Overdue ${duration(now.getTime() - due)}` : `Due in ${duration(due - now.getTime())}`}</time
  >`;
}

function option(value: string, label: string, selected: string | undefined): SafeHtml {
  return html`<option value="${value}" ${selected === value ? html`selected` : ''}>${label}</option>`;
}

function queueRow(item: QueueItem, now: Date): SafeHtml {
  const href = `/inbox/tickets/${encodeURIComponent(item.ticketId)}`;
  return html`<tr
    data-ticket-id="${item.ticketId}"
    data-href="${href}"
    class="${item.overdue ? 'row-overdue' : ''}"
  >
    <td>${slaCell(item.slaDueAt, now)}</td>
    <td>${urgencyChip(item.urgency)}</td>
    <td class="cell-ticket">
      <a class="row-link" href="${href}">${item.subject || '(no subject)'}</a>
      <span class="snippet">${item.snippet}</span>
    </td>
    <td>
      ${item.intent
        ? html`<span class="tag">${humanize(item.intent)}</span>`
        : html`<span class="muted">—</span>`}
    </td>
    <td><span class="reason reason-${item.reason}">${reasonLabel(item.reason)}</span></td>
    <td class="cell-customer">
      ${item.customerName ?? item.customerEmail ?? html`<span class="muted">anonymous</span>`}
      ${item.customerName && item.customerEmail
        ? html`<span class="snippet">${item.customerEmail}</span>`
        : ''}
    </td>
    <td>
      <time datetime="${item.receivedAt}" data-age title="Received ${utcTime(item.receivedAt)}"
        >${duration(now.getTime() - new Date(item.receivedAt).getTime())}</time
      >
    </td>
  </tr>`;
}

export function queuePage(
  ctx: PageContext,
  options: {
    items: QueueItem[];
    filters: QueueFilters;
    intents: readonly string[];
    now: Date;
    flash?: Flash;
  },
): string {
  const { items, filters, now } = options;
  const filtered = Boolean(filters.intent || filters.reason || filters.age);
  const query = new URLSearchParams(
    Object.entries(filters).filter((entry): entry is [string, string] => typeof entry[1] === 'string'),
  ).toString();
  return layout(ctx, {
    title: 'Queue',
    active: 'queue',
    flash: options.flash,
    body: html`<header class="page-header">
        <div>
          <h1>Escalation queue</h1>
          <p class="page-sub">
            <strong id="queue-open-count" data-live-count>${ctx.openCount}</strong> open ·
            <strong id="queue-overdue-count" class="${ctx.overdueCount > 0 ? 'text-danger' : ''}"
              >${ctx.overdueCount}</strong
            >
            overdue
            ${filtered
              ? html` · <span id="queue-shown-count">${items.length}</span> match these filters`
              : ''}
            <span class="live-dot" title="Updates every few seconds" aria-hidden="true"></span>
          </p>
        </div>
      </header>
      <form
        class="filters"
        method="get"
        action="/inbox/queue"
        role="search"
        aria-label="Filter the queue"
        data-autosubmit
      >
        <div class="field">
          <label for="filter-intent">Intent</label>
          <select id="filter-intent" name="intent">
            ${option('', 'All intents', filters.intent ?? '')}
            ${options.intents.map((intent) => option(intent, humanize(intent), filters.intent))}
          </select>
        </div>
        <div class="field">
          <label for="filter-reason">Reason</label>
          <select id="filter-reason" name="reason">
            ${option('', 'All reasons', filters.reason ?? '')}
            ${ESCALATION_REASONS.map((reason) => option(reason, reasonLabel(reason), filters.reason))}
          </select>
        </div>
        <div class="field">
          <label for="filter-age">Waiting</label>
          <select id="filter-age" name="age">
            ${option('', 'Any time', filters.age ?? '')}
            ${Object.entries(AGE_FILTERS).map(([value, bucket]) => option(value, bucket.label, filters.age))}
          </select>
        </div>
        <div class="field field-actions">
          <button type="submit" class="button">Apply</button>
          ${filtered ? html`<a class="button button-ghost" href="/inbox/queue">Clear</a>` : ''}
        </div>
      </form>
      <div class="card card-flush">
        <table
          class="table queue-table"
          id="queue-table"
          data-poll-url="/inbox/api/queue${query ? `?${query}` : ''}"
        >
          <caption class="visually-hidden">
            Open escalations, most urgent SLA first
          </caption>
          <thead>
            <tr>
              <th scope="col">SLA</th>
              <th scope="col">Urgency</th>
              <th scope="col">Ticket</th>
              <th scope="col">Intent</th>
              <th scope="col">Reason</th>
              <th scope="col">Customer</th>
              <th scope="col">Waiting</th>
            </tr>
          </thead>
          <tbody id="queue-rows">
            ${items.map((item) => queueRow(item, now))}
          </tbody>
        </table>
        <div class="empty ${items.length > 0 ? 'hidden' : ''}" id="queue-empty">
          <svg width="40" height="40" viewBox="0 0 24 24" aria-hidden="true">
            <path
              d="M5 12l4 4 10-10"
              fill="none"
              stroke="#059669"
              stroke-width="2.2"
              stroke-linecap="round"
              stroke-linejoin="round"
            />
          </svg>
          <p><strong>${filtered ? 'Nothing matches these filters.' : 'Inbox zero.'}</strong></p>
          <p class="muted">
            ${filtered
              ? 'Clear the filters to see the whole queue.'
              : 'Every escalated ticket has an answer. New ones appear here on their own.'}
          </p>
        </div>
      </div>
      <p class="muted small">
        Sorted by SLA due time, then urgency. <kbd>j</kbd> / <kbd>k</kbd> move through the list,
        <kbd>Enter</kbd> opens a ticket.
      </p>`,
  });
}
