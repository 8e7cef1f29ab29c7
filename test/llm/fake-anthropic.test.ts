import { startFakeAnthropic, type FakeAnthropic } from '../support/fake-anthropic';

/** The fake itself, over plain HTTP: other test suites and the benchmark rely on its wire format. */

let fake: FakeAnthropic;

beforeAll(async () => {
  // Caching at any size here; the model minimums have their own test below.
  fake = await startFakeAnthropic({ minCacheTokens: 0 });
});
afterEach(() => fake.reset());
afterAll(async () => {
  await fake.close();
});

const classifyTool = (intents: string[]) => ({
  name: 'record_ticket_classification',
  input_schema: { type: 'object', properties: { intent: { type: 'string', enum: intents } } },
});
const answerTool = { name: 'record_support_answer', input_schema: { type: 'object', properties: {} } };

/** The parts of a Messages API response (or error body) these tests read. */
interface WireBody {
  type: string;
  role?: string;
  stop_reason?: string;
  content: Array<{
    type: string;
    name?: string;
    input: Record<string, unknown>;
    text?: string;
    signature?: string;
  }>;
  usage: Record<string, number>;
  error: { type: string; message: string; details?: { error_code: string } };
}

async function post(body: Record<string, unknown>, headers: Record<string, string> = { 'x-api-key': 'k' }) {
  const response = await fetch(`${fake.url}/v1/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01', ...headers },
    body: JSON.stringify(body),
  });
  return { status: response.status, headers: response.headers, json: (await response.json()) as WireBody };
}

function request(
  tool: Record<string, unknown>,
  prompt: string,
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    model: 'claude-haiku-4-5',
    max_tokens: 100,
    system: [{ type: 'text', text: 'You classify tickets.', cache_control: { type: 'ephemeral' } }],
    tools: [tool],
    tool_choice: { type: 'tool', name: tool.name },
    messages: [{ role: 'user', content: prompt }],
    ...extra,
  };
}

describe('fake Anthropic server', () => {
  it('classifies by keywords among the intents of the tool schema', async () => {
    const { status, json } = await post(
      request(
        classifyTool(['shipping', 'billing', 'other']),
        '<ticket>I was charged twice, please refund the invoice</ticket>',
      ),
    );
    expect(status).toBe(200);
    expect(json).toMatchObject({ type: 'message', role: 'assistant', stop_reason: 'tool_use' });
    const toolUse = json.content[0]!;
    expect(toolUse).toMatchObject({ type: 'tool_use', name: 'record_ticket_classification' });
    expect(toolUse.input).toMatchObject({ intent: 'billing', language: 'en' });
    expect(json.usage.cache_creation_input_tokens).toBeGreaterThan(0);
  });

  it('answers citing the first passage id of the prompt, or cannot answer without passages', async () => {
    const withPassages = await post(
      request(
        answerTool,
        '<passages>\n<passage id="doc-7#2" title="Refunds">Refunds take 5 days. Other text.</passage>\n</passages>',
      ),
    );
    expect(withPassages.json.content[0]!.input).toEqual({
      status: 'answer',
      reply: 'Thanks for contacting us. Refunds take 5 days.',
      cited_passage_ids: ['doc-7#2'],
    });
    const without = await post(request(answerTool, 'no passages here'));
    expect(without.json.content[0]!.input.status).toBe('cannot_answer');
  });

  it('reads the cache on the second request with the same cached prefix', async () => {
    const body = request(classifyTool(['billing', 'other']), 'ticket one');
    const first = await post(body);
    const second = await post({ ...body, messages: [{ role: 'user', content: 'ticket two' }] });
    expect(second.json.usage.cache_read_input_tokens).toBe(first.json.usage.cache_creation_input_tokens);
    expect(second.json.usage.cache_creation_input_tokens).toBe(0);
  });

  it('applies scripted steps in order, only to requests of the kind they are for', async () => {
    fake.setScript([{ for: 'answer', kind: 'error', status: 529, retryAfter: 3 }]);
    const classify = await post(request(classifyTool(['billing', 'other']), 'refund'));
    expect(classify.status).toBe(200);
    expect(fake.pendingSteps()).toBe(1);
    const answer = await post(request(answerTool, 'x'));
    expect(answer.status).toBe(529);
    expect(answer.headers.get('retry-after')).toBe('3');
    expect(answer.json).toEqual({
      type: 'error',
      error: { type: 'overloaded_error', message: 'simulated 529' },
      request_id: expect.any(String),
    });
    expect(fake.requests.map((r) => [r.kind, r.handledBy])).toEqual([
      ['classify', 'smart'],
      ['answer', 'error'],
    ]);
  });

  it('rejects like the real API: no key → 401, a tool_use without its tool_result → 400', async () => {
    const noKey = await post(request(answerTool, 'x'), {});
    expect(noKey.status).toBe(401);
    expect(noKey.json.error.type).toBe('authentication_error');
    const orphan = await post(
      request(answerTool, 'x', {
        messages: [
          { role: 'user', content: 'x' },
          {
            role: 'assistant',
            content: [{ type: 'tool_use', id: 'toolu_1', name: 'record_support_answer', input: {} }],
          },
          { role: 'user', content: 'try again' },
        ],
      }),
    );
    expect(orphan.status).toBe(400);
    expect(orphan.json.error.message).toMatch(/toolu_1/);
  });

  it('closes even with a request hanging', async () => {
    const own = await startFakeAnthropic();
    own.setScript([{ kind: 'hang' }]);
    const pending = fetch(`${own.url}/v1/messages`, {
      method: 'POST',
      headers: { 'x-api-key': 'k', 'content-type': 'application/json' },
      body: JSON.stringify(request(answerTool, 'x')),
    }).catch((error: unknown) => error);
    while (own.requests.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    await own.close();
    // fetch rejects (a TypeError from Node's realm, so compare by message, not instanceof).
    expect(String(await pending)).toMatch(/fetch failed|terminated|socket/i);
  });

  it('bills the tool-use system prompt: 313 tokens with a forced tool, 346 with auto, on top of the text', async () => {
    // A plain system string: no cache breakpoint, so every input token is billed as input_tokens.
    const noCache: Record<string, unknown> = {
      ...request(classifyTool(['billing', 'other']), 'ticket'),
      system: 'You classify tickets.',
    };
    const forced = (await post(noCache)).json.usage;
    const auto = (await post({ ...noCache, tool_choice: { type: 'auto' } })).json.usage;
    const text =
      JSON.stringify(noCache['tools']) + 'You classify tickets.' + JSON.stringify(noCache['messages']);
    expect(forced.input_tokens).toBe(313 + Math.ceil(text.length / 4));
    expect(auto.input_tokens! - forced.input_tokens!).toBe(346 - 313);
  });
});

describe('as strict as the API', () => {
  let strict: FakeAnthropic;
  beforeAll(async () => {
    strict = await startFakeAnthropic();
  });
  afterAll(async () => {
    await strict.close();
  });

  async function send(body: Record<string, unknown>) {
    const response = await fetch(`${strict.url}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': 'k' },
      body: JSON.stringify(body),
    });
    return { status: response.status, headers: response.headers, json: (await response.json()) as WireBody };
  }
  const jsonOutput = (extra: Record<string, unknown> = {}) => ({
    model: 'claude-haiku-5-5',
    max_tokens: 200,
    messages: [{ role: 'user', content: '<ticket>refund please</ticket>' }],
    output_config: {
      format: {
        type: 'json_schema',
        schema: {
          type: 'object',
          properties: { intent: { type: 'string', enum: ['billing', 'other'] } },
          required: ['intent'],
          additionalProperties: false,
        },
      },
    },
    ...extra,
  });

  it.each([
    ['an unknown field', { temprature: 0.2 }, /temprature: Extra inputs are not permitted/],
    ['temperature on a model that takes no sampling parameters', { temperature: 0.2 }, /temperature/],
    ['max_tokens above the model maximum', { max_tokens: 200_000 }, /maximum allowed/],
    [
      'effort on a model without it',
      { model: 'claude-haiku-4-5', output_config: { effort: 'low' } },
      /effort/,
    ],
    [
      'inference_geo on a model without it',
      { model: 'claude-haiku-4-5', inference_geo: 'us' },
      /inference_geo/,
    ],
    [
      '"disabled" thinking on Sonnet 5.5',
      { model: 'claude-sonnet-5-5', thinking: { type: 'disabled' } },
      /between_tools/,
    ],
    [
      '"disabled" thinking on Opus 5.5',
      { model: 'claude-opus-5-5', thinking: { type: 'disabled' } },
      /cannot be disabled/,
    ],
    ['a thinking budget on a 5.x model', { thinking: { type: 'enabled', budget_tokens: 2048 } }, /adaptive/],
    [
      'adaptive thinking on Haiku 4.5',
      { model: 'claude-haiku-4-5', thinking: { type: 'adaptive' } },
      /adaptive/,
    ],
    [
      'prefill on a 4.6+ model',
      {
        messages: [
          { role: 'user', content: 'x' },
          { role: 'assistant', content: '{' },
        ],
      },
      /prefill/,
    ],
    [
      'a schema with bounds structured outputs do not take',
      {
        output_config: {
          format: {
            type: 'json_schema',
            schema: {
              type: 'object',
              properties: { n: { type: 'number', minimum: 0 } },
              additionalProperties: false,
            },
          },
        },
      },
      /minimum/,
    ],
    [
      'an object schema open to extra properties',
      { output_config: { format: { type: 'json_schema', schema: { type: 'object', properties: {} } } } },
      /additionalProperties/,
    ],
    [
      'more than 4 cache breakpoints',
      {
        system: Array.from({ length: 5 }, (_, i) => ({
          type: 'text',
          text: `part ${i}`,
          cache_control: { type: 'ephemeral' },
        })),
      },
      /maximum of 4 blocks with cache_control/,
    ],
  ])('refuses %s with a 400', async (_what, extra, message) => {
    const { status, json } = await send(jsonOutput(extra));
    expect(status).toBe(400);
    expect(json.error.type).toBe('invalid_request_error');
    expect(json.error.message).toMatch(message);
  });

  it('refuses forced tool use while thinking is on, and on models that never take it', async () => {
    const forcedTool = {
      max_tokens: 200,
      messages: [{ role: 'user', content: 'x' }],
      tools: [answerTool],
      tool_choice: { type: 'tool', name: answerTool.name },
    };
    // Haiku 5.5 thinks unless told not to.
    const thinking = await send({ model: 'claude-haiku-5-5', ...forcedTool });
    expect(thinking.status).toBe(400);
    expect(thinking.json.error.message).toBe('Thinking may not be enabled when tool_choice forces tool use.');
    expect(
      (await send({ model: 'claude-haiku-5-5', thinking: { type: 'disabled' }, ...forcedTool })).status,
    ).toBe(200);
    const sonnet = await send({
      model: 'claude-sonnet-5-5',
      thinking: { type: 'between_tools' },
      ...forcedTool,
    });
    expect(sonnet.status).toBe(400);
    expect(sonnet.json.error.message).toMatch(/forced tool use is not supported/);
  });

  it('answers JSON outputs in a text block after a thinking block, and takes the thinking block back only as issued', async () => {
    const first = await send(jsonOutput());
    expect(first.status).toBe(200);
    expect(first.json.content.map((b) => b.type)).toEqual(['thinking', 'text']);
    expect(JSON.parse(first.json.content[1]!.text!)).toEqual({ intent: 'billing' });
    expect(first.json.usage.output_tokens_details).toEqual({ thinking_tokens: 120 });
    const followUp = (thinkingBlock: Record<string, unknown>) =>
      jsonOutput({
        messages: [
          { role: 'user', content: 'refund please' },
          { role: 'assistant', content: [thinkingBlock, first.json.content[1]] },
          { role: 'user', content: 'again' },
        ],
      });
    expect((await send(followUp(first.json.content[0]!))).status).toBe(200);
    const forged = await send(followUp({ ...first.json.content[0]!, signature: 'forged' }));
    expect(forged.status).toBe(400);
    expect(forged.json.error.message).toMatch(/Invalid `signature`/);
  });

  it('stops at max_tokens when thinking leaves no room for the answer', async () => {
    const { json } = await send(jsonOutput({ max_tokens: 100 }));
    expect(json.stop_reason).toBe('max_tokens');
    expect(json.usage.output_tokens).toBe(100);
    expect(json.content.map((b) => b.type)).toEqual(['thinking']);
  });

  it('caches only at or above the model’s minimum prefix (Haiku 4.5: 4096 tokens)', async () => {
    const big = (size: number) =>
      request(classifyTool(['billing', 'other']), 'ticket', {
        system: [{ type: 'text', text: 'x'.repeat(size * 4), cache_control: { type: 'ephemeral' } }],
      });
    expect((await send(big(3000))).json.usage.cache_creation_input_tokens).toBe(0);
    expect((await send(big(5000))).json.usage.cache_creation_input_tokens).toBeGreaterThan(4096);
  });

  it('answers a spend limit like the API: 429, details.error_code, no retry-after, x-should-retry false', async () => {
    strict.setScript([{ kind: 'spend_limit' }]);
    const { status, headers, json } = await send(jsonOutput());
    expect(status).toBe(429);
    expect(json.error).toMatchObject({
      type: 'rate_limit_error',
      details: { error_code: 'enforced_spend_limit_reached' },
    });
    expect(headers.get('retry-after')).toBeNull();
    expect(headers.get('x-should-retry')).toBe('false');
    expect(headers.get('anthropic-ratelimit-requests-limit')).toBe('4000');
  });

  it('says x-should-retry true on overload, with rate-limit headers', async () => {
    strict.setScript([{ kind: 'error', status: 529 }]);
    const { status, headers } = await send(jsonOutput());
    expect(status).toBe(529);
    expect(headers.get('x-should-retry')).toBe('true');
    expect(headers.get('anthropic-ratelimit-input-tokens-remaining')).not.toBeNull();
  });

  it('answers 500 to a scripted reply the real API could not give, and lists it', async () => {
    strict.setScript([{ kind: 'success', toolInput: { intent: 'shipping' } }]);
    const { status } = await send(jsonOutput());
    expect(status).toBe(500);
    expect(strict.scriptErrors).toEqual([expect.stringMatching(/not in the enum/)]);
    strict.reset();
  });
});
