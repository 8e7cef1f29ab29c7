import { z } from 'zod';
import { roleSchema, type ApiKeyRecord, type CreatedApiKey, type Role } from '../auth/api-keys';

/**
 * Administrative CLI commands through a running API with its admin key (the `npm start` stack's, from its note):
 * the API checks, logs and applies them like any other client's, and the CLI needs no database credentials.
 */

const keyRecordSchema = z.object({
  id: z.string(),
  name: z.string(),
  role: roleSchema,
  createdAt: z.string(),
  revokedAt: z.string().nullable(),
  lastUsedAt: z.string().nullable(),
});

const problemSchema = z.object({ title: z.string().optional(), detail: z.string().optional() }).passthrough();

export class AdminApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'AdminApiError';
  }
}

export class AdminApi {
  constructor(
    readonly url: string,
    private readonly adminKey: string,
    private readonly timeoutMs = 15_000,
  ) {}

  private async request(
    method: string,
    path: string,
    body?: unknown,
  ): Promise<{ status: number; json: unknown }> {
    let response: Response;
    try {
      response = await fetch(new URL(path, this.url), {
        method,
        headers: {
          authorization: `Bearer ${this.adminKey}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (err) {
      throw new AdminApiError(
        0,
        `the API at ${this.url} did not answer (${err instanceof Error ? err.message : String(err)})`,
      );
    }
    const text = await response.text();
    const json: unknown = text ? JSON.parse(text) : undefined;
    return { status: response.status, json };
  }

  private fail(status: number, json: unknown): never {
    const problem = problemSchema.safeParse(json);
    const detail = problem.success ? (problem.data.detail ?? problem.data.title) : undefined;
    throw new AdminApiError(status, `the API answered ${status}${detail ? `: ${detail}` : ''}`);
  }

  async createKey(input: { name: string; role: Role }): Promise<CreatedApiKey> {
    const { status, json } = await this.request('POST', '/v1/keys', input);
    if (status !== 201) this.fail(status, json);
    return keyRecordSchema.extend({ key: z.string() }).parse(json);
  }

  async listKeys(options: { includeRevoked?: boolean } = {}): Promise<ApiKeyRecord[]> {
    const { status, json } = await this.request(
      'GET',
      `/v1/keys?includeRevoked=${options.includeRevoked ? 'true' : 'false'}`,
    );
    if (status !== 200) this.fail(status, json);
    return z.object({ items: z.array(keyRecordSchema) }).parse(json).items;
  }

  /** false when there is no active key with this id (the API's 404). */
  async revokeKey(id: string): Promise<boolean> {
    const { status, json } = await this.request('DELETE', `/v1/keys/${encodeURIComponent(id)}`);
    if (status === 404) return false;
    if (status !== 200) this.fail(status, json);
    return true;
  }
}
