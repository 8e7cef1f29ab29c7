import type { GapReport } from '../kb/gaps';
import { escapeHtml } from './report-html';

/** The "Knowledge gaps" section of the weekly HTML report (`ticketflow report --html`). */

export type GapSection = { report: GapReport } | { error: string };

const table = (headers: string[], rows: string[][]) =>
  `<table><thead><tr>${headers.map((h) => `<th>${escapeHtml(h)}</th>`).join('')}</tr></thead><tbody>${rows
    .map((r) => `<tr>${r.map((c) => `<td>${c}</td>`).join('')}</tr>`)
    .join('')}</tbody></table>`;

export function renderGapSection(section: GapSection): string {
  if ('error' in section) {
    return `<h2>Knowledge gaps</h2>\n<p class="muted">Not available: ${escapeHtml(section.error)}</p>`;
  }
  const { report } = section;
  const gaps = report.clusters.filter((c) => c.suggestion);
  const h = report.health;
  const parts = [
    '<h2>Knowledge gaps</h2>',
    `<p class="muted">${report.escalations.considered} escalations, ${report.escalations.clustered} in ${report.clusters.length} groups; ` +
      `${gaps.length} without a good article. Publish a suggestion from the inbox (Knowledge gaps) or <code>PUT /v1/kb/documents/{id}</code>.</p>`,
  ];
  parts.push(
    report.clusters.length === 0
      ? '<p class="muted">No group of similar escalations in this window.</p>'
      : table(
          ['Group', 'Status', 'Escalations', 'Nearest article (score)', 'Human answers'],
          report.clusters.map((c) => [
            escapeHtml(c.suggestion ? c.suggestion.title : (c.examples[0]?.text ?? c.id)),
            c.status,
            String(c.size),
            c.nearestArticle
              ? `${escapeHtml(c.nearestArticle.documentId)} (${c.nearestArticle.score.toFixed(2)})`
              : '–',
            `${c.humanAnswers.resolved} (${escapeHtml(c.humanAnswers.agreement)})`,
          ]),
        ),
  );
  for (const c of gaps) {
    const s = c.suggestion!;
    parts.push(
      `<h3>Suggested: ${escapeHtml(s.title)}</h3>`,
      `<ul>${s.questions.map((q) => `<li>${escapeHtml(q)}</li>`).join('')}</ul>`,
      `<p class="muted">Draft ${s.draft.source === 'model' ? `written by ${escapeHtml(s.draft.model ?? 'the model')}` : 'from the human answers'}; cites ${
        s.draft.citations.map((x) => `#${escapeHtml(x.ticketId)}`).join(' ') || 'no answer yet'
      }.</p>`,
    );
  }
  const health: string[] = [
    ...h.retrievedButUnused.map(
      (a) => `${escapeHtml(a.documentId)}: retrieved by ${a.retrieved} tickets, cited by ${a.cited}`,
    ),
    ...h.followedByEscalation.map(
      (a) => `${escapeHtml(a.documentId)}: ${a.followed} of ${a.answers} answers followed by an escalation`,
    ),
    ...h.negativeFeedback.map(
      (a) =>
        `${escapeHtml(a.documentId)}: the customer came back unhappy after ${a.unhappy} of ${a.cited} answers citing it`,
    ),
    ...h.humanCorrections.map(
      (a) => `${escapeHtml(a.documentId)}: ${a.corrected} drafts rewritten by a human`,
    ),
    ...h.nearDuplicates.map(
      (d) =>
        `${escapeHtml(d.a.documentId)} and ${escapeHtml(d.b.documentId)} are near-duplicates (${d.similarity.toFixed(2)})`,
    ),
    ...h.contradictions.map(
      (x) =>
        `${escapeHtml(x.a.documentId)} (“${escapeHtml(x.a.sentence)}”) and ${escapeHtml(x.b.documentId)} (“${escapeHtml(x.b.sentence)}”) give different figures`,
    ),
  ];
  parts.push(
    '<h3>Article health</h3>',
    health.length
      ? `<ul>${health.map((x) => `<li>${x}</li>`).join('')}</ul>`
      : '<p class="muted">Nothing to flag.</p>',
  );
  return parts.join('\n');
}
