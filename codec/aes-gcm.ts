/**
 * AES-256-GCM payload codec with key ids. Every payload the SDK writes (workflow and activity
 * arguments and results, signals, updates, queries, memo, failure details) is serialized whole and
 * encrypted, so the Temporal server, its database and anyone reading histories see only ciphertext.
 * Search attributes are not payloads of this kind and stay readable: they never hold patient data.
 *
 * Wire format of an encrypted payload: metadata `encoding: binary/encrypted`, `encryption-cipher:
 * AES-256-GCM`, `encryption-key-id: <kid>`; data = 12-byte IV ‖ ciphertext ‖ 16-byte tag, with the key
 * id as additional authenticated data. Payloads that are not encrypted pass through decode unchanged,
 * so encryption can be switched on for a running system.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { Payload, PayloadCodec } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import type { EncryptionKeys } from '../config/encryption';

export const ENCRYPTED_ENCODING = 'binary/encrypted';
export const CIPHER = 'AES-256-GCM';
const IV_BYTES = 12;
const TAG_BYTES = 16;

const utf8 = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array | null | undefined) => (b ? Buffer.from(b).toString('utf8') : undefined);

export class CodecError extends Error {
  override name = 'CodecError';
}

export class AesGcmCodec implements PayloadCodec {
  constructor(private readonly keys: EncryptionKeys) {}

  async encode(payloads: Payload[]): Promise<Payload[]> {
    const kid = this.keys.currentKeyId;
    const key = this.keys.key(kid)!;
    return payloads.map((payload) => {
      const plain = temporal.api.common.v1.Payload.encode(payload).finish();
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      cipher.setAAD(Buffer.from(kid, 'utf8'));
      const data = Buffer.concat([iv, cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
      return {
        metadata: {
          encoding: utf8(ENCRYPTED_ENCODING),
          'encryption-cipher': utf8(CIPHER),
          'encryption-key-id': utf8(kid),
        },
        data,
      };
    });
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => {
      if (text(payload.metadata?.encoding) !== ENCRYPTED_ENCODING) return payload;
      const kid = text(payload.metadata?.['encryption-key-id']) ?? '';
      const key = this.keys.key(kid);
      if (!key) {
        throw new CodecError(`payload encrypted with key id "${kid}", which is not configured (configured: ${this.keys.keyIds.join(', ')})`);
      }
      const data = Buffer.from(payload.data ?? new Uint8Array());
      if (data.length < IV_BYTES + TAG_BYTES) throw new CodecError('encrypted payload too short');
      const decipher = createDecipheriv('aes-256-gcm', key, data.subarray(0, IV_BYTES));
      decipher.setAAD(Buffer.from(kid, 'utf8'));
      decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
      let plain: Buffer;
      try {
        plain = Buffer.concat([decipher.update(data.subarray(IV_BYTES, data.length - TAG_BYTES)), decipher.final()]);
      } catch {
        throw new CodecError(`encrypted payload (key id "${kid}") failed authentication: wrong key or altered data`);
      }
      return temporal.api.common.v1.Payload.decode(plain) as Payload;
    });
  }
}
