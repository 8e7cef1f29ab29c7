import { proxyActivities, proxyLocalActivities } from '@temporalio/workflow';

/**
 * Workflows that do nothing, in the shape of a ticket's path (bench/temporal-floor.ts). What they cost is what
 * Temporal, the SDK and this machine charge for the shape alone, before any ticketflow code runs.
 */

export interface FloorActivities {
  nothing(): Promise<void>;
}

const local = proxyLocalActivities<FloorActivities>({ startToCloseTimeout: '30s' });
const remote = proxyActivities<FloorActivities>({ startToCloseTimeout: '30s' });

/** Started and completed in its first workflow task. */
export async function emptyShape(): Promise<void> {}

/**
 * An escalated ticket on Claude's path (the common outcome in `npm run bench`): record the ticket (local), classify
 * ‖ retrieve (activities), escalate and record the outcome (local).
 */
export async function activitiesShape(): Promise<void> {
  await local.nothing();
  await Promise.all([remote.nothing(), remote.nothing()]);
  await local.nothing();
  await local.nothing();
}

/** The same ticket on the offline path (`policy.localTriage`): classify ‖ retrieve as local activities too. */
export async function localShape(): Promise<void> {
  await local.nothing();
  await Promise.all([local.nothing(), local.nothing()]);
  await local.nothing();
  await local.nothing();
}
