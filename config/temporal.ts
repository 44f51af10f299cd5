/**
 * The one place a Temporal connection and client are set up, for the worker (NativeConnection) and
 * every client (the hooks client, the HTTP API, activities, CLI, demo): plain loopback for the
 * embedded dev server, mutual TLS or an API key for a cluster / Temporal Cloud, and the data
 * converter every client and the worker must share — with GP2GP_ENCRYPTION_KEYS set, payloads are
 * encrypted (codec/aes-gcm.ts); without it, the SDK's default.
 */
import * as fs from 'node:fs';
import { Client, Connection } from '@temporalio/client';
import type { DataConverter } from '@temporalio/common';
import { AesGcmCodec } from '../codec/aes-gcm';
import type { Config, TemporalConfig } from './index';

export interface TemporalConnectionOptions {
  address: string;
  tls?: { clientCertPair?: { crt: Buffer; key: Buffer }; serverRootCACertificate?: Buffer } | boolean;
  apiKey?: string;
}

export function temporalConnectionOptions(config: TemporalConfig): TemporalConnectionOptions {
  const options: TemporalConnectionOptions = { address: config.address ?? `127.0.0.1:${config.port}` };
  if (config.tls) {
    options.tls = {
      ...(config.tls.clientCertPath && config.tls.clientKeyPath
        ? { clientCertPair: { crt: fs.readFileSync(config.tls.clientCertPath), key: fs.readFileSync(config.tls.clientKeyPath) } }
        : {}),
      ...(config.tls.caPath ? { serverRootCACertificate: fs.readFileSync(config.tls.caPath) } : {}),
    };
  }
  if (config.apiKey) {
    options.apiKey = config.apiKey;
    // Temporal Cloud API keys always travel over TLS.
    options.tls ??= true;
  }
  return options;
}

/** The data converter of the worker and of every client: they must agree, or payloads cannot be read. */
export function dataConverter(config: Pick<Config, 'encryption'>): DataConverter {
  return config.encryption ? { payloadCodecs: [new AesGcmCodec(config.encryption)] } : {};
}

/** A client of the configured namespace with the shared data converter; `client.connection.close()` ends it. */
export async function connectTemporalClient(config: Pick<Config, 'temporal' | 'encryption'>): Promise<Client> {
  return temporalClient(config, await Connection.connect(temporalConnectionOptions(config.temporal)));
}

/** The same client on a lazy connection: nothing is dialled until its first call (the HTTP API starts while Temporal is down). */
export function lazyTemporalClient(config: Pick<Config, 'temporal' | 'encryption'>): Client {
  return temporalClient(config, Connection.lazy(temporalConnectionOptions(config.temporal)));
}

function temporalClient(config: Pick<Config, 'temporal' | 'encryption'>, connection: Connection): Client {
  return new Client({ connection, namespace: config.temporal.namespace, dataConverter: dataConverter(config) });
}
