import type { ConnectionOptions } from 'node:tls';
import { vectorDatabaseUrl, type Config } from '../config';
import { untrustedCertificateReason } from '../security/tls';

/**
 * Where a Postgres pool connects and how it secures the connection. `sslmode` in the URL keeps libpq's meaning
 * (node-postgres on its own treats `require` as `verify-full`), and the CA comes from a setting rather than a
 * file path inside the URL, so a missing certificate is caught at start with the variable's name.
 *
 *   (no sslmode)  plaintext, unless a CA is given: then verify-full
 *   disable       plaintext
 *   require       encrypted; the server certificate is checked only when a CA is given (then as verify-ca)
 *   verify-ca     encrypted; the certificate must chain to the CA (or the system's CAs)
 *   verify-full   verify-ca, and the certificate must name the host in the URL
 */
export interface PgConnection {
  /** The URL without `sslmode`, so node-postgres cannot apply its own reading of it. */
  connectionString: string;
  ssl: false | ConnectionOptions;
}

export function pgConnection(url: string, ca?: string): PgConnection {
  const parsed = new URL(url);
  const mode = parsed.searchParams.get('sslmode') ?? (ca ? 'verify-full' : 'disable');
  parsed.searchParams.delete('sslmode');
  const connectionString = parsed.toString();
  const withCa = ca ? { ca } : {};
  switch (mode) {
    case 'disable':
      return { connectionString, ssl: false };
    case 'require':
      return ca
        ? { connectionString, ssl: { ...withCa, checkServerIdentity: () => undefined } }
        : { connectionString, ssl: { rejectUnauthorized: false } };
    case 'verify-ca':
      return { connectionString, ssl: { ...withCa, checkServerIdentity: () => undefined } };
    case 'verify-full':
      return { connectionString, ssl: { ...withCa } };
    default:
      // The config schema refuses other modes; a URL built elsewhere gets the same answer.
      throw new Error(`sslmode=${mode} is not supported (use disable, require, verify-ca or verify-full)`);
  }
}

/** The ticketflow database (interaction log, escalations, outbox, keys, KB registry). */
export function mainDatabase(config: Config): PgConnection {
  return pgConnection(config.DATABASE_URL, config.DATABASE_SSL_CA);
}

/** The pgvector database: VECTOR_DATABASE_URL with its own CA, or the main database. */
export function vectorDatabase(config: Config): PgConnection {
  return config.VECTOR_DATABASE_URL
    ? pgConnection(config.VECTOR_DATABASE_URL, config.VECTOR_DATABASE_SSL_CA)
    : pgConnection(vectorDatabaseUrl(config), config.DATABASE_SSL_CA);
}

/**
 * A failed Postgres connection as one line naming what to fix: the CA setting, `sslmode`, or the server's TLS
 * configuration. Errors that are not about connecting pass through unchanged.
 */
export function explainDatabaseFailure(
  error: unknown,
  target: { url: string; urlSetting: string; caSetting: string; ca?: string },
): Error {
  if (!(error instanceof Error)) return new Error(String(error));
  const code = (error as NodeJS.ErrnoException).code ?? '';
  const parsed = new URL(target.url);
  const where = `the database at ${parsed.hostname}:${parsed.port || 5432} (${target.urlSetting})`;
  const reason = connectionProblem(error, code, parsed, target);
  if (!reason) return error;
  return new Error(`cannot connect to ${where}: ${reason}`);
}

function connectionProblem(
  error: Error,
  code: string,
  url: URL,
  target: { urlSetting: string; caSetting: string; ca?: string },
): string | undefined {
  const certificate = untrustedCertificateReason(code, target.caSetting, Boolean(target.ca));
  if (certificate) return certificate;
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID')
    return `the server's certificate does not name ${url.hostname}; connect by a name it carries, or use sslmode=verify-ca (${error.message})`;
  if (/does not support SSL/i.test(error.message))
    return `TLS is required (sslmode=${url.searchParams.get('sslmode') ?? 'verify-full, from the CA setting'}), but the server does not offer it`;
  if (code === '28000' && /no encryption/i.test(error.message))
    return `the server refuses plaintext connections; add ?sslmode=verify-full to ${target.urlSetting} (and ${target.caSetting} for a private CA)`;
  return undefined;
}

/** `explainDatabaseFailure` for the pgvector database (VECTOR_DATABASE_URL, or DATABASE_URL when unset). */
export function explainVectorDatabaseFailure(error: unknown, config: Config): Error {
  const own = config.VECTOR_DATABASE_URL !== undefined;
  const ca = own ? config.VECTOR_DATABASE_SSL_CA : config.DATABASE_SSL_CA;
  return explainDatabaseFailure(error, {
    url: vectorDatabaseUrl(config),
    urlSetting: own ? 'VECTOR_DATABASE_URL' : 'DATABASE_URL',
    caSetting: own ? 'VECTOR_DATABASE_SSL_CA' : 'DATABASE_SSL_CA',
    ...(ca ? { ca } : {}),
  });
}
