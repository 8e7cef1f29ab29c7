import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { DataConverter, Payload, PayloadCodec } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { ConfigError, type Config } from '../config';

/**
 * Payload encryption for everything ticketflow stores in Temporal's event history: workflow and activity
 * inputs/results, signals, queries, memos and (with the failure converter below) failure messages and stacks.
 *
 * Wire format of an encrypted payload:
 *   metadata.encoding          = "binary/encrypted"
 *   metadata.encryption-key-id = the id of the key that sealed it
 *   data                       = IV (12 bytes) ‖ AES-256-GCM ciphertext of the original Payload proto ‖ tag (16 bytes)
 * The key id and encoding are bound into the GCM additional data, so relabelling a payload with another key
 * id fails authentication instead of silently decrypting garbage.
 */

export const ENCRYPTED_ENCODING = 'binary/encrypted';
export const KEY_ID_METADATA_KEY = 'encryption-key-id';

const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const KEY_ID_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;
const STRICT_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder('utf-8', { fatal: true });

/** Raised when a payload cannot be decrypted: unknown key id, missing metadata, or failed authentication. */
export class PayloadDecryptionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PayloadDecryptionError';
  }
}

/**
 * Parse `PAYLOAD_ENCRYPTION_KEYS` (`keyId:base64Key,keyId:base64Key,…`). Order is kept: the first key encrypts.
 * Errors name the offending entry by position and key id only, never echoing key material.
 */
export function parseEncryptionKeys(value: string | undefined): Map<string, Buffer> {
  const keys = new Map<string, Buffer>();
  if (value === undefined || value.trim() === '') return keys;
  const issues: string[] = [];
  value.split(',').forEach((rawEntry, index) => {
    const entry = rawEntry.trim();
    const where = `PAYLOAD_ENCRYPTION_KEYS entry ${index + 1}`;
    if (entry === '') {
      issues.push(`${where}: empty entry (check for a stray comma)`);
      return;
    }
    const separator = entry.indexOf(':');
    if (separator <= 0) {
      issues.push(`${where}: expected keyId:base64Key`);
      return;
    }
    const keyId = entry.slice(0, separator);
    const encodedKey = entry.slice(separator + 1);
    if (!KEY_ID_PATTERN.test(keyId)) {
      issues.push(`${where}: key id must be 1-64 characters of letters, digits, . _ -`);
      return;
    }
    if (keys.has(keyId)) {
      issues.push(`${where}: duplicate key id "${keyId}"`);
      return;
    }
    const key = STRICT_BASE64.test(encodedKey) ? Buffer.from(encodedKey, 'base64') : undefined;
    if (key?.length !== KEY_BYTES) {
      issues.push(`${where} ("${keyId}"): key must be ${KEY_BYTES} bytes encoded as standard base64`);
      return;
    }
    keys.set(keyId, key);
  });
  if (issues.length > 0) throw new ConfigError(issues);
  return keys;
}

function additionalData(keyId: string): Buffer {
  return Buffer.from(`${ENCRYPTED_ENCODING}\n${keyId}`, 'utf8');
}

function metadataString(payload: Payload, key: string): string | undefined {
  const raw = payload.metadata?.[key];
  if (!raw) return undefined;
  try {
    return fromUtf8.decode(raw);
  } catch {
    return undefined;
  }
}

/** AES-256-GCM codec with key rotation: seals with the first key, opens with any configured key. */
export class AesGcmPayloadCodec implements PayloadCodec {
  private readonly keys: ReadonlyMap<string, Buffer>;
  readonly encryptingKeyId: string;

  constructor(keys: ReadonlyMap<string, Buffer>) {
    const first = keys.keys().next();
    if (first.done) throw new Error('AesGcmPayloadCodec needs at least one key');
    for (const [keyId, key] of keys) {
      if (key.length !== KEY_BYTES) throw new Error(`key "${keyId}" must be ${KEY_BYTES} bytes`);
    }
    this.keys = new Map(keys);
    this.encryptingKeyId = first.value;
  }

  get keyIds(): string[] {
    return [...this.keys.keys()];
  }

  async encode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => this.encrypt(payload));
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => this.decrypt(payload));
  }

  private encrypt(payload: Payload): Payload {
    const keyId = this.encryptingKeyId;
    const key = this.keys.get(keyId) as Buffer;
    const plaintext = temporal.api.common.v1.Payload.encode(payload).finish();
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(additionalData(keyId));
    const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    return {
      metadata: {
        encoding: utf8.encode(ENCRYPTED_ENCODING),
        [KEY_ID_METADATA_KEY]: utf8.encode(keyId),
      },
      data: Buffer.concat([iv, ciphertext, cipher.getAuthTag()]),
    };
  }

  private decrypt(payload: Payload): Payload {
    // Payloads written before encryption was switched on stay readable; everything new is sealed.
    if (metadataString(payload, 'encoding') !== ENCRYPTED_ENCODING) return payload;

    const keyId = metadataString(payload, KEY_ID_METADATA_KEY);
    if (!keyId) {
      throw new PayloadDecryptionError(`encrypted payload has no "${KEY_ID_METADATA_KEY}" metadata`);
    }
    const key = this.keys.get(keyId);
    if (!key) {
      throw new PayloadDecryptionError(
        `payload was encrypted with key id "${keyId}", which is not in PAYLOAD_ENCRYPTION_KEYS ` +
          `(configured: ${this.keyIds.join(', ')}); add that key back to decrypt it`,
      );
    }
    const data = payload.data ?? new Uint8Array();
    if (data.length < IV_BYTES + TAG_BYTES) {
      throw new PayloadDecryptionError(`encrypted payload is too short (${data.length} bytes)`);
    }
    const bytes = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    const iv = bytes.subarray(0, IV_BYTES);
    const tag = bytes.subarray(bytes.length - TAG_BYTES);
    const ciphertext = bytes.subarray(IV_BYTES, bytes.length - TAG_BYTES);
    let plaintext: Buffer;
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
      decipher.setAAD(additionalData(keyId));
      decipher.setAuthTag(tag);
      plaintext = Buffer.concat([decipher.update(ciphertext), decipher.final()]);
    } catch {
      throw new PayloadDecryptionError(
        `payload failed authentication with key id "${keyId}": it was modified, or the key is not the one that encrypted it`,
      );
    }
    const inner = temporal.api.common.v1.Payload.decode(plaintext);
    return { metadata: inner.metadata, data: inner.data };
  }
}

/** The configured codec, or undefined when PAYLOAD_ENCRYPTION_KEYS is unset (payloads stay plain JSON). */
export function createPayloadCodec(
  config: Pick<Config, 'PAYLOAD_ENCRYPTION_KEYS'>,
): AesGcmPayloadCodec | undefined {
  const keys = parseEncryptionKeys(config.PAYLOAD_ENCRYPTION_KEYS);
  return keys.size > 0 ? new AesGcmPayloadCodec(keys) : undefined;
}

/**
 * Production never writes customer text to Temporal in clear by accident: without keys, every process that
 * builds a data converter (worker, API, CLI) stops at start unless the operator opted out explicitly.
 */
export function requireEncryptionInProduction(
  config: Pick<Config, 'PAYLOAD_ENCRYPTION_KEYS'> &
    Partial<Pick<Config, 'NODE_ENV' | 'ALLOW_UNENCRYPTED_PAYLOADS'>>,
): void {
  if (config.NODE_ENV !== 'production' || config.ALLOW_UNENCRYPTED_PAYLOADS) return;
  if (parseEncryptionKeys(config.PAYLOAD_ENCRYPTION_KEYS).size > 0) return;
  throw new ConfigError([
    'PAYLOAD_ENCRYPTION_KEYS: required with NODE_ENV=production (ticket text would be stored in Temporal in clear); ' +
      'set PAYLOAD_ENCRYPTION_KEYS or PAYLOAD_ENCRYPTION_KEYS_FILE, or ALLOW_UNENCRYPTED_PAYLOADS=true to accept that',
  ]);
}

/** Module exporting `failureConverter` (DefaultFailureConverter with encodeCommonAttributes). */
export const ENCRYPTING_FAILURE_CONVERTER_PATH = require.resolve('./failure-converter');

/**
 * The data converter for every Temporal Client and Worker in ticketflow. With keys configured it encrypts
 * payloads and also failure messages/stack traces: the failure converter moves those into an encoded payload,
 * which the codec then seals. Temporal only accepts a failure converter as a module path (the worker bundles
 * it into the workflow sandbox), hence `failureConverterPath` rather than an instance.
 * Workers that pre-bundle workflow code must pass the same `failureConverterPath` to `bundleWorkflowCode`.
 */
export function createDataConverter(
  config: Pick<Config, 'PAYLOAD_ENCRYPTION_KEYS'> &
    Partial<Pick<Config, 'NODE_ENV' | 'ALLOW_UNENCRYPTED_PAYLOADS'>>,
): DataConverter {
  requireEncryptionInProduction(config);
  const codec = createPayloadCodec(config);
  if (!codec) return {};
  return { payloadCodecs: [codec], failureConverterPath: ENCRYPTING_FAILURE_CONVERTER_PATH };
}
