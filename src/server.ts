import type { FastifyInstance } from 'fastify';
import { buildApp, type AppDeps, type BuildAppOptions } from './api/app';
import { registerInbox, type InboxOptions } from './inbox';

/**
 * One HTTP server for the two peers that sit on the tickets service: the JSON API (/v1, /openapi.json, /docs)
 * and the agent inbox (/inbox). Neither imports the other; this is where they meet.
 */
export async function buildServer(
  deps: AppDeps,
  options: BuildAppOptions & { inbox?: InboxOptions } = {},
): Promise<FastifyInstance> {
  const app = await buildApp(deps, options);
  await registerInbox(app, deps, options.inbox);
  return app;
}
