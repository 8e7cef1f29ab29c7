import { bundleWorkflowCode } from '@temporalio/worker';
import { resolutionSignalSchema } from '../../src/domain/ticket';
import { parseResolutionSignal } from '../../src/domain/resolution-signal';
import hostile from '../fixtures/hostile/strings.json';

/**
 * The workflow sandbox evaluates every module the workflow imports again for each new run (module state is
 * per workflow), so whatever the bundle pulls in is paid per ticket. zod cost ~7 ms of worker CPU per ticket
 * there: the workflow checks its signal with a small hand-written parser instead.
 */
test('the workflow bundle carries no zod and no application module that builds schemas', async () => {
  const { code } = await bundleWorkflowCode({
    workflowsPath: require.resolve('../../workflows'),
    logger: { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} },
  });
  const modules = [...new Set([...code.matchAll(/"(\.\/[^"]+\.(?:ts|js|mjs|cjs))"/g)].map((m) => m[1]!))];
  expect(modules).toContain('./workflows/ticket.ts'); // the pattern really finds the bundle's modules
  expect(modules.filter((m) => m.includes('node_modules/zod'))).toEqual([]);
  expect(modules).not.toContain('./src/domain/ticket.ts');
}, 120_000);

describe('parseResolutionSignal agrees with resolutionSignalSchema', () => {
  const strings = (hostile as Array<{ name: string; value: string }>).map((entry) => entry.value);
  const candidates: unknown[] = [
    { agentId: 'agent-1', answer: 'Here is how.' },
    { agentId: '  agent-1  ', answer: '  padded  ', addToKnowledgeBase: false },
    { agentId: 'a', answer: 'b', addToKnowledgeBase: 'yes' },
    { agentId: '', answer: 'b' },
    { agentId: '   ', answer: 'b' },
    { agentId: 'a'.repeat(200), answer: 'b'.repeat(20_000) },
    { agentId: 'a'.repeat(201), answer: 'b' },
    { agentId: 'a', answer: 'b'.repeat(20_001) },
    { agentId: 'a', answer: ` ${'b'.repeat(20_000)} ` },
    { agentId: 7, answer: 'b' },
    { agentId: 'a' },
    { agentId: 'a', answer: 'b', extra: 'dropped' },
    { agentId: 'a', answer: 'b', addToKnowledgeBase: null },
    { agentId: 'a', answer: 'b', addToKnowledgeBase: undefined },
    null,
    undefined,
    'a string',
    42,
    ['agent', 'answer'],
    ...strings.slice(0, 200).map((text) => ({ agentId: text, answer: text })),
  ];
  test.each(candidates.map((c, i) => [i, c]))('candidate %i', (_i, candidate) => {
    const reference = resolutionSignalSchema.safeParse(candidate);
    expect(parseResolutionSignal(candidate)).toEqual(reference.success ? reference.data : undefined);
  });
});
