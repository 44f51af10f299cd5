/**
 * The payload codec and its keys: AES-256-GCM round trip, rotation by key id, clear refusals for an
 * unknown key or altered data, and configuration errors that never show a key.
 */
import { randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { defaultPayloadConverter } from '@temporalio/common';
import { AesGcmCodec, ENCRYPTED_ENCODING } from '../../codec/aes-gcm';
import { ConfigError, loadConfig } from '../../config';
import { parseEncryptionKeys } from '../../config/encryption';

const key = () => randomBytes(32).toString('base64');
const text = (b: Uint8Array | null | undefined) => Buffer.from(b ?? new Uint8Array()).toString('utf8');

describe('AES-256-GCM payload codec', () => {
  const k1 = key();
  const k2 = key();
  const payload = defaultPayloadConverter.toPayload({ errorDescription: 'SECRET-MARKER free text' });

  it('encrypts every payload and decodes it back exactly', async () => {
    const codec = new AesGcmCodec(parseEncryptionKeys(`k1:${k1}`));
    const [encoded] = await codec.encode([payload]);
    expect(text(encoded!.metadata!.encoding)).toBe(ENCRYPTED_ENCODING);
    expect(text(encoded!.metadata!['encryption-key-id'])).toBe('k1');
    expect(Buffer.from(encoded!.data!).includes('SECRET-MARKER')).toBe(false);
    const [decoded] = await codec.decode([encoded!]);
    expect(defaultPayloadConverter.fromPayload(decoded!)).toEqual({ errorDescription: 'SECRET-MARKER free text' });
    // A fresh IV each time: the same payload never encrypts to the same bytes.
    const [again] = await codec.encode([payload]);
    expect(Buffer.from(again!.data!).equals(Buffer.from(encoded!.data!))).toBe(false);
  });

  it('rotates: the first key encrypts, every listed key decrypts', async () => {
    const old = new AesGcmCodec(parseEncryptionKeys(`k1:${k1}`));
    const rotated = new AesGcmCodec(parseEncryptionKeys(`k2:${k2},k1:${k1}`));
    const [byOld] = await old.encode([payload]);
    const [byNew] = await rotated.encode([payload]);
    expect(text(byNew!.metadata!['encryption-key-id'])).toBe('k2');
    expect(defaultPayloadConverter.fromPayload((await rotated.decode([byOld!]))[0]!)).toEqual({ errorDescription: 'SECRET-MARKER free text' });
    // Dropping a key still in use is refused by name, not garbled.
    await expect(old.decode([byNew!])).rejects.toThrow(/key id "k2", which is not configured \(configured: k1\)/);
  });

  it('refuses altered ciphertext and passes unencrypted payloads through', async () => {
    const codec = new AesGcmCodec(parseEncryptionKeys(`k1:${k1}`));
    const [encoded] = await codec.encode([payload]);
    const altered = Buffer.from(encoded!.data!);
    altered[20] = altered[20]! ^ 1;
    await expect(codec.decode([{ ...encoded!, data: altered }])).rejects.toThrow(/failed authentication/);
    // A history written before encryption was switched on still reads.
    expect(await codec.decode([payload])).toEqual([payload]);
  });
});

describe('encryption configuration', () => {
  it('names what is wrong without ever showing a key', () => {
    const short = randomBytes(16).toString('base64');
    const cases: [string, RegExp][] = [
      [`k1:${short}`, /key #1 \("k1"\): must be 32 random bytes in base64/],
      [`k1:${key()},k1:${key()}`, /key #2: key id "k1" is used twice/],
      [key(), /key #1: expected <key id>:<base64 key>/],
      [`bad id:${key()}`, /key #1: the key id must be/],
    ];
    for (const [value, message] of cases) {
      let error: unknown;
      try {
        loadConfig({ GP2GP_ENCRYPTION_KEYS: value });
      } catch (err) {
        error = err;
      }
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as Error).message).toMatch(message);
      for (const part of value.split(/[,:]/)) if (part.length >= 16) expect((error as Error).message).not.toContain(part);
    }
  });

  it('keeps keys out of logs and JSON', () => {
    const k = key();
    const config = loadConfig({ GP2GP_ENCRYPTION_KEYS: `current:${k}` });
    expect(config.encryption!.currentKeyId).toBe('current');
    expect(JSON.stringify(config)).not.toContain(k);
    expect(inspect(config, { depth: 10 })).not.toContain(k);
    expect(JSON.stringify(config)).toContain('[secret');
    expect(loadConfig({}).encryption).toBeUndefined();
  });
});
