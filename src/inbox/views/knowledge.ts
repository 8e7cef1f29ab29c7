import type { Passage } from '../../domain/ticket';
import type { LearnedResolution } from '../data';
import { humanize, utcTime } from '../format';
import { html } from '../html';
import { layout, type PageContext } from './layout';

export interface KnowledgePageOptions {
  query: string;
  source?: 'kb' | 'resolution';
  intent?: string;
  intents: readonly string[];
  results?: Passage[];
  searchError?: string;
  kbAvailable: boolean;
  learned: LearnedResolution[];
  totals: { kb: number; resolution: number };
  minScore: number;
}

export function knowledgePage(ctx: PageContext, options: KnowledgePageOptions): string {
  const { results } = options;
  return layout(ctx, {
    title: 'Knowledge',
    active: 'knowledge',
    body: html`<header class="page-header">
        <div>
          <h1>Knowledge base</h1>
          <p class="page-sub">
            <strong>${options.totals.kb}</strong> curated articles ·
            <strong>${options.totals.resolution}</strong> learned from resolutions
          </p>
        </div>
      </header>
      <section class="card" aria-labelledby="search-title">
        <h2 id="search-title">Search</h2>
        <p class="muted small">The same semantic search the AI uses to ground its answers.</p>
        <form method="get" action="/inbox/knowledge" role="search" class="search-form">
          <div class="field field-grow">
            <label for="kb-query">Question or keywords</label>
            <input
              id="kb-query"
              name="q"
              type="search"
              value="${options.query}"
              maxlength="2000"
              placeholder="e.g. how do refunds work for annual plans"
            />
          </div>
          <div class="field">
            <label for="kb-source">Source</label>
            <select id="kb-source" name="source">
              <option value="" ${!options.source ? html`selected` : ''}>Everything</option>
              <option value="kb" ${options.source === 'kb' ? html`selected` : ''}>Curated articles</option>
              <option value="resolution" ${options.source === 'resolution' ? html`selected` : ''}>
                Past resolutions
              </option>
            </select>
          </div>
          <div class="field">
            <label for="kb-intent">Intent</label>
            <select id="kb-intent" name="intent">
              <option value="">Any intent</option>
              ${options.intents.map(
                (intent) =>
                  html`<option value="${intent}" ${options.intent === intent ? html`selected` : ''}>
                    ${humanize(intent)}
                  </option>`,
              )}
            </select>
          </div>
          <div class="field field-actions">
            <button type="submit" class="button button-primary">Search</button>
          </div>
        </form>
        ${!options.kbAvailable
          ? html`<div class="alert alert-warning" role="alert">
              The knowledge base is not configured on this server, so search is unavailable.
            </div>`
          : ''}
        ${options.searchError
          ? html`<div class="alert alert-error" role="alert">${options.searchError}</div>`
          : ''}
        ${results
          ? results.length === 0
            ? html`<p class="muted" id="kb-results-empty">No passages found for “${options.query}”.</p>`
            : html`<ol class="passages" id="kb-results" aria-label="Search results">
                ${results.map(
                  (p) =>
                    html`<li class="passage ${p.score < options.minScore ? 'passage-weak' : ''}">
                      <div class="passage-head">
                        <span class="score" title="Cosine similarity to the query">
                          <meter
                            min="0"
                            max="1"
                            low="${options.minScore}"
                            high="0.75"
                            optimum="1"
                            value="${p.score.toFixed(3)}"
                          >
                            ${p.score.toFixed(2)}
                          </meter>
                          <span class="score-value">${p.score.toFixed(2)}</span>
                        </span>
                        <strong class="passage-title">${p.title}</strong>
                        <span class="tag ${p.source === 'resolution' ? 'tag-green' : ''}"
                          >${p.source === 'resolution' ? 'Past resolution' : 'KB article'}</span
                        >
                        ${p.intents.map(
                          (intent) => html`<span class="tag tag-muted">${humanize(intent)}</span>`,
                        )}
                      </div>
                      ${p.headingPath.length > 0
                        ? html`<div class="muted small passage-path">${p.headingPath.join(' › ')}</div>`
                        : ''}
                      <p class="passage-text">${p.text}</p>
                      <div class="muted small">Document <code>${p.documentId}</code></div>
                    </li>`,
                )}
              </ol>`
          : ''}
      </section>
      <section class="card card-flush" aria-labelledby="learned-title">
        <div class="card-head">
          <h2 id="learned-title">Learned this week</h2>
          <p class="muted small">
            Answers agents sent in the last 7 days that were added to the knowledge base.
          </p>
        </div>
        ${options.learned.length === 0
          ? html`<p class="empty-inline muted">
              No resolutions were added to the knowledge base in the last 7 days.
            </p>`
          : html`<table class="table" id="learned-table">
              <thead>
                <tr>
                  <th scope="col">Document</th>
                  <th scope="col">Intent</th>
                  <th scope="col">From ticket</th>
                  <th scope="col">Agent</th>
                  <th scope="col">Added</th>
                </tr>
              </thead>
              <tbody>
                ${options.learned.map(
                  (doc) =>
                    html`<tr>
                      <td>
                        <strong>${doc.title}</strong
                        ><span class="snippet"
                          ><code>${doc.documentId}</code> · ${doc.chunks}
                          chunk${doc.chunks === 1 ? '' : 's'}</span
                        >
                      </td>
                      <td>
                        ${doc.intents.length
                          ? doc.intents.map((i) => html`<span class="tag">${humanize(i)}</span> `)
                          : html`<span class="muted">—</span>`}
                      </td>
                      <td>
                        ${doc.ticketId
                          ? html`<a href="/inbox/tickets/${encodeURIComponent(doc.ticketId)}"
                              >#${doc.ticketId}</a
                            >`
                          : html`<span class="muted">—</span>`}
                      </td>
                      <td>${doc.agentId ?? '—'}</td>
                      <td><time datetime="${doc.createdAt}" data-local>${utcTime(doc.createdAt)}</time></td>
                    </tr>`,
                )}
              </tbody>
            </table>`}
      </section>`,
  });
}
