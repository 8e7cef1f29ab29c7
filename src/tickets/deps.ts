import type { Client } from '@temporalio/client';
import type { Config } from '../config';
import type { Db } from '../db/database';

/** What the tickets service reads and drives: Postgres (what activities recorded) and Temporal (the workflows). */
export interface TicketDeps {
  config: Config;
  db: Db;
  temporal: Client;
}

/** ISO 8601, or null. */
export function iso(value: Date | string | null | undefined): string | null {
  return value === null || value === undefined ? null : new Date(value).toISOString();
}
