import { ApplicationFailure } from '@temporalio/activity';

/**
 * Writes that prove themselves. A bookkeeping write that did not happen (a row that is not there, an update
 * that touched nothing, an insert that lost a conflict to different content) must fail its activity, so
 * Temporal retries it and the workflow never reports a step it cannot see in Postgres. `lost_write` is
 * retryable: the usual cause is a database that answered without doing the work, and a retry does it again.
 */
export const LOST_WRITE = 'lost_write';

export function lostWrite(what: string): ApplicationFailure {
  return ApplicationFailure.retryable(`Write not confirmed: ${what}`, LOST_WRITE);
}

/** An INSERT, UPDATE or DELETE result (kysely) that must have touched exactly `expected` rows. */
export function confirmRows(
  result: { numUpdatedRows?: bigint; numDeletedRows?: bigint; numInsertedOrUpdatedRows?: bigint },
  expected: number,
  what: string,
): void {
  const touched = Number(
    result.numUpdatedRows ?? result.numDeletedRows ?? result.numInsertedOrUpdatedRows ?? 0n,
  );
  if (touched !== expected) throw lostWrite(`${what} (${touched} rows changed, expected ${expected})`);
}

/** A row an INSERT/UPDATE … RETURNING (or the read that checks it) must have produced. */
export function confirmRow<T>(row: T | undefined, what: string): T {
  if (row === undefined) throw lostWrite(what);
  return row;
}

/**
 * After `INSERT … ON CONFLICT DO NOTHING`, the row that is there: ours (returned by the insert) or an earlier
 * attempt's, read back and compared field by field with what this attempt would have written.
 */
export async function confirmInsertedOrSame<Row extends Record<string, unknown>>(
  inserted: Row | undefined,
  readExisting: () => Promise<Row | undefined>,
  expected: Partial<Row>,
  what: string,
): Promise<Row> {
  if (inserted !== undefined) return inserted;
  const existing = confirmRow(await readExisting(), `${what}: no row after insert`);
  const differing = Object.keys(expected).filter((key) => !sameValue(existing[key], expected[key]));
  if (differing.length > 0) throw lostWrite(`${what}: the stored row differs in ${differing.join(', ')}`);
  return existing;
}

function sameValue(stored: unknown, expected: unknown): boolean {
  if (stored instanceof Date || expected instanceof Date) {
    return new Date(stored as Date | string).getTime() === new Date(expected as Date | string).getTime();
  }
  return stored === expected;
}
