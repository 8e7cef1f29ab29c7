import type { temporal } from '@temporalio/proto';

export type HistoryEvent = temporal.api.history.v1.IHistoryEvent;
export type Payload = temporal.api.common.v1.IPayload;

export interface FoundPayload {
  payload: Payload;
  /** Property names from the event down to the payload, e.g. `markerRecordedEventAttributes.details.result`. */
  path: string[];
}

/** Every Payload and every Failure anywhere in the history, found structurally. */
export function collect(events: HistoryEvent[]): {
  payloads: Payload[];
  found: FoundPayload[];
  failures: temporal.api.failure.v1.IFailure[];
} {
  const found: FoundPayload[] = [];
  const failures: temporal.api.failure.v1.IFailure[] = [];
  const visit = (value: unknown, path: string[]) => {
    if (value === null || typeof value !== 'object' || value instanceof Uint8Array) return;
    if (Array.isArray(value)) return value.forEach((item) => visit(item, path));
    const record = value as Record<string, unknown>;
    if (record.metadata && typeof record.metadata === 'object' && 'data' in record) {
      found.push({ payload: record as Payload, path });
    }
    const key = path[path.length - 1];
    if ((key === 'failure' || key === 'cause') && typeof record.message === 'string') {
      failures.push(record as temporal.api.failure.v1.IFailure);
    }
    for (const [childKey, child] of Object.entries(record)) visit(child, [...path, childKey]);
  };
  for (const event of events) visit(event, []);
  return { payloads: found.map((f) => f.payload), found, failures };
}

export const encodingOf = (payload: Payload) =>
  Buffer.from(payload.metadata?.encoding ?? new Uint8Array()).toString('utf8');
