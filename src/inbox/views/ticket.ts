import type { TicketDetail } from '../../tickets';
import type { Config } from '../../config';
import type { TicketExtras } from '../data';
import { humanize, latency, percent, reasonSentence, usd, utcTime } from '../format';
import { html, type SafeHtml } from '../html';
import { layout, type Flash, type PageContext } from './layout';
import { slaCell, urgencyChip } from './queue';

export interface TicketPageOptions {
  detail: TicketDetail;
  extras: TicketExtras;
  config: Pick<
    Config,
    'CONFIDENCE_THRESHOLD' | 'MIN_RETRIEVAL_SCORE' | 'TEMPORAL_UI_URL' | 'TEMPORAL_NAMESPACE'
  >;
  now: Date;
  flash?: Flash;
  /** What the agent typed, kept when a send was refused so nothing is lost. */
  answerText?: string;
  addToKnowledgeBase?: boolean;
}

export function temporalRunUrl(
  config: Pick<Config, 'TEMPORAL_UI_URL' | 'TEMPORAL_NAMESPACE'>,
  workflowId: string,
): string {
  const base = config.TEMPORAL_UI_URL.replace(/\/+$/, '');
  return `${base}/namespaces/${encodeURIComponent(config.TEMPORAL_NAMESPACE)}/workflows/${encodeURIComponent(workflowId)}`;
}

const MILESTONES: Record<string, { title: string; step?: string }> = {
  received: { title: 'Ticket received' },
  classified: { title: 'Classified', step: 'classify' },
  retrieved: { title: 'Knowledge base searched', step: 'retrieve' },
  generated: { title: 'Answer attempted', step: 'generate' },
  escalated: { title: 'Escalated to a human' },
  replied: { title: 'Reply delivered to the customer' },
  resolved: { title: 'Resolved' },
};

interface TimelineEntry {
  at: string;
  title: string;
  detail?: string;
  /** For the pending entry: when the SLA runs out. */
  dueAt?: string;
  state: 'ok' | 'failed' | 'pending';
}

type Step = TicketDetail['timings']['steps'][number];

function stepDetail(step: Step): string {
  const parts = [
    step.status === 'ok' ? 'ok' : step.status,
    `${step.attempts} attempt${step.attempts === 1 ? '' : 's'}`,
    step.latencyMs !== null ? latency(step.latencyMs) : undefined,
    step.model ?? undefined,
  ];
  return parts.filter(Boolean).join(' · ');
}

/** Workflow milestones (status query or Postgres) merged with the recorded activity steps, oldest first. */
export function buildTimeline(detail: TicketDetail): TimelineEntry[] {
  const entries: TimelineEntry[] = [];
  const usedSteps = new Set<string>();
  for (const [name, at] of Object.entries(detail.timings.milestones)) {
    const known = MILESTONES[name];
    const step = known?.step ? detail.timings.steps.find((s) => s.step === known.step) : undefined;
    if (step) usedSteps.add(step.step);
    entries.push({
      at,
      title: known?.title ?? humanize(name),
      detail: step ? stepDetail(step) : undefined,
      state: step && step.status !== 'ok' ? 'failed' : 'ok',
    });
  }
  for (const step of detail.timings.steps) {
    if (usedSteps.has(step.step)) continue;
    const milestone = Object.values(MILESTONES).find((m) => m.step === step.step);
    entries.push({
      at: step.finishedAt ?? step.startedAt,
      title: milestone ? `${milestone.title}${step.status === 'ok' ? '' : ' (failed)'}` : humanize(step.step),
      detail: stepDetail(step),
      state: step.status === 'ok' ? 'ok' : step.status === 'running' ? 'pending' : 'failed',
    });
  }
  entries.sort((a, b) => a.at.localeCompare(b.at));
  if (detail.awaitingHuman) {
    entries.push({
      at: detail.escalation?.slaDueAt ?? new Date().toISOString(),
      title: 'Waiting for a human answer',
      dueAt: detail.escalation?.slaDueAt,
      state: 'pending',
    });
  }
  return entries;
}

function timeline(detail: TicketDetail): SafeHtml {
  const entries = buildTimeline(detail);
  if (entries.length === 0) return html`<p class="muted">No steps recorded yet.</p>`;
  return html`<ol class="timeline" id="timeline">
    ${entries.map(
      (entry) =>
        html`<li class="timeline-${entry.state}">
          <span class="timeline-dot" aria-hidden="true"></span>
          <div>
            <strong>${entry.title}</strong>
            ${entry.state === 'pending'
              ? ''
              : html`<time class="muted small" datetime="${entry.at}" data-local>${utcTime(entry.at)}</time>`}
            ${entry.detail ? html`<div class="muted small">${entry.detail}</div>` : ''}
            ${entry.dueAt
              ? html`<div class="muted small">
                  SLA due <time datetime="${entry.dueAt}" data-local>${utcTime(entry.dueAt)}</time>
                </div>`
              : ''}
          </div>
        </li>`,
    )}
  </ol>`;
}

function passages(extras: TicketExtras, minScore: number): SafeHtml {
  if (extras.passages.length === 0) {
    return html`<p class="muted">Retrieval found no passages for this ticket.</p>`;
  }
  return html`<ol class="passages">
    ${extras.passages.map(
      (p) =>
        html`<li class="passage ${p.score < minScore ? 'passage-weak' : ''}">
          <div class="passage-head">
            <span class="score" title="Cosine similarity to the ticket">
              <meter min="0" max="1" low="${minScore}" high="0.75" optimum="1" value="${p.score.toFixed(3)}">
                ${p.score.toFixed(2)}
              </meter>
              <span class="score-value">${p.score.toFixed(2)}</span>
            </span>
            <strong class="passage-title">${p.title}</strong>
            <span class="tag ${p.source === 'resolution' ? 'tag-green' : ''}"
              >${p.source === 'resolution' ? 'Past resolution' : 'KB article'}</span
            >
            ${p.score < minScore ? html`<span class="tag tag-muted">below ${minScore.toFixed(2)}</span>` : ''}
          </div>
          ${p.headingPath.length > 0
            ? html`<div class="muted small passage-path">${p.headingPath.join(' › ')}</div>`
            : ''}
          <p class="passage-text">${p.text}</p>
          <div class="muted small">Document <code>${p.documentId}</code></div>
        </li>`,
    )}
  </ol>`;
}

function classificationCard(detail: TicketDetail): SafeHtml {
  const c = detail.classification;
  if (!c) return html`<p class="muted">The classifier did not run (or failed) for this ticket.</p>`;
  return html`<dl class="props">
    <dt>Intent</dt>
    <dd><span class="tag">${humanize(c.intent)}</span></dd>
    <dt>Urgency</dt>
    <dd>${urgencyChip(c.urgency)}</dd>
    <dt>Sentiment</dt>
    <dd>
      <span class="sentiment sentiment-${c.sentiment ?? 'unknown'}"
        >${c.sentiment ? humanize(c.sentiment) : '—'}</span
      >
    </dd>
    <dt>Confidence</dt>
    <dd>
      <meter min="0" max="1" value="${c.confidence.toFixed(3)}" low="0.5" high="0.8" optimum="1">
        ${percent(c.confidence)}
      </meter>
      <span id="confidence-value">${percent(c.confidence)}</span>
    </dd>
    ${c.language
      ? html`<dt>Language</dt>
          <dd>${c.language}</dd>`
      : ''}
    ${c.summary
      ? html`<dt>Summary</dt>
          <dd>${c.summary}</dd>`
      : ''}
  </dl>`;
}

function resolveForm(options: TicketPageOptions, ctx: PageContext): SafeHtml {
  const { detail, extras } = options;
  const aiDraft =
    detail.escalation?.draft ??
    extras.escalationDraft ??
    (extras.draft?.kind === 'answer' ? extras.draft.reply : null);
  const text = options.answerText ?? aiDraft ?? '';
  const fromDraft = options.answerText === undefined && Boolean(aiDraft);
  const addToKb = options.addToKnowledgeBase ?? true;
  return html`<section class="card" aria-labelledby="answer-title">
    <h2 id="answer-title">Your answer</h2>
    <form
      method="post"
      action="/inbox/tickets/${encodeURIComponent(detail.ticketId)}/resolve"
      id="resolve-form"
      class="stack"
    >
      <input type="hidden" name="_csrf" value="${ctx.csrfToken}" />
      <label for="answer">Reply to the customer</label>
      ${fromDraft && detail.escalation?.draftWithheld
        ? html`<p class="hint warning" id="answer-hint">
            Pre-filled with an AI draft that was <strong>not sent</strong> to the customer:
            ${detail.escalation.draftWithheld}. Correct it against the passages before you send.
          </p>`
        : fromDraft
          ? html`<p class="hint" id="answer-hint">
              Pre-filled with the AI's draft. Check it before you send.
            </p>`
          : html`<p class="hint" id="answer-hint">
              ${extras.draft?.kind === 'cannot_answer'
                ? 'The AI wrote no draft for this ticket.'
                : 'Write the reply the customer will receive.'}
            </p>`}
      <textarea id="answer" name="answer" rows="10" required maxlength="20000" aria-describedby="answer-hint">
${text}</textarea
      >
      <div class="form-row">
        <label class="checkbox">
          <input
            type="checkbox"
            name="addToKnowledgeBase"
            value="on"
            id="add-to-kb"
            ${addToKb ? html`checked` : ''}
          />
          Add to knowledge base
          <span class="muted small">so the AI can answer similar tickets next time</span>
        </label>
        <div class="form-actions">
          <span class="muted small"><kbd>Ctrl</kbd> + <kbd>Enter</kbd></span>
          <button type="submit" class="button button-primary" id="send-answer">Send answer</button>
        </div>
      </div>
    </form>
  </section>`;
}

/** An open escalation shows the answer form; after a reopen the earlier answer is in the conversation below. */
function outcomeCardOrForm(open: boolean, options: TicketPageOptions, ctx: PageContext): SafeHtml {
  return open ? resolveForm(options, ctx) : outcomeCard(options.detail);
}

function outcomeCard(detail: TicketDetail): SafeHtml {
  if (detail.resolution) {
    const r = detail.resolution;
    const kb = !r.addToKnowledgeBase
      ? 'Not added to the knowledge base.'
      : r.kbOutcome === 'indexed'
        ? `Added to the knowledge base as ${r.kbDocumentId ?? 'a new document'}.`
        : r.kbOutcome?.startsWith('duplicate_of:')
          ? `Not added: the knowledge base already holds the same answer (${r.kbOutcome.slice('duplicate_of:'.length)}).`
          : 'Being added to the knowledge base…';
    return html`<section class="card card-success" aria-labelledby="outcome-title" id="resolution">
      <h2 id="outcome-title">Resolved by ${r.agentId}</h2>
      <p class="muted small">
        Sent <time datetime="${r.createdAt}" data-local>${utcTime(r.createdAt)}</time> · ${kb}
      </p>
      <div class="message-body">${r.answer}</div>
    </section>`;
  }
  if (detail.reply) {
    return html`<section class="card card-success" aria-labelledby="outcome-title">
      <h2 id="outcome-title">${detail.reply.source === 'ai' ? 'Answered by the AI' : 'Answered'}</h2>
      ${detail.reply.deliveredAt
        ? html`<p class="muted small">
            Delivered
            <time datetime="${detail.reply.deliveredAt}" data-local
              >${utcTime(detail.reply.deliveredAt)}</time
            >
          </p>`
        : ''}
      <div class="message-body">${detail.reply.body}</div>
    </section>`;
  }
  return html`<section class="card">
    <h2>In progress</h2>
    <p class="muted">The workflow is still working on this ticket (stage: ${detail.stage}).</p>
  </section>`;
}

const AUTHOR_LABEL = { customer: 'Customer', ai: 'AI', human: 'Agent' } as const;
const OUTCOME_LABEL: Record<string, string> = {
  resolved_by_ai: 'Resolved by the AI (the follow-up window passed quietly)',
  confirmed: 'Confirmed by the customer',
  resolved_by_human: 'Resolved by an agent',
};

/** The conversation after the first message and reply: follow-ups, later replies (with citations), ratings. */
function conversationCard(detail: TicketDetail): SafeHtml | '' {
  const later = detail.thread.filter((m) => m.messageId !== 'initial' && m.messageId !== 'reply');
  if (later.length === 0 && detail.feedback.length === 0 && !detail.conversation) return '';
  const c = detail.conversation;
  return html`<section class="card" aria-labelledby="conversation-title" id="conversation">
    <h2 id="conversation-title">Conversation</h2>
    ${c
      ? html`<p class="muted small" id="conversation-outcome">
          ${c.outcome ? (OUTCOME_LABEL[c.outcome] ?? humanize(c.outcome)) : 'Open'} · AI replies ${c.aiTurns}
          · agent replies ${c.humanTurns}${c.reopened ? html` · reopened ${c.reopened}×` : ''}
        </p>`
      : ''}
    <ol class="thread">
      ${later.map(
        (m) =>
          html`<li class="thread-message thread-${m.author}">
            <p class="muted small">
              <strong>${AUTHOR_LABEL[m.author]}</strong> · turn ${m.turn} ·
              <time datetime="${m.at}" data-local>${utcTime(m.at)}</time>
            </p>
            <div class="message-body">${m.body}</div>
            ${m.citations.length
              ? html`<p class="muted small">Cites: ${m.citations.map((p) => p.title).join(', ')}</p>`
              : ''}
          </li>`,
      )}
    </ol>
    ${detail.feedback.length
      ? html`<ul class="feedback" id="feedback">
          ${detail.feedback.map(
            (f) =>
              html`<li>
                <span class="tag ${f.rating === 'good' ? 'tag-green' : ''}"
                  >${f.rating === 'good' ? 'Good' : 'Bad'}</span
                >
                rating of reply ${f.turn}${f.comment ? html`: “${f.comment}”` : ''}
              </li>`,
          )}
        </ul>`
      : ''}
  </section>`;
}

export function ticketPage(ctx: PageContext, options: TicketPageOptions): string {
  const { detail, extras, config, now } = options;
  const escalation = detail.escalation;
  const open = Boolean(escalation && !escalation.resolvedAt && detail.awaitingHuman);
  const customer = detail.customer ?? {};
  const statePollUrl = `/inbox/api/tickets/${encodeURIComponent(detail.ticketId)}/state`;
  return layout(ctx, {
    title: detail.subject || detail.ticketId,
    active: 'ticket',
    flash: options.flash,
    body: html`<nav class="breadcrumb" aria-label="Breadcrumb">
        <a href="/inbox/queue">Queue</a> <span aria-hidden="true">/</span> <span>${detail.ticketId}</span>
      </nav>
      <header
        class="page-header ticket-header"
        id="ticket-header"
        data-state-url="${statePollUrl}"
        data-open="${open ? 'true' : 'false'}"
      >
        <div>
          <h1>${detail.subject || '(no subject)'}</h1>
          <p class="page-sub">
            <span class="stage stage-${detail.stage}" id="ticket-stage">${humanize(detail.stage)}</span>
            ${escalation && !escalation.resolvedAt ? slaCell(escalation.slaDueAt, now) : ''}
            <span class="muted">#${detail.ticketId}</span>
          </p>
        </div>
        <a
          class="button button-ghost"
          href="${temporalRunUrl(config, detail.workflowId)}"
          target="_blank"
          rel="noopener noreferrer"
          id="temporal-link"
        >
          Open run in Temporal <span aria-hidden="true">↗</span>
        </a>
      </header>
      <div class="alert alert-warning hidden" role="alert" id="resolved-elsewhere"></div>
      <div class="ticket-layout">
        <div class="ticket-main">
          <section class="card" aria-labelledby="message-title">
            <h2 id="message-title">Customer message</h2>
            <p class="muted small">
              From <strong>${customer.name ?? customer.email ?? 'an anonymous customer'}</strong>
              ${customer.name && customer.email ? html`&lt;${customer.email}&gt;` : ''} via
              ${detail.channel ?? 'unknown channel'}
              ${detail.createdAt
                ? html` · <time datetime="${detail.createdAt}" data-local>${utcTime(detail.createdAt)}</time>`
                : ''}
            </p>
            <div class="message-body" id="ticket-body">${extras.body}</div>
          </section>
          ${escalation
            ? html`<section class="callout" aria-labelledby="reason-title">
                <h2 id="reason-title">Why this needs a human</h2>
                <p id="escalation-reason">
                  ${reasonSentence(escalation.reason, config, {
                    confidence: detail.classification?.confidence,
                    declineReason: extras.draft?.kind === 'cannot_answer' ? extras.draft.reason : null,
                  })}
                </p>
              </section>`
            : ''}
          ${outcomeCardOrForm(open, options, ctx)} ${conversationCard(detail)}
          <section class="card" aria-labelledby="passages-title">
            <h2 id="passages-title">
              Retrieved passages
              <span class="muted small">(threshold ${config.MIN_RETRIEVAL_SCORE.toFixed(2)})</span>
            </h2>
            ${passages(extras, config.MIN_RETRIEVAL_SCORE)}
          </section>
        </div>
        <aside class="ticket-side" aria-label="Ticket details">
          <section class="card" aria-labelledby="classification-title">
            <h2 id="classification-title">Classification</h2>
            ${classificationCard(detail)}
          </section>
          <section class="card" aria-labelledby="timeline-title">
            <h2 id="timeline-title">Timeline</h2>
            ${timeline(detail)}
          </section>
          <section class="card" aria-labelledby="workflow-title">
            <h2 id="workflow-title">Workflow</h2>
            <dl class="props">
              <dt>Run</dt>
              <dd><code class="wrap">${detail.workflowId}</code></dd>
              <dt>Status</dt>
              <dd id="workflow-status">
                ${detail.workflowStatus ? humanize(detail.workflowStatus.toLowerCase()) : 'Unknown'}
              </dd>
              ${detail.timings.latencyMs !== null
                ? html`<dt>Latency</dt>
                    <dd>${latency(detail.timings.latencyMs)}</dd>`
                : ''}
              <dt>LLM cost</dt>
              <dd>
                ${usd(detail.usage.costUsd)}
                <span class="muted small"
                  >(${detail.usage.inputTokens + detail.usage.outputTokens} tokens)</span
                >
              </dd>
            </dl>
            <a href="${temporalRunUrl(config, detail.workflowId)}" target="_blank" rel="noopener noreferrer"
              >View the full history in the Temporal UI ↗</a
            >
          </section>
        </aside>
      </div>`,
  });
}
