/**
 * `npx tsx bench/model-costs.ts [--out bench/results/model-costs-<date>.md]`: what one classification and one
 * grounded answer cost on each candidate Claude model, the way ticketflow asks (src/llm/models.ts), priced from
 * the price list (src/llm/cost.ts). Tokens come from the Anthropic stand-in, which bills like the API (tool-use
 * system prompt on tool paths, each model's tokenizer and cache minimum) but estimates text as characters / 4
 * and thinking as a fixed number of output tokens: the ranking is solid, the absolute figures are estimates.
 * Quality cannot be measured without the real API; see the README for how the defaults were chosen.
 * Inputs: the answerable tickets of data/acme-tickets.json, each with up to five passages of its expected
 * articles (kb/acme), as retrieval would give it.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Command } from 'commander';
import { DEFAULT_INTENTS } from '../src/config';
import type { Passage, TokenUsage } from '../src/domain/ticket';
import { chunkDocument, parseDocument } from '../src/kb/chunker';
import { AnthropicProvider, planCall } from '../src/llm';
import { startFakeAnthropic } from '../test/support/fake-anthropic';
import { ACME_KB_DIR, loadAcmeTickets } from './lib/datasets';
import { markdownTable } from './lib/markdown';

/** Output tokens a thinking turn spends in the stand-in (its default). */
const THINKING_TOKENS = 120;

interface Candidate {
  task: 'classify' | 'answer';
  model: string;
  thinking: boolean;
}

const CANDIDATES: Candidate[] = [
  { task: 'classify', model: 'claude-haiku-4-5', thinking: false },
  { task: 'classify', model: 'claude-haiku-5-5', thinking: false },
  { task: 'classify', model: 'claude-sonnet-5-5', thinking: false },
  { task: 'answer', model: 'claude-haiku-5-5', thinking: false },
  { task: 'answer', model: 'claude-sonnet-4-6', thinking: false },
  { task: 'answer', model: 'claude-sonnet-5-5', thinking: false },
  { task: 'answer', model: 'claude-sonnet-5-5', thinking: true },
  { task: 'answer', model: 'claude-opus-5-5', thinking: true },
];

function passagesFor(articles: readonly string[]): Passage[] {
  return articles
    .flatMap((article) => {
      const raw = fs.readFileSync(path.join(ACME_KB_DIR, `${article}.md`), 'utf8');
      const parsed = parseDocument(raw, { format: 'markdown', fileName: `${article}.md` });
      return chunkDocument({ documentId: article, title: parsed.title, body: parsed.body, source: 'kb' });
    })
    .slice(0, 5)
    .map((chunk) => ({ ...chunk, score: 0.8 }));
}

async function main(): Promise<void> {
  const options = new Command()
    .option('--out <file>', 'write the table here as well')
    .parse()
    .opts<{ out?: string }>();
  const tickets = loadAcmeTickets().filter((t) => t.expectedArticles?.length);
  const fake = await startFakeAnthropic({ thinkingTokens: THINKING_TOKENS });
  const rows: string[][] = [];
  try {
    for (const candidate of CANDIDATES) {
      const llm = new AnthropicProvider({
        apiKey: 'model-costs',
        baseURL: fake.url,
        models: { classify: candidate.model, answer: candidate.model },
        maxTokens: 1024,
        timeoutMs: 30_000,
        intents: DEFAULT_INTENTS,
        answerThinking: candidate.thinking,
        effort: { classify: 'low' },
      });
      const usages: TokenUsage[] = [];
      for (const ticket of tickets) {
        const input = { subject: ticket.subject, body: ticket.body };
        usages.push(
          candidate.task === 'classify'
            ? (await llm.classify(input)).usage
            : (await llm.answer(input, passagesFor(ticket.expectedArticles ?? []))).usage,
        );
      }
      const mean = (pick: (u: TokenUsage) => number) =>
        usages.reduce((t, u) => t + pick(u), 0) / usages.length;
      const plan = planCall(candidate.model, {
        thinking: candidate.thinking,
        effort: candidate.task === 'classify' ? 'low' : undefined,
        path: 'auto',
        maxTokens: 1024,
      });
      rows.push([
        candidate.task,
        candidate.model,
        `${plan.path}, thinking ${plan.thinkingOn ? 'on' : 'off'}`,
        Math.round(mean((u) => u.inputTokens + u.cachedInputTokens + u.cacheWriteTokens)).toLocaleString(
          'en',
        ),
        Math.round(mean((u) => u.outputTokens)).toLocaleString('en'),
        `$${mean((u) => u.costUsd).toFixed(6)}`,
        `$${(mean((u) => u.costUsd) * 1000).toFixed(3)}`,
      ]);
    }
  } finally {
    await fake.close();
  }
  const table = markdownTable(
    ['step', 'model', 'asked as', 'input tokens', 'output tokens', '$ per call', '$ per 1,000 calls'],
    rows,
  );
  const text = [
    `Per-call cost on ${tickets.length} answerable Acme tickets (answers with up to 5 passages of their articles),`,
    `stand-in token estimates, thinking counted as ${THINKING_TOKENS} output tokens per call; ${new Date().toISOString().slice(0, 10)}.`,
    '',
    table,
  ].join('\n');
  console.log(text);
  if (options.out) fs.writeFileSync(options.out, `${text}\n`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
