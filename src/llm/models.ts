/**
 * What each Claude model accepts, and from that how ticketflow asks it for a structured result. Sources
 * (platform.claude.com, read 2026-11): the models overview and each model's "What's new" / migration page,
 * "Thinking", "Structured outputs", "Prompt caching", "Tool use pricing", "Data residency", "Errors". Facts the
 * docs do not give for a model are marked as assumptions; the contract suite (ANTHROPIC_CONTRACT=1) checks the
 * ones ticketflow depends on against the real API. The test stand-in (test/support/fake-anthropic.ts) enforces
 * the same facts, so a request the table gets wrong fails in tests as it would in production.
 */

/**
 * How a model thinks when the request leaves `thinking` out, and how (if at all) it is turned off:
 * - `none`: no adaptive thinking; off unless asked with a token budget, which ticketflow never does
 *   (Haiku 4.5, Sonnet 4.5, Opus 4.5).
 * - `optional`: adaptive on request, off when omitted (Sonnet 4.6, Opus 4.6 to 4.8).
 * - `default_on`: adaptive when omitted; `{type: "disabled"}` turns it off (Sonnet 5, Opus 5, Haiku 5.5).
 * - `between_tools`: adaptive when omitted; `"disabled"` is a 400, the lowest setting is
 *   `{type: "between_tools"}`, no up-front thinking (Sonnet 5.5).
 * - `always_on`: cannot be turned off (Opus 5.5, Fable 5.x).
 */
export type ThinkingMode = 'none' | 'optional' | 'default_on' | 'between_tools' | 'always_on';

export type Effort = 'low' | 'medium' | 'high';

export interface ModelFacts {
  thinking: ThinkingMode;
  /**
   * `tool_choice` `any`/`tool` is accepted (only ever while thinking is off: with thinking on every model refuses
   * it, "Thinking may not be enabled when tool_choice forces tool use"). Opus 5.5, Sonnet 5.5 and Fable 5.1
   * refuse it outright.
   */
  forcedToolChoice: boolean;
  /** `output_config.format` (JSON outputs with constrained decoding) is supported. */
  structuredOutputs: boolean;
  /** `output_config.effort` is accepted, and the level the model uses when it is omitted. */
  effort: Effort | false;
  maxOutputTokens: number;
  /** Smallest cached prefix; shorter prefixes are silently billed at the full input rate. Undefined: not published. */
  minCacheTokens?: number;
  /**
   * Input tokens the API adds for its tool-use system prompt whenever `tools` are sent. Published per model up to
   * the Claude 4.5 generation (346 with `auto`/`none`, 313 with `any`/`tool`); later models are assumed to match.
   */
  toolPromptTokens: { auto: number; forced: number };
  /** Claude 4.7 and later use a tokenizer that counts the same text as about 30% more tokens than Haiku 4.5's. */
  tokenizer: 'legacy' | 'v2';
  /** `temperature`/`top_p`/`top_k`: accepted (one of temperature and top_p), or any non-default value is a 400. */
  sampling: 'one_of' | 'rejected';
  /** A final assistant message to continue from (prefill) is accepted; from the 4.6 generation on it is a 400. */
  prefill: boolean;
  /** `inference_geo` is accepted (Opus 4.6, Sonnet 4.6 and later); older models answer 400. */
  inferenceGeo: boolean;
}

const TOOL_PROMPT = { auto: 346, forced: 313 };

const CLAUDE_4_5 = {
  thinking: 'none',
  forcedToolChoice: true,
  structuredOutputs: true,
  effort: false,
  maxOutputTokens: 64_000,
  toolPromptTokens: TOOL_PROMPT,
  tokenizer: 'legacy',
  sampling: 'one_of',
  prefill: true,
  inferenceGeo: false,
} as const satisfies ModelFacts;

const CLAUDE_4_6 = {
  ...CLAUDE_4_5,
  thinking: 'optional',
  effort: 'high',
  prefill: false,
  inferenceGeo: true,
} as const satisfies ModelFacts;

const CLAUDE_5 = {
  ...CLAUDE_4_6,
  thinking: 'default_on',
  maxOutputTokens: 128_000,
  tokenizer: 'v2',
  sampling: 'rejected',
} as const satisfies ModelFacts;

/** Keyed by model id without a snapshot date (`claude-haiku-4-5-20251001` → `claude-haiku-4-5`). */
export const MODEL_FACTS: Readonly<Record<string, ModelFacts>> = {
  'claude-haiku-4-5': { ...CLAUDE_4_5, minCacheTokens: 4096 },
  'claude-sonnet-4-5': { ...CLAUDE_4_5, minCacheTokens: 1024 },
  'claude-opus-4-5': { ...CLAUDE_4_5, effort: 'high', minCacheTokens: 4096 },
  'claude-sonnet-4-6': { ...CLAUDE_4_6, minCacheTokens: 1024 },
  'claude-opus-4-6': { ...CLAUDE_4_6, maxOutputTokens: 128_000, minCacheTokens: 4096 },
  'claude-opus-4-7': {
    ...CLAUDE_4_6,
    maxOutputTokens: 128_000,
    minCacheTokens: 2048,
    tokenizer: 'v2',
    sampling: 'rejected',
  },
  'claude-opus-4-8': {
    ...CLAUDE_4_6,
    maxOutputTokens: 128_000,
    minCacheTokens: 1024,
    tokenizer: 'v2',
    sampling: 'rejected',
  },
  'claude-sonnet-5': { ...CLAUDE_5, minCacheTokens: 1024 },
  'claude-opus-5': { ...CLAUDE_5, minCacheTokens: 512 },
  'claude-haiku-5-5': { ...CLAUDE_5, effort: 'medium' },
  'claude-sonnet-5-5': { ...CLAUDE_5, thinking: 'between_tools', forcedToolChoice: false },
  'claude-opus-5-5': { ...CLAUDE_5, thinking: 'always_on', forcedToolChoice: false, effort: 'medium' },
  'claude-fable-5': { ...CLAUDE_5, thinking: 'always_on', forcedToolChoice: false },
  'claude-fable-5-1': { ...CLAUDE_5, thinking: 'always_on', forcedToolChoice: false },
  'claude-fable-5-2': { ...CLAUDE_5, thinking: 'always_on', forcedToolChoice: false },
};

/**
 * A model the table does not know is most likely newer than it: assume the current generation's rules, which are
 * the strictest (thinking may be on and cannot be relied on to turn off, forced tool use refused, structured
 * outputs supported). If the API refuses structured outputs the provider falls back to tool use at run time.
 */
export const UNKNOWN_MODEL_FACTS: ModelFacts = {
  ...CLAUDE_5,
  thinking: 'always_on',
  forcedToolChoice: false,
  effort: false,
};

export function modelFacts(model: string): ModelFacts {
  return MODEL_FACTS[model] ?? MODEL_FACTS[model.replace(/-\d{8}$/, '')] ?? UNKNOWN_MODEL_FACTS;
}

export function isKnownModel(model: string): boolean {
  return modelFacts(model) !== UNKNOWN_MODEL_FACTS;
}

/**
 * How a structured result is asked for:
 * - `json_schema`: `output_config.format` (JSON outputs). Constrained decoding guarantees the shape, works with
 *   thinking on or off, and sends no tools, so no tool-use system prompt is billed.
 * - `forced_tool`: one tool and `tool_choice: {type: "tool"}`; only where the model allows it and thinking is off.
 * - `auto_tool`: one tool and `tool_choice: {type: "auto"}`; the model may answer in text, so the result is
 *   validated and, if invalid, repaired once.
 */
export type StructuredPath = 'json_schema' | 'forced_tool' | 'auto_tool';

export const STRUCTURED_PATHS: readonly StructuredPath[] = ['json_schema', 'forced_tool', 'auto_tool'];

export type ThinkingParam = { type: 'disabled' } | { type: 'between_tools' } | { type: 'adaptive' };

export interface CallPlan {
  path: StructuredPath;
  /** What to send as `thinking`; undefined leaves it out. */
  thinking?: ThinkingParam;
  /** Whether the model may think on this call (its thinking then counts against max_tokens). */
  thinkingOn: boolean;
  /** What to send as `output_config.effort`; undefined leaves it out. */
  effort?: Effort;
  maxTokens: number;
}

export interface PlanRequest {
  /** Ask for thinking (adaptive) where the model can do it, or keep it off where the model lets us. */
  thinking: boolean;
  /** Sent only to models that accept it. */
  effort?: Effort;
  /** `auto` picks from the table; anything else is an operator's override, refused where the model cannot do it. */
  path: StructuredPath | 'auto';
  /** Output budget for the result itself; calls that may think get room for thinking on top. */
  maxTokens: number;
}

/** Tokens of thinking room per token of answer budget, on calls where the model may think. */
export const THINKING_HEADROOM = 3;

export class ModelPlanError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ModelPlanError';
  }
}

function thinkingSetting(facts: ModelFacts, wanted: boolean): { param?: ThinkingParam; on: boolean } {
  switch (facts.thinking) {
    case 'none':
      return { on: false };
    case 'optional':
      return wanted ? { param: { type: 'adaptive' }, on: true } : { on: false };
    case 'default_on':
      return wanted ? { on: true } : { param: { type: 'disabled' }, on: false };
    case 'between_tools':
      return wanted ? { on: true } : { param: { type: 'between_tools' }, on: false };
    case 'always_on':
      return { on: true };
  }
}

/** Whether a path can work for this model with thinking on or off; undefined when it can. */
export function pathProblem(
  facts: ModelFacts,
  path: StructuredPath,
  thinkingOn: boolean,
): string | undefined {
  if (path === 'json_schema' && !facts.structuredOutputs)
    return 'the model does not support structured outputs';
  if (path === 'forced_tool' && !facts.forcedToolChoice) return 'the model refuses forced tool use';
  if (path === 'forced_tool' && thinkingOn) return 'forced tool use is refused while thinking is on';
  return undefined;
}

/** The preferred path: structured outputs, else forced tool use where allowed, else `auto` with validation. */
export function preferredPath(facts: ModelFacts, thinkingOn: boolean): StructuredPath {
  return STRUCTURED_PATHS.find((path) => pathProblem(facts, path, thinkingOn) === undefined) ?? 'auto_tool';
}

/** The capability table applied: how one call to `model` is made. Throws ModelPlanError for an impossible override. */
export function planCall(model: string, request: PlanRequest): CallPlan {
  const facts = modelFacts(model);
  const thinking = thinkingSetting(facts, request.thinking);
  let path: StructuredPath;
  if (request.path === 'auto') {
    path = preferredPath(facts, thinking.on);
  } else {
    const problem = pathProblem(facts, request.path, thinking.on);
    if (problem) throw new ModelPlanError(`${model}: cannot use ${request.path}: ${problem}`);
    path = request.path;
  }
  const headroom = thinking.on ? request.maxTokens * THINKING_HEADROOM : 0;
  return {
    path,
    thinking: thinking.param,
    thinkingOn: thinking.on,
    effort: facts.effort && request.effort ? request.effort : undefined,
    maxTokens: Math.min(request.maxTokens + headroom, facts.maxOutputTokens),
  };
}

/**
 * The next path to try after the API refused `path` for this model (a 400 bills nothing): the first later path
 * in order of preference that the table does not already rule out.
 */
export function fallbackPath(
  model: string,
  path: StructuredPath,
  thinkingOn: boolean,
): StructuredPath | undefined {
  const facts = modelFacts(model);
  return STRUCTURED_PATHS.slice(STRUCTURED_PATHS.indexOf(path) + 1).find(
    (next) => next === 'auto_tool' || pathProblem(facts, next, thinkingOn) === undefined,
  );
}
