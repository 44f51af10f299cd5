/**
 * The data converter every Temporal client and the worker must share: with GP2GP_ENCRYPTION_KEYS set,
 * payloads are encrypted (codec/aes-gcm.ts); without it, the SDK's default. Use it wherever a Client
 * or Worker is created: `new Client({ connection, namespace, dataConverter: dataConverter(config) })`.
 */
import type { DataConverter } from '@temporalio/common';
import { AesGcmCodec } from '../codec/aes-gcm';
import type { Config } from './index';

export function dataConverter(config: Pick<Config, 'encryption'>): DataConverter {
  return config.encryption ? { payloadCodecs: [new AesGcmCodec(config.encryption)] } : {};
}
