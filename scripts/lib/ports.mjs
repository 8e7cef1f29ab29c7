/* global AbortSignal */
import net from 'node:net';

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** True when nothing listens on host:port (we could bind it ourselves). */
export function isPortFree(port, host = '127.0.0.1') {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/** A port the OS considers free right now. */
export function randomFreePort(host = '127.0.0.1') {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ port: 0, host, exclusive: true }, () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/**
 * `preferred` if it is free, otherwise a random free port: several developers (and CI) may run the test
 * suite on one machine at the same time, so fixed ports are only a preference.
 */
export async function pickPort(preferred, host = '127.0.0.1', avoid = []) {
  if (preferred && !avoid.includes(preferred) && (await isPortFree(preferred, host))) return preferred;
  for (;;) {
    const port = await randomFreePort(host);
    if (!avoid.includes(port)) return port;
  }
}

/** True when a TCP connection to host:port succeeds within `timeoutMs`. */
export function canConnect(port, host = '127.0.0.1', timeoutMs = 1000) {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host });
    const finish = (result) => {
      socket.destroy();
      resolve(result);
    };
    socket.setTimeout(timeoutMs, () => finish(false));
    socket.once('connect', () => finish(true));
    socket.once('error', () => finish(false));
  });
}

/**
 * Polls until `probe()` resolves true. `stillAlive()` lets the caller abort early when the process that
 * should open the port has already died, instead of waiting for the full timeout.
 */
export async function waitUntil(
  probe,
  { timeoutMs = 60_000, intervalMs = 250, what = 'service', stillAlive } = {},
) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await probe()) return;
    if (stillAlive && !stillAlive()) throw new Error(`${what} exited before it became ready`);
    if (Date.now() > deadline)
      throw new Error(`${what} did not become ready within ${Math.round(timeoutMs / 1000)} s`);
    await sleep(intervalMs);
  }
}

export function waitForPort(port, host = '127.0.0.1', options = {}) {
  return waitUntil(() => canConnect(port, host), { what: `${host}:${port}`, ...options });
}

/** GET `url` and report whether it answered with a non-5xx status (any HTTP answer means "up"). */
export async function httpAnswers(url, timeoutMs = 2000) {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), redirect: 'manual' });
    await response.body?.cancel();
    return response.status < 500;
  } catch {
    return false;
  }
}
