import { randomBytes } from 'node:crypto';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import { ConfigError, loadConfig } from '../../src/config';
import {
  AesGcmPayloadCodec,
  createDataConverter,
  createPayloadCodec,
  ENCRYPTED_ENCODING,
  ENCRYPTING_FAILURE_CONVERTER_PATH,
  KEY_ID_METADATA_KEY,
  parseEncryptionKeys,
  PayloadDecryptionError,
} from '../../src/security/codec';
import { failureConverter } from '../../src/security/failure-converter';

const newKey = () => randomBytes(32).toString('base64');
const text = (bytes: Uint8Array | null | undefined) =>
  Buffer.from(bytes ?? new Uint8Array()).toString('utf8');

function codecFor(keys: string): AesGcmPayloadCodec {
  const codec = createPayloadCodec({ PAYLOAD_ENCRYPTION_KEYS: keys });
  if (!codec) throw new Error('expected a codec');
  return codec;
}

const secret = 'customer says: my card is 4111 1111 1111 1111';
const plainPayload = (): Payload => defaultPayloadConverter.toPayload({ body: secret, n: 42 });

describe('parseEncryptionKeys', () => {
  it('keeps order and decodes 32-byte keys', () => {
    const [a, b] = [newKey(), newKey()];
    const keys = parseEncryptionKeys(` k2:${a} , k1:${b} `);
    expect([...keys.keys()]).toEqual(['k2', 'k1']);
    expect(keys.get('k2')?.toString('base64')).toBe(a);
  });

  it('returns an empty map when unset', () => {
    expect(parseEncryptionKeys(undefined).size).toBe(0);
    expect(parseEncryptionKeys('  ').size).toBe(0);
    expect(createPayloadCodec(loadConfig({}))).toBeUndefined();
    expect(createDataConverter(loadConfig({}))).toEqual({});
  });

  it.each([
    ['missing separator', 'justakey'],
    ['short key', `k1:${randomBytes(16).toString('base64')}`],
    ['not base64', 'k1:this is not base64 at all, really!!'],
    ['duplicate id', `k1:${newKey()},k1:${newKey()}`],
    ['stray comma', `k1:${newKey()},`],
    ['bad key id', `bad id:${newKey()}`],
  ])('rejects %s without echoing key material', (_label, value) => {
    let error: unknown;
    try {
      parseEncryptionKeys(value);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    expect(message).toMatch(/PAYLOAD_ENCRYPTION_KEYS entry \d/);
    const keyMaterial = value
      .split(',')
      .map((entry) => entry.split(':')[1] ?? '')
      .filter((k) => k.length > 8);
    for (const material of keyMaterial) expect(message).not.toContain(material);
  });
});

describe('AesGcmPayloadCodec', () => {
  it('round-trips payloads and hides the plaintext', async () => {
    const codec = codecFor(`primary:${newKey()}`);
    const original = plainPayload();
    const [encoded] = await codec.encode([original]);
    expect(text(encoded?.metadata?.encoding)).toBe(ENCRYPTED_ENCODING);
    expect(text(encoded?.metadata?.[KEY_ID_METADATA_KEY])).toBe('primary');
    expect(Object.keys(encoded?.metadata ?? {}).sort()).toEqual(['encoding', KEY_ID_METADATA_KEY]);
    expect(Buffer.from(encoded?.data ?? []).includes(Buffer.from('4111'))).toBe(false);
    expect(Buffer.from(encoded?.data ?? []).includes(Buffer.from('json/plain'))).toBe(false);

    const [decoded] = await codec.decode([encoded as Payload]);
    expect(text(decoded?.metadata?.encoding)).toBe('json/plain');
    expect(defaultPayloadConverter.fromPayload(decoded as Payload)).toEqual({ body: secret, n: 42 });
  });

  it('uses a fresh IV for every payload', async () => {
    const codec = codecFor(`primary:${newKey()}`);
    const [a, b] = await codec.encode([plainPayload(), plainPayload()]);
    expect(Buffer.from(a?.data ?? []).subarray(0, 12)).not.toEqual(
      Buffer.from(b?.data ?? []).subarray(0, 12),
    );
    expect(Buffer.from(a?.data ?? [])).not.toEqual(Buffer.from(b?.data ?? []));
  });

  it('round-trips empty data and handles empty batches', async () => {
    const codec = codecFor(`primary:${newKey()}`);
    expect(await codec.encode([])).toEqual([]);
    const [encoded] = await codec.encode([{ metadata: { encoding: Buffer.from('binary/null') } }]);
    const [decoded] = await codec.decode([encoded as Payload]);
    expect(text(decoded?.metadata?.encoding)).toBe('binary/null');
    expect(decoded?.data?.length ?? 0).toBe(0);
  });

  it('passes through payloads that were never encrypted', async () => {
    const codec = codecFor(`primary:${newKey()}`);
    const original = plainPayload();
    const [decoded] = await codec.decode([original]);
    expect(decoded).toBe(original);
  });

  it('detects tampering with the ciphertext, IV or tag (GCM authentication)', async () => {
    const codec = codecFor(`primary:${newKey()}`);
    const [encoded] = (await codec.encode([plainPayload()])) as [Payload];
    const length = encoded.data?.length ?? 0;
    for (const position of [0, 12, Math.floor(length / 2), length - 1]) {
      const data = Buffer.from(encoded.data ?? []);
      data[position] = (data[position] ?? 0) ^ 0x01;
      await expect(codec.decode([{ ...encoded, data }])).rejects.toThrow(/failed authentication/);
    }
    await expect(
      codec.decode([{ ...encoded, data: Buffer.from(encoded.data ?? []).subarray(0, 20) }]),
    ).rejects.toThrow(PayloadDecryptionError);
  });

  it('rejects a payload relabelled with another configured key id', async () => {
    const codec = codecFor(`a:${newKey()},b:${newKey()}`);
    const [encoded] = (await codec.encode([plainPayload()])) as [Payload];
    const relabelled = {
      ...encoded,
      metadata: { ...encoded.metadata, [KEY_ID_METADATA_KEY]: Buffer.from('b') },
    };
    await expect(codec.decode([relabelled])).rejects.toThrow(/failed authentication with key id "b"/);
  });

  it('rotates: the new first key encrypts, the old key still decrypts', async () => {
    const [oldKey, newerKey] = [newKey(), newKey()];
    const before = codecFor(`2024:${oldKey}`);
    const [sealedWithOld] = (await before.encode([plainPayload()])) as [Payload];

    const after = codecFor(`2025:${newerKey},2024:${oldKey}`);
    const [sealedWithNew] = (await after.encode([plainPayload()])) as [Payload];
    expect(text(sealedWithNew.metadata?.[KEY_ID_METADATA_KEY])).toBe('2025');

    const [fromOld, fromNew] = await after.decode([sealedWithOld, sealedWithNew]);
    expect(defaultPayloadConverter.fromPayload(fromOld as Payload)).toEqual({ body: secret, n: 42 });
    expect(defaultPayloadConverter.fromPayload(fromNew as Payload)).toEqual({ body: secret, n: 42 });
    // The pre-rotation deployment cannot read what the new key sealed: it names the missing key.
    await expect(before.decode([sealedWithNew])).rejects.toThrow(
      /key id "2025", which is not in PAYLOAD_ENCRYPTION_KEYS/,
    );
  });

  it('names an unknown key id clearly', async () => {
    const writer = codecFor(`retired:${newKey()}`);
    const reader = codecFor(`current:${newKey()}`);
    const [encoded] = (await writer.encode([plainPayload()])) as [Payload];
    await expect(reader.decode([encoded])).rejects.toThrow(
      'payload was encrypted with key id "retired", which is not in PAYLOAD_ENCRYPTION_KEYS (configured: current)',
    );
    const { [KEY_ID_METADATA_KEY]: _dropped, ...withoutKeyId } = encoded.metadata ?? {};
    await expect(reader.decode([{ ...encoded, metadata: withoutKeyId }])).rejects.toThrow(
      /no "encryption-key-id"/,
    );
  });

  it('builds a data converter whose failure converter encodes messages and stacks', () => {
    const converter = createDataConverter(loadConfig({ PAYLOAD_ENCRYPTION_KEYS: `k:${newKey()}` }));
    expect(converter.payloadCodecs).toHaveLength(1);
    expect(converter.failureConverterPath).toBe(ENCRYPTING_FAILURE_CONVERTER_PATH);
    const failure = failureConverter.errorToFailure(new Error(secret), defaultPayloadConverter);
    expect(failure.message).toBe('Encoded failure');
    expect(failure.stackTrace).toBe('');
    expect(text(failure.encodedAttributes?.data)).toContain(secret);
  });
});
