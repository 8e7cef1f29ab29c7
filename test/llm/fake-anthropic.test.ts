import { startFakeAnthropic, type FakeAnthropic } from '../support/fake-anthropic';

/** The fake itself, over plain HTTP: other test suites and the benchmark rely on its wire format. */

let fake: FakeAnthropic;

beforeAll(async () => {
  fake = await startFakeAnthropic();
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
  content: Array<{ type: string; name?: string; input: Record<string, unknown> }>;
  usage: Record<string, number>;
  error: { type: string; message: string };
}

async function post(body: Record<string, unknown>, headers: Record<string, string> = { 'x-api-key': 'k' }) {
  const response = await fetch(`${fake.url}/v1/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01', ...headers },
    body: JSON.stringify(body),
  });
  return { status: response.status, headers: response.headers, json: (await response.json()) as WireBody };
}

function request(tool: Record<string, unknown>, prompt: string, extra: Record<string, unknown> = {}) {
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
});
