/**
 * Connection options for Temporal, shared by the worker (NativeConnection) and clients (Connection):
 * plain loopback for the embedded dev server, mutual TLS or an API key for a cluster / Temporal Cloud.
 */
import * as fs from 'node:fs';
import type { TemporalConfig } from './index';

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
