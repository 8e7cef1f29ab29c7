import Anthropic from '@anthropic-ai/sdk';
import type { Answer, Classification, Passage, TokenUsage } from '../domain/ticket';
import { addUsage, costOf, DEFAULT_PRICES, resolvePrice, type PriceTable } from './cost';
import {
  ANSWER_SYSTEM_PROMPT,
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
  ARTICLE_SYSTEM_PROMPT,
  ARTICLE_TOOL_NAME,
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
  maxTokens: number;
  /** Per HTTP attempt; a repair round trip gets its own budget. */
  timeoutMs: number;
  intents: readonly string[];
  prices?: PriceTable;
}

type Tool = Anthropic.Messages.Tool;
type MessageParam = Anthropic.Messages.MessageParam;
type Message = Anthropic.Messages.Message;

interface StructuredCall<T> {
  model: string;
  system: string;
  tool: Tool;
  userMessage: string;
  validate: (raw: unknown) => Validated<T>;
}

/**
 * Claude through the Messages API. Both calls force a tool call so the output is structured, validate it
 * with zod, and allow exactly one repair round trip. The SDK never retries (`maxRetries: 0`): Temporal
 * owns retries, so every failure surfaces at once as a typed `LlmError`.
 */
export class AnthropicProvider implements LlmProvider {
  readonly name = 'anthropic' as const;
  private readonly client: Anthropic;
  private readonly prices: PriceTable;
  private readonly classifyTool: Tool;
  private readonly answerTool: Tool;
  private readonly articleTool: Tool = {
    name: ARTICLE_TOOL_NAME,
    description: 'Record a help-centre article drafted from the given human resolutions only.',
    input_schema: toInputSchema(articleToolSchema),
  };
  private readonly classifySystem: string;
  /** Models that rejected a forced tool_choice (newer models with always-on thinking do): use `auto`. */
  private readonly noForcedToolChoice = new Set<string>();
  private readonly warnedUnpriced = new Set<string>();

  constructor(private readonly options: AnthropicProviderOptions) {
    if (options.intents.length < 2) throw new Error('AnthropicProvider needs at least two intents');
    this.client = new Anthropic({
      apiKey: options.apiKey,
      baseURL: options.baseURL,
      maxRetries: 0,
      timeout: options.timeoutMs,
    });
    this.prices = options.prices ?? DEFAULT_PRICES;
    this.classifyTool = {
      name: CLASSIFY_TOOL_NAME,
      description: 'Record the triage of one customer-support ticket.',
      input_schema: toInputSchema(classificationToolSchema(options.intents)),
    };
    this.answerTool = {
      name: ANSWER_TOOL_NAME,
      description: 'Record the grounded reply to the ticket, or that the passages cannot answer it.',
      input_schema: toInputSchema(answerToolSchema),
    };
    this.classifySystem = classifySystemPrompt(options.intents);
  }

  async classify(ticket: TicketForLlm): Promise<ClassifyResult> {
    const intents = this.options.intents;
    const { value, usage } = await this.structuredCall<Classification>({
      model: this.options.models.classify,
      system: this.classifySystem,
      tool: this.classifyTool,
      userMessage: classifyUserMessage(ticket),
      validate: (raw) => validateClassification(raw, intents),
    });
    return { classification: { ...value, summary: toOneLine(value.summary, 120) }, usage };
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
      model: this.options.models.answer,
      system: ANSWER_SYSTEM_PROMPT,
      tool: this.answerTool,
      userMessage: answerUserMessage(ticket, passages),
      validate: (raw) => validateAnswer(raw, passageIds),
    });
    return { answer: value, usage };
  }

  /** Written by the answer model from the agents' answers only; unknown citations or invented figures are repaired or refused. */
  async draftArticle(request: ArticleDraftRequest): Promise<ArticleDraftResult> {
    const { value, usage } = await this.structuredCall<ArticleDraft>({
      model: this.options.models.answer,
      system: ARTICLE_SYSTEM_PROMPT,
      tool: this.articleTool,
      userMessage: articleUserMessage(request),
      validate: (raw) => validateArticleDraft(raw, request),
    });
    return { draft: value, usage };
  }

  private async structuredCall<T>(call: StructuredCall<T>): Promise<{ value: T; usage: TokenUsage }> {
    const messages: MessageParam[] = [{ role: 'user', content: call.userMessage }];
    const first = await this.send(call, messages);
    let usage = first.usage;
    const firstOutcome = this.interpret(call, first.message);
    if (firstOutcome.ok) return { value: firstOutcome.value, usage };

    // One repair round trip: show the model its output and the validation error.
    messages.push(...this.repairTurns(call, first.message, firstOutcome.error));
    let second: { message: Message; usage: TokenUsage };
    try {
      second = await this.send(call, messages);
    } catch (error) {
      throw withUsage(toLlmError(error), usage);
    }
    usage = addUsage(usage, second.usage);
    const secondOutcome = this.interpret(call, second.message);
    if (secondOutcome.ok) return { value: secondOutcome.value, usage };
    throw new LlmError(
      'invalid_model_output',
      `${call.tool.name}: output still invalid after one repair attempt: ${secondOutcome.error}`,
      undefined,
      undefined,
      usage,
    );
  }

  private async send(
    call: StructuredCall<unknown>,
    messages: MessageParam[],
  ): Promise<{ message: Message; usage: TokenUsage }> {
    const started = Date.now();
    try {
      const message = await this.create(call, messages, !this.noForcedToolChoice.has(call.model));
      return { message, usage: this.usage(call.model, message.usage, Date.now() - started) };
    } catch (error) {
      if (isForcedToolChoiceRejection(error) && !this.noForcedToolChoice.has(call.model)) {
        this.noForcedToolChoice.add(call.model);
        const message = await this.create(call, messages, false).catch((retryError: unknown) => {
          throw toLlmError(retryError);
        });
        return { message, usage: this.usage(call.model, message.usage, Date.now() - started) };
      }
      throw toLlmError(error);
    }
  }

  private async create(
    call: StructuredCall<unknown>,
    messages: MessageParam[],
    forceTool: boolean,
  ): Promise<Message> {
    // The SDK's timeout covers the wait for response headers; this deadline also covers a stalled body.
    const deadline = AbortSignal.timeout(this.options.timeoutMs + 1000);
    try {
      return await this.client.messages.create(
        {
          model: call.model,
          max_tokens: this.options.maxTokens,
          system: [{ type: 'text', text: call.system, cache_control: { type: 'ephemeral' } }],
          tools: [call.tool],
          tool_choice: forceTool
            ? { type: 'tool', name: call.tool.name, disable_parallel_tool_use: true }
            : { type: 'auto', disable_parallel_tool_use: true },
          messages,
        },
        { signal: deadline },
      );
    } catch (error) {
      if (deadline.aborted && error instanceof Anthropic.APIUserAbortError) {
        throw new LlmError(
          'timeout',
          `Anthropic API: no complete response within ${this.options.timeoutMs} ms`,
        );
      }
      throw error;
    }
  }

  /** Tool input first; JSON in a text block (fenced or bare) only as a fallback. */
  private interpret<T>(call: StructuredCall<T>, message: Message): Validated<T> {
    if (message.stop_reason === 'refusal') {
      throw new LlmError('invalid_model_output', `${call.tool.name}: the model refused the request`);
    }
    const toolUse = message.content.find(
      (block): block is Anthropic.Messages.ToolUseBlock =>
        block.type === 'tool_use' && block.name === call.tool.name,
    );
    let firstError: string | undefined;
    if (toolUse) {
      const validated = call.validate(toolUse.input);
      if (validated.ok) return validated;
      firstError = validated.error;
    }
    const text = message.content
      .filter((block): block is Anthropic.Messages.TextBlock => block.type === 'text')
      .map((block) => block.text)
      .join('\n');
    for (const candidate of extractJsonObjects(text)) {
      const validated = call.validate(candidate);
      if (validated.ok) return validated;
      firstError ??= validated.error;
    }
    const truncated =
      message.stop_reason === 'max_tokens' ? ' (the reply hit max_tokens and was cut off)' : '';
    return {
      ok: false,
      error:
        (firstError ?? `no call of the ${call.tool.name} tool and no JSON object in the reply`) + truncated,
    };
  }

  private repairTurns(call: StructuredCall<unknown>, message: Message, error: string): MessageParam[] {
    const instruction = repairInstruction(call.tool.name, error);
    // Thinking blocks must be sent back unchanged with the turn they belong to, so echo the whole turn.
    const assistantContent = message.content as unknown as Anthropic.Messages.ContentBlockParam[];
    const toolUse = message.content.find((block) => block.type === 'tool_use');
    if (assistantContent.length === 0) {
      return [
        { role: 'assistant', content: '(empty reply)' },
        { role: 'user', content: instruction },
      ];
    }
    if (toolUse && toolUse.type === 'tool_use') {
      return [
        { role: 'assistant', content: assistantContent },
        {
          role: 'user',
          content: [{ type: 'tool_result', tool_use_id: toolUse.id, is_error: true, content: instruction }],
        },
      ];
    }
    return [
      { role: 'assistant', content: assistantContent },
      { role: 'user', content: instruction },
    ];
  }

  private usage(
    model: string,
    apiUsage: Anthropic.Messages.Usage | undefined,
    latencyMs: number,
  ): TokenUsage {
    if (!resolvePrice(model, this.prices) && !this.warnedUnpriced.has(model)) {
      this.warnedUnpriced.add(model);
      process.emitWarning(
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
    return { ...counts, costUsd: costOf(counts, this.prices), latencyMs };
  }
}

function withUsage(error: LlmError, usage: TokenUsage): LlmError {
  const total = error.usage ? addUsage(usage, error.usage) : usage;
  return new LlmError(error.type, error.message, error.retryAfterMs, error.status, total);
}

function isForcedToolChoiceRejection(error: unknown): boolean {
  return (
    error instanceof Anthropic.APIError &&
    error.status === 400 &&
    /tool_choice|tool choice|forced tool/i.test(error.message)
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
 * Map anything the SDK throws to an `LlmError`: 429, 529, other 5xx, connection failures and timeouts
 * are retryable; other 4xx are not. Errors that are not from the SDK at all (programming errors) are
 * re-thrown unchanged rather than disguised as API failures.
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
    const delay = retryAfterMs(error.headers);
    const message =
      `Anthropic API ${status ?? ''} ${error.type ?? ''}: ${error.apiMessage ?? error.message}`.replace(
        /\s+/g,
        ' ',
      );
    if (status === 429 || error.type === 'rate_limit_error')
      return new LlmError('rate_limited', message, delay, status);
    if (status === 529 || error.type === 'overloaded_error')
      return new LlmError('overloaded', message, delay, status);
    if (status === 408) return new LlmError('timeout', message, delay, status);
    if (status === 401) return new LlmError('authentication_failed', message, undefined, status);
    // 402 is a billing block: like 403, retrying cannot fix it.
    if (status === 403 || status === 402)
      return new LlmError('permission_denied', message, undefined, status);
    if (status === 404) return new LlmError('not_found', message, undefined, status);
    // 409 is a transient conflict the API asks clients to retry.
    if (status !== undefined && (status >= 500 || status === 409)) {
      return new LlmError('server_error', message, delay, status);
    }
    return new LlmError('bad_request', message, undefined, status);
  }
  if (error instanceof Anthropic.AnthropicError) {
    // e.g. a response body that is not the JSON the API promises: the server's fault, worth a retry.
    return new LlmError('server_error', `Anthropic API: ${error.message}`);
  }
  throw error;
}
