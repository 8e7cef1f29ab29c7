import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { z } from 'zod';

/**
 * A local HTTP server that speaks the part of Qdrant's REST API ticketflow uses, for tests on machines
 * where no Qdrant server can run. It records every request, validates request bodies strictly against the
 * shapes in @qdrant/js-client-rest's generated OpenAPI types (an unknown or mistyped field is a 400, as
 * Qdrant's JSON parser would reject it), and answers with Qdrant's response envelopes. Storage is real:
 * points live in memory, searches are exact cosine scans, filters support match value/any on
 * keyword fields (including array payloads), so adapter behaviour can be checked end to end.
 */

export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  body: unknown;
}

interface StoredPoint {
  id: string | number;
  vector: number[];
  payload: Record<string, unknown>;
  version: number;
}

export interface StandinCollection {
  size: number;
  distance: 'Cosine' | 'Euclid' | 'Dot' | 'Manhattan';
  metadata: Record<string, unknown> | null;
  payloadIndexes: Map<string, string>;
  points: Map<string, StoredPoint>;
}

export interface QdrantStandinOptions {
  /** Behave like a Qdrant older than 1.16, which ignores collection metadata. */
  ignoreCollectionMetadata?: boolean;
  /** Require this key in the `api-key` header (or as a bearer token), as QDRANT__SERVICE__API_KEY does: else 401. */
  apiKey?: string;
  /** Serve https with this certificate and key. */
  tls?: { certFile: string; keyFile: string };
}

export interface QdrantStandin {
  url: string;
  requests: RecordedRequest[];
  /** Requests refused with 401 for a missing or wrong API key (not in `requests`). */
  unauthorized: number;
  collections: Map<string, StandinCollection>;
  /** The next request matching method and path gets this status and Qdrant-style error body instead. */
  failNext(method: string, pathPattern: RegExp, status: number, message: string): void;
  /** The next request matching method and path gets this successful `result` instead (e.g. a stale answer). */
  answerNext(method: string, pathPattern: RegExp, result: unknown): void;
  close(): Promise<void>;
}

// --- request schemas (subset of generated_schema.d.ts, strict) -------------------------------------------

const distanceSchema = z.enum(['Cosine', 'Euclid', 'Dot', 'Manhattan']);
const payloadSchema = z.record(z.string(), z.unknown());
const pointIdSchema = z.union([
  z.number().int().nonnegative(),
  z
    .string()
    .regex(/^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i, 'Unable to parse UUID'),
]);
const valueVariantsSchema = z.union([z.string(), z.number(), z.boolean()]);
const matchSchema = z.union([
  z.object({ value: valueVariantsSchema }).strict(),
  z.object({ any: z.union([z.array(z.string()), z.array(z.number())]) }).strict(),
  z.object({ except: z.union([z.array(z.string()), z.array(z.number())]) }).strict(),
]);
const fieldConditionSchema = z.object({ key: z.string().min(1), match: matchSchema }).strict();
type FieldCondition = z.infer<typeof fieldConditionSchema>;
const conditionsSchema = z.union([fieldConditionSchema, z.array(fieldConditionSchema)]).nullish();
const filterSchema = z
  .object({ must: conditionsSchema, should: conditionsSchema, must_not: conditionsSchema })
  .strict();
type Filter = z.infer<typeof filterSchema>;

const createCollectionSchema = z
  .object({
    vectors: z
      .object({ size: z.number().int().positive(), distance: distanceSchema, on_disk: z.boolean().nullish() })
      .strict(),
    shard_number: z.number().int().positive().nullish(),
    replication_factor: z.number().int().positive().nullish(),
    write_consistency_factor: z.number().int().positive().nullish(),
    on_disk_payload: z.boolean().nullish(),
    hnsw_config: payloadSchema.nullish(),
    optimizers_config: payloadSchema.nullish(),
    wal_config: payloadSchema.nullish(),
    quantization_config: payloadSchema.nullish(),
    metadata: payloadSchema.nullish(),
  })
  .strict();
const createFieldIndexSchema = z
  .object({
    field_name: z.string().min(1),
    field_schema: z.enum(['keyword', 'integer', 'float', 'geo', 'text', 'bool', 'datetime', 'uuid']),
  })
  .strict();
const pointsListSchema = z
  .object({
    points: z.array(
      z.object({ id: pointIdSchema, vector: z.array(z.number()), payload: payloadSchema.nullish() }).strict(),
    ),
  })
  .strict();
const queryRequestSchema = z
  .object({
    query: z.array(z.number()),
    filter: filterSchema.nullish(),
    limit: z.number().int().nonnegative().nullish(),
    offset: z.number().int().nonnegative().nullish(),
    with_payload: z.boolean().nullish(),
    with_vector: z.boolean().nullish(),
    score_threshold: z.number().nullish(),
  })
  .strict();
const scrollRequestSchema = z
  .object({
    limit: z.number().int().positive().nullish(),
    offset: pointIdSchema.nullish(),
    filter: filterSchema.nullish(),
    with_payload: z.union([z.boolean(), z.array(z.string())]).nullish(),
    with_vector: z.boolean().nullish(),
  })
  .strict();
const countRequestSchema = z
  .object({ filter: filterSchema.nullish(), exact: z.boolean().nullish() })
  .strict();
const deleteRequestSchema = z.union([
  z.object({ filter: filterSchema }).strict(),
  z.object({ points: z.array(pointIdSchema) }).strict(),
]);

class QdrantHttpError extends Error {
  constructor(
    public readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function parseBody<T>(schema: z.ZodType<T>, body: unknown): T {
  const parsed = schema.safeParse(body);
  if (!parsed.success) {
    throw new QdrantHttpError(
      400,
      `Format error in JSON body: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
    );
  }
  return parsed.data;
}

// --- semantics --------------------------------------------------------------------------------------------

function normalise(vector: number[]): number[] {
  const norm = Math.sqrt(vector.reduce((s, v) => s + v * v, 0));
  return norm === 0 ? vector : vector.map((v) => v / norm);
}

function asList(conditions: FieldCondition | FieldCondition[] | null | undefined): FieldCondition[] {
  if (!conditions) return [];
  return Array.isArray(conditions) ? conditions : [conditions];
}

function conditionHolds(point: StoredPoint, condition: FieldCondition): boolean {
  const raw = point.payload[condition.key];
  const values = Array.isArray(raw) ? raw : raw === undefined || raw === null ? [] : [raw];
  const match = condition.match;
  if ('value' in match) return values.some((v) => v === match.value);
  if ('any' in match) return values.some((v) => (match.any as unknown[]).includes(v));
  return values.some((v) => !(match.except as unknown[]).includes(v));
}

function matches(point: StoredPoint, filter: Filter | null | undefined): boolean {
  if (!filter) return true;
  const must = asList(filter.must);
  const should = asList(filter.should);
  const mustNot = asList(filter.must_not);
  return (
    must.every((c) => conditionHolds(point, c)) &&
    (should.length === 0 || should.some((c) => conditionHolds(point, c))) &&
    !mustNot.some((c) => conditionHolds(point, c))
  );
}

const pointKey = (id: string | number) =>
  typeof id === 'number' ? `n:${id}` : `u:${id.replace(/-/g, '').toLowerCase()}`;

export async function startQdrantStandin(options: QdrantStandinOptions = {}): Promise<QdrantStandin> {
  const requests: RecordedRequest[] = [];
  const collections = new Map<string, StandinCollection>();
  const overrides: Array<{
    method: string;
    pathPattern: RegExp;
    status: number;
    body: (time: number) => unknown;
  }> = [];
  let operationId = 0;

  const collectionOr404 = (name: string): StandinCollection => {
    const collection = collections.get(name);
    if (!collection) throw new QdrantHttpError(404, `Not found: Collection \`${name}\` doesn't exist!`);
    return collection;
  };
  const updateResult = () => ({ operation_id: ++operationId, status: 'completed' });

  function route(method: string, path: string, body: unknown): unknown {
    if (method === 'GET' && path === '/')
      return { title: 'qdrant - vector search engine (ticketflow stand-in)', version: '1.17.0' };
    const match = /^\/collections\/([^/]+)(\/.*)?$/.exec(path);
    if (!match) throw new QdrantHttpError(404, `Not found: ${path}`);
    const name = decodeURIComponent(match[1]!);
    const rest = match[2] ?? '';

    if (rest === '/exists' && method === 'GET') return { exists: collections.has(name) };
    if (rest === '') {
      if (method === 'PUT') {
        const request = parseBody(createCollectionSchema, body);
        if (collections.has(name))
          throw new QdrantHttpError(409, `Wrong input: Collection \`${name}\` already exists!`);
        collections.set(name, {
          size: request.vectors.size,
          distance: request.vectors.distance,
          metadata: options.ignoreCollectionMetadata ? null : (request.metadata ?? null),
          payloadIndexes: new Map(),
          points: new Map(),
        });
        return true;
      }
      if (method === 'GET') {
        const c = collectionOr404(name);
        const payloadSchemaInfo = Object.fromEntries(
          [...c.payloadIndexes].map(([field, type]) => [
            field,
            {
              data_type: type,
              points: [...c.points.values()].filter((p) => p.payload[field] !== undefined).length,
            },
          ]),
        );
        return {
          status: 'green',
          optimizer_status: 'ok',
          indexed_vectors_count: 0,
          points_count: c.points.size,
          segments_count: 1,
          config: {
            params: {
              vectors: { size: c.size, distance: c.distance },
              shard_number: 1,
              replication_factor: 1,
              write_consistency_factor: 1,
              on_disk_payload: true,
            },
            hnsw_config: {
              m: 16,
              ef_construct: 100,
              full_scan_threshold: 10000,
              max_indexing_threads: 0,
              on_disk: false,
            },
            optimizer_config: {
              deleted_threshold: 0.2,
              vacuum_min_vector_number: 1000,
              default_segment_number: 0,
              max_segment_size: null,
              memmap_threshold: null,
              indexing_threshold: 10000,
              flush_interval_sec: 5,
              max_optimization_threads: null,
            },
            wal_config: { wal_capacity_mb: 32, wal_segments_ahead: 0 },
            quantization_config: null,
            ...(c.metadata ? { metadata: c.metadata } : {}),
          },
          payload_schema: payloadSchemaInfo,
        };
      }
      if (method === 'DELETE') {
        collectionOr404(name);
        collections.delete(name);
        return true;
      }
    }
    if (rest === '/index' && method === 'PUT') {
      const c = collectionOr404(name);
      const request = parseBody(createFieldIndexSchema, body);
      c.payloadIndexes.set(request.field_name, request.field_schema);
      return updateResult();
    }
    if (rest === '/points' && method === 'PUT') {
      const c = collectionOr404(name);
      const request = parseBody(pointsListSchema, body);
      for (const point of request.points) {
        if (point.vector.length !== c.size) {
          throw new QdrantHttpError(
            400,
            `Wrong input: Vector dimension error: expected dim: ${c.size}, got ${point.vector.length}`,
          );
        }
      }
      for (const point of request.points) {
        c.points.set(pointKey(point.id), {
          id: point.id,
          vector: c.distance === 'Cosine' ? normalise(point.vector) : point.vector,
          payload: point.payload ?? {},
          version: operationId + 1,
        });
      }
      return updateResult();
    }
    if (rest === '/points/query' && method === 'POST') {
      const c = collectionOr404(name);
      const request = parseBody(queryRequestSchema, body);
      if (request.query.length !== c.size) {
        throw new QdrantHttpError(
          400,
          `Wrong input: Vector dimension error: expected dim: ${c.size}, got ${request.query.length}`,
        );
      }
      const query = normalise(request.query);
      const scored = [...c.points.values()]
        .filter((p) => matches(p, request.filter))
        .map((p) => ({ point: p, score: p.vector.reduce((s, v, i) => s + v * query[i]!, 0) }))
        .filter((s) => request.score_threshold == null || s.score >= request.score_threshold)
        .sort((a, b) => b.score - a.score)
        .slice(request.offset ?? 0, (request.offset ?? 0) + (request.limit ?? 10));
      return {
        points: scored.map(({ point, score }) => ({
          id: point.id,
          version: point.version,
          score,
          ...(request.with_payload ? { payload: point.payload } : {}),
          ...(request.with_vector ? { vector: point.vector } : {}),
        })),
      };
    }
    if (rest === '/points/scroll' && method === 'POST') {
      // Qdrant pages by point id: `offset` is the first id of the page, `next_page_offset` the next page's.
      const c = collectionOr404(name);
      const request = parseBody(scrollRequestSchema, body ?? {});
      const ordered = [...c.points.entries()]
        .filter(([, p]) => matches(p, request.filter))
        .sort(([a], [b]) => a.localeCompare(b));
      const start =
        request.offset == null ? 0 : ordered.findIndex(([key]) => key >= pointKey(request.offset!));
      const limit = request.limit ?? 10;
      const page = start < 0 ? [] : ordered.slice(start, start + limit);
      const next = start < 0 ? undefined : ordered[start + limit];
      const fields = request.with_payload;
      return {
        points: page.map(([, p]) => ({
          id: p.id,
          ...(fields === true
            ? { payload: p.payload }
            : Array.isArray(fields)
              ? {
                  payload: Object.fromEntries(
                    fields.filter((f) => f in p.payload).map((f) => [f, p.payload[f]]),
                  ),
                }
              : {}),
          ...(request.with_vector ? { vector: p.vector } : {}),
        })),
        next_page_offset: next ? next[1].id : null,
      };
    }
    if (rest === '/points/count' && method === 'POST') {
      const c = collectionOr404(name);
      const request = parseBody(countRequestSchema, body ?? {});
      return { count: [...c.points.values()].filter((p) => matches(p, request.filter)).length };
    }
    if (rest === '/points/delete' && method === 'POST') {
      const c = collectionOr404(name);
      const request = parseBody(deleteRequestSchema, body);
      if ('filter' in request) {
        for (const [key, point] of c.points) if (matches(point, request.filter)) c.points.delete(key);
      } else {
        for (const id of request.points) c.points.delete(pointKey(id));
      }
      return updateResult();
    }
    throw new QdrantHttpError(404, `Not found: ${method} ${path}`);
  }

  let unauthorized = 0;
  const handler: http.RequestListener = (req, res) => {
    if (options.apiKey !== undefined) {
      const presented = req.headers['api-key'] ?? req.headers.authorization?.replace(/^Bearer /, '');
      if (presented !== options.apiKey) {
        unauthorized++;
        res.writeHead(401, { 'content-type': 'text/plain' });
        res.end('Must provide an API key or an Authorization bearer token');
        return;
      }
    }
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const started = process.hrtime.bigint();
      const url = new URL(req.url ?? '/', 'http://standin');
      const method = req.method ?? 'GET';
      const text = Buffer.concat(chunks).toString('utf8');
      let body: unknown;
      const reply = (status: number, payload: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(payload));
      };
      const time = () => Number(process.hrtime.bigint() - started) / 1e9;
      try {
        body = text ? JSON.parse(text) : undefined;
      } catch {
        requests.push({
          method,
          path: url.pathname,
          query: Object.fromEntries(url.searchParams),
          body: text,
        });
        reply(400, { status: { error: 'Format error in JSON body: invalid JSON' }, time: time() });
        return;
      }
      requests.push({ method, path: url.pathname, query: Object.fromEntries(url.searchParams), body });
      const overrideIndex = overrides.findIndex(
        (o) => o.method === method && o.pathPattern.test(url.pathname),
      );
      if (overrideIndex >= 0) {
        const [override] = overrides.splice(overrideIndex, 1);
        reply(override!.status, override!.body(time()));
        return;
      }
      try {
        const result = route(method, url.pathname, body);
        reply(200, { result, status: 'ok', time: time() });
      } catch (error) {
        if (error instanceof QdrantHttpError)
          reply(error.status, { status: { error: error.message }, time: time() });
        else reply(500, { status: { error: `Service internal error: ${String(error)}` }, time: time() });
      }
    });
  };
  const server = options.tls
    ? https.createServer(
        { cert: fs.readFileSync(options.tls.certFile), key: fs.readFileSync(options.tls.keyFile) },
        handler,
      )
    : http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `${options.tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    requests,
    get unauthorized() {
      return unauthorized;
    },
    collections,
    failNext: (method, pathPattern, status, message) =>
      overrides.push({ method, pathPattern, status, body: (time) => ({ status: { error: message }, time }) }),
    answerNext: (method, pathPattern, result) =>
      overrides.push({ method, pathPattern, status: 200, body: (time) => ({ result, status: 'ok', time }) }),
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}
