import { createHash } from 'node:crypto';
import path from 'node:path';
import { htmlToText, type FormatCallback } from 'html-to-text';
import { parse as parseYaml } from 'yaml';
import type { PassageSource } from '../domain/ticket';

/**
 * Turns Markdown, plain text or HTML into retrieval-sized chunks. Chunks never straddle a heading: each one
 * belongs to exactly one section, whose heading path travels with it so a passage can say where it came from.
 */

/** Bump when chunking changes so unchanged documents are re-chunked on the next ingest (part of the content hash). */
export const CHUNKER_VERSION = 1;

export const DEFAULT_MAX_CHUNK_CHARS = 800;
export const DEFAULT_CHUNK_OVERLAP_CHARS = 120;

export type DocumentFormat = 'markdown' | 'text' | 'html';

export interface DocumentMetadata {
  intents?: string[];
  title?: string;
}

export interface ParsedDocument {
  title: string;
  /** Markdown-ish text without front matter (HTML already converted). */
  body: string;
  metadata: DocumentMetadata;
}

export interface Chunk {
  id: string;
  documentId: string;
  title: string;
  headingPath: string[];
  source: PassageSource;
  ticketId?: string;
  intents: string[];
  text: string;
}

export interface ChunkOptions {
  maxChars?: number;
  overlapChars?: number;
}

export interface ChunkableDocument {
  documentId: string;
  title: string;
  /** Markdown or plain text, without front matter. */
  body: string;
  source: PassageSource;
  ticketId?: string;
  intents?: string[];
}

export function formatFromFileName(fileName: string): DocumentFormat | undefined {
  const ext = path.extname(fileName).toLowerCase();
  if (ext === '.md' || ext === '.markdown') return 'markdown';
  if (ext === '.txt') return 'text';
  if (ext === '.html' || ext === '.htm') return 'html';
  return undefined;
}

// --- front matter ---------------------------------------------------------------------------------------

const FRONT_MATTER = /^\uFEFF?---[ \t]*\r?\n([\s\S]*?)\r?\n---[ \t]*(?:\r?\n|$)/;

function toStringList(value: unknown): string[] | undefined {
  if (typeof value === 'string') {
    return value
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
  }
  if (Array.isArray(value)) return value.map((v) => String(v).trim()).filter(Boolean);
  return undefined;
}

/** Reads an optional leading `---` block (`intents: billing, refunds`, `title: ...`); unknown keys are ignored. */
export function splitFrontMatter(raw: string): { metadata: DocumentMetadata; body: string } {
  const match = FRONT_MATTER.exec(raw);
  if (!match) return { metadata: {}, body: raw };
  let data: unknown;
  try {
    data = parseYaml(match[1] ?? '');
  } catch {
    // Not YAML after all (e.g. a document that opens with a horizontal rule): keep the text as written.
    return { metadata: {}, body: raw };
  }
  if (data === null || typeof data !== 'object' || Array.isArray(data)) return { metadata: {}, body: raw };
  const record = data as Record<string, unknown>;
  const metadata: DocumentMetadata = {};
  const intents = toStringList(record.intents);
  if (intents) metadata.intents = intents.map((i) => i.toLowerCase());
  if (typeof record.title === 'string' && record.title.trim()) metadata.title = record.title.trim();
  return { metadata, body: raw.slice(match[0].length) };
}

// --- HTML -----------------------------------------------------------------------------------------------

function markdownHeading(level: number): FormatCallback {
  return (elem, walk, builder) => {
    builder.openBlock({ leadingLineBreaks: 2 });
    builder.addLiteral(`${'#'.repeat(level)} `);
    walk(elem.children, builder);
    builder.closeBlock({ trailingLineBreaks: 2 });
  };
}

/** HTML → text, keeping headings as Markdown `#` lines so the chunker still sees the document's structure. */
export function htmlToMarkdownishText(html: string): { text: string; htmlTitle?: string } {
  const titleMatch = /<title[^>]*>([\s\S]*?)<\/title>/i.exec(html);
  const levels = [1, 2, 3, 4, 5, 6];
  const text = htmlToText(html, {
    wordwrap: false,
    formatters: Object.fromEntries(levels.map((l) => [`mdH${l}`, markdownHeading(l)])),
    selectors: [
      ...levels.map((l) => ({ selector: `h${l}`, format: `mdH${l}` })),
      { selector: 'title', format: 'skip' },
      { selector: 'a', options: { ignoreHref: true } },
      { selector: 'img', format: 'skip' },
      { selector: 'ul', options: { itemPrefix: ' - ' } },
    ],
  });
  const htmlTitle = titleMatch?.[1]?.replace(/\s+/g, ' ').trim();
  return { text, htmlTitle: htmlTitle || undefined };
}

// --- parsing --------------------------------------------------------------------------------------------

function titleFromFileName(fileName: string): string {
  const base = path.basename(fileName, path.extname(fileName)).replace(/[-_]+/g, ' ').trim();
  return base ? base.charAt(0).toUpperCase() + base.slice(1) : 'Untitled';
}

export function firstH1(markdown: string): string | undefined {
  for (const line of markdown.split(/\r?\n/)) {
    const m = /^#\s+(.+?)\s*#*\s*$/.exec(line);
    if (m?.[1]) return m[1];
  }
  return undefined;
}

/**
 * Raw file content → title, body and metadata. Title precedence: front matter `title:`, the first `# `
 * heading, the HTML `<title>`, then the file name.
 */
export function parseDocument(raw: string, options: { format: DocumentFormat; fileName?: string }): ParsedDocument {
  const { metadata, body: afterFrontMatter } = splitFrontMatter(raw.replace(/\r\n?/g, '\n'));
  let body = afterFrontMatter;
  let htmlTitle: string | undefined;
  if (options.format === 'html') {
    const converted = htmlToMarkdownishText(afterFrontMatter);
    body = converted.text;
    htmlTitle = converted.htmlTitle;
  }
  const title =
    metadata.title ??
    (options.format === 'text' ? undefined : firstH1(body)) ??
    htmlTitle ??
    (options.fileName ? titleFromFileName(options.fileName) : 'Untitled');
  return { title, body: body.trim(), metadata };
}

// --- blocks ---------------------------------------------------------------------------------------------

interface Block {
  kind: 'heading' | 'paragraph' | 'list' | 'code' | 'table';
  text: string;
  level?: number;
}

const HEADING = /^(#{1,6})\s+(.*?)\s*#*\s*$/;
const LIST_ITEM = /^\s{0,3}(?:[-*+]|\d{1,3}[.)])\s+/;
const FENCE = /^\s{0,3}(```|~~~)/;

/** Splits Markdown into headings, paragraphs, whole lists, fenced code and tables. */
function toBlocks(markdown: string): Block[] {
  const lines = markdown.split('\n');
  const blocks: Block[] = [];
  let i = 0;
  while (i < lines.length) {
    const line = lines[i] ?? '';
    if (line.trim() === '') {
      i++;
      continue;
    }
    const heading = HEADING.exec(line);
    if (heading) {
      blocks.push({ kind: 'heading', level: heading[1]!.length, text: (heading[2] ?? '').trim() });
      i++;
      continue;
    }
    const fence = FENCE.exec(line);
    if (fence) {
      const collected = [line];
      i++;
      while (i < lines.length && !(lines[i] ?? '').trimStart().startsWith(fence[1]!)) collected.push(lines[i++] ?? '');
      if (i < lines.length) collected.push(lines[i++] ?? '');
      blocks.push({ kind: 'code', text: collected.join('\n') });
      continue;
    }
    if (line.trimStart().startsWith('|')) {
      const collected: string[] = [];
      while (i < lines.length && (lines[i] ?? '').trimStart().startsWith('|')) collected.push(lines[i++] ?? '');
      blocks.push({ kind: 'table', text: collected.join('\n') });
      continue;
    }
    if (LIST_ITEM.test(line)) {
      // A list runs until a blank line followed by something that is neither an item nor indented continuation.
      const collected: string[] = [];
      while (i < lines.length) {
        const current = lines[i] ?? '';
        if (current.trim() === '') {
          const next = lines[i + 1] ?? '';
          if (LIST_ITEM.test(next) || /^\s{2,}\S/.test(next)) {
            collected.push('');
            i++;
            continue;
          }
          break;
        }
        if (HEADING.test(current) || FENCE.test(current)) break;
        collected.push(current);
        i++;
      }
      blocks.push({ kind: 'list', text: collected.join('\n') });
      continue;
    }
    const collected: string[] = [];
    while (i < lines.length) {
      const current = lines[i] ?? '';
      if (current.trim() === '' || HEADING.test(current) || FENCE.test(current) || LIST_ITEM.test(current)) break;
      collected.push(current.trim());
      i++;
    }
    blocks.push({ kind: 'paragraph', text: collected.join(' ') });
  }
  return blocks;
}

interface Section {
  headingPath: string[];
  blocks: Block[];
}

/** Groups blocks under their heading path. The first H1 is the document title, not part of the path. */
function toSections(blocks: Block[], title: string): Section[] {
  const sections: Section[] = [];
  const stack: Array<{ level: number; text: string }> = [];
  let titleConsumed = false;
  let current: Section = { headingPath: [], blocks: [] };
  for (const block of blocks) {
    if (block.kind !== 'heading') {
      current.blocks.push(block);
      continue;
    }
    if (current.blocks.length > 0) sections.push(current);
    const level = block.level ?? 1;
    if (level === 1 && !titleConsumed && block.text === title) {
      titleConsumed = true;
      stack.length = 0;
    } else {
      while (stack.length > 0 && stack[stack.length - 1]!.level >= level) stack.pop();
      stack.push({ level, text: block.text });
    }
    current = { headingPath: stack.map((h) => h.text), blocks: [] };
  }
  if (current.blocks.length > 0) sections.push(current);
  return sections;
}

// --- splitting long text --------------------------------------------------------------------------------

/** Sentence-ish pieces; falls back to words for run-on text so no piece exceeds `max`. */
function splitIntoPieces(text: string, max: number): string[] {
  const lineUnits = text.includes('\n') ? text.split('\n') : [text];
  const sentences = lineUnits.flatMap((unit) => unit.match(/[^.!?]+(?:[.!?]+["')\]]*|$)\s*/g) ?? [unit]);
  const pieces: string[] = [];
  for (const raw of sentences) {
    const sentence = raw.trim();
    if (!sentence) continue;
    if (sentence.length <= max) {
      pieces.push(sentence);
      continue;
    }
    let buffer = '';
    for (const word of sentence.split(/\s+/)) {
      if (word.length > max) {
        if (buffer) pieces.push(buffer);
        buffer = '';
        for (let k = 0; k < word.length; k += max) pieces.push(word.slice(k, k + max));
        continue;
      }
      if (buffer && buffer.length + 1 + word.length > max) {
        pieces.push(buffer);
        buffer = word;
      } else {
        buffer = buffer ? `${buffer} ${word}` : word;
      }
    }
    if (buffer) pieces.push(buffer);
  }
  return pieces;
}

/** The last ≈`overlap` characters of `text`, starting on a word boundary. */
function tailForOverlap(text: string, overlap: number): string {
  if (overlap <= 0 || text.length <= overlap) return overlap <= 0 ? '' : text;
  const slice = text.slice(text.length - overlap);
  const space = slice.search(/\s/);
  return (space >= 0 ? slice.slice(space) : slice).trim();
}

/**
 * Packs a section's blocks into chunks of at most `maxChars`. Blocks are kept whole when they fit; a block
 * too large for one chunk is split on sentences, and consecutive pieces of a split share `overlapChars`.
 */
function packSection(blocks: Block[], maxChars: number, overlapChars: number): string[] {
  const chunks: string[] = [];
  let current = '';
  const flush = () => {
    if (current.trim()) chunks.push(current.trim());
    current = '';
  };
  for (const block of blocks) {
    const text = block.text.trim();
    if (!text) continue;
    if (current && current.length + 2 + text.length <= maxChars) {
      current = `${current}\n\n${text}`;
      continue;
    }
    flush();
    if (text.length <= maxChars) {
      current = text;
      continue;
    }
    const joiner = block.kind === 'paragraph' ? ' ' : '\n';
    const pieces = splitIntoPieces(text, Math.max(1, maxChars - overlapChars - 1));
    let piece = '';
    for (const next of pieces) {
      if (piece && piece.length + joiner.length + next.length > maxChars) {
        chunks.push(piece);
        const overlap = tailForOverlap(piece, overlapChars);
        piece = overlap && overlap.length + joiner.length + next.length <= maxChars ? `${overlap}${joiner}${next}` : next;
      } else {
        piece = piece ? `${piece}${joiner}${next}` : next;
      }
    }
    current = piece;
  }
  flush();
  return chunks;
}

// --- public ---------------------------------------------------------------------------------------------

export function chunkId(documentId: string, headingPath: string[], text: string): string {
  return createHash('sha256')
    .update(`${documentId}\u0000${headingPath.join('\u001f')}\u0000${text}`)
    .digest('hex')
    .slice(0, 32);
}

export function chunkDocument(doc: ChunkableDocument, options: ChunkOptions = {}): Chunk[] {
  const maxChars = options.maxChars ?? DEFAULT_MAX_CHUNK_CHARS;
  const overlapChars = Math.min(options.overlapChars ?? DEFAULT_CHUNK_OVERLAP_CHARS, Math.floor(maxChars / 2));
  if (maxChars < 50) throw new Error(`maxChars must be at least 50 (got ${maxChars})`);
  const sections = toSections(toBlocks(doc.body.replace(/\r\n?/g, '\n')), doc.title);
  const seen = new Set<string>();
  const chunks: Chunk[] = [];
  for (const section of sections) {
    for (const text of packSection(section.blocks, maxChars, overlapChars)) {
      const id = chunkId(doc.documentId, section.headingPath, text);
      // Identical text in the same section would collide on id; one copy is enough for retrieval.
      if (seen.has(id)) continue;
      seen.add(id);
      chunks.push({
        id,
        documentId: doc.documentId,
        title: doc.title,
        headingPath: section.headingPath,
        source: doc.source,
        ...(doc.ticketId ? { ticketId: doc.ticketId } : {}),
        intents: doc.intents ?? [],
        text,
      });
    }
  }
  return chunks;
}

/** What gets embedded: title and heading path give a short passage the context its words leave out. */
export function embeddingInput(chunk: Pick<Chunk, 'title' | 'headingPath' | 'text'>): string {
  const where = [chunk.title, ...chunk.headingPath].join(' > ');
  return `${where}\n${chunk.text}`;
}

/** Lower-case, ASCII, dash-separated; used for document ids derived from file names. */
export function slugify(value: string): string {
  const slug = value
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
  return slug || 'document';
}
