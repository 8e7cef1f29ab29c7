import net from 'node:net';
import tls from 'node:tls';
import type { TLSConfig } from '@temporalio/client';
import type { Config } from '../config';
import { untrustedCertificateReason } from '../security/tls';

/**
 * How every ticketflow process reaches Temporal: the same address, TLS and credentials for the API's client,
 * the worker's native connection and the CLI. Plaintext unless TLS is asked for, so the local dev server
 * `npm start` runs needs nothing.
 */
export interface TemporalConnectionSettings {
  address: string;
  /** undefined = plaintext. */
  tls?: TLSConfig;
  apiKey?: string;
}

/** TLS is on when TEMPORAL_TLS=true or any TLS setting or API key is given (the schema refuses TEMPORAL_TLS=false then). */
export function temporalTlsEnabled(config: Config): boolean {
  if (config.TEMPORAL_TLS !== undefined) return config.TEMPORAL_TLS;
  return Boolean(
    config.TEMPORAL_TLS_CA ||
      config.TEMPORAL_TLS_CERT ||
      config.TEMPORAL_TLS_SERVER_NAME ||
      config.TEMPORAL_API_KEY,
  );
}

export function temporalConnectionSettings(config: Config): TemporalConnectionSettings {
  const settings: TemporalConnectionSettings = { address: config.TEMPORAL_ADDRESS };
  if (config.TEMPORAL_API_KEY) settings.apiKey = config.TEMPORAL_API_KEY;
  if (!temporalTlsEnabled(config)) return settings;
  const tls: TLSConfig = {};
  if (config.TEMPORAL_TLS_CA) tls.serverRootCACertificate = Buffer.from(config.TEMPORAL_TLS_CA);
  if (config.TEMPORAL_TLS_CERT && config.TEMPORAL_TLS_KEY) {
    tls.clientCertPair = {
      crt: Buffer.from(config.TEMPORAL_TLS_CERT),
      key: Buffer.from(config.TEMPORAL_TLS_KEY),
    };
  }
  if (config.TEMPORAL_TLS_SERVER_NAME) tls.serverNameOverride = config.TEMPORAL_TLS_SERVER_NAME;
  settings.tls = tls;
  return settings;
}

/** For logs: where and how, never the credentials. */
export function describeTemporalConnection(config: Config): string {
  const settings = temporalConnectionSettings(config);
  if (!settings.tls) return `${settings.address} (plaintext)`;
  const parts = [
    settings.tls.serverRootCACertificate ? 'private CA' : 'system CAs',
    ...(settings.tls.clientCertPair ? ['client certificate'] : []),
    ...(settings.apiKey ? ['API key'] : []),
    ...(settings.tls.serverNameOverride ? [`server name ${settings.tls.serverNameOverride}`] : []),
  ];
  return `${settings.address} (TLS: ${parts.join(', ')})`;
}

interface ProbeResult {
  ok: boolean;
  code?: string;
  message?: string;
}

/** One TLS handshake with the settings the SDK was given, to say in plain words why a connection failed. */
function tlsProbe(
  host: string,
  port: number,
  tlsConfig: TLSConfig | undefined,
  verify: boolean,
): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const servername = tlsConfig?.serverNameOverride ?? (net.isIP(host) ? undefined : host);
    const socket = tls.connect({
      host,
      port,
      // No SNI for an IP address (RFC 6066), as the SDKs do.
      servername: servername ?? '',
      ...(tlsConfig?.serverRootCACertificate ? { ca: Buffer.from(tlsConfig.serverRootCACertificate) } : {}),
      ...(tlsConfig?.clientCertPair
        ? { cert: Buffer.from(tlsConfig.clientCertPair.crt), key: Buffer.from(tlsConfig.clientCertPair.key) }
        : {}),
      rejectUnauthorized: verify,
      ALPNProtocols: ['h2'],
      // The SDKs check the name against TEMPORAL_TLS_SERVER_NAME when it is set, else against the host.
      checkServerIdentity: (_hostname, cert) => tls.checkServerIdentity(servername ?? host, cert),
    });
    let settled = false;
    const finish = (result: ProbeResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(result);
    };
    const timer = setTimeout(
      () => finish({ ok: false, code: 'ETIMEDOUT', message: 'no answer within 5 s' }),
      5_000,
    );
    // A server that rejects our client certificate says so right after the TLS 1.3 handshake: wait a moment.
    socket.once('secureConnect', () => setTimeout(() => finish({ ok: true }), 300));
    socket.once('error', (error: NodeJS.ErrnoException) =>
      finish({ ok: false, code: error.code, message: error.message.replace(/\s+/g, ' ').trim() }),
    );
  });
}

/**
 * Turns a failed Temporal connection into one line that names the setting to fix: an untrusted server
 * certificate (TEMPORAL_TLS_CA), a name mismatch (TEMPORAL_TLS_SERVER_NAME), a refused client certificate
 * (TEMPORAL_TLS_CERT/KEY), TLS against a plaintext port or the reverse.
 */
export async function explainTemporalConnectFailure(config: Config, error: unknown): Promise<Error> {
  const original = (error instanceof Error ? error.message : String(error)).replace(/\s+/g, ' ').trim();
  const settings = temporalConnectionSettings(config);
  const separator = settings.address.lastIndexOf(':');
  const host = settings.address.slice(0, separator);
  const port = Number(settings.address.slice(separator + 1));
  const where = `Temporal at ${settings.address}`;
  if (!settings.tls) {
    const speaksTls = await tlsProbe(host, port, undefined, false);
    if (speaksTls.ok)
      return new Error(
        `cannot connect to ${where}: the server expects TLS; set TEMPORAL_TLS=true (and TEMPORAL_TLS_CA for a private CA)`,
      );
    return new Error(`cannot connect to ${where} (plaintext): ${original}`);
  }
  const probe = await tlsProbe(host, port, settings.tls, true);
  const code = probe.code ?? '';
  const certificate = untrustedCertificateReason(
    code,
    'TEMPORAL_TLS_CA',
    Boolean(settings.tls.serverRootCACertificate),
  );
  let reason: string;
  if (probe.ok)
    reason = `the TLS handshake succeeded, but ${original}${settings.apiKey ? ' (check TEMPORAL_API_KEY)' : ''}`;
  else if (certificate) reason = certificate;
  else if (code === 'ERR_TLS_CERT_ALTNAME_INVALID')
    reason = `the server's certificate does not name ${settings.tls.serverNameOverride ?? host}; set TEMPORAL_TLS_SERVER_NAME to a name it carries (${probe.message})`;
  else if (/CERTIFICATE_REQUIRED|BAD_CERTIFICATE|UNKNOWN_CA|CERTIFICATE_UNKNOWN/.test(code))
    reason = settings.tls.clientCertPair
      ? `the server refused the client certificate in TEMPORAL_TLS_CERT (${code})`
      : `the server requires a client certificate; set TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY (${code})`;
  else if (/WRONG_VERSION_NUMBER|PACKET_LENGTH_TOO_LONG|ECONNRESET/.test(`${code} ${probe.message ?? ''}`))
    reason = `the server did not answer TLS; is ${settings.address} a plaintext port? (${probe.code})`;
  else reason = `${probe.message ?? code}; ${original}`;
  return new Error(`cannot connect to ${where} over TLS: ${reason}`);
}
