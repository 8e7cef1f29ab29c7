import cliProgress from 'cli-progress';
import { Command, InvalidArgumentError, Option } from 'commander';
import { passageSourceSchema, type PassageSource } from '../domain/ticket';
import {
  deleteKbDocument,
  getDocument,
  ingestPaths,
  listDocuments,
  reindexAll,
  searchKnowledgeBase,
  syncCollection,
  type KbDeps,
} from '../kb/ingest';
import { ModelMismatchError, type SearchFilter, type VectorStore } from '../kb/types';
import { configSchema } from '../config';
import { defaultApiKey, defaultApiUrl, KbPutError, putDocumentViaApi } from './kb-put';
import { calibrateAnswerability } from '../kb/calibrate';

/**
 * `ticketflow kb …`: manage the knowledge base from the command line. Every command accepts `--json` for
 * scripts; human output goes to stdout, progress bars and errors to stderr.
 */

export interface KbCliIo {
  out(text: string): void;
  err(text: string): void;
  /** Whether stderr is a terminal (progress bars only make sense there). */
  interactive: boolean;
  /** Where the progress bar draws; defaults to process.stderr. */
  progressStream?: NodeJS.WritableStream;
  setExitCode(code: number): void;
}

const processIo: KbCliIo = {
  out: (text) => process.stdout.write(`${text}\n`),
  err: (text) => process.stderr.write(`${text}\n`),
  interactive: Boolean(process.stderr.isTTY),
  setExitCode: (code) => {
    process.exitCode = code;
  },
};

/** What a kb command works with: the KB, and (from the real CLI) the way to other collections. */
type KbCommandDeps = KbDeps & {
  /** The collection in service (KB_COLLECTION). */
  collection?: string;
  /** A store for another collection of the same kind, with the configured model (`reindex --into`, `drop`). */
  storeFor?: (collection: string) => VectorStore;
};

export type MakeKbDeps = () => Promise<{
  deps: KbDeps;
  close: () => Promise<void>;
  /** The collection in service (KB_COLLECTION). */
  collection?: string;
  /** A store for another collection of the same kind, with the configured model (`reindex --into`, `drop`). */
  storeFor?: (collection: string) => VectorStore;
}>;

interface JsonOption {
  json?: boolean;
}

function parseSource(value: string): PassageSource {
  const parsed = passageSourceSchema.safeParse(value);
  if (!parsed.success) throw new InvalidArgumentError('expected kb or resolution');
  return parsed.data;
}

function parseRate(value: string): number {
  const rate = Number(value);
  if (!Number.isFinite(rate) || rate < 0 || rate > 1)
    throw new InvalidArgumentError('expected a rate between 0 and 1');
  return rate;
}

function parseLimit(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 100)
    throw new InvalidArgumentError('expected a whole number from 1 to 100');
  return n;
}

function parseCollection(value: string): string {
  const parsed = configSchema.shape.KB_COLLECTION.safeParse(value);
  if (!parsed.success) throw new InvalidArgumentError('expected a lower-case identifier, like KB_COLLECTION');
  return parsed.data;
}

function collect(value: string, previous: string[] = []): string[] {
  return [
    ...previous,
    ...value
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
  ];
}

function pad(value: string, width: number): string {
  return value.length >= width ? value : value + ' '.repeat(width - value.length);
}

function progressBar(io: KbCliIo, label: string): cliProgress.SingleBar | undefined {
  if (!io.interactive) return undefined;
  return new cliProgress.SingleBar(
    {
      format: `${label} [{bar}] {value}/{total} {item}`,
      stream: io.progressStream ?? process.stderr,
      hideCursor: true,
      clearOnComplete: true,
    },
    cliProgress.Presets.shades_classic,
  );
}

/** A progress bar fed by done/total callbacks; a no-op with --json or off a terminal. */
function progress(io: KbCliIo, label: string, json?: boolean) {
  const bar = json ? undefined : progressBar(io, label);
  let started = false;
  return {
    update(done: number, total: number, item: string): void {
      if (!bar) return;
      if (!started) {
        bar.start(total, 0, { item: '' });
        started = true;
      }
      bar.update(done, { item });
    },
    stop: () => bar?.stop(),
  };
}

/** What a script needs to act on an error without matching its text (npm start re-embeds on a model change). */
const machineReadable = (error: unknown) =>
  error instanceof ModelMismatchError
    ? {
        modelMismatch: {
          collection: error.collection,
          storedModel: error.storedModel,
          storedDimension: error.storedDimension,
          configuredModel: error.configuredModel,
          configuredDimension: error.configuredDimension,
        },
      }
    : {};

export function registerKbCommands(program: Command, makeDeps: MakeKbDeps, io: KbCliIo = processIo): Command {
  /** Opens the dependencies, runs the command, reports failures the same way for every command. */
  const run =
    <A extends unknown[]>(action: (deps: KbCommandDeps, ...args: A) => Promise<void>) =>
    async (...args: A): Promise<void> => {
      let opened: Awaited<ReturnType<MakeKbDeps>> | undefined;
      // Commander passes the positional arguments, then the options object, then the command itself.
      const options = args.find(
        (a): a is JsonOption =>
          typeof a === 'object' && a !== null && !Array.isArray(a) && !(a instanceof Command),
      );
      try {
        opened = await makeDeps();
        await action(
          {
            ...opened.deps,
            ...(opened.collection ? { collection: opened.collection } : {}),
            ...(opened.storeFor ? { storeFor: opened.storeFor } : {}),
          },
          ...args,
        );
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        if (options?.json) io.out(JSON.stringify({ error: message, ...machineReadable(error) }));
        else io.err(`error: ${message}`);
        io.setExitCode(1);
      } finally {
        await opened?.close();
      }
    };

  const kb = program
    .command('kb')
    .description('Manage the knowledge base (ingest, search, list, reindex, calibrate)');

  kb.command('ingest')
    .description('Ingest Markdown, text or HTML files and folders (.md .markdown .txt .html .htm)')
    .argument('<paths...>', 'files or folders')
    .option('--json', 'print the summary as JSON')
    .action(
      run(async (deps, paths: string[], options: JsonOption) => {
        const bar = options.json ? undefined : progressBar(io, 'Ingesting');
        let started = false;
        const summary = await ingestPaths(deps, paths, (p) => {
          if (!bar) return;
          if (!started) {
            bar.start(p.total, 0, { item: '' });
            started = true;
          }
          bar.update(p.done, { item: p.documentId ?? p.file });
        }).finally(() => bar?.stop());
        if (options.json) {
          io.out(JSON.stringify(summary));
          return;
        }
        const ingested = summary.documents - summary.unchanged;
        io.out(
          `Documents: ${summary.documents} (${ingested} ingested, ${summary.unchanged} unchanged)\n` +
            `Chunks:    ${summary.chunks}\n` +
            `Skipped:   ${summary.skipped} file(s)${summary.skipped ? ` — ${summary.skippedFiles.join(', ')}` : ''}`,
        );
      }),
    );

  kb.command('put')
    .description(
      'Add or replace one article through the running API; the worker embeds it (progress bar while it does)',
    )
    .argument('<file>', '.md, .markdown, .txt, .html or .htm')
    .option('--id <id>', 'document id (default: slug of the file name)')
    .option('--title <title>', 'title (default: front matter or first # heading)')
    .option('--intents <list>', 'comma-separated intents (default: front matter)', collect)
    .option(
      '--api-url <url>',
      'API base URL (default: TICKETFLOW_API_URL, the running npm start, or port API_PORT)',
    )
    .option(
      '--key <key>',
      'admin API key (default: TICKETFLOW_API_KEY, ADMIN_API_KEY, or the key npm start generated)',
    )
    .option('--async', 'do not wait on the server: answer 202 at once and follow the ingestion here')
    .option('--json', 'print the result as JSON')
    .action(
      async (
        file: string,
        options: JsonOption & {
          id?: string;
          title?: string;
          intents?: string[];
          apiUrl?: string;
          key?: string;
          async?: boolean;
        },
      ) => {
        const key = options.key ?? defaultApiKey();
        const bar = progress(io, `Embedding ${options.id ?? file}`, options.json);
        try {
          if (!key)
            throw new KbPutError('No API key: pass --key or set TICKETFLOW_API_KEY (an admin key)', 400);
          const result = await putDocumentViaApi(
            {
              file,
              apiUrl: options.apiUrl ?? defaultApiUrl(),
              key,
              ...(options.id ? { id: options.id } : {}),
              ...(options.title ? { title: options.title } : {}),
              ...(options.intents ? { intents: options.intents } : {}),
              ...(options.async ? { async: true } : {}),
            },
            {
              start: (total) => bar.update(0, total, 'chunks'),
              update: (done, total) => bar.update(done, total, 'chunks'),
              stop: bar.stop,
            },
          );
          if (options.json) io.out(JSON.stringify(result));
          else {
            const what = result.unchanged ? 'unchanged' : result.created ? 'created' : 'replaced';
            io.out(`${result.documentId}: ${what}, ${result.chunks} chunk(s)`);
          }
        } catch (error) {
          const message = error instanceof Error ? error.message : String(error);
          if (options.json) io.out(JSON.stringify({ error: message }));
          else io.err(`error: ${message}`);
          // Exit codes as documented in main.ts: 2 invalid input, 3 refused (409), 1 anything else.
          const status = error instanceof KbPutError ? error.status : 0;
          io.setExitCode(
            status === 409 ? 3 : status >= 400 && status < 500 && status !== 401 && status !== 403 ? 2 : 1,
          );
        }
      },
    );

  kb.command('list')
    .description('List the documents in the knowledge base')
    .addOption(new Option('--source <source>', 'only kb articles or resolutions').argParser(parseSource))
    .option('--json', 'print JSON')
    .action(
      run(async (deps, options: JsonOption & { source?: PassageSource }) => {
        const documents = await listDocuments(deps.db, options.source ? { source: options.source } : {});
        if (options.json) {
          io.out(JSON.stringify(documents));
          return;
        }
        if (documents.length === 0) {
          io.out('The knowledge base is empty. Add articles with `ticketflow kb ingest <folder>`.');
          return;
        }
        const idWidth = Math.min(48, Math.max(...documents.map((d) => d.id.length)));
        io.out(`${pad('ID', idWidth)}  SOURCE      CHUNKS  TITLE`);
        for (const d of documents) {
          io.out(`${pad(d.id, idWidth)}  ${pad(d.source, 10)}  ${pad(String(d.chunks), 6)}  ${d.title}`);
        }
        io.out(`${documents.length} document(s), ${documents.reduce((n, d) => n + d.chunks, 0)} chunk(s)`);
      }),
    );

  kb.command('show')
    .description('Show one document: metadata and full text')
    .argument('<id>', 'document id')
    .option('--json', 'print JSON')
    .action(
      run(async (deps, id: string, options: JsonOption) => {
        const document = await getDocument(deps.db, id);
        if (!document)
          throw new Error(`No knowledge-base document with id "${id}" (see \`ticketflow kb list\`).`);
        if (options.json) {
          io.out(JSON.stringify(document));
          return;
        }
        io.out(
          [
            `${document.title}`,
            `id: ${document.id}   source: ${document.source}${document.ticketId ? `   ticket: ${document.ticketId}` : ''}`,
            `intents: ${document.intents.join(', ') || '-'}   chunks: ${document.chunks}   updated: ${document.updatedAt}`,
            ...(document.origin ? [`origin: ${document.origin}`] : []),
            '',
            document.body,
          ].join('\n'),
        );
      }),
    );

  kb.command('delete')
    .description('Delete a document and its chunks')
    .argument('<id>', 'document id')
    .option('--json', 'print JSON')
    .action(
      run(async (deps, id: string, options: JsonOption) => {
        const result = await deleteKbDocument(deps, id);
        if (options.json) {
          io.out(JSON.stringify({ id, ...result }));
          if (!result.deleted) io.setExitCode(1);
          return;
        }
        if (!result.deleted) throw new Error(`No knowledge-base document with id "${id}".`);
        io.out(`Deleted "${id}" (${result.chunks} chunk(s)).`);
      }),
    );

  kb.command('search')
    .description('Search the knowledge base the way the agent does')
    .argument('<query>', 'the question, in quotes')
    .option('-n, --limit <n>', 'number of passages', parseLimit, 5)
    .addOption(new Option('--source <source>', 'only kb articles or resolutions').argParser(parseSource))
    .option(
      '--intent <intents>',
      'only passages tagged with any of these intents (comma-separated, repeatable)',
      collect,
    )
    .option('--json', 'print JSON (passages with text)')
    .action(
      run(
        async (
          deps,
          query: string,
          options: JsonOption & { limit: number; source?: PassageSource; intent?: string[] },
        ) => {
          const filter: SearchFilter = {
            ...(options.source ? { source: options.source } : {}),
            ...(options.intent?.length ? { intentsAny: options.intent } : {}),
          };
          const passages = await searchKnowledgeBase(deps, query, { limit: options.limit, filter });
          if (options.json) {
            io.out(JSON.stringify(passages));
            return;
          }
          if (passages.length === 0) {
            io.out('No passages found.');
            return;
          }
          passages.forEach((p, i) => {
            const where = [p.title, ...p.headingPath].join(' › ');
            const excerpt = p.text.replace(/\s+/g, ' ').slice(0, 140);
            io.out(
              `${i + 1}. ${p.score.toFixed(3)}  ${where}  (${p.documentId})\n   ${excerpt}${p.text.length > 140 ? '…' : ''}`,
            );
          });
        },
      ),
    );

  kb.command('calibrate')
    .description(
      'Fit ANSWER_MIN_SCORE and ANSWER_MIN_MARGIN to this knowledge base for a target wrong-answer rate',
    )
    .option(
      '--labels <file>',
      'JSON array of {"question": "...", "answeredBy": "<document id>" | null} (null: the KB does not answer it)',
    )
    .option('--no-resolved', 'leave out the tickets humans resolved (counted as not covered by the articles)')
    .option('--target <rate>', 'wrong answers allowed among autonomous answers', parseRate, 0.03)
    .option(
      '--top-k <n>',
      'passages retrieved per question: the RETRIEVAL_TOP_K the agent runs with',
      parseLimit,
      5,
    )
    .option('--json', 'print JSON')
    .action(
      run(
        async (
          deps,
          options: JsonOption & { labels?: string; resolved: boolean; target: number; topK: number },
        ) => {
          const report = await calibrateAnswerability(deps, {
            ...(options.labels ? { labelsPath: options.labels } : {}),
            useResolvedTickets: options.resolved,
            topK: options.topK,
            targetWrongRate: options.target,
          });
          if (options.json) {
            io.out(JSON.stringify(report));
            return;
          }
          io.out(
            `${report.labelled} labelled questions (${report.fromFile} from --labels, ${report.fromResolvedTickets} resolved tickets).`,
          );
          const { fitted } = report;
          if (!fitted) {
            io.err(
              report.labelled === 0
                ? 'Nothing to calibrate on: pass --labels, or resolve some tickets first.'
                : `No thresholds keep wrong answers within ${(options.target * 100).toFixed(1)} % on these questions.`,
            );
            io.setExitCode(1);
            return;
          }
          const { counts } = fitted;
          io.out(
            [
              `ANSWER_MIN_SCORE=${fitted.thresholds.minScore}`,
              `ANSWER_MIN_MARGIN=${fitted.thresholds.minMargin}`,
              `Expected on questions like these: answer rate ${(fitted.answerRate * 100).toFixed(1)} %, ` +
                `wrong answers ${counts.wrong} of ${counts.answered} (${(fitted.wrongRate * 100).toFixed(1)} %), ` +
                `covered answered correctly ${counts.correct}/${counts.covered}, ` +
                `uncovered handed off ${counts.uncoveredHandedOff}/${counts.uncovered}.`,
              'Set the two values in the environment of the API (new tickets take them at start).',
            ].join('\n'),
          );
        },
      ),
    );

  kb.command('reindex')
    .description(
      'Re-embed every document with the configured model: in place (the KB is empty meanwhile), or --into another ' +
        'collection while this one keeps serving (then switch KB_COLLECTION; run it again after the switch to catch up)',
    )
    .addOption(
      new Option('--into <collection>', 'build or update this collection instead of KB_COLLECTION').argParser(
        parseCollection,
      ),
    )
    .option('--json', 'print the summary as JSON')
    .action(
      run(async (deps, options: JsonOption & { into?: string }) => {
        if (options.into) {
          await reindexInto(deps, options.into, options);
          return;
        }
        const bar = progress(io, 'Reindexing', options.json);
        const result = await reindexAll(deps, (p) => bar.update(p.done, p.total, p.documentId)).finally(
          bar.stop,
        );
        const description = await deps.store.describe();
        if (options.json) {
          io.out(JSON.stringify({ ...result, store: description }));
          return;
        }
        io.out(
          `Reindexed ${result.documents} document(s) into ${result.chunks} chunk(s) with ${description.modelId} ` +
            `(${description.kind} collection "${description.collection}").`,
        );
      }),
    );

  /** `reindex --into`: sync another collection from the registry while the one in service keeps serving. */
  async function reindexInto(deps: KbCommandDeps, collection: string, options: JsonOption): Promise<void> {
    if (!deps.storeFor) throw new Error('--into is not available here');
    const target = deps.storeFor(collection);
    try {
      const bar = progress(io, `Syncing ${collection}`, options.json);
      const summary = await syncCollection({ ...deps, store: target }, (p) =>
        bar.update(p.done, p.total, p.documentId),
      ).finally(bar.stop);
      const description = await target.describe();
      if (options.json) {
        io.out(JSON.stringify({ ...summary, store: description }));
        return;
      }
      io.out(
        `Collection "${collection}" (${description.kind}, ${description.modelId}): ${summary.documents} document(s), ` +
          `${summary.embedded} embedded, ${summary.unchanged} unchanged, ${summary.removed} removed ` +
          `(${description.count} chunk(s)).`,
      );
      if (collection !== deps.collection)
        io.err(
          `Next: set KB_COLLECTION=${collection} and EMBEDDING_MODEL=${description.modelId} on the API and the worker ` +
            `(rolling update), run this command again to catch up, then \`ticketflow kb drop ${deps.collection ?? '<old>'} --yes\`.`,
        );
    } finally {
      await target.close();
    }
  }

  kb.command('drop')
    .description('Delete a whole collection that is no longer in service (the old one after reindex --into)')
    .argument('<collection>', 'collection name', parseCollection)
    .option('--yes', 'really delete it')
    .option('--json', 'print JSON')
    .action(
      run(async (deps, collection: string, options: JsonOption & { yes?: boolean }) => {
        if (collection === deps.collection)
          throw new Error(
            `"${collection}" is KB_COLLECTION, the collection in service; switch KB_COLLECTION to another one first.`,
          );
        if (!deps.storeFor) throw new Error('drop is not available here');
        if (!options.yes)
          throw new Error(`This deletes every passage in "${collection}"; add --yes to go ahead.`);
        const store = deps.storeFor(collection);
        try {
          await store.reset();
        } finally {
          await store.close();
        }
        if (options.json) io.out(JSON.stringify({ dropped: collection }));
        else io.out(`Dropped collection "${collection}".`);
      }),
    );

  kb.command('info')
    .description('Show the vector store, collection, embedding model and chunk count')
    .option('--json', 'print JSON')
    .action(
      run(async (deps, options: JsonOption) => {
        const description = await deps.store.describe();
        const documents = (await listDocuments(deps.db)).length;
        if (options.json) {
          io.out(JSON.stringify({ ...description, documents }));
          return;
        }
        io.out(
          `Store: ${description.kind}, collection "${description.collection}"\n` +
            `Model: ${description.modelId} (dimension ${description.dimension}, ${description.distance})\n` +
            `Documents: ${documents}   Chunks: ${description.count}`,
        );
      }),
    );

  return kb;
}
