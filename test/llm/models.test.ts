import {
  fallbackPath,
  MODEL_FACTS,
  ModelPlanError,
  modelFacts,
  planCall,
  THINKING_HEADROOM,
  UNKNOWN_MODEL_FACTS,
} from '../../src/llm/models';
import { DEFAULT_PRICES } from '../../src/llm/cost';

/** The capability table: which way each model is asked for a structured result, with thinking on or off. */

const plan = (model: string, thinking: boolean, path: Parameters<typeof planCall>[1]['path'] = 'auto') =>
  planCall(model, { thinking, effort: 'low', path, maxTokens: 1000 });

describe('planCall', () => {
  it('classifies on Haiku 5.5 with thinking turned off, JSON outputs and low effort', () => {
    expect(plan('claude-haiku-5-5', false)).toEqual({
      path: 'json_schema',
      thinking: { type: 'disabled' },
      thinkingOn: false,
      effort: 'low',
      maxTokens: 1000,
    });
  });

  it('turns Sonnet 5.5 thinking down with between_tools (disabled is refused there), or leaves it on when asked', () => {
    expect(plan('claude-sonnet-5-5', false)).toMatchObject({
      path: 'json_schema',
      thinking: { type: 'between_tools' },
      thinkingOn: false,
    });
    expect(plan('claude-sonnet-5-5', true)).toEqual({
      path: 'json_schema',
      thinkingOn: true,
      effort: 'low',
      maxTokens: 1000 * (1 + THINKING_HEADROOM),
    });
  });

  it('cannot turn thinking off on Opus 5.5: it thinks, and gets room for it in max_tokens', () => {
    expect(plan('claude-opus-5-5', false)).toMatchObject({
      path: 'json_schema',
      thinkingOn: true,
      maxTokens: 4000,
    });
    expect(plan('claude-opus-5-5', false).thinking).toBeUndefined();
  });

  it('asks Sonnet 4.6 for adaptive thinking only when wanted, and sends no effort to models without it', () => {
    expect(plan('claude-sonnet-4-6', true).thinking).toEqual({ type: 'adaptive' });
    expect(plan('claude-sonnet-4-6', false).thinking).toBeUndefined();
    expect(plan('claude-haiku-4-5', false)).toEqual({
      path: 'json_schema',
      thinkingOn: false,
      maxTokens: 1000,
    });
  });

  it('forces the tool only where the model allows it and thinking is off', () => {
    expect(plan('claude-haiku-5-5', false, 'forced_tool')).toMatchObject({
      path: 'forced_tool',
      thinkingOn: false,
    });
    expect(() => plan('claude-sonnet-5-5', false, 'forced_tool')).toThrow(ModelPlanError);
    expect(() => plan('claude-sonnet-5', true, 'forced_tool')).toThrow(/thinking is on/);
    expect(plan('claude-opus-5-5', false, 'auto_tool')).toMatchObject({
      path: 'auto_tool',
      thinkingOn: true,
    });
  });

  it('caps max_tokens at the model maximum', () => {
    expect(
      planCall('claude-haiku-4-5', { thinking: false, path: 'auto', maxTokens: 100_000 }).maxTokens,
    ).toBe(64_000);
  });

  it('treats an unknown model like the newest ones: JSON outputs, thinking assumed on, nothing it might refuse', () => {
    expect(modelFacts('claude-future-9')).toBe(UNKNOWN_MODEL_FACTS);
    expect(plan('claude-future-9', false)).toEqual({
      path: 'json_schema',
      thinkingOn: true,
      maxTokens: 4000,
    });
    expect(modelFacts('claude-haiku-4-5-20251001')).toBe(MODEL_FACTS['claude-haiku-4-5']);
  });
});

describe('fallbackPath (after the API refused a path)', () => {
  it('goes from JSON outputs to forced tool use where allowed, else straight to auto', () => {
    expect(fallbackPath('claude-haiku-5-5', 'json_schema', false)).toBe('forced_tool');
    expect(fallbackPath('claude-haiku-5-5', 'json_schema', true)).toBe('auto_tool');
    expect(fallbackPath('claude-sonnet-5-5', 'json_schema', false)).toBe('auto_tool');
    expect(fallbackPath('claude-haiku-5-5', 'forced_tool', false)).toBe('auto_tool');
    expect(fallbackPath('claude-haiku-5-5', 'auto_tool', false)).toBeUndefined();
  });
});

test('every model in the capability table has a price', () => {
  for (const model of Object.keys(MODEL_FACTS)) expect(DEFAULT_PRICES[model]).toBeDefined();
});
