import type { GapCluster, GapReport } from '../../kb/gaps';
import { humanize, utcTime } from '../format';
import { html, type SafeHtml } from '../html';
import { layout, type Flash, type PageContext } from './layout';

/** The inbox's "Knowledge gaps" page and the editor that publishes an article from a suggestion. */

export interface GapsPageOptions {
  report?: GapReport;
  /** Why the report could not be built (e.g. the knowledge base is down). */
  error?: string;
  /** The signed-in key may publish articles (kb:write). */
  canPublish: boolean;
  days: number;
  flash?: Flash;
}

const AGREEMENT: Record<GapCluster['humanAnswers']['agreement'], string> = {
  none: 'no human answer yet',
  single: 'one human answer',
  consistent: 'the answers agree',
  mixed: 'the answers differ',
  conflicting: 'the answers give different figures',
};

function score(value: number): SafeHtml {
  return html`<span class="score" title="Mean similarity of these questions to the article"
    ><span class="score-value">${value.toFixed(2)}</span></span
  >`;
}

function clusterCard(cluster: GapCluster, options: GapsPageOptions): SafeHtml {
  const s = cluster.suggestion;
  const answers = cluster.humanAnswers;
  return html`<article class="card gap-card" id="gap-${cluster.id}" data-gap-status="${cluster.status}">
    <header class="gap-head">
      <h3>${s ? s.title : (cluster.examples[0]?.text ?? cluster.id)}</h3>
      <span class="tag ${cluster.status === 'gap' ? 'tag-warning' : 'tag-green'}"
        >${cluster.status === 'gap' ? 'Gap' : 'Covered'}</span
      >
    </header>
    <dl class="props">
      <dt>Escalations</dt>
      <dd>
        <strong class="gap-size">${cluster.size}</strong>
        <span class="muted small">from ${utcTime(cluster.firstSeen)} to ${utcTime(cluster.lastSeen)}</span>
      </dd>
      <dt>Why escalated</dt>
      <dd>
        ${Object.entries(cluster.escalationReasons).map(
          ([r, n]) => html`<span class="tag">${humanize(r)} ×${n}</span> `,
        )}
      </dd>
      <dt>Nearest article</dt>
      <dd>
        ${cluster.nearestArticle
          ? html`<code>${cluster.nearestArticle.documentId}</code> ${cluster.nearestArticle.title}
              ${score(cluster.nearestArticle.score)}`
          : html`<span class="muted">none</span>`}
      </dd>
      <dt>Human answers</dt>
      <dd>
        ${answers.resolved} of ${cluster.size} resolved · ${AGREEMENT[answers.agreement]}
        ${answers.similarity !== null
          ? html`<span class="muted small">(similarity ${answers.similarity.toFixed(2)})</span>`
          : ''}
        ${answers.conflictingFigures.length > 0
          ? html`<div class="hint warning">${answers.conflictingFigures.join('; ')}</div>`
          : ''}
      </dd>
    </dl>
    <details ${s ? '' : html`open`}>
      <summary>Example questions (personal data removed)</summary>
      <ul class="gap-examples">
        ${cluster.examples.map(
          (e) =>
            html`<li>
              <a href="/inbox/tickets/${encodeURIComponent(e.ticketId)}">#${e.ticketId}</a> ${e.text}
            </li>`,
        )}
      </ul>
    </details>
    ${s
      ? html`<section class="gap-suggestion" aria-label="Suggested article">
          <h4>Suggested article</h4>
          <p class="muted small">
            Questions it must answer: ${s.questions.length} · draft
            ${s.draft.source === 'model'
              ? html`written by ${s.draft.model}`
              : 'assembled from the human answers'}
            ${s.draft.citations.length > 0
              ? html`· cites
                ${s.draft.citations.map(
                  (c) => html`<a href="/inbox/tickets/${encodeURIComponent(c.ticketId)}">#${c.ticketId}</a> `,
                )}`
              : html`· <strong>no human answer to cite yet</strong>`}
          </p>
          ${s.draft.note ? html`<p class="hint warning">${s.draft.note}</p>` : ''}
          <ul class="gap-questions">
            ${s.questions.map((q) => html`<li>${q}</li>`)}
          </ul>
          ${options.canPublish
            ? html`<a
                class="button button-primary create-article"
                href="/inbox/gaps/${cluster.id}/article?days=${options.days}"
                >Create article from this suggestion</a
              >`
            : html`<p class="muted small">Publishing articles needs an admin key.</p>`}
        </section>`
      : html`<p class="muted small">
          An article already covers these questions: no new article suggested. If they keep escalating, check
          the article against the human answers.
        </p>`}
  </article>`;
}

function healthSection(report: GapReport): SafeHtml {
  const h = report.health;
  const list = (items: SafeHtml[]) =>
    items.length === 0
      ? html`<p class="muted small">None.</p>`
      : html`<ul>
          ${items.map((i) => html`<li>${i}</li>`)}
        </ul>`;
  return html`<section class="card" aria-labelledby="health-title" id="article-health">
    <h2 id="health-title">Article health</h2>
    <h3>Retrieved often, rarely used in answers</h3>
    ${list(
      h.retrievedButUnused.map(
        (a) =>
          html`<code>${a.documentId}</code> ${a.title}: cited by ${a.cited} of ${a.retrieved} tickets that
            retrieved it`,
      ),
    )}
    <h3>Answers followed by an escalation</h3>
    ${list(
      h.followedByEscalation.map(
        (a) =>
          html`<code>${a.documentId}</code> ${a.title}: ${a.followed} of ${a.answers} answers
            (${a.ticketIds.map((t) => html`#${t} `)})`,
      ),
    )}
    <h3>Answers the customer said did not help</h3>
    ${list(
      h.negativeFeedback.map(
        (a) =>
          html`<code>${a.documentId}</code> ${a.title}: unhappy after ${a.unhappy} of ${a.cited} answers
            citing it`,
      ),
    )}
    <h3>Drafts a human rewrote</h3>
    ${list(
      h.humanCorrections.map(
        (a) =>
          html`<code>${a.documentId}</code> ${a.title}: ${a.corrected} of ${a.escalations} escalations
            (${a.ticketIds.map((t) => html`#${t} `)})`,
      ),
    )}
    <h3>Near-duplicates</h3>
    ${list(
      h.nearDuplicates.map(
        (d) =>
          html`<code>${d.a.documentId}</code> and <code>${d.b.documentId}</code> (${d.similarity.toFixed(2)})`,
      ),
    )}
    <h3>Different figures for the same thing</h3>
    ${list(
      h.contradictions.map(
        (c) =>
          html`<div class="contradiction">
            <div><code>${c.a.documentId}</code>: “${c.a.sentence}”</div>
            <div><code>${c.b.documentId}</code>: “${c.b.sentence}”</div>
          </div>`,
      ),
    )}
  </section>`;
}

export function gapsPage(ctx: PageContext, options: GapsPageOptions): string {
  const { report } = options;
  const gaps = report?.clusters.filter((c) => c.status === 'gap') ?? [];
  const covered = report?.clusters.filter((c) => c.status === 'covered') ?? [];
  return layout(ctx, {
    title: 'Knowledge gaps',
    active: 'gaps',
    flash: options.flash,
    body: html`<header class="page-header">
        <div>
          <h1>Knowledge gaps</h1>
          <p class="page-sub">
            ${report
              ? html`<strong id="gap-count">${gaps.length}</strong> topics no article covers ·
                  ${report.escalations.considered} escalations in the last ${report.window.days} days,
                  ${report.escalations.clustered} in groups`
              : ''}
          </p>
        </div>
        <form method="get" action="/inbox/gaps" class="search-form">
          <div class="field">
            <label for="gap-days">Window</label>
            <select id="gap-days" name="days">
              ${[7, 30, 90].map(
                (d) =>
                  html`<option value="${d}" ${d === options.days ? html`selected` : ''}>
                    Last ${d} days
                  </option>`,
              )}
            </select>
          </div>
          <button type="submit" class="button">Show</button>
        </form>
      </header>
      ${options.error ? html`<div class="alert alert-error" role="alert">${options.error}</div>` : ''}
      ${report
        ? html`<section aria-labelledby="gaps-title">
              <h2 id="gaps-title">Questions no article answers</h2>
              ${gaps.length === 0
                ? html`<p class="muted">No group of escalations lacks an article in this window.</p>`
                : gaps.map((c) => clusterCard(c, options))}
            </section>
            ${covered.length > 0
              ? html`<section aria-labelledby="covered-title">
                  <h2 id="covered-title">Escalated although an article covers them</h2>
                  ${covered.map((c) => clusterCard(c, options))}
                </section>`
              : ''}
            ${healthSection(report)}`
        : ''}`,
  });
}

export interface ArticleEditorOptions {
  clusterId: string;
  days: number;
  documentId: string;
  title: string;
  intents: string;
  body: string;
  questions: string[];
  error?: string;
}

export function articleEditorPage(ctx: PageContext, options: ArticleEditorOptions): string {
  return layout(ctx, {
    title: 'New article',
    active: 'gaps',
    flash: options.error ? { kind: 'error', text: options.error } : undefined,
    body: html`<header class="page-header">
        <div>
          <h1>New article from a suggestion</h1>
          <p class="page-sub">
            <a href="/inbox/gaps?days=${options.days}#gap-${options.clusterId}">Back to knowledge gaps</a>
          </p>
        </div>
      </header>
      <section class="card" aria-labelledby="editor-title">
        <h2 id="editor-title">Edit, then publish</h2>
        <p class="muted small">
          Publishing adds the article to the knowledge base (the same as
          <code>PUT /v1/kb/documents/{id}</code>): the AI grounds its answers on it from then on. Remove the
          ticket citations if you do not want them in the article.
        </p>
        <form method="post" action="/inbox/gaps/${options.clusterId}/article" class="stack" id="article-form">
          <input type="hidden" name="_csrf" value="${ctx.csrfToken}" />
          <input type="hidden" name="days" value="${options.days}" />
          <div class="field">
            <label for="article-id">Document id</label>
            <input id="article-id" name="documentId" value="${options.documentId}" maxlength="200" required />
          </div>
          <div class="field">
            <label for="article-title">Title</label>
            <input id="article-title" name="title" value="${options.title}" maxlength="300" required />
          </div>
          <div class="field">
            <label for="article-intents">Intents (comma-separated)</label>
            <input id="article-intents" name="intents" value="${options.intents}" maxlength="400" />
          </div>
          <div class="field">
            <label for="article-body">Article (Markdown)</label>
            <textarea id="article-body" name="body" rows="22" required>${options.body}</textarea>
          </div>
          <div class="form-actions">
            <button type="submit" class="button button-primary" id="publish-article">Publish article</button>
          </div>
        </form>
      </section>`,
  });
}
