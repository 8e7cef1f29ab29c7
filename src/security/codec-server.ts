import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Payload, PayloadCodec } from '@temporalio/common';
import { z } from 'zod';
import type { Config } from '../config';
import { PayloadDecryptionError } from './codec';

/**
 * Temporal's remote codec protocol, so operators can read (and the UI can encode) encrypted payloads:
 *   POST {endpoint}/encode and POST {endpoint}/decode
 *   body and response: {"payloads":[{"metadata":{"<key>":"<base64>"},"data":"<base64>"}]}
 * Payloads travel as proto3 JSON, so every bytes field (data and each metadata value) is base64.
 * The Web UI calls these from the browser: hence CORS for its origin, and an Authorization header when the
 * UI is configured to pass one. The endpoint is `<api base>/codec` in the UI's codec server settings.
 */

export const CODEC_ALLOWED_HEADERS = 'content-type, authorization, x-namespace';
const CODEC_ALLOWED_METHODS = 'POST, OPTIONS';
const LOOPBACK_ADDRESSES = new Set(['127.0.0.1', '::1', '::ffff:127.0.0.1']);

export interface CodecRoutesOptions {
  codec: PayloadCodec;
  config: Pick<Config, 'CODEC_CORS_ORIGIN'> & Partial<Pick<Config, 'CODEC_TRUST_LOCAL_UI'>>;
  /** Decides whether a codec request may proceed (e.g. checks the bearer API key). Not called for preflights. */
  authorize: (request: FastifyRequest) => boolean | Promise<boolean>;
  /** Route prefix; defaults to `/codec`. */
  prefix?: string;
}

// proto3 JSON parsers accept standard or URL-safe base64, padded or not; so do we (Buffer decodes both).
const base64 = z.string().regex(/^[A-Za-z0-9+/_-]*={0,2}$/, 'expected base64');

const jsonPayloadSchema = z.object({
  metadata: z.record(z.string(), base64).nullish(),
  data: base64.nullish(),
});

const codecBodySchema = z.object({ payloads: z.array(jsonPayloadSchema) });

type JsonPayload = z.infer<typeof jsonPayloadSchema>;

function fromJson(payload: JsonPayload): Payload {
  return {
    metadata: Object.fromEntries(
      Object.entries(payload.metadata ?? {}).map(([key, value]) => [key, Buffer.from(value, 'base64')]),
    ),
    data: Buffer.from(payload.data ?? '', 'base64'),
  };
}

/** protobufjs leaves an absent bytes field as its default, a plain empty array (binary/null has no data). */
function toBase64(bytes: Uint8Array | number[]): string {
  return Buffer.from(bytes).toString('base64');
}

function toJson(payload: Payload): { metadata: Record<string, string>; data: string } {
  return {
    metadata: Object.fromEntries(
      Object.entries(payload.metadata ?? {}).map(([key, value]) => [key, toBase64(value)]),
    ),
    data: toBase64(payload.data ?? new Uint8Array()),
  };
}

/** `CODEC_CORS_ORIGIN` may list several origins (e.g. localhost and 127.0.0.1), comma-separated. */
export function parseCorsOrigins(value: string): Set<string> {
  return new Set(
    value
      .split(',')
      .map((origin) => origin.trim().replace(/\/+$/, ''))
      .filter(Boolean),
  );
}

/** Mounts the codec endpoints on `app` (encapsulated: the CORS hook applies to these routes only). */
export async function registerCodecRoutes(app: FastifyInstance, options: CodecRoutesOptions): Promise<void> {
  const { codec, authorize } = options;
  const allowedOrigins = parseCorsOrigins(options.config.CODEC_CORS_ORIGIN);

  function allowedOrigin(request: FastifyRequest): string | undefined {
    const origin = request.headers.origin;
    return typeof origin === 'string' && allowedOrigins.has(origin) ? origin : undefined;
  }

  // `npm start`: the dev server's UI has no login to pass a token from, so a page from an allowed origin, on
  // this machine, may decode. Any local process could send that Origin; the dev server's unauthenticated gRPC
  // port is equally open to it, and the setting is refused in production.
  const trustedLocally = (request: FastifyRequest) =>
    options.config.CODEC_TRUST_LOCAL_UI === true &&
    allowedOrigin(request) !== undefined &&
    LOOPBACK_ADDRESSES.has(request.socket.remoteAddress ?? '');

  await app.register(
    async (scope) => {
      // Every response, 401s and 400s included, carries CORS headers for an allowed origin; otherwise the
      // browser hides the real status behind a generic CORS error.
      scope.addHook('onRequest', async (request, reply) => {
        reply.header('vary', 'Origin');
        const origin = allowedOrigin(request);
        if (origin) {
          reply.header('access-control-allow-origin', origin);
          reply.header('access-control-allow-credentials', 'true');
        }
      });

      const preflight = async (request: FastifyRequest, reply: FastifyReply) => {
        if (!allowedOrigin(request)) {
          return reply.code(403).send({ error: 'origin not allowed' });
        }
        return reply
          .code(204)
          .header('access-control-allow-methods', CODEC_ALLOWED_METHODS)
          .header('access-control-allow-headers', CODEC_ALLOWED_HEADERS)
          .header('access-control-max-age', '600')
          .send();
      };

      const handler =
        (direction: 'encode' | 'decode') => async (request: FastifyRequest, reply: FastifyReply) => {
          if (!trustedLocally(request) && !(await authorize(request))) {
            return reply.code(401).send({ error: 'unauthorized' });
          }
          const parsed = codecBodySchema.safeParse(request.body);
          if (!parsed.success) {
            const issue = parsed.error.issues[0];
            return reply.code(400).send({
              error: `invalid body: ${issue ? `${issue.path.join('.') || '(root)'}: ${issue.message}` : 'malformed'}`,
            });
          }
          const payloads = parsed.data.payloads.map(fromJson);
          try {
            const result =
              direction === 'encode' ? await codec.encode(payloads) : await codec.decode(payloads);
            return reply.code(200).send({ payloads: result.map(toJson) });
          } catch (error) {
            if (error instanceof PayloadDecryptionError) {
              return reply.code(400).send({ error: error.message });
            }
            throw error;
          }
        };

      for (const direction of ['encode', 'decode'] as const) {
        scope.options(`/${direction}`, preflight);
        scope.post(`/${direction}`, handler(direction));
      }
    },
    { prefix: options.prefix ?? '/codec' },
  );
}
