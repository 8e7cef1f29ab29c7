import { summarizeRun, compareRuns, type RunRow } from '../../bench/lib/bench-report';
import { buildMix, buildPools, mixCounts } from '../../bench/lib/mix';
import {
  criticalPathWorkMs,
  llmTimeMs,
  orchestrationOverheadMs,
  overheadBeyondWorkMs,
  timingFromSteps,
} from '../../bench/lib/overhead';
import { createRng } from '../../bench/lib/prng';

describe('orchestration overhead', () => {
  const answered = { endToEndMs: 1500, classifyLlmMs: 350, retrieveMs: 40, generateLlmMs: 900 };
  const gated = { endToEndMs: 600, classifyLlmMs: 350, retrieveMs: 420, generateLlmMs: null };

  test('overhead is end-to-end minus the classify and generate calls', () => {
    expect(llmTimeMs(answered)).toBe(1250);
    expect(orchestrationOverheadMs(answered)).toBe(250);
    // Generation skipped by a gate: only classification is LLM time.
    expect(llmTimeMs(gated)).toBe(350);
    expect(orchestrationOverheadMs(gated)).toBe(250);
  });

  test('parallel triage counts only the longer of classify and retrieve as work', () => {
    expect(criticalPathWorkMs(answered, true)).toBe(1250);
    expect(criticalPathWorkMs(gated, true)).toBe(420);
    expect(overheadBeyondWorkMs(gated, true)).toBe(180);
    // Sequential (the baseline): both count.
    expect(criticalPathWorkMs(answered, false)).toBe(1290);
    expect(overheadBeyondWorkMs(answered, false)).toBe(210);
  });

  test('timing comes from successful ticket_steps rows; failed or missing steps count as absent', () => {
    const timing = timingFromSteps(2000, [
      { step: 'classify', status: 'ok', latency_ms: 360 },
      { step: 'retrieve', status: 'ok', latency_ms: 25 },
      { step: 'generate', status: 'failed', latency_ms: 0 },
    ]);
    expect(timing).toEqual({ endToEndMs: 2000, classifyLlmMs: 360, retrieveMs: 25, generateLlmMs: null });
    expect(orchestrationOverheadMs(timing)).toBe(1640);
  });

  test('a speculative draft overlaps the classifier when sent, and is off the path when a gate discarded it', () => {
    const steps = [
      { step: 'classify', status: 'ok', latency_ms: 350 },
      { step: 'retrieve', status: 'ok', latency_ms: 20 },
      { step: 'generate', status: 'ok', latency_ms: 900, detail: { kind: 'answer', speculative: true } },
    ];
    const sent = timingFromSteps(1100, steps);
    expect(sent.speculative).toBe(true);
    expect(llmTimeMs(sent)).toBe(900);
    expect(criticalPathWorkMs(sent, true)).toBe(920);
    expect(overheadBeyondWorkMs(sent, true)).toBe(180);
    const discarded = timingFromSteps(500, steps, { escalated: true });
    expect(discarded.generateLlmMs).toBeNull();
    expect(llmTimeMs(discarded)).toBe(350);
    expect(criticalPathWorkMs(discarded, true)).toBe(350);
  });
});

describe('run summaries', () => {
  const row = ({
    e2e,
    generate,
    kind = 'in_scope',
  }: {
    e2e: number;
    generate: number | null;
    kind?: RunRow['kind'];
  }): RunRow => ({
    kind,
    timing: { endToEndMs: e2e, classifyLlmMs: 100, retrieveMs: 10, generateLlmMs: generate },
    generated: generate !== null,
    escalated: generate === null,
    reason: generate === null ? 'critical_urgency' : null,
    tokens: {
      input: 100,
      cachedInput: 0,
      cacheWrite: 0,
      output: generate === null ? 10 : 110,
      costUsd: generate === null ? 0.001 : 0.003,
    },
    startedAt: 0,
    finishedAt: e2e,
  });

  test('throughput, generation share, cost per ticket and per-kind breakdown', () => {
    const rows = [
      row({ e2e: 1000, generate: 500 }),
      row({ e2e: 2000, generate: 500 }),
      row({ e2e: 400, generate: null, kind: 'critical' }),
      row({ e2e: 600, generate: 500 }),
    ];
    const summary = summarizeRun('ticketflow', rows, 4);
    expect(summary.wallSeconds).toBe(2);
    expect(summary.throughputPerSecond).toBe(2);
    expect(summary.generationShare).toBe(0.75);
    expect(summary.escalationReasons).toEqual({ critical_urgency: 1 });
    expect(summary.tokensPerTicket.costUsd).toBeCloseTo(0.0025, 10);
    expect(summary.costPer1000TicketsUsd).toBeCloseTo(2.5, 6);
    expect(summary.orchestrationOverheadMs.max).toBe(1400);
    expect(summary.byKind.critical).toMatchObject({ tickets: 1, generationShare: 0 });

    const baseline = summarizeRun(
      'baseline',
      rows.map((r) => ({ ...r, tokens: { ...r.tokens, costUsd: 0.005 } })),
      4,
    );
    expect(compareRuns(summary, baseline).costPerTicket).toBe(0.5);
    expect(compareRuns(summary, baseline).throughput).toBe(1);
  });
});

describe('ticket mix', () => {
  test('shares are rounded per kind and in-scope takes the remainder', () => {
    expect(mixCounts(200)).toEqual({ in_scope: 144, critical: 16, out_of_scope: 30, human_request: 10 });
    expect(mixCounts(7)).toEqual({ in_scope: 5, critical: 1, out_of_scope: 1, human_request: 0 });
    expect(() => mixCounts(10, { critical: 0.6, out_of_scope: 0.6, human_request: 0 })).toThrow(/100 %/);
  });

  test('the same seed draws the same tickets', () => {
    const pools = buildPools(
      [
        {
          id: 'a-1',
          category: 'answerable',
          subject: 's',
          body: 'b1',
          expectedIntent: 'billing',
          expectedOutcome: 'answer',
          expectedArticles: ['x'],
        },
        {
          id: 'a-2',
          category: 'critical',
          subject: 's',
          body: 'b2',
          expectedIntent: 'technical',
          expectedOutcome: 'escalate',
        },
        {
          id: 'a-3',
          category: 'human_request',
          subject: 's',
          body: 'b3',
          expectedIntent: 'billing',
          expectedOutcome: 'escalate',
        },
      ],
      ['what is the weather'],
    );
    const first = buildMix(pools, 50, createRng(1));
    expect(buildMix(pools, 50, createRng(1))).toEqual(first);
    expect(first.filter((t) => t.kind === 'out_of_scope')).toHaveLength(8);
    expect(first.find((t) => t.kind === 'out_of_scope')?.sourceId).toBe('clinc-oos-0');
  });
});
