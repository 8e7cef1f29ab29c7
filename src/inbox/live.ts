import type { TicketDeps } from '../tickets/deps';
import { queueCounts } from '../tickets';
import { sql } from 'kysely';

/**
 * The inbox's live queue counts, pushed to every open page over server-sent events. One query every
 * `intervalMs` while at least one page listens (not one per page), and an event only when the queue changed:
 * a new escalation, a resolution, or a ticket going overdue.
 */

export interface QueueState {
  open: number;
  overdue: number;
  /** Changes whenever an escalation is created or resolved; pages refetch their (filtered) list on change. */
  version: string;
}

type Listener = (state: QueueState) => void;

/** Open and overdue counts, and a version that moves whenever an escalation is created or resolved. */
export async function readQueueState(deps: Pick<TicketDeps, 'db'>, now = new Date()): Promise<QueueState> {
  const [counts, marks] = await Promise.all([
    queueCounts(deps, now),
    deps.db
      .selectFrom('escalations')
      .select([
        sql<string | null>`max(created_at)::text`.as('created'),
        sql<string | null>`max(resolved_at)::text`.as('resolved'),
      ])
      .executeTakeFirstOrThrow(),
  ]);
  return { ...counts, version: `${marks.created ?? ''}|${marks.resolved ?? ''}` };
}

export class QueueBroadcaster {
  private readonly listeners = new Set<Listener>();
  private last?: QueueState;
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly deps: Pick<TicketDeps, 'db'>,
    private readonly intervalMs = 2_000,
  ) {}

  /** Calls `listener` with the current state at once (when known) and on every change; returns the unsubscribe. */
  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    if (this.last) listener(this.last);
    if (!this.timer) void this.tick();
    return () => {
      this.listeners.delete(listener);
      if (this.listeners.size === 0) this.stop();
    };
  }

  private async tick(): Promise<void> {
    try {
      const state = await readQueueState(this.deps);
      const changed =
        !this.last ||
        this.last.open !== state.open ||
        this.last.overdue !== state.overdue ||
        this.last.version !== state.version;
      this.last = state;
      if (changed) for (const listener of this.listeners) listener(state);
    } catch {
      // Postgres unavailable: pages keep their last state (their connection stays open) until it is back.
    } finally {
      if (this.listeners.size > 0) this.timer = setTimeout(() => void this.tick(), this.intervalMs);
      else this.stop();
    }
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.last = undefined;
  }
}
