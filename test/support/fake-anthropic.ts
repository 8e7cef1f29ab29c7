/**
 * A local stand-in for the Anthropic Messages API (`POST /v1/messages`), for tests and benchmarks.
 *
 *   const fake = await startFakeAnthropic({ classifyLatencyMs: 50, answerLatencyMs: 200 });
 *   // point the provider at it: ANTHROPIC_BASE_URL=fake.url, ANTHROPIC_API_KEY=<anything>
 *   fake.setScript([{ kind: 'error', status: 529 }, { kind: 'smart' }]); // then the default responder
 *   fake.requests[0].body.system; // every request, parsed
 *   fake.reset(); await fake.close();
 *
 * Without a script every request gets the "smart" responder: for a tool whose name contains "classif"
 * a keyword-based classification (intent from the tool schema's `intent` enum), for a tool whose name
 * contains "answer" an answer citing the first `<passage id="...">` in the prompt (or "cannot_answer" if
 * there is none). Responses carry text / tool_use content blocks and `usage` with
 * `cache_creation_input_tokens` / `cache_read_input_tokens`: the first request with a given
 * cache_control'd prefix (tools + system up to the last cache_control block) writes the cache, later
 * ones read it. Tokens are estimated as characters / 4.
 *
 * Script steps (consumed in order; a step with `for` only matches that kind of request):
 *   { kind: 'smart', latencyMs?, until? }               the default responder, explicitly; with `until`, the
 *                                                       request is held (`held` true) until that promise settles
 *   { kind: 'success', toolInput?, text?, usage?, stopReason?, latencyMs? }   a tool_use (and/or text) reply
 *   { kind: 'malformed', toolInput?, latencyMs? }       a tool_use whose input violates the schema
 *   { kind: 'fenced_json', json?, latencyMs? }          no tool call: a text block with ```json ...``` (default: the smart result)
 *   { kind: 'error', status, type?, message?, retryAfter?, retryAfterMs?, latencyMs? }   Anthropic-format error body
 *   { kind: 'hang' }                                    never respond (until close())
 *   { kind: 'drop' }                                    destroy the connection without a response
 *
 * Like the real API it answers 401 without a key (`x-api-key` or `Authorization: Bearer`, see apiKeyOf) or, given
 * `apiKeys`, with another key; 404 for a model outside `models` (when given); and 400 for a body without model,
 * max_tokens or messages, for a forced tool_choice naming no given tool, and for a tool_use turn that
 * is not followed by its tool_result.
 */
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export type RequestKind = 'classify' | 'answer' | 'other';

interface StepBase {
  /** Only consume this step for requests of this kind (by tool name). */
  for?: RequestKind;
}

export type FakeStep = StepBase &
  (
    | { kind: 'smart'; latencyMs?: number; until?: Promise<unknown> }
    | {
        kind: 'success';
        toolInput?: Record<string, unknown>;
        text?: string;
        usage?: Partial<FakeUsage>;
        stopReason?: string;
        latencyMs?: number;
      }
    | { kind: 'malformed'; toolInput?: unknown; latencyMs?: number }
    | { kind: 'fenced_json'; json?: unknown; latencyMs?: number }
    | {
        kind: 'error';
        status: number;
        type?: string;
        message?: string;
        /** `retry-after` header (seconds). */
        retryAfter?: string | number;
        /** `retry-after-ms` header. */
        retryAfterMs?: number;
        latencyMs?: number;
      }
    | { kind: 'hang' }
    | { kind: 'drop' }
  );

export interface FakeUsage {
  input_tokens: number;
  output_tokens: number;
  cache_creation_input_tokens: number;
  cache_read_input_tokens: number;
}

export interface FakeTextBlock {
  type: 'text';
  text: string;
  cache_control?: { type: string };
}

export interface FakeMessagesRequest {
  model: string;
  max_tokens: number;
  system?: string | FakeTextBlock[];
  tools?: Array<{
    name: string;
    description?: string;
    input_schema: Record<string, unknown>;
    cache_control?: { type: string };
  }>;
  tool_choice?: { type: string; name?: string };
  messages: Array<{ role: 'user' | 'assistant'; content: string | Array<Record<string, unknown>> }>;
  [key: string]: unknown;
}

export interface RecordedRequest {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  body: FakeMessagesRequest;
  kind: RequestKind;
  /** What the server did: the step kind, or 'rejected' for a request the fake itself refused. */
  handledBy: FakeStep['kind'] | 'rejected';
  receivedAt: number;
  /** True while a `smart` step with `until` holds the response back. */
  held: boolean;
  /** When a response (or error) was sent; undefined while the request is still being handled. */
  respondedAt?: number;
  /** When the client's connection closed before a response was sent (it gave up, or its process died). */
  abandonedAt?: number;
}

export interface FakeAnthropicOptions {
  /** 0 (default) picks a free port. */
  port?: number;
  /** Delay before smart/success replies to classification requests. */
  classifyLatencyMs?: number;
  /** Delay before smart/success replies to answer requests. */
  answerLatencyMs?: number;
  /**
   * Cached prefixes shorter than this (estimated tokens) are not cached, as with the real API: one number for
   * every model, or per model id (unlisted models: 0). Default 0, so tests see caching at any size.
   */
  minCacheTokens?: number | Record<string, number>;
  /** When given, only these keys are accepted; any other gets 401 `authentication_error`, as the real API. */
  apiKeys?: string[];
  /** When given, only these model ids exist; any other gets 404 `not_found_error`, as the real API. */
  models?: string[];
}

export interface FakeAnthropic {
  url: string;
  port: number;
  /** Every request received, in order (also those answered with errors). */
  requests: RecordedRequest[];
  /** Replace the script; when it runs out, the smart responder answers. */
  setScript(steps: FakeStep[]): void;
  /** Append to the script. */
  enqueue(...steps: FakeStep[]): void;
  /** Steps not consumed yet. */
  pendingSteps(): number;
  /** Forget script, recorded requests and the simulated prompt cache. */
  reset(): void;
  close(): Promise<void>;
}

const ERROR_TYPES: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  403: 'permission_error',
  404: 'not_found_error',
  413: 'request_too_large',
  429: 'rate_limit_error',
  500: 'api_error',
  529: 'overloaded_error',
};

export async function startFakeAnthropic(options: FakeAnthropicOptions = {}): Promise<FakeAnthropic> {
  let script: FakeStep[] = [];
  const requests: RecordedRequest[] = [];
  const cachedPrefixes = new Set<string>();
  const sockets = new Set<Socket>();
  let counter = 0;

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      void handle(req, res, Buffer.concat(chunks).toString('utf8'));
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });

  async function handle(req: http.IncomingMessage, res: http.ServerResponse, rawBody: string): Promise<void> {
    let body: FakeMessagesRequest;
    try {
      body = JSON.parse(rawBody || '{}') as FakeMessagesRequest;
    } catch {
      return sendError(res, 400, 'invalid_request_error', 'request body is not valid JSON');
    }
    const kind = requestKind(body);
    const record: RecordedRequest = {
      method: req.method ?? '',
      path: req.url ?? '',
      headers: req.headers,
      body,
      kind,
      handledBy: 'rejected',
      receivedAt: Date.now(),
      held: false,
    };
    requests.push(record);
    res.on('finish', () => {
      record.respondedAt = Date.now();
    });
    res.on('close', () => {
      if (record.respondedAt === undefined) record.abandonedAt = Date.now();
    });

    if (req.method !== 'POST' || !(req.url ?? '').startsWith('/v1/messages')) {
      return sendError(res, 404, 'not_found_error', `no route ${req.method} ${req.url}`);
    }
    const apiKey = apiKeyOf(req.headers);
    if (!apiKey) {
      return sendError(
        res,
        401,
        'authentication_error',
        'an x-api-key or Authorization: Bearer header is required',
      );
    }
    if (options.apiKeys && !options.apiKeys.includes(apiKey))
      return sendError(res, 401, 'authentication_error', 'invalid x-api-key');
    const invalid = validateRequest(body);
    if (invalid) return sendError(res, 400, 'invalid_request_error', invalid);
    if (options.models && !options.models.includes(body.model))
      return sendError(res, 404, 'not_found_error', `model: ${body.model}`);

    const index = script.findIndex((step) => step.for === undefined || step.for === kind);
    const step: FakeStep = index >= 0 ? script.splice(index, 1)[0]! : { kind: 'smart' };
    record.handledBy = step.kind;
    const defaultLatency =
      kind === 'classify'
        ? (options.classifyLatencyMs ?? 0)
        : kind === 'answer'
          ? (options.answerLatencyMs ?? 0)
          : 0;

    switch (step.kind) {
      case 'hang':
        return; // the socket stays open until the client gives up or close() destroys it
      case 'drop':
        req.socket.destroy();
        return;
      case 'error': {
        await sleep(step.latencyMs ?? 0);
        const headers: Record<string, string> = {};
        if (step.retryAfter !== undefined) headers['retry-after'] = String(step.retryAfter);
        if (step.retryAfterMs !== undefined) headers['retry-after-ms'] = String(step.retryAfterMs);
        return sendError(
          res,
          step.status,
          step.type ??
            ERROR_TYPES[step.status] ??
            (step.status >= 500 ? 'api_error' : 'invalid_request_error'),
          step.message ?? `simulated ${step.status}`,
          headers,
        );
      }
      default: {
        if (step.kind === 'smart' && step.until) {
          record.held = true;
          await step.until.catch(() => undefined);
          record.held = false;
        }
        await sleep(('latencyMs' in step ? step.latencyMs : undefined) ?? defaultLatency);
        if (res.destroyed) return;
        return sendJson(res, 200, buildMessage(body, kind, step));
      }
    }
  }

  function buildMessage(
    body: FakeMessagesRequest,
    kind: RequestKind,
    step: FakeStep,
  ): Record<string, unknown> {
    const toolName = forcedOrOnlyTool(body);
    const content: Array<Record<string, unknown>> = [];
    let stopReason = 'end_turn';
    const toolUse = (input: unknown) => {
      content.push({ type: 'tool_use', id: `toolu_fake_${++counter}`, name: toolName, input });
      stopReason = 'tool_use';
    };
    if (step.kind === 'success') {
      if (step.text !== undefined) content.push({ type: 'text', text: step.text });
      if (toolName && (step.toolInput !== undefined || step.text === undefined)) {
        toolUse(step.toolInput ?? smartToolInput(body, kind));
      }
      if (step.stopReason) stopReason = step.stopReason;
    } else if (step.kind === 'malformed') {
      toolUse(step.toolInput ?? { intent: 42, status: 'maybe', confidence: 'very high' });
    } else if (step.kind === 'fenced_json') {
      const json = step.json ?? smartToolInput(body, kind);
      content.push({
        type: 'text',
        text: `Here is the result:\n\n\`\`\`json\n${JSON.stringify(json, null, 2)}\n\`\`\``,
      });
    } else if (toolName) {
      toolUse(smartToolInput(body, kind));
    } else {
      content.push({ type: 'text', text: 'OK.' });
    }
    const usage = { ...simulateUsage(body, content), ...(step.kind === 'success' ? step.usage : undefined) };
    return {
      id: `msg_fake_${++counter}`,
      type: 'message',
      role: 'assistant',
      model: body.model,
      content,
      stop_reason: stopReason,
      stop_sequence: null,
      usage,
    };
  }

  function simulateUsage(body: FakeMessagesRequest, content: Array<Record<string, unknown>>): FakeUsage {
    const tools = JSON.stringify(body.tools ?? []);
    const systemBlocks: FakeTextBlock[] =
      typeof body.system === 'string' ? [{ type: 'text', text: body.system }] : (body.system ?? []);
    const lastCached = systemBlocks.map((block) => Boolean(block.cache_control)).lastIndexOf(true);
    const prefixText =
      lastCached >= 0
        ? tools +
          systemBlocks
            .slice(0, lastCached + 1)
            .map((b) => b.text)
            .join('')
        : '';
    const totalTokens = estimateTokens(
      tools + systemBlocks.map((b) => b.text).join('') + JSON.stringify(body.messages),
    );
    const prefixTokens = estimateTokens(prefixText);
    const usage: FakeUsage = {
      input_tokens: totalTokens,
      output_tokens: Math.max(1, estimateTokens(JSON.stringify(content))),
      cache_creation_input_tokens: 0,
      cache_read_input_tokens: 0,
    };
    const minimum =
      typeof options.minCacheTokens === 'number'
        ? options.minCacheTokens
        : (options.minCacheTokens?.[body.model] ?? 0);
    if (prefixTokens > 0 && prefixTokens >= minimum) {
      const key = `${body.model}\u0000${prefixText}`;
      if (cachedPrefixes.has(key)) usage.cache_read_input_tokens = prefixTokens;
      else {
        cachedPrefixes.add(key);
        usage.cache_creation_input_tokens = prefixTokens;
      }
      usage.input_tokens = totalTokens - prefixTokens;
    }
    return usage;
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    setScript(steps) {
      script = [...steps];
    },
    enqueue(...steps) {
      script.push(...steps);
    },
    pendingSteps: () => script.length,
    reset() {
      script = [];
      requests.length = 0;
      cachedPrefixes.clear();
    },
    close() {
      for (const socket of sockets) socket.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** The key as sent: `x-api-key` (older SDKs, curl) or `Authorization: Bearer` (SDK 1.x). */
export function apiKeyOf(headers: http.IncomingHttpHeaders): string | undefined {
  const header = headers['x-api-key'];
  if (typeof header === 'string' && header) return header;
  const bearer = /^Bearer\s+(.+)$/i.exec(headers.authorization ?? '');
  return bearer?.[1];
}

function sleep(ms: number): Promise<void> {
  return ms > 0 ? new Promise((resolve) => setTimeout(resolve, ms)) : Promise.resolve();
}

function estimateTokens(text: string): number {
  return Math.ceil(text.length / 4);
}

function sendJson(
  res: http.ServerResponse,
  status: number,
  payload: unknown,
  headers: Record<string, string> = {},
): void {
  if (res.destroyed) return;
  const body = JSON.stringify(payload);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
    'request-id': `req_fake_${Date.now().toString(36)}`,
    ...headers,
  });
  res.end(body);
}

function sendError(
  res: http.ServerResponse,
  status: number,
  type: string,
  message: string,
  headers: Record<string, string> = {},
): void {
  sendJson(
    res,
    status,
    { type: 'error', error: { type, message }, request_id: `req_fake_${Date.now().toString(36)}` },
    headers,
  );
}

function forcedOrOnlyTool(body: FakeMessagesRequest): string | undefined {
  if (body.tool_choice?.type === 'tool' && body.tool_choice.name) return body.tool_choice.name;
  if (body.tool_choice?.type === 'none') return undefined;
  return body.tools?.[0]?.name;
}

function requestKind(body: FakeMessagesRequest): RequestKind {
  const name = forcedOrOnlyTool(body) ?? '';
  if (/classif/i.test(name)) return 'classify';
  if (/answer/i.test(name)) return 'answer';
  return 'other';
}

function validateRequest(body: FakeMessagesRequest): string | undefined {
  if (typeof body.model !== 'string' || !body.model) return 'model: Field required';
  if (typeof body.max_tokens !== 'number' || body.max_tokens < 1) return 'max_tokens: Field required';
  if (!Array.isArray(body.messages) || body.messages.length === 0)
    return 'messages: at least one message is required';
  if (
    body.tool_choice?.type === 'tool' &&
    !(body.tools ?? []).some((t) => t.name === body.tool_choice?.name)
  ) {
    return `tool_choice: tool ${body.tool_choice.name} not found in tools`;
  }
  // Every tool_use must be answered by a tool_result in the next (user) message.
  for (let i = 0; i < body.messages.length; i++) {
    const message = body.messages[i]!;
    if (message.role !== 'assistant' || typeof message.content === 'string') continue;
    const ids = message.content.filter((block) => block.type === 'tool_use').map((block) => String(block.id));
    if (ids.length === 0) continue;
    const next = body.messages[i + 1];
    const results =
      next && next.role === 'user' && Array.isArray(next.content)
        ? next.content
            .filter((block) => block.type === 'tool_result')
            .map((block) => String(block.tool_use_id))
        : [];
    const missing = ids.filter((id) => !results.includes(id));
    if (missing.length > 0) {
      return `messages.${i + 1}: tool_use ids were found without tool_result blocks immediately after: ${missing.join(', ')}`;
    }
  }
  return undefined;
}

/** The text of the first user message (the ticket prompt), whether a string or text blocks. */
function promptText(body: FakeMessagesRequest): string {
  const first = body.messages.find((m) => m.role === 'user');
  if (!first) return '';
  if (typeof first.content === 'string') return first.content;
  return first.content
    .filter((block) => block.type === 'text')
    .map((block) => String(block.text))
    .join('\n');
}

function ticketText(prompt: string): string {
  const match = /<ticket>([\s\S]*?)<\/ticket>/.exec(prompt);
  return (match?.[1] ?? prompt)
    .replace(/<\/?(?:subject|body)>/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
}

const INTENT_KEYWORDS: Record<string, RegExp> = {
  complaint:
    /\b(?:disappointed|terrible|unacceptable|complain\w*|rude|worst|angry|frustrat\w*|awful|misled)\b/gi,
  feature_request:
    /\b(?:feature|would be (?:great|nice)|please add|could you add|suggest\w*|wish|roadmap|idea)\b/gi,
  billing:
    /\b(?:charg\w*|invoice\w*|refund\w*|bill\w*|payment\w*|pric\w*|subscription|card|vat|discount)\b/gi,
  account: /\b(?:password|log ?in|login|account|2fa|two-factor|username|sign ?in|admin|invite)\b/gi,
  technical:
    /\b(?:error|bug|crash\w*|not working|broken|api|sync\w*|fail\w*|slow|500|webhook\w*|export|import)\b/gi,
};

function smartToolInput(body: FakeMessagesRequest, kind: RequestKind): Record<string, unknown> {
  const prompt = promptText(body);
  if (kind === 'answer') {
    const passage = /<passage id="([^"]+)"[^>]*>\s*([\s\S]*?)<\/passage>/.exec(prompt);
    if (!passage) return { status: 'cannot_answer', reason: 'The prompt contains no passages.' };
    const firstSentence =
      (passage[2] ?? '')
        .replace(/\s+/g, ' ')
        .trim()
        .split(/(?<=[.!?])\s/)[0] ?? '';
    return {
      status: 'answer',
      reply: `Thanks for contacting us. ${firstSentence}`.trim(),
      cited_passage_ids: [
        passage[1]!
          .replace(/&quot;/g, '"')
          .replace(/&lt;/g, '<')
          .replace(/&amp;/g, '&'),
      ],
    };
  }
  const text = ticketText(prompt);
  const schemaIntents = (
    body.tools?.[0]?.input_schema?.properties as Record<string, { enum?: unknown[] }> | undefined
  )?.intent?.enum;
  const intents = (Array.isArray(schemaIntents) ? schemaIntents : Object.keys(INTENT_KEYWORDS)).map(String);
  let intent = intents.includes('other') ? 'other' : intents[0]!;
  let hits = 0;
  for (const candidate of intents) {
    const count = text.match(INTENT_KEYWORDS[candidate] ?? /$^/)?.length ?? 0;
    if (count > hits) {
      intent = candidate;
      hits = count;
    }
  }
  const urgency =
    /\b(?:down for (?:everyone|all)|outage|hacked|breach|data loss|lawyer|lawsuit|chargeback)\b/i.test(text)
      ? 'critical'
      : /\b(?:urgent|asap|immediately|blocked)\b/i.test(text)
        ? 'high'
        : intent === 'feature_request' || intent === 'other'
          ? 'low'
          : 'medium';
  const sentiment = /\b(?:angry|terrible|unacceptable|worst|awful|disappointed|frustrat\w*)\b/i.test(text)
    ? 'negative'
    : /\b(?:thanks|thank you|great|love)\b/i.test(text)
      ? 'positive'
      : 'neutral';
  return {
    intent,
    urgency,
    confidence: hits >= 2 ? 0.92 : hits === 1 ? 0.8 : 0.4,
    summary: text.slice(0, 100) || '(empty ticket)',
    sentiment,
    language: 'en',
  };
}
