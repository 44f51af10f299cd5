/**
 * The HTTP hooks API as part of `npm start`: its own supervised process beside the worker (restarted
 * with backoff if it dies), so a crash in request handling never takes the worker down and the worker
 * file stays untouched. On the embedded default with no token configured it generates a dev token
 * into <data dir>/api-token (mode 0600) and says where it is — never what it is.
 */
import * as path from 'node:path';
import type { Config } from '../config';
import { loadApiConfig } from '../config/api';
import { assertPortFree } from './servers';
import { superviseProcess } from './supervise';
import { ensureSecretFile } from './lifecycle';

export interface ApiProcess {
  url: string;
  /** Where the tokens are, for the banner (a path or a variable name, never a token). */
  tokenNote: string;
  stop(): Promise<void>;
}

/** The dev token file: created once with a random token, kept across restarts. */
export function ensureDevToken(dataDir: string): string {
  return ensureSecretFile(dataDir, 'api-token');
}

export interface PreparedApi {
  env: NodeJS.ProcessEnv;
  url: string;
  port: number;
  tokenNote: string;
  /** The operators' console is on (GP2GP_CONSOLE is not off). */
  console: boolean;
}

/** Validates the API's settings and checks its port before anything else starts, so a mistake fails at once. */
export async function prepareApi(config: Config, baseEnv: NodeJS.ProcessEnv): Promise<PreparedApi> {
  const env: NodeJS.ProcessEnv = { ...baseEnv };
  let tokenNote: string;
  if (!env.GP2GP_API_TOKENS?.trim() && !env.GP2GP_API_TOKEN_FILE?.trim()) {
    env.GP2GP_API_TOKEN_FILE = ensureDevToken(config.dataDir);
    tokenNote = `dev token in ${env.GP2GP_API_TOKEN_FILE}`;
  } else {
    tokenNote = env.GP2GP_API_TOKENS?.trim() ? 'tokens from GP2GP_API_TOKENS' : `tokens from ${env.GP2GP_API_TOKEN_FILE}`;
  }
  const apiConfig = loadApiConfig(env);
  await assertPortFree(apiConfig.host, apiConfig.port, 'HTTP API', 'set GP2GP_API_PORT');
  const host = apiConfig.host.includes(':') ? `[${apiConfig.host}]` : apiConfig.host;
  return { env, url: `http://${host}:${apiConfig.port}`, port: apiConfig.port, tokenNote, console: apiConfig.console !== undefined };
}

/** Starts the prepared API; `env` adds what is known only later (Temporal address, MESH settings). */
export function startApiProcess(prepared: PreparedApi, env: NodeJS.ProcessEnv, logDir: string, say: (line: string) => void): ApiProcess {
  const supervised = superviseProcess({
    name: 'HTTP API',
    entry: 'api/main.ts',
    env: { ...env, GP2GP_API_TOKEN_FILE: prepared.env.GP2GP_API_TOKEN_FILE, GP2GP_API_TOKENS: prepared.env.GP2GP_API_TOKENS },
    logFile: path.join(logDir, 'api.log'),
    say,
    graceMs: 10_000,
    ports: [prepared.port],
  });
  return { url: prepared.url, tokenNote: prepared.tokenNote, stop: () => supervised.stop() };
}
