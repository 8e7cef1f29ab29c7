import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import type { Config } from '../config';
import type { Db } from '../db/database';

/**
 * API keys: `tf_<random>` shown once at creation; only their SHA-256 is stored. Keys are high-entropy
 * random strings, so a plain (unsalted) hash is enough and lets us look a key up by its hash.
 */

export const ROLES = ['intake', 'agent', 'admin'] as const;
export const roleSchema = z.enum(ROLES);
export type Role = z.infer<typeof roleSchema>;

export const PERMISSIONS = [
  'tickets:submit',
  'tickets:read_own',
  'tickets:read',
  'escalations:read',
  'tickets:resolve',
  'kb:read',
  'kb:write',
  'metrics:read',
  'keys:manage',
] as const;
export type Permission = (typeof PERMISSIONS)[number];

const ROLE_PERMISSIONS: Record<Role, readonly Permission[]> = {
  // Intake systems (web forms, Zendesk bridges) submit and may read back only what they submitted.
  intake: ['tickets:submit', 'tickets:read_own'],
  agent: [
    'tickets:read',
    'tickets:read_own',
    'escalations:read',
    'tickets:resolve',
    'kb:read',
    'metrics:read',
  ],
  admin: PERMISSIONS,
};

export function roleAllows(role: Role, permission: Permission): boolean {
  return ROLE_PERMISSIONS[role].includes(permission);
}

export interface ApiPrincipal {
  keyId: string;
  name: string;
  role: Role;
}

export interface ApiKeyRecord {
  id: string;
  name: string;
  role: Role;
  createdAt: string;
  revokedAt: string | null;
  lastUsedAt: string | null;
}

export interface CreatedApiKey extends ApiKeyRecord {
  /** The secret itself: returned once, never stored. */
  key: string;
}

/** The id the ADMIN_API_KEY environment key acts as (it has no row in api_keys). */
export const BOOTSTRAP_ADMIN_ID = 'bootstrap-admin';

const KEY_PATTERN = /^tf_[A-Za-z0-9_-]{20,100}$/;

export function hashApiKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

export function generateApiKey(): string {
  return `tf_${randomBytes(32).toString('base64url')}`;
}

function toIso(value: Date | string | null): string | null {
  return value === null ? null : new Date(value).toISOString();
}

export const apiKeyNameSchema = z.string().trim().min(1).max(100);

export async function createApiKey(db: Db, input: { name: string; role: Role }): Promise<CreatedApiKey> {
  const name = apiKeyNameSchema.parse(input.name);
  const role = roleSchema.parse(input.role);
  const key = generateApiKey();
  const id = `key_${randomBytes(9).toString('base64url')}`;
  const row = await db
    .insertInto('api_keys')
    .values({ id, name, role, key_hash: hashApiKey(key) })
    .returningAll()
    .executeTakeFirstOrThrow();
  return { id, name, role, key, createdAt: toIso(row.created_at)!, revokedAt: null, lastUsedAt: null };
}

export async function listApiKeys(
  db: Db,
  options: { includeRevoked?: boolean } = {},
): Promise<ApiKeyRecord[]> {
  let query = db
    .selectFrom('api_keys')
    .select(['id', 'name', 'role', 'created_at', 'revoked_at', 'last_used_at']);
  if (!options.includeRevoked) query = query.where('revoked_at', 'is', null);
  const rows = await query.orderBy('created_at').orderBy('id').execute();
  return rows.map((row) => ({
    id: row.id,
    name: row.name,
    role: roleSchema.catch('intake').parse(row.role),
    createdAt: toIso(row.created_at)!,
    revokedAt: toIso(row.revoked_at),
    lastUsedAt: toIso(row.last_used_at),
  }));
}

/** Returns false when no active key has this id (unknown or already revoked). */
export async function revokeApiKey(db: Db, id: string): Promise<boolean> {
  const result = await db
    .updateTable('api_keys')
    .set({ revoked_at: new Date() })
    .where('id', '=', id)
    .where('revoked_at', 'is', null)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

function constantTimeEqualHex(a: string, b: string): boolean {
  const left = Buffer.from(a, 'hex');
  const right = Buffer.from(b, 'hex');
  return left.length === right.length && timingSafeEqual(left, right);
}

export type AuthenticationResult =
  | { ok: true; principal: ApiPrincipal }
  | { ok: false; reason: 'unknown_key' | 'revoked_key' | 'malformed_key' };

/** Don't write last_used_at on every request: once a minute per key is plenty and keeps hot keys cheap. */
const LAST_USED_WRITE_INTERVAL_MS = 60_000;
const lastUsedWrites = new Map<string, number>();

/**
 * Resolve a presented key to a principal. The bootstrap admin key is compared in constant time; stored keys are
 * looked up by hash (the hash of a random key reveals nothing useful to a timing attacker).
 */
export async function authenticateApiKey(
  db: Db,
  config: Config,
  presented: string,
): Promise<AuthenticationResult> {
  const hash = hashApiKey(presented);
  if (config.ADMIN_API_KEY && constantTimeEqualHex(hash, hashApiKey(config.ADMIN_API_KEY))) {
    return { ok: true, principal: { keyId: BOOTSTRAP_ADMIN_ID, name: 'admin', role: 'admin' } };
  }
  if (!KEY_PATTERN.test(presented)) return { ok: false, reason: 'malformed_key' };
  const row = await db
    .selectFrom('api_keys')
    .select(['id', 'name', 'role', 'revoked_at'])
    .where('key_hash', '=', hash)
    .executeTakeFirst();
  if (!row) return { ok: false, reason: 'unknown_key' };
  if (row.revoked_at !== null) return { ok: false, reason: 'revoked_key' };
  const role = roleSchema.safeParse(row.role);
  if (!role.success) return { ok: false, reason: 'unknown_key' };

  const now = Date.now();
  if ((lastUsedWrites.get(row.id) ?? 0) + LAST_USED_WRITE_INTERVAL_MS < now) {
    lastUsedWrites.set(row.id, now);
    // Bookkeeping only: a failed write must not fail the request.
    void db
      .updateTable('api_keys')
      .set({ last_used_at: new Date(now) })
      .where('id', '=', row.id)
      .execute()
      .catch(() => undefined);
  }
  return { ok: true, principal: { keyId: row.id, name: row.name, role: role.data } };
}

/** `Authorization: Bearer <key>` or `X-Api-Key: <key>`; undefined when neither is present. */
export function extractApiKey(headers: Record<string, string | string[] | undefined>): string | undefined {
  const authorization = headers['authorization'];
  if (typeof authorization === 'string') {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    if (match) return match[1];
  }
  const apiKey = headers['x-api-key'];
  if (typeof apiKey === 'string' && apiKey.trim() !== '') return apiKey.trim();
  return undefined;
}
