/**
 * The HTTP API process (`npm start` runs it beside the worker; `tsx api/main.ts` alone works too).
 * It connects to Temporal lazily, so it starts and answers /healthz even while Temporal is down:
 * /readyz and POST /v1/events then answer 503 until Temporal is back, which is what a load balancer
 * and a retrying GP system need.
 */
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { ConfigError, loadConfig, type Config } from '../config';
import { loadApiConfig, type ApiConfig } from '../config/api';
import { lazyTemporalClient } from '../config/temporal';
import { Gp2gpClient } from '../client';
import { loadPractices } from '../mi/practices';
import { log } from '../observability/log';
import { buildApi, clientBackend } from './app';
import { temporalConsoleSource, type ConsoleOptions } from './console';

export { buildApi, clientBackend, type ApiBackend, type ApiOptions, type EventResult, type BatchResult } from './app';

export interface RunningApi {
  app: FastifyInstance;
  url: string;
  client: Gp2gpClient;
  close(): Promise<void>;
}

/** The hooks client on a lazy connection: nothing is dialled until the first request. */
export function lazyClient(config: Config): Gp2gpClient {
  // The worker's data converter: with GP2GP_ENCRYPTION_KEYS set, events are encrypted before they leave.
  const temporal = lazyTemporalClient(config);
  const practices = loadPractices(config.practicesFile).map((p) => p.ods);
  return new Gp2gpClient(temporal, { taskQueue: config.temporal.taskQueue, practices, config });
}

/**
 * The operators' console on the API's Temporal client: the practices file the service runs with, and
 * the Web UI the page links to (README, "The operators' console").
 */
export function consoleOptions(config: Config, apiConfig: ApiConfig, client: Gp2gpClient): ConsoleOptions | undefined {
  const settings = apiConfig.console;
  if (!settings) return undefined;
  return {
    source: temporalConsoleSource({
      gp2gp: client,
      config,
      practices: loadPractices(config.practicesFile),
      queryTimeoutMs: Math.min(apiConfig.temporalTimeoutMs, 10_000),
    }),
    temporalUi: settings.temporalUi,
    sessionTtlMs: settings.sessionTtlMs,
    loginPerMinute: settings.loginPerMinute,
    searchPerMinute: settings.searchPerMinute,
    ...(settings.secureCookie !== undefined ? { secureCookie: settings.secureCookie } : {}),
    readModel: {
      viewTtlMs: settings.viewTtlMs,
      concurrency: settings.queryConcurrency,
      sweepPerSecond: settings.sweepPerSecond,
      sweepIntervalMs: settings.sweepIntervalMs,
      sweepIdleAfterMs: settings.sweepIdleAfterMs,
    },
  };
}

export async function startApi(config: Config, apiConfig: ApiConfig = loadApiConfig(), options: { logger?: boolean } = {}): Promise<RunningApi> {
  const client = lazyClient(config);
  const consoleSettings = consoleOptions(config, apiConfig, client);
  const app = await buildApi({
    backend: clientBackend(client),
    tokens: apiConfig.tokens,
    bodyLimitBytes: apiConfig.bodyLimitBytes,
    maxBatchEvents: apiConfig.maxBatchEvents,
    rateLimitPerMinute: apiConfig.rateLimitPerMinute,
    maxInFlightEvents: apiConfig.maxInFlightEvents,
    eventConcurrency: apiConfig.eventConcurrency,
    temporalTimeoutMs: apiConfig.temporalTimeoutMs,
    ...(consoleSettings ? { console: consoleSettings } : {}),
    logger: options.logger === false ? false : log.pino.child({ component: 'api' }),
  });
  try {
    await app.listen({ host: apiConfig.host, port: apiConfig.port });
  } catch (err) {
    await client.close().catch(() => undefined);
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') throw new ConfigError(`HTTP API: port ${apiConfig.host}:${apiConfig.port} is already in use (set GP2GP_API_PORT)`);
    throw err;
  }
  const { port } = app.server.address() as AddressInfo;
  const host = apiConfig.host.includes(':') ? `[${apiConfig.host}]` : apiConfig.host;
  return {
    app,
    url: `http://${host}:${port}`,
    client,
    async close() {
      await app.close();
      await client.close();
    },
  };
}

if (require.main === module) {
  let config: Config;
  let apiConfig: ApiConfig;
  try {
    config = loadConfig();
    apiConfig = loadApiConfig();
  } catch (err) {
    console.error(`gp2gp-mi api: ${(err as Error).message}`);
    process.exit(2);
  }
  if (apiConfig.tokens.length === 0) log.warn('no API tokens configured: POST /v1/events answers 401 (set GP2GP_API_TOKENS)');
  startApi(config, apiConfig).then(
    (api) => {
      // The token count and where they came from, never the tokens.
      log.info('api listening', { url: api.url, tokens: apiConfig.tokens.length, tokenSource: apiConfig.tokenSource, console: apiConfig.console ? `${api.url}/console` : 'off' });
      for (const sig of ['SIGINT', 'SIGTERM'] as const) {
        process.once(sig, () => {
          log.info('api stopping', { signal: sig });
          api.close().then(
            () => process.exit(0),
            () => process.exit(1),
          );
        });
      }
    },
    (err: unknown) => {
      log.error('api failed to start', { error: err instanceof Error ? err.message : String(err) });
      process.exit(err instanceof ConfigError ? 2 : 1);
    },
  );
}
