import type { AcmeCategory, AcmeTicket } from './datasets';
import type { Rng } from './prng';

/**
 * The benchmark's ticket mix: a realistic share of tickets that ticketflow's gates send to a human before
 * generation (critical, explicit human requests, out-of-scope), the rest ordinary in-scope questions.
 */

export type MixKind = 'in_scope' | 'critical' | 'human_request' | 'out_of_scope';

export interface MixShares {
  critical: number;
  out_of_scope: number;
  human_request: number;
}

export const DEFAULT_SHARES: MixShares = { critical: 0.08, out_of_scope: 0.15, human_request: 0.05 };

export interface MixTicket {
  kind: MixKind;
  /** Where the text came from: an Acme ticket id or `clinc-oos-<n>`. */
  sourceId: string;
  subject: string;
  body: string;
}

export interface MixPools {
  in_scope: MixTicket[];
  critical: MixTicket[];
  human_request: MixTicket[];
  out_of_scope: MixTicket[];
}

const KIND_OF: Record<AcmeCategory, MixKind> = {
  answerable: 'in_scope',
  not_covered: 'in_scope',
  critical: 'critical',
  human_request: 'human_request',
  out_of_scope: 'out_of_scope',
};

/** Pools by kind: Acme tickets by category, plus CLINC150 out-of-scope queries for variety. */
export function buildPools(acme: readonly AcmeTicket[], clincOutOfScope: readonly string[]): MixPools {
  const pools: MixPools = { in_scope: [], critical: [], human_request: [], out_of_scope: [] };
  for (const ticket of acme) {
    const kind = KIND_OF[ticket.category];
    pools[kind].push({ kind, sourceId: ticket.id, subject: ticket.subject, body: ticket.body });
  }
  clincOutOfScope.forEach((text, index) => {
    pools.out_of_scope.push({
      kind: 'out_of_scope',
      sourceId: `clinc-oos-${index}`,
      subject: '',
      body: text,
    });
  });
  return pools;
}

/** How many of `total` tickets each kind gets: rounded shares, in-scope takes the remainder. */
export function mixCounts(total: number, shares: MixShares = DEFAULT_SHARES): Record<MixKind, number> {
  if (!Number.isInteger(total) || total < 0)
    throw new Error(`ticket count must be a non-negative integer, got ${total}`);
  const critical = Math.round(total * shares.critical);
  const outOfScope = Math.round(total * shares.out_of_scope);
  const human = Math.round(total * shares.human_request);
  const inScope = total - critical - outOfScope - human;
  if (inScope < 0)
    throw new Error(
      'the shares of critical, out-of-scope and human-request tickets add up to more than 100 %',
    );
  return { in_scope: inScope, critical, out_of_scope: outOfScope, human_request: human };
}

/** `total` tickets drawn with replacement from the pools in the given shares, shuffled. */
export function buildMix(
  pools: MixPools,
  total: number,
  rng: Rng,
  shares: MixShares = DEFAULT_SHARES,
): MixTicket[] {
  const counts = mixCounts(total, shares);
  const tickets: MixTicket[] = [];
  for (const kind of Object.keys(counts) as MixKind[]) {
    if (counts[kind] > 0 && pools[kind].length === 0)
      throw new Error(`no tickets of kind ${kind} to draw from`);
    for (let i = 0; i < counts[kind]; i++) tickets.push(rng.pick(pools[kind]));
  }
  return rng.shuffle(tickets);
}
