import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import type { Config } from '../config';
import { ProblemError } from './problem';

/**
 * Bounds on what an unauthenticated or misbehaving client can cost: guessing keys is throttled per client
 * address, and the endpoints monitoring scrapes without a key are cached so their cost does not grow with the
 * request rate. Per process: with several API replicas, each counts on its own.
 */

const WINDOW_MS = 60_000;
/** Beyond this many tracked addresses, expired entries are swept on the next failure. */
const SWEEP_ABOVE = 10_000;

export interface AuthFailureLimiter {
  /** Runs `authenticate`; a 401/403 it throws counts against the client's address, and a client over its
   * budget gets 429 before its credentials are even looked at. */
  guard(request: FastifyRequest, authenticate: () => Promise<void>): Promise<void>;
}

export function createAuthFailureLimiter(
  config: Pick<Config, 'AUTH_FAILURES_PER_MINUTE'>,
  now: () => number = Date.now,
): AuthFailureLimiter {
  const windows = new Map<string, { startedAt: number; failures: number }>();

  const current = (address: string) => {
    const entry = windows.get(address);
    if (entry && now() - entry.startedAt < WINDOW_MS) return entry;
    windows.delete(address);
    return undefined;
  };

  const recordFailure = (address: string) => {
    const entry = current(address);
    if (entry) {
      entry.failures++;
      return;
    }
    if (windows.size >= SWEEP_ABOVE) for (const key of [...windows.keys()]) current(key);
    windows.set(address, { startedAt: now(), failures: 1 });
  };

  return {
    async guard(request, authenticate) {
      const address = request.ip;
      const entry = current(address);
      if (entry && entry.failures >= config.AUTH_FAILURES_PER_MINUTE) {
        const retryAfter = Math.max(1, Math.ceil((entry.startedAt + WINDOW_MS - now()) / 1000));
        throw new ProblemError(
          429,
          'too-many-authentication-failures',
          `Too many failed authentications from this address; retry in ${retryAfter} s.`,
          { headers: { 'retry-after': String(retryAfter) } },
        );
      }
      try {
        await authenticate();
      } catch (error) {
        if (error instanceof ProblemError && (error.status === 401 || error.status === 403))
          recordFailure(address);
        throw error;
      }
    },
  };
}

/** With METRICS_TOKEN set, a route marked `metricsToken` needs `Authorization: Bearer <METRICS_TOKEN>`. */
export function requireMetricsToken(config: Pick<Config, 'METRICS_TOKEN'>, request: FastifyRequest): void {
  if (!config.METRICS_TOKEN || !request.routeOptions.config?.metricsToken) return;
  const header = request.headers.authorization ?? '';
  const presented = header.startsWith('Bearer ') ? header.slice('Bearer '.length).trim() : '';
  // Hashing first gives equal lengths, so the comparison takes the same time whatever was sent.
  const digest = (value: string) => createHash('sha256').update(value).digest();
  if (presented && timingSafeEqual(digest(presented), digest(config.METRICS_TOKEN))) return;
  throw new ProblemError(
    401,
    'invalid-metrics-token',
    'Send the metrics token: `Authorization: Bearer <token>`.',
    {
      headers: { 'www-authenticate': 'Bearer realm="ticketflow-metrics"' },
      errors: [
        {
          field: 'authorization',
          in: 'headers',
          rule: 'metrics_token',
          message: 'a valid metrics token is required',
        },
      ],
    },
  );
}

/**
 * `load()` at most once per `ttlMs`; callers in between get the last result, and concurrent callers after
 * expiry share one call. A failed load is not cached.
 */
export function cachedFor<T>(
  ttlMs: number,
  load: () => Promise<T>,
  now: () => number = Date.now,
): () => Promise<T> {
  let cached: { value: T; at: number } | undefined;
  let pending: Promise<T> | undefined;
  return () => {
    if (cached && now() - cached.at < ttlMs) return Promise.resolve(cached.value);
    pending ??= load()
      .then((value) => {
        cached = { value, at: now() };
        return value;
      })
      .finally(() => {
        pending = undefined;
      });
    return pending;
  };
}
