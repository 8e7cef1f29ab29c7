import Anthropic from '@anthropic-ai/sdk';
import { transformJSONSchema } from '@anthropic-ai/sdk/lib/transform-json-schema';
import type { z } from 'zod';
import type { Answer, Classification, Passage, TokenUsage } from '../domain/ticket';
import { addUsage, costOf, DEFAULT_PRICES, resolvePrice, type PriceTable } from './cost';
import {
  fallbackPath,
  isKnownModel,
  modelFacts,
  planCall,
  type CallPlan,
  type Effort,
  type StructuredPath,
} from './models';
import {
  answerSystemPrompt,
  answerUserMessage,
  classifySystemPrompt,
  classifyUserMessage,
  repairInstruction,
} from './prompts';
import {
  ANSWER_TOOL_NAME,
  answerToolSchema,
  CLASSIFY_TOOL_NAME,
  classificationToolSchema,
  extractJsonObjects,
  toInputSchema,
  validateAnswer,
  validateClassification,
  type Validated,
} from './structured-output';
import { toOneLine } from './text';
import {
  ARTICLE_TOOL_NAME,
  articleSystemPrompt,
  articleToolSchema,
  articleUserMessage,
  validateArticleDraft,
  type ArticleDraft,
  type ArticleDraftRequest,
} from './article-draft';
import {
  LlmError,
  type ArticleDraftResult,
  type AnswerResult,
  type ClassifyResult,
  type LlmProvider,
  type TicketForLlm,
} from './types';

export interface AnthropicProviderOptions {
  apiKey: string;
  /** e.g. the fake server in tests; defaults to the SDK's (api.anthropic.com). */
  baseURL?: string;
  models: { classify: string; answer: string };
  /** Output budget of one result; calls that may think get room for thinking on top (models.ts THINKING_HEADROOM). */
  maxTokens: number;
  /** Per HTTP attempt, body included; a repair round trip gets its own budget. */
  timeoutMs: number;
  intents: readonly string[];
  prices?: PriceTable;
  /** Let the answer model think (adaptive) where it can; classification never asks. Default off. */
  answerThinking?: boolean;
  /** `output_config.effort` per task, sent only to models that accept it. */
  effort?: { classify?: Effort; answer?: Effort };
  /** `auto` (default) follows the capability table (src/llm/models.ts); anything else forces that path. */
  structuredOutput?: StructuredPath | 'auto';
}

type MessageParam = Anthropic.Messages.MessageParam;
type Message = Anthropic.Messages.Message;
type CreateParams = Anthropic.Messages.MessageCreateParamsNonStreaming;

interface Task<T> {
  name: 'classify' | 'answer' | 'article';
  model: string;
  thinking: boolean;
  effort?: Effort;
  toolName: string;
  toolDescription: string;
  schema: z.ZodType;
  system: (path: StructuredPath) => string;
  userMessage: (path: StructuredPath) => string;
  validate: (raw: unknown) => Validated<T>;
}

interface Sent {
  message: Message;
  usage: TokenUsage;
}

/**
 * Claude through the Messages API. Each call asks for a structured result the way its model supports best
 * (src/llm/models.ts): JSON outputs where available, else a forced tool call where allowed, else `tool_choice:
 * auto`; the result is validated with zod and may be repaired exactly once. The SDK never retries
 * (`maxRetries: 0`): Temporal owns retries, so every failure surfaces at once as a typed `LlmError` carrying
 * the tokens already paid for.
 */
export class AnthropicProvider implements LlmProvider {
  readonly name = 'anthropic' as const;
  private readonly client: Anthropic;
  private readonly prices: PriceTable;
  private readonly classifyTask: Omit<Task<Classification>, 'userMessage'>;
  private readonly answerTask: Omit<Task<Answer>, 'userMessage' | 'validate'>;
  /** Paths the API refused for a model (`model|thinking`), so later calls skip straight to what works. */
  private readonly refusedPaths = new Map<string, StructuredPath>();
  private readonly systemPrompts = new Map<string, string>();
  private readonly warned = new Set<string>();

  constructor(private readonly options: AnthropicProviderOptions) {
    if (options.intents.length < 2) throw new Error('AnthropicProvider needs at least two intents');
    this.client = new Anthropic({
      apiKey: options.apiKey,
      baseURL: options.baseURL,
      maxRetries: 0,
      timeout: options.timeoutMs,
    });
    this.prices = options.prices ?? DEFAULT_PRICES;
    const intents = options.intents;
    this.classifyTask = {
      name: 'classify',
      model: options.models.classify,
      thinking: false,
      effort: options.effort?.classify,
      toolName: CLASSIFY_TOOL_NAME,
      toolDescription: 'Record the triage of one customer-support ticket.',
      schema: classificationToolSchema(intents),
      system: (path) => this.cachedSystem(`classify|${path}`, () => classifySystemPrompt(intents, path)),
      validate: (raw) => validateClassification(raw, intents),
    };
    this.answerTask = {
      name: 'answer',
      model: options.models.answer,
      thinking: options.answerThinking ?? false,
      effort: options.effort?.answer,
      toolName: ANSWER_TOOL_NAME,
      toolDescription: 'Record the grounded reply to the ticket, or that the passages cannot answer it.',
      schema: answerToolSchema,
      system: (path) => this.cachedSystem(`answer|${path}`, () => answerSystemPrompt(path)),
    };
    // An impossible override (e.g. forced tool use on a model that refuses it) stops the worker at start.
    this.plan(this.classifyTask);
    this.plan(this.answerTask);
  }

  async classify(ticket: TicketForLlm): Promise<ClassifyResult> {
    const { value, usage } = await this.structuredCall<Classification>({
      ...this.classifyTask,
      userMessage: (path) => classifyUserMessage(ticket, path),
    });
    return { classification: { ...value, summary: toOneLine(value.summary, 120) }, usage };
  }

  /** Written by the answer model from the agents' answers only; unknown citations or invented figures are repaired or refused. */
  async draftArticle(request: ArticleDraftRequest): Promise<ArticleDraftResult> {
    const { value, usage } = await this.structuredCall<ArticleDraft>({
      name: 'article',
      model: this.options.models.answer,
      thinking: this.answerTask.thinking,
      effort: this.answerTask.effort,
      toolName: ARTICLE_TOOL_NAME,
      toolDescription: 'Record a help-centre article drafted from the given human resolutions only.',
      schema: articleToolSchema,
      system: (path) => this.cachedSystem(`article|${path}`, () => articleSystemPrompt(path)),
      userMessage: (path) => articleUserMessage(request, path),
      validate: (raw) => validateArticleDraft(raw, request),
    });
    return { draft: value, usage };
  }

  async answer(ticket: TicketForLlm, passages: Passage[]): Promise<AnswerResult> {
    if (passages.length === 0) {
      // Nothing to ground a reply in: don't pay for a call whose only valid outcome is "cannot answer".
      return {
        answer: {
          kind: 'cannot_answer',
          reason: 'No knowledge-base passages were retrieved for this ticket.',
        },
        usage: this.usage(this.options.models.answer, undefined, 0),
      };
    }
    const passageIds = passages.map((p) => p.id);
    const { value, usage } = await this.structuredCall<Answer>({
      ...this.answerTask,
      userMessage: (path) => answerUserMessage(ticket, passages, path),
      validate: (raw) => validateAnswer(raw, passageIds),
    });
    return { answer: value, usage };
  }

  /** The capability table's plan for a task, with any path the API refused for this model skipped. */
  private plan(task: Pick<Task<unknown>, 'model' | 'thinking' | 'effort'>): CallPlan {
    if (!isKnownModel(task.model)) this.warnOnce(`unknown:${task.model}`, unknownModelWarning(task.model));
    const plan = planCall(task.model, {
      thinking: task.thinking,
      effort: task.effort,
      path: this.options.structuredOutput ?? 'auto',
      maxTokens: this.options.maxTokens,
    });
    const refused = this.refusedPaths.get(`${task.model}|${plan.thinkingOn}`);
    return refused ? { ...plan, path: refused } : plan;
  }

  private async structuredCall<T>(task: Task<T>): Promise<{ value: T; usage: TokenUsage }> {
    const { plan, messages, sent: first } = await this.firstCall(task);
    let usage = first.usage;
    this.throwIfRefusal(task, first.message, usage);
    const firstOutcome = this.interpret(task, plan.path, first.message);
    if (firstOutcome.ok) return { value: firstOutcome.value, usage };

    // One repair. A reply cut off at max_tokens (thinking counts against it) is asked again with a larger
    // budget; any other invalid reply is shown its validation error.
    let repairPlan = plan;
    if (first.message.stop_reason === 'max_tokens') {
      repairPlan = {
        ...plan,
        maxTokens: Math.min(plan.maxTokens * 2, modelFacts(task.model).maxOutputTokens),
      };
    } else {
      messages.push(...repairTurns(task, plan.path, first.message, firstOutcome.error));
    }
    let second: Sent;
    try {
      second = await this.send(task, repairPlan, messages);
    } catch (error) {
      throw toLlmError(error).withUsage(usage, addUsage);
    }
    usage = addUsage(usage, second.usage);
    this.throwIfRefusal(task, second.message, usage);
    const secondOutcome = this.interpret(task, plan.path, second.message);
    if (secondOutcome.ok) return { value: secondOutcome.value, usage };
    throw new LlmError(
      'invalid_model_output',
      `${task.name}: output still invalid after one repair attempt: ${secondOutcome.error}`,
      { usage },
    );
  }

  /**
   * The first call, on the planned path; if the API refuses that path for this model (a 400, billed nothing),
   * the next path in order of preference, remembered for later calls.
   */
  private async firstCall<T>(
    task: Task<T>,
  ): Promise<{ plan: CallPlan; messages: MessageParam[]; sent: Sent }> {
    let plan = this.plan(task);
    for (;;) {
      const messages: MessageParam[] = [{ role: 'user', content: task.userMessage(plan.path) }];
      try {
        return { plan, messages, sent: await this.send(task, plan, messages) };
      } catch (error) {
        const next = isPathRefusal(error, plan.path)
          ? fallbackPath(task.model, plan.path, plan.thinkingOn)
          : undefined;
        if (!next) throw toLlmError(error);
        this.warnOnce(
          `refused:${task.model}:${plan.path}`,
          `${task.model} refused ${plan.path} (${errorText(error)}); using ${next} for this model from now on.`,
        );
        this.refusedPaths.set(`${task.model}|${plan.thinkingOn}`, next);
        plan = { ...plan, path: next };
      }
    }
  }

  private async send(task: Task<unknown>, plan: CallPlan, messages: MessageParam[]): Promise<Sent> {
    const started = Date.now();
    const message = await this.create(this.request(task, plan, messages));
    return { message, usage: this.usage(task.model, message.usage, Date.now() - started) };
  }

  private request(task: Task<unknown>, plan: CallPlan, messages: MessageParam[]): CreateParams {
    const params: CreateParams = {
      model: task.model,
      max_tokens: plan.maxTokens,
      system: [{ type: 'text', text: task.system(plan.path), cache_control: { type: 'ephemeral' } }],
      messages,
    };
    if (plan.thinking) params.thinking = plan.thinking;
    if (plan.path === 'json_schema') {
      params.output_config = { format: { type: 'json_schema', schema: jsonOutputSchema(task.schema) } };
    } else {
      params.tools = [
        { name: task.toolName, description: task.toolDescription, input_schema: toInputSchema(task.schema) },
      ];
      params.tool_choice =
        plan.path === 'forced_tool'
          ? { type: 'tool', name: task.toolName, disable_parallel_tool_use: true }
          : { type: 'auto', disable_parallel_tool_use: true };
    }
    if (plan.effort) params.output_config = { ...params.output_config, effort: plan.effort };
    return params;
  }

  private async create(params: CreateParams): Promise<Message> {
    // The SDK's timeout covers the wait for response headers; this deadline also covers a stalled body.
    const deadline = AbortSignal.timeout(this.options.timeoutMs + 1000);
    try {
      return await this.client.messages.create(params, { signal: deadline });
    } catch (error) {
      if (deadline.aborted) {
        // A stall while the body streams in surfaces as a bare AbortError (the SDK wraps only the headers' wait).
        throw new LlmError(
          'timeout',
          `Anthropic API: no complete response within ${this.options.timeoutMs} ms`,
        );
      }
      if (isBodyReadFailure(error)) {
        throw new LlmError(
          'network_error',
          `Anthropic API: connection lost while reading the response (${errorText(error)})`,
        );
      }
      throw error;
    }
  }

  /** A refusal is billed like any reply: its tokens go with the error. */
  private throwIfRefusal(task: Task<unknown>, message: Message, usage: TokenUsage): void {
    if (message.stop_reason !== 'refusal') return;
    const category = message.stop_details?.type === 'refusal' ? message.stop_details.category : null;
    throw new LlmError(
      'invalid_model_output',
      `${task.name}: the model refused the request${category ? ` (${category})` : ''}`,
      {
        usage,
      },
    );
  }

  /** The structured result: JSON text on the JSON-outputs path, else tool input first, JSON in text as a fallback. */
  private interpret<T>(task: Task<T>, path: StructuredPath, message: Message): Validated<T> {
    let firstError: string | undefined;
    if (path !== 'json_schema') {
      const toolUse = message.content.find(
        (block): block is Anthropic.Messages.ToolUseBlock =>
          block.type === 'tool_use' && block.name === task.toolName,
      );
      if (toolUse) {
        const validated = task.validate(toolUse.input);
        if (validated.ok) return validated;
        firstError = validated.error;
      }
    }
    const text = message.content
      .filter((block): block is Anthropic.Messages.TextBlock => block.type === 'text')
      .map((block) => block.text)
      .join('\n');
    for (const candidate of extractJsonObjects(text)) {
      const validated = task.validate(candidate);
      if (validated.ok) return validated;
      firstError ??= validated.error;
    }
    const truncated =
      message.stop_reason === 'max_tokens' ? ' (the reply hit max_tokens and was cut off)' : '';
    const missing =
      path === 'json_schema'
        ? 'no JSON object in the reply'
        : `no call of the ${task.toolName} tool and no JSON object in the reply`;
    return { ok: false, error: (firstError ?? missing) + truncated };
  }

  private usage(
    model: string,
    apiUsage: Anthropic.Messages.Usage | undefined,
    latencyMs: number,
  ): TokenUsage {
    if (!resolvePrice(model, this.prices)) {
      this.warnOnce(
        `unpriced:${model}`,
        `No price for model ${model}; its cost is reported as 0. Set LLM_PRICES to price it.`,
      );
    }
    const counts = {
      model,
      inputTokens: apiUsage?.input_tokens ?? 0,
      cachedInputTokens: apiUsage?.cache_read_input_tokens ?? 0,
      cacheWriteTokens: apiUsage?.cache_creation_input_tokens ?? 0,
      outputTokens: apiUsage?.output_tokens ?? 0,
    };
    const costUsd = costOf(
      {
        ...counts,
        cacheWrite1hTokens: apiUsage?.cache_creation?.ephemeral_1h_input_tokens ?? 0,
        inferenceGeo: apiUsage?.inference_geo,
        serviceTier: apiUsage?.service_tier,
      },
      this.prices,
    );
    return { ...counts, costUsd, latencyMs };
  }

  private cachedSystem(key: string, build: () => string): string {
    let prompt = this.systemPrompts.get(key);
    if (prompt === undefined) {
      prompt = build();
      this.systemPrompts.set(key, prompt);
    }
    return prompt;
  }

  private warnOnce(key: string, message: string): void {
    if (this.warned.has(key)) return;
    this.warned.add(key);
    process.emitWarning(message);
  }
}

function unknownModelWarning(model: string): string {
  return (
    `Model ${model} is not in ticketflow's capability table (src/llm/models.ts): treating it like the newest ` +
    'models (thinking may be on, JSON outputs, no forced tool use).'
  );
}

const jsonSchemas = new WeakMap<z.ZodType, Record<string, unknown>>();

/**
 * The schema as JSON outputs take it: the SDK's transform keeps what constrained decoding supports and moves the
 * rest (numeric and length bounds, patterns) into descriptions; zod still enforces them on the reply.
 */
function jsonOutputSchema(schema: z.ZodType): Record<string, unknown> {
  let json = jsonSchemas.get(schema);
  if (!json) {
    json = transformJSONSchema(toInputSchema(schema)) as Record<string, unknown>;
    jsonSchemas.set(schema, json);
  }
  return json;
}

function repairTurns(
  task: Task<unknown>,
  path: StructuredPath,
  message: Message,
  error: string,
): MessageParam[] {
  const instruction = repairInstruction(path, task.toolName, error);
  // Thinking blocks must be sent back unchanged with the turn they belong to, so echo the whole turn.
  const assistantContent = message.content as unknown as Anthropic.Messages.ContentBlockParam[];
  if (assistantContent.length === 0) {
    return [
      { role: 'assistant', content: '(empty reply)' },
      { role: 'user', content: instruction },
    ];
  }
  const toolUses = message.content.filter((block) => block.type === 'tool_use');
  if (toolUses.length > 0) {
    // Every tool_use must be answered by a tool_result in the next message.
    return [
      { role: 'assistant', content: assistantContent },
      {
        role: 'user',
        content: toolUses.map((block) => ({
          type: 'tool_result' as const,
          tool_use_id: block.id,
          is_error: true,
          content: block.name === task.toolName ? instruction : `Unknown tool ${block.name}.`,
        })),
      },
    ];
  }
  return [
    { role: 'assistant', content: assistantContent },
    { role: 'user', content: instruction },
  ];
}

function errorText(error: unknown): string {
  if (error instanceof Anthropic.APIError) return error.apiMessage ?? error.message;
  return error instanceof Error ? error.message : String(error);
}

/** A 400 saying the model does not take this way of asking for structure (JSON outputs, or forced tool use). */
function isPathRefusal(error: unknown, path: StructuredPath): boolean {
  if (!(error instanceof Anthropic.APIError) || error.status !== 400) return false;
  const text = errorText(error);
  if (path === 'json_schema') return /output_config|output_format|structured output|json_schema/i.test(text);
  if (path === 'forced_tool') return /tool_choice|tool choice|forced tool|forces tool use/i.test(text);
  return false;
}

/** fetch reports a connection dropped mid-body as a TypeError ("terminated"), outside the SDK's error classes. */
function isBodyReadFailure(error: unknown): boolean {
  return (
    error instanceof TypeError &&
    /terminated|other side closed|socket hang up|ECONNRESET|fetch failed/i.test(
      `${error.message} ${error.cause instanceof Error ? error.cause.message : ''}`,
    )
  );
}

/** `retry-after-ms` (milliseconds) wins over `retry-after` (seconds, or an HTTP date). */
export function retryAfterMs(headers: Headers | undefined): number | undefined {
  if (!headers) return undefined;
  const millis = headers.get('retry-after-ms');
  if (millis !== null && millis.trim() !== '' && Number.isFinite(Number(millis)) && Number(millis) >= 0) {
    return Math.round(Number(millis));
  }
  const value = headers.get('retry-after');
  if (value === null || value.trim() === '') return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds) && seconds >= 0) return Math.round(seconds * 1000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

/**
 * `error.details.error_code` values that mean a spend limit was reached ("Errors"; the SDK's
 * EnforcedSpendLimitReachedError and kin): the tier's monthly cap, a contract's, or a linked organization's.
 */
export const SPEND_LIMIT_ERROR_CODES: readonly string[] = [
  'enforced_spend_limit_reached',
  'contract_spend_limit_reached',
  'linked_organization_spend_limit_reached',
];

/**
 * A spend limit set in the Console answers 400 `invalid_request_error` without an error code ("You have reached
 * your specified API usage limits. You will regain access on ..."), and an empty prepaid balance says so in a 400
 * too: the message is the only sign the API gives for these.
 */
const SPEND_LIMIT_MESSAGE =
  /reached your specified (?:workspace )?API usage limits|credit balance is too low/i;

/**
 * Map anything the SDK throws to an `LlmError`: 429, 529, other 5xx, connection failures and timeouts
 * are retryable, unless the server says `x-should-retry: false`; spend limits and other 4xx are not. Errors that
 * are not from the SDK at all (programming errors) are re-thrown unchanged rather than disguised as API failures.
 */
export function toLlmError(error: unknown): LlmError {
  if (error instanceof LlmError) return error;
  if (error instanceof Anthropic.APIConnectionTimeoutError) {
    return new LlmError('timeout', `Anthropic API timed out: ${error.message}`);
  }
  if (error instanceof Anthropic.APIUserAbortError) {
    return new LlmError('timeout', `Anthropic API request aborted: ${error.message}`);
  }
  if (error instanceof Anthropic.APIConnectionError) {
    const cause = error.cause instanceof Error ? ` (${error.cause.message})` : '';
    return new LlmError('network_error', `Anthropic API unreachable: ${error.message}${cause}`);
  }
  if (error instanceof Anthropic.APIError) {
    const status = error.status;
    const shouldRetry = error.headers?.get('x-should-retry');
    const options = {
      status,
      retryAfterMs: retryAfterMs(error.headers),
      retryable: shouldRetry === 'false' ? false : shouldRetry === 'true' ? true : undefined,
    };
    const code = error.errorCode ? ` [${error.errorCode}]` : '';
    const message =
      `Anthropic API ${status ?? ''} ${error.type ?? ''}${code}: ${error.apiMessage ?? error.message}`.replace(
        /\s+/g,
        ' ',
      );
    if (
      SPEND_LIMIT_ERROR_CODES.includes(error.errorCode ?? '') ||
      ((status === 400 || status === 402) && SPEND_LIMIT_MESSAGE.test(errorText(error)))
    ) {
      return new LlmError('llm_budget_exhausted', message, { status });
    }
    if (status === 429 || error.type === 'rate_limit_error')
      return new LlmError('rate_limited', message, options);
    if (status === 529 || error.type === 'overloaded_error')
      return new LlmError('overloaded', message, options);
    if (status === 408 || status === 504 || error.type === 'timeout_error')
      return new LlmError('timeout', message, options);
    if (status === 401) return new LlmError('authentication_failed', message, { status });
    // 402 is a billing block: like 403, retrying cannot fix it.
    if (status === 403 || status === 402) return new LlmError('permission_denied', message, { status });
    if (status === 404) return new LlmError('not_found', message, { status });
    // 409 is a transient conflict the API asks clients to retry.
    if (status !== undefined && (status >= 500 || status === 409)) {
      return new LlmError('server_error', message, options);
    }
    return new LlmError('bad_request', message, { status });
  }
  if (error instanceof Anthropic.AnthropicError) {
    // e.g. a response body that is not the JSON the API promises: the server's fault, worth a retry.
    return new LlmError('server_error', `Anthropic API: ${error.message}`);
  }
  throw error;
}
