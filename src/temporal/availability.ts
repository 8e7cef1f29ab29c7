import type { Client } from '@temporalio/client';
import { TicketServiceUnavailableError } from '../tickets/errors';

/**
 * The API's calls to Temporal, bounded: each gets its own short deadline (API_TEMPORAL_TIMEOUT_MS) instead of
 * the client's retries for as long as the HTTP request lasts, and once a call found Temporal unreachable, the
 * next ones fail at once for a short while (no request waits for a server known to be down; the first request
 * after that tries again). Either way the caller gets a TicketServiceUnavailableError('Temporal'): 503 with
 * Retry-After in the API.
 */
export class TemporalAvailability {
  private downUntil = 0;
  private lastFailure: string | undefined;

  constructor(
    private readonly client: Pick<Client, 'withDeadline'>,
    readonly timeoutMs: number,
    /** How long a failure keeps later calls from trying (they fail fast meanwhile). */
    readonly coolDownMs = Math.min(timeoutMs, 1_000),
    private readonly now: () => number = Date.now,
  ) {}

  /** Why Temporal is considered down, or undefined when it is not. */
  get down(): string | undefined {
    return this.now() < this.downUntil ? this.lastFailure : undefined;
  }

  /** Run `fn` (which calls Temporal) within the deadline; fail fast while Temporal is known to be down. */
  async call<T>(fn: () => Promise<T>): Promise<T> {
    const down = this.down;
    if (down)
      throw new TicketServiceUnavailableError(
        'Temporal',
        `Temporal is unavailable (${down}); retry shortly.`,
      );
    try {
      return await this.client.withDeadline(this.now() + this.timeoutMs, fn);
    } catch (err) {
      const reason = temporalOutage(err);
      if (!reason) throw err;
      this.lastFailure = reason;
      this.downUntil = this.now() + this.coolDownMs;
      throw new TicketServiceUnavailableError(
        'Temporal',
        `Temporal is unavailable (${reason}); retry shortly.`,
      );
    }
  }
}

const GRPC_UNAVAILABLE = 14;
const GRPC_DEADLINE_EXCEEDED = 4;

/** `unreachable` / `no answer in time` when `err` (or a cause) says Temporal's gRPC service could not be used. */
export function temporalOutage(err: unknown): string | undefined {
  for (let current: unknown = err, depth = 0; current && depth < 5; depth++) {
    const { code, cause } = current as { code?: unknown; cause?: unknown };
    if (code === GRPC_UNAVAILABLE) return 'unreachable';
    if (code === GRPC_DEADLINE_EXCEEDED) return 'no answer in time';
    current = cause;
  }
  return undefined;
}

const shared = new WeakMap<object, TemporalAvailability>();

/** One availability state per Temporal client, shared by the routes that use it. */
export function temporalAvailability(client: Client, timeoutMs: number): TemporalAvailability {
  let availability = shared.get(client);
  if (!availability || availability.timeoutMs !== timeoutMs) {
    availability = new TemporalAvailability(client, timeoutMs);
    shared.set(client, availability);
  }
  return availability;
}
