import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { BOOTSTRAP_ADMIN_ID, roleSchema, type ApiPrincipal } from '../auth/api-keys';
import type { Config } from '../config';
import type { Db } from '../db/database';

/**
 * Inbox sessions are signed tokens (HMAC-SHA256) carried in an http-only cookie: `<payload>.<signature>`, both
 * base64url. They expire on their own; on every request the key behind them is checked again, so revoking the
 * API key ends the session at once. CSRF tokens are derived from the session id, so they need no storage either.
 */

export const SESSION_COOKIE = 'tf_inbox_session';
/** Short-lived cookie that binds the sign-in form to the browser that loaded it (login CSRF). */
export const LOGIN_COOKIE = 'tf_inbox_login';
export const SESSION_TTL_MS = 12 * 60 * 60 * 1000; // one long shift
export const LOGIN_FORM_TTL_MS = 60 * 60 * 1000;

const sessionPayloadSchema = z.object({
  v: z.literal(1),
  sid: z.string().min(16),
  kid: z.string().min(1),
  exp: z.number().int(),
});

const loginPayloadSchema = z.object({ v: z.literal(1), nonce: z.string().min(16), exp: z.number().int() });

export interface Session {
  sessionId: string;
  principal: ApiPrincipal;
  expiresAt: number;
}

function b64(buffer: Buffer): string {
  return buffer.toString('base64url');
}

function constantTimeEqual(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

export class SessionSigner {
  constructor(private readonly secret: Buffer) {}

  private mac(purpose: string, data: string): string {
    return b64(createHmac('sha256', this.secret).update(`${purpose}\n${data}`).digest());
  }

  private sign(purpose: string, payload: object): string {
    const body = b64(Buffer.from(JSON.stringify(payload), 'utf8'));
    return `${body}.${this.mac(purpose, body)}`;
  }

  private open(purpose: string, token: string | undefined): unknown {
    if (!token || token.length > 2048) return undefined;
    const [body, signature, extra] = token.split('.');
    if (!body || !signature || extra !== undefined) return undefined;
    if (!constantTimeEqual(signature, this.mac(purpose, body))) return undefined;
    try {
      return JSON.parse(Buffer.from(body, 'base64url').toString('utf8'));
    } catch {
      return undefined;
    }
  }

  issueSession(keyId: string, now = Date.now()): { token: string; sessionId: string; expiresAt: number } {
    const sessionId = b64(randomBytes(18));
    const expiresAt = now + SESSION_TTL_MS;
    return {
      token: this.sign('session', { v: 1, sid: sessionId, kid: keyId, exp: expiresAt }),
      sessionId,
      expiresAt,
    };
  }

  /** The session's id and key id when the token is authentic and unexpired; the key itself is checked separately. */
  readSession(token: string | undefined, now = Date.now()): z.infer<typeof sessionPayloadSchema> | undefined {
    const parsed = sessionPayloadSchema.safeParse(this.open('session', token));
    if (!parsed.success || parsed.data.exp <= now) return undefined;
    return parsed.data;
  }

  csrfToken(sessionId: string): string {
    return this.mac('csrf', sessionId);
  }

  checkCsrf(sessionId: string, presented: unknown): boolean {
    return typeof presented === 'string' && constantTimeEqual(presented, this.csrfToken(sessionId));
  }

  issueLoginForm(now = Date.now()): { cookie: string; formToken: string } {
    const nonce = b64(randomBytes(18));
    return {
      cookie: this.sign('login', { v: 1, nonce, exp: now + LOGIN_FORM_TTL_MS }),
      formToken: this.mac('login-form', nonce),
    };
  }

  checkLoginForm(cookie: string | undefined, presented: unknown, now = Date.now()): boolean {
    const parsed = loginPayloadSchema.safeParse(this.open('login', cookie));
    if (!parsed.success || parsed.data.exp <= now || typeof presented !== 'string') return false;
    return constantTimeEqual(presented, this.mac('login-form', parsed.data.nonce));
  }
}

/**
 * The signing secret: the one given, else INBOX_SESSION_SECRET, else derived from ADMIN_API_KEY (stable across
 * restarts and replicas; rotating that key signs everyone out), else random for this process (sessions end on
 * restart).
 */
export function sessionSecret(
  config: Config,
  given?: string,
): { secret: Buffer; source: 'option' | 'config' | 'admin-key' | 'random' } {
  const derive = (material: string) =>
    createHmac('sha256', 'ticketflow-inbox-session').update(material).digest();
  if (given) return { secret: derive(given), source: 'option' };
  if (config.INBOX_SESSION_SECRET) return { secret: derive(config.INBOX_SESSION_SECRET), source: 'config' };
  if (config.ADMIN_API_KEY) return { secret: derive(config.ADMIN_API_KEY), source: 'admin-key' };
  return { secret: randomBytes(32), source: 'random' };
}

/** The principal behind a session's key id, or undefined when the key is gone or revoked. */
export async function principalForKeyId(
  db: Db,
  config: Config,
  keyId: string,
): Promise<ApiPrincipal | undefined> {
  if (keyId === BOOTSTRAP_ADMIN_ID) {
    return config.ADMIN_API_KEY ? { keyId, name: 'admin', role: 'admin' } : undefined;
  }
  const row = await db
    .selectFrom('api_keys')
    .select(['id', 'name', 'role', 'revoked_at'])
    .where('id', '=', keyId)
    .executeTakeFirst();
  if (!row || row.revoked_at !== null) return undefined;
  const role = roleSchema.safeParse(row.role);
  return role.success ? { keyId: row.id, name: row.name, role: role.data } : undefined;
}
