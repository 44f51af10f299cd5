/**
 * The codec server process (`npm start` runs it when GP2GP_ENCRYPTION_KEYS is set; `tsx codec/main.ts`
 * alone works too). Needs the same keys as the worker, and a token.
 */
import type { AddressInfo } from 'node:net';
import { ConfigError, loadConfig } from '../config';
import { loadCodecConfig, type CodecServerConfig } from '../config/codec';
import { log } from '../observability/log';
import { AesGcmCodec } from './aes-gcm';
import { buildCodecServer } from './server';

export async function startCodecServer(env: NodeJS.ProcessEnv = process.env): Promise<{ url: string; config: CodecServerConfig; close(): Promise<void> }> {
  const config = loadConfig(env);
  if (!config.encryption) throw new ConfigError('invalid configuration:\n  the codec server needs GP2GP_ENCRYPTION_KEYS (the same keys as the worker)');
  const codecConfig = loadCodecConfig(env);
  const uiUrl = `${codecConfig.uiOrigins[0]}/namespaces/${config.temporal.namespace}/workflows`;
  const app = await buildCodecServer({ codec: new AesGcmCodec(config.encryption), tokens: codecConfig.tokens, uiOrigins: codecConfig.uiOrigins, uiUrl });
  try {
    await app.listen({ host: codecConfig.host, port: codecConfig.port });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') {
      throw new ConfigError(`codec server: port ${codecConfig.host}:${codecConfig.port} is already in use (set GP2GP_CODEC_PORT)`);
    }
    throw err;
  }
  const { port } = app.server.address() as AddressInfo;
  return { url: `http://${codecConfig.host}:${port}`, config: codecConfig, close: () => app.close() };
}

if (require.main === module) {
  startCodecServer().then(
    (server) => {
      // Counts and key ids only: never a token or a key.
      log.info('codec server listening', {
        url: server.url,
        tokens: server.config.tokens.length,
        uiOrigins: server.config.uiOrigins,
      });
      for (const sig of ['SIGINT', 'SIGTERM'] as const) {
        process.once(sig, () => {
          void server.close().then(() => process.exit(0));
        });
      }
    },
    (err: unknown) => {
      console.error(`gp2gp-mi codec server: ${(err as Error).message}`);
      process.exit(err instanceof ConfigError ? 2 : 1);
    },
  );
}
