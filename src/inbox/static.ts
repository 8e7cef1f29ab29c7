import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';

/** The inbox's CSS, JS and icons: a fixed set of files read once at start, served with ETags. */

const TYPES: Record<string, string> = {
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
};

export const PUBLIC_DIR = path.join(__dirname, 'public');

interface Asset {
  body: Buffer;
  type: string;
  etag: string;
}

export function loadAssets(dir = PUBLIC_DIR): Map<string, Asset> {
  const assets = new Map<string, Asset>();
  for (const name of fs.readdirSync(dir)) {
    const type = TYPES[path.extname(name)];
    if (!type || name.startsWith('.')) continue;
    const body = fs.readFileSync(path.join(dir, name));
    assets.set(name, {
      body,
      type,
      etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`,
    });
  }
  return assets;
}

export function registerStaticRoutes(scope: FastifyInstance, assets = loadAssets()): void {
  scope.get<{ Params: { file: string } }>('/static/:file', async (request, reply) => {
    // Only names read from the folder at start can be served: no path is ever built from the request.
    const asset = assets.get(request.params.file);
    if (!asset) return reply.code(404).type('text/plain; charset=utf-8').send('Not found');
    reply.header('etag', asset.etag).header('cache-control', 'public, max-age=300, must-revalidate');
    if (request.headers['if-none-match'] === asset.etag) return reply.code(304).send();
    return reply.type(asset.type).send(asset.body);
  });
}
