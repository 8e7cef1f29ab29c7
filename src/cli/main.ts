import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import cliProgress from 'cli-progress';
import { Command, InvalidArgumentError, Option } from 'commander';
import { createApiKey, listApiKeys, revokeApiKey, ROLES, type Role } from '../auth/api-keys';
import { ConfigError } from '../config';
import { createLogger } from '../logger';
import { TICKET_STAGES, ticketInputSchema, type TicketStage } from '../domain/ticket';
import { metricsSummary, weeklyMetrics } from '../metrics/queries';
import {
  getTicketDetail,
  listOpenEscalations,
  liveStage,
  resolveTicket,
  sendCustomerFeedback,
  sendCustomerMessage,
  submitTicket,
  TicketNotFoundError,
  type ConversationUpdateOutcome,
  type TicketDetail,
} from '../tickets';
import { AdminApi } from './admin-api';
import { CliContext, makeKbDeps } from './context';
import { localStackApi } from './local-stack';
import { gapSection, registerKbGapsCommand } from './gaps';
import { registerKbCommands } from './kb';
import { duration, percent, renderHtmlReport, usd, WEEKLY_HEADERS, weeklyTableRows } from './report-html';

/**
 * `ticketflow`: submit tickets, follow them, work the escalation queue, manage the KB and API keys, report,
 * and run the worker or the API. Every command takes `--json` for scripts (one JSON document on stdout).
 * Exit codes: 0 ok, 1 failure, 2 invalid input or configuration, 3 refused (e.g. resolution conflict).
 */

export interface CliIo {
  out(text: string): void;
  err(text: string): void;
  setExitCode(code: number): void;
}

const processIo: CliIo = {
  out: (text) => process.stdout.write(`${text}\n`),
  err: (text) => process.stderr.write(`${text}\n`),
  setExitCode: (code) => {
    process.exitCode = code;
  },
};

/** An error the user can fix (bad input): printed without a stack, exit code 2 (or the given one). */
class UserError extends Error {
  constructor(
    message: string,
    readonly exitCode = 2,
  ) {
    super(message);
  }
}

interface JsonOption {
  json?: boolean;
}

function parseDate(value: string): Date {
  const date = /^\d{4}-\d{2}-\d{2}$/.test(value) ? new Date(`${value}T00:00:00Z`) : new Date(value);
  if (Number.isNaN(date.getTime()))
    throw new InvalidArgumentError('expected a date (YYYY-MM-DD) or ISO date-time');
  return date;
}

function parsePositiveInt(max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1 || n > max)
      throw new InvalidArgumentError(`expected a whole number from 1 to ${max}`);
    return n;
  };
}

function parseRole(value: string): Role {
  if (!(ROLES as readonly string[]).includes(value))
    throw new InvalidArgumentError(`expected one of ${ROLES.join(', ')}`);
  return value as Role;
}

function pad(value: string, width: number): string {
  return value.length >= width ? value : value + ' '.repeat(width - value.length);
}

function oneLine(text: string, max: number): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

/** Column-aligned plain-text table. */
export function formatTable(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => pad(c, widths[i]!))
      .join('  ')
      .trimEnd();
  return [line(headers), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin)
    chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk)));
  return Buffer.concat(chunks).toString('utf8');
}

function defaultExternalId(): string {
  return `cli-${Date.now()}-${randomBytes(3).toString('hex')}`;
}

function ageText(seconds: number): string {
  return duration(seconds * 1000);
}

function describeTicket(detail: TicketDetail): string {
  const lines = [
    `Ticket ${detail.ticketId} (workflow ${detail.workflowId}): ${detail.stage}` +
      (detail.workflowStatus ? ` [${detail.workflowStatus}]` : ''),
  ];
  if (detail.subject) lines.push(`  Subject:   ${detail.subject}`);
  if (detail.classification) {
    const c = detail.classification;
    lines.push(
      `  Intent:    ${c.intent} (confidence ${c.confidence.toFixed(2)}, urgency ${c.urgency}` +
        `${c.sentiment ? `, sentiment ${c.sentiment}` : ''})`,
    );
  }
  if (detail.escalation) {
    const e = detail.escalation;
    lines.push(
      `  Escalated: ${e.reason}; SLA due ${e.slaDueAt}${e.overdue ? ' (OVERDUE)' : ''}` +
        (e.resolvedAt
          ? `; resolved by ${e.resolvedBy ?? '?'} at ${e.resolvedAt}`
          : detail.awaitingHuman
            ? '; awaiting a human'
            : ''),
    );
  }
  if (detail.reply)
    lines.push(`  Reply (${detail.reply.source}):`, ...detail.reply.body.split('\n').map((l) => `    ${l}`));
  else if (detail.escalation?.draft) lines.push(`  Draft:     ${oneLine(detail.escalation.draft, 200)}`);
  if (detail.timings.latencyMs !== null) lines.push(`  Latency:   ${duration(detail.timings.latencyMs)}`);
  if (detail.timings.steps.length > 0) {
    lines.push(
      `  Steps:     ${detail.timings.steps
        .map((s) => `${s.step} ${s.status}${s.latencyMs !== null ? ` ${duration(s.latencyMs)}` : ''}`)
        .join(', ')}`,
    );
  }
  if (detail.usage.inputTokens + detail.usage.outputTokens > 0) {
    lines.push(
      `  Usage:     ${detail.usage.inputTokens} in / ${detail.usage.outputTokens} out tokens, ${usd(detail.usage.costUsd)}`,
    );
  }
  return lines.join('\n');
}

/**
 * Where `keys` commands act: the running `npm start` stack's API with its admin key when there is one and no
 * DATABASE_URL was given, else the database directly.
 */
function keyStore(context: CliContext) {
  const local = localStackApi();
  if (local) {
    const api = new AdminApi(local.url, local.adminKey);
    return {
      create: (input: { name: string; role: Role }) => api.createKey(input),
      list: (options: { includeRevoked?: boolean }) => api.listKeys(options),
      revoke: (id: string) => api.revokeKey(id),
    };
  }
  return {
    create: async (input: { name: string; role: Role }) => createApiKey(await context.db(), input),
    list: async (options: { includeRevoked?: boolean }) => listApiKeys(await context.db(), options),
    revoke: async (id: string) => revokeApiKey(await context.db(), id),
  };
}

/** Stages a ticket reaches where `submit --wait` stops: an answer, or a human's queue. */
const SETTLED: readonly TicketStage[] = ['answered', 'escalated', 'resolved'];

export function createProgram(
  io: CliIo = processIo,
  makeContext: () => CliContext = () => new CliContext(),
): Command {
  const program = new Command('ticketflow')
    .description('Durable AI customer support on Temporal: tickets, escalations, knowledge base, reports')
    .showHelpAfterError()
    .configureOutput({ writeOut: (s) => io.out(s.trimEnd()), writeErr: (s) => io.err(s.trimEnd()) });

  /** Opens the context lazily, reports failures the same way for every command, always closes. */
  const run =
    <A extends unknown[]>(action: (context: CliContext, ...args: A) => Promise<void>) =>
    async (...args: A): Promise<void> => {
      const options = args.find(
        (a): a is JsonOption =>
          typeof a === 'object' && a !== null && !Array.isArray(a) && !(a instanceof Command),
      );
      let context: CliContext | undefined;
      try {
        context = makeContext();
        await action(context, ...args);
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        if (options?.json) io.out(JSON.stringify({ error: message }));
        else io.err(`error: ${message}`);
        io.setExitCode(error instanceof UserError ? error.exitCode : error instanceof ConfigError ? 2 : 1);
      } finally {
        await context?.close();
      }
    };

  program
    .command('submit')
    .description('Submit a ticket (text from the argument, or stdin)')
    .argument('[text]', 'the ticket body; read from stdin when omitted')
    .option(
      '--external-id <id>',
      'idempotency key; resubmitting the same id does nothing (default cli-<time>-<random>)',
    )
    .option('--subject <subject>', 'subject line', '')
    .option('--customer-email <email>', "customer's email")
    .option('--customer-name <name>', "customer's name")
    .option('--wait', 'wait until the ticket is answered or escalated, showing its progress')
    .addOption(
      new Option('--timeout <seconds>', 'how long --wait waits')
        .default(120)
        .argParser(parsePositiveInt(3600)),
    )
    .option('--json', 'print JSON')
    .action(
      run(
        async (
          context,
          text: string | undefined,
          options: JsonOption & {
            externalId?: string;
            subject: string;
            customerEmail?: string;
            customerName?: string;
            wait?: boolean;
            timeout: number;
          },
        ) => {
          let body = text;
          if (body === undefined) {
            if (process.stdin.isTTY)
              throw new UserError('Give the ticket text as an argument or pipe it on stdin.');
            body = await readStdin();
          }
          const parsed = ticketInputSchema(context.config.TICKET_MAX_CHARS).safeParse({
            externalId: options.externalId ?? defaultExternalId(),
            subject: options.subject,
            body,
            customer: {
              ...(options.customerEmail ? { email: options.customerEmail } : {}),
              ...(options.customerName ? { name: options.customerName } : {}),
            },
            channel: 'cli',
          });
          if (!parsed.success) {
            const fieldNames: Record<string, string> = {
              externalId: '--external-id',
              subject: '--subject',
              body: 'text',
              'customer.email': '--customer-email',
              'customer.name': '--customer-name',
            };
            throw new UserError(
              parsed.error.issues
                .map((i) => {
                  const field = i.path.join('.');
                  return `${fieldNames[field] ?? field}: ${i.message}`;
                })
                .join('; '),
            );
          }
          const temporal = await context.temporal();
          const summary = await submitTicket({ config: context.config, temporal }, parsed.data, {
            submittedBy: 'cli',
          });
          if (!options.json) {
            io.out(
              summary.created
                ? `Submitted ticket ${summary.ticketId} (workflow ${summary.workflowId}).`
                : `Ticket ${summary.ticketId} was already submitted (workflow ${summary.workflowId}); nothing new started.`,
            );
          }
          if (!options.wait) {
            if (options.json) io.out(JSON.stringify(summary));
            return;
          }
          await waitForSettled(context, summary.ticketId, options.timeout * 1000, !options.json);
          const detail = await getTicketDetail(
            { db: await context.db(), temporal },
            summary.ticketId,
            CLI_PRINCIPAL,
            quietLog,
          );
          if (options.json) io.out(JSON.stringify({ ...summary, stage: detail.stage, ticket: detail }));
          else io.out(describeTicket(detail));
        },
      ),
    );

  program
    .command('status')
    .description('Show a ticket: stage, classification, reply or escalation, timings')
    .argument('<id>', 'ticket id (the external id)')
    .option('--json', 'print JSON')
    .action(
      run(async (context, id: string, options: JsonOption) => {
        const detail = await loadTicketDetailOrExplain(context, id);
        io.out(options.json ? JSON.stringify(detail) : describeTicket(detail));
      }),
    );

  program
    .command('escalations')
    .description('The open escalation queue, most urgent SLA first')
    .addOption(new Option('--limit <n>', 'at most this many').default(50).argParser(parsePositiveInt(500)))
    .option('--reason <reason>', 'only this escalation reason')
    .option('--overdue', 'only those past their SLA')
    .option('--json', 'print JSON')
    .action(
      run(async (context, options: JsonOption & { limit: number; reason?: string; overdue?: boolean }) => {
        const items = await listOpenEscalations(
          { db: await context.db() },
          {
            limit: options.limit,
            ...(options.reason ? { reason: options.reason } : {}),
            ...(options.overdue ? { overdue: true } : {}),
          },
        );
        if (options.json) {
          io.out(JSON.stringify(items));
          return;
        }
        if (items.length === 0) {
          io.out('No open escalations.');
          return;
        }
        io.out(
          formatTable(
            ['TICKET', 'REASON', 'INTENT', 'AGE', 'SLA DUE', 'SUBJECT / TEXT'],
            items.map((e) => [
              e.ticketId,
              e.reason,
              e.classification?.intent ?? '-',
              ageText(e.ageSeconds),
              `${e.slaDueAt.slice(0, 16).replace('T', ' ')}${e.overdue ? ' OVERDUE' : ''}`,
              oneLine(e.subject || e.body, 60),
            ]),
          ),
        );
        io.out(`${items.length} open escalation(s). Answer one with: ticketflow resolve <ticket> "<answer>"`);
      }),
    );

  program
    .command('resolve')
    .description("Resolve an escalated ticket with a human's answer (indexed into the KB unless --no-kb)")
    .argument('<id>', 'ticket id (the external id)')
    .argument('<answer>', 'the answer to send to the customer')
    .option('--agent <name>', 'who answered', process.env.USER || 'cli')
    .option('--no-kb', 'do not add this answer to the knowledge base')
    .option('--json', 'print JSON')
    .action(
      run(
        async (context, id: string, answer: string, options: JsonOption & { agent: string; kb: boolean }) => {
          if (answer.trim() === '') throw new UserError('The answer must not be empty.');
          const outcome = await resolveTicket({ temporal: await context.temporal() }, id, {
            agentId: options.agent,
            answer,
            addToKnowledgeBase: options.kb,
          });
          if (options.json) io.out(JSON.stringify({ ticketId: id, ...outcome }));
          if (!outcome.accepted) {
            const why: Record<string, string> = {
              not_found: `No ticket with id "${id}".`,
              finished: 'The ticket workflow has already finished.',
              not_awaiting_human: 'The ticket is not waiting for a human answer.',
              already_resolved: 'The ticket has already been resolved.',
              invalid: 'The workflow rejected the resolution as invalid.',
            };
            if (!options.json)
              io.err(`refused: ${why[outcome.reason] ?? outcome.reason} (${outcome.reason})`);
            io.setExitCode(outcome.reason === 'not_found' ? 1 : 3);
            return;
          }
          if (!options.json) {
            io.out(
              `Resolved ${id} as ${outcome.agentId}; the answer goes to the customer` +
                `${outcome.addToKnowledgeBase ? ' and into the knowledge base' : ''}.`,
            );
          }
        },
      ),
    );

  /** The CLI writes as an operator on the machine (Temporal access), like an admin key. */
  const operator = { keyId: 'cli', name: 'cli', role: 'admin' as const };
  const conversationRefusals: Record<string, string> = {
    not_found: 'No such ticket.',
    closed: 'The conversation has ended (window over, or confirmed).',
    not_conversational: 'The ticket was started before conversations and takes no follow-ups.',
    nothing_to_rate: 'There is no reply to rate yet.',
    invalid: 'The workflow rejected it as invalid.',
  };
  /** Prints a follow-up's or rating's outcome; refusals exit 1 (not found) or 3 (refused), as `resolve`. */
  const reportConversation = (
    id: string,
    outcome: ConversationUpdateOutcome,
    json: boolean,
    what: string,
  ) => {
    if (json) io.out(JSON.stringify({ ticketId: id, ...outcome }));
    if (!outcome.accepted) {
      if (!json)
        io.err(`refused: ${conversationRefusals[outcome.reason] ?? outcome.reason} (${outcome.reason})`);
      io.setExitCode(outcome.reason === 'not_found' ? 1 : 3);
      return;
    }
    if (!json)
      io.out(
        outcome.duplicate
          ? `Already taken: this ${what} id was sent before (nothing changed).`
          : `Sent the ${what} to ${id} (replies so far: ${outcome.turn}; now with: ${outcome.phase}).`,
      );
  };

  program
    .command('reply')
    .description("A customer's follow-up on a ticket (idempotent by --message-id)")
    .argument('<id>', 'ticket id (the external id)')
    .argument('<text>', 'what the customer writes')
    .option('--message-id <id>', 'idempotency key for this message (default: a random one)')
    .option('--json', 'print JSON')
    .action(
      run(async (context, id: string, text: string, options: JsonOption & { messageId?: string }) => {
        if (text.trim() === '') throw new UserError('The message must not be empty.');
        const messageId = options.messageId ?? `cli-${randomBytes(6).toString('hex')}`;
        const outcome = await sendCustomerMessage({ temporal: await context.temporal() }, id, operator, {
          messageId,
          text,
        });
        reportConversation(id, outcome, Boolean(options.json), 'message');
      }),
    );

  program
    .command('feedback')
    .description(
      "The customer's rating of the latest reply: good closes as confirmed, bad hands over to a human",
    )
    .argument('<id>', 'ticket id (the external id)')
    .argument('<rating>', 'good | bad')
    .option('--comment <text>', 'what the customer said with it')
    .option('--feedback-id <id>', 'idempotency key for this rating (default: a random one)')
    .option('--json', 'print JSON')
    .action(
      run(
        async (
          context,
          id: string,
          rating: string,
          options: JsonOption & { comment?: string; feedbackId?: string },
        ) => {
          if (rating !== 'good' && rating !== 'bad') throw new UserError('The rating must be good or bad.');
          const outcome = await sendCustomerFeedback({ temporal: await context.temporal() }, id, operator, {
            feedbackId: options.feedbackId ?? `cli-${randomBytes(6).toString('hex')}`,
            rating,
            comment: options.comment,
          });
          reportConversation(id, outcome, Boolean(options.json), 'rating');
        },
      ),
    );

  registerKbCommands(program, makeKbDeps);
  registerKbGapsCommand(program, io, makeContext);

  program
    .command('report')
    .description('Weekly metrics: escalation rates, autonomy, confidence, latency, cost, KB growth')
    .addOption(new Option('--from <date>', 'start (default: 4 weeks before --to)').argParser(parseDate))
    .addOption(new Option('--to <date>', 'end, exclusive (default: now)').argParser(parseDate))
    .option('--html <file>', 'also write a self-contained HTML report with charts')
    .option('--json', 'print JSON')
    .action(
      run(async (context, options: JsonOption & { from?: Date; to?: Date; html?: string }) => {
        const to = options.to ?? new Date();
        const from = options.from ?? new Date(to.getTime() - 28 * 86_400_000);
        if (from >= to) throw new UserError('--from must be before --to.');
        const db = await context.db();
        const bar =
          !options.json && process.stderr.isTTY
            ? new cliProgress.SingleBar(
                { format: 'Computing report [{bar}] {value}/{total}', clearOnComplete: true },
                cliProgress.Presets.shades_classic,
              )
            : undefined;
        bar?.start(2, 0);
        const summary = await metricsSummary(db, { from, to });
        bar?.increment();
        const weekly = await weeklyMetrics(db, { from, to });
        bar?.increment();
        bar?.stop();
        if (options.html) {
          const file = path.resolve(options.html);
          await fs.mkdir(path.dirname(file), { recursive: true });
          const gaps = await gapSection(context, from, to);
          await fs.writeFile(
            file,
            renderHtmlReport({ generatedAt: new Date(), summary, weekly, gaps }),
            'utf8',
          );
        }
        if (options.json) {
          io.out(
            JSON.stringify({
              summary,
              weekly,
              ...(options.html ? { html: path.resolve(options.html) } : {}),
            }),
          );
          return;
        }
        io.out(`ticketflow report ${summary.from} → ${summary.to}\n`);
        io.out(
          weekly.length ? formatTable(WEEKLY_HEADERS, weeklyTableRows(weekly)) : 'No tickets in this window.',
        );
        io.out(
          [
            '',
            `Tickets ${summary.tickets} · escalation rate ${percent(summary.escalationRate)} · autonomous ` +
              `${percent(summary.autonomousResolutionRate)} · p95 latency ${duration(summary.p95LatencyMs)} · ` +
              `cost ${usd(summary.totalCostUsd)} · open escalations ${summary.openEscalations} · ` +
              `KB ${summary.kbGrowth.documentsAtEnd} docs (+${summary.kbGrowth.added})`,
            `Resolved by AI: honest ${percent(summary.conversations.honestResolutionRate)} (closed with no ` +
              `escalation or unhappy customer) vs naive ${percent(summary.conversations.naiveResolutionRate)} · ` +
              `confirmed ${summary.conversations.confirmedByCustomer} · escalated after AI ` +
              `${summary.conversations.escalatedAfterAi} · reopened ${summary.conversations.reopened} · ` +
              `awaiting outcome ${summary.conversations.awaitingOutcome} · CSAT ${percent(summary.conversations.csat)}`,
          ].join('\n'),
        );
        if (summary.escalationRateByIntent.length) {
          io.out(
            '\n' +
              formatTable(
                ['INTENT', 'TICKETS', 'ESCALATED', 'RATE'],
                summary.escalationRateByIntent.map((i) => [
                  i.intent,
                  String(i.tickets),
                  String(i.escalated),
                  percent(i.escalationRate),
                ]),
              ),
          );
        }
        if (options.html) io.out(`\nHTML report written to ${path.resolve(options.html)}`);
      }),
    );

  program
    .command('db')
    .description('Database schema')
    .command('migrate')
    .description(
      'Apply pending migrations and exit (the Kubernetes migration job; safe to run while others do the same)',
    )
    .option('--json', 'print JSON')
    .action(
      run(async (context, options: JsonOption) => {
        const applied = await context.appliedMigrations();
        if (options.json) {
          io.out(JSON.stringify({ applied }));
          return;
        }
        io.out(applied.length ? `Applied ${applied.join(', ')}.` : 'The schema is up to date.');
      }),
    );

  const keys = program.command('keys').description('Manage API keys');
  keys
    .command('create')
    .description('Create an API key; it is printed once and only its hash is stored')
    .argument('<name>', 'who or what uses the key (resolutions default to this name as agent id)')
    .addOption(
      new Option('--role <role>', `one of ${ROLES.join(', ')}`).argParser(parseRole).makeOptionMandatory(),
    )
    .option('--json', 'print JSON')
    .action(
      run(async (context, name: string, options: JsonOption & { role: Role }) => {
        const created = await keyStore(context).create({ name, role: options.role });
        if (options.json) {
          io.out(JSON.stringify(created));
          return;
        }
        io.out(`Created ${created.role} key ${created.id} for "${created.name}":\n\n  ${created.key}\n`);
        io.err('Store it now: it cannot be shown again.');
      }),
    );
  keys
    .command('list')
    .description('List API keys (never the keys themselves)')
    .option('--all', 'include revoked keys')
    .option('--json', 'print JSON')
    .action(
      run(async (context, options: JsonOption & { all?: boolean }) => {
        const items = await keyStore(context).list({ includeRevoked: options.all });
        if (options.json) {
          io.out(JSON.stringify(items));
          return;
        }
        if (items.length === 0) {
          io.out('No API keys. Create one with: ticketflow keys create <name> --role agent');
          return;
        }
        io.out(
          formatTable(
            ['ID', 'NAME', 'ROLE', 'CREATED', 'LAST USED', 'REVOKED'],
            items.map((k) => [k.id, k.name, k.role, k.createdAt, k.lastUsedAt ?? '-', k.revokedAt ?? '-']),
          ),
        );
      }),
    );
  keys
    .command('revoke')
    .description('Revoke an API key; it stops working at once')
    .argument('<id>', 'key id (see `keys list`)')
    .option('--json', 'print JSON')
    .action(
      run(async (context, id: string, options: JsonOption) => {
        const revoked = await keyStore(context).revoke(id);
        if (options.json) io.out(JSON.stringify({ id, revoked }));
        else if (revoked) io.out(`Revoked ${id}.`);
        if (!revoked) {
          if (!options.json) io.err(`error: no active API key with id "${id}"`);
          io.setExitCode(1);
        }
      }),
    );

  program
    .command('worker')
    .description(
      'Run a worker: polls the task queue and runs ticket workflows and activities (Ctrl-C to stop)',
    )
    .action(
      run(async (context) => {
        // Loaded only here: the worker pulls in the Temporal worker runtime and webpack.
        const { createTicketWorker } = await import('../../workers/main');
        const { startWorkerHealthServer } = await import('../../workers/health');
        const { worker, connection, close } = await createTicketWorker({ config: context.config });
        const health =
          context.config.WORKER_HEALTH_PORT === undefined
            ? undefined
            : await startWorkerHealthServer({
                config: context.config,
                worker,
                connection,
                logger: createLogger(context.config.LOG_LEVEL, 'worker'),
              });
        io.err(
          `worker polling task queue "${context.config.TEMPORAL_TASK_QUEUE}" on ${context.config.TEMPORAL_ADDRESS}`,
        );
        try {
          await worker.run(); // returns after SIGINT/SIGTERM, once in-flight activities finish
        } finally {
          await health?.close();
          await close();
        }
      }),
    );

  program
    .command('api')
    .description('Run the HTTP API (Ctrl-C to stop)')
    .action(
      run(async (context) => {
        const { runApi } = await import('../api/main');
        const api = await runApi(context.config);
        io.err(`API listening on ${api.url} (docs at ${api.url}/docs)`);
        await new Promise<void>((resolve) => {
          const stop = () => resolve();
          process.once('SIGINT', stop);
          process.once('SIGTERM', stop);
        });
        await api.close();
      }),
    );

  return program;

  async function loadTicketDetailOrExplain(context: CliContext, id: string): Promise<TicketDetail> {
    if (!/^[A-Za-z0-9][A-Za-z0-9._:@-]*$/.test(id)) throw new UserError(`"${id}" is not a valid ticket id.`);
    try {
      return await getTicketDetail(
        { db: await context.db(), temporal: await context.temporal() },
        id,
        CLI_PRINCIPAL,
        quietLog,
      );
    } catch (err) {
      if (err instanceof TicketNotFoundError) throw new UserError(err.message, 1);
      throw err;
    }
  }

  /** Polls the workflow's status query, drawing a progress bar over the pipeline stages on a terminal. */
  async function waitForSettled(
    context: CliContext,
    id: string,
    timeoutMs: number,
    showProgress: boolean,
  ): Promise<void> {
    const temporal = await context.temporal();
    const stages = TICKET_STAGES.filter((s) => s !== 'resolved');
    const bar =
      showProgress && process.stderr.isTTY
        ? new cliProgress.SingleBar(
            { format: 'Processing [{bar}] {stage}', clearOnComplete: true },
            cliProgress.Presets.shades_classic,
          )
        : undefined;
    bar?.start(stages.length - 1, 0, { stage: 'received' });
    const deadline = Date.now() + timeoutMs;
    let stage: string = 'received';
    let lastQueryError: unknown;
    try {
      for (;;) {
        const live = await liveStage({ temporal }, id);
        if (live.state === 'finished') return;
        if (live.state === 'running') {
          stage = live.stage;
          lastQueryError = undefined;
        } else lastQueryError = live.error;
        bar?.update(Math.max(0, stages.indexOf(stage as (typeof stages)[number])), { stage });
        if ((SETTLED as readonly string[]).includes(stage)) return;
        if (Date.now() > deadline) {
          const hint = lastQueryError
            ? ` No worker answered: is \`ticketflow worker\` running on task queue "${context.config.TEMPORAL_TASK_QUEUE}"?`
            : '';
          throw new UserError(`Ticket ${id} is still "${stage}" after ${timeoutMs / 1000} s.${hint}`, 1);
        }
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    } finally {
      bar?.stop();
    }
  }
}

/** The CLI runs with the operator's own credentials (database and Temporal access), so it reads everything. */
const CLI_PRINCIPAL = { keyId: 'cli', name: 'cli', role: 'admin' as const };
const quietLog = { warn: () => undefined };

async function main(): Promise<void> {
  await createProgram().parseAsync(process.argv);
}

if (require.main === module) {
  main().catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exitCode = 1;
  });
}
