/**
 * The HTTP hooks API as part of `npm start`: its own supervised process beside the worker (restarted
 * with backoff if it dies), so a crash in request handling never takes the worker down and the worker
 * file stays untouched. On the embedded default with no token configured it generates a dev token
 * into <data dir>/api-token (mode 0600) and says where it is — never what it is.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PROJECT_ROOT, type Config } from '../config';
import { loadApiConfig } from '../config/api';
import { assertPortFree } from './servers';

export interface ApiProcess {
  url: string;
  /** Where the tokens are, for the banner (a path or a variable name, never a token). */
  tokenNote: string;
  stop(): Promise<void>;
}

/** The dev token file: created once with a random token, kept across restarts. */
export function ensureDevToken(dataDir: string): string {
  const file = path.join(dataDir, 'api-token');
  if (!fs.existsSync(file)) {
    fs.mkdirSync(dataDir, { recursive: true });
    fs.writeFileSync(file, `${randomBytes(32).toString('hex')}\n`, { mode: 0o600 });
  }
  return file;
}

export async function startApiProcess(config: Config, baseEnv: NodeJS.ProcessEnv, logDir: string, say: (line: string) => void): Promise<ApiProcess> {
  const env: NodeJS.ProcessEnv = { ...baseEnv };
  let tokenNote: string;
  if (!env.GP2GP_API_TOKENS?.trim() && !env.GP2GP_API_TOKEN_FILE?.trim()) {
    env.GP2GP_API_TOKEN_FILE = ensureDevToken(config.dataDir);
    tokenNote = `dev token in ${env.GP2GP_API_TOKEN_FILE}`;
  } else {
    tokenNote = env.GP2GP_API_TOKENS?.trim() ? 'tokens from GP2GP_API_TOKENS' : `tokens from ${env.GP2GP_API_TOKEN_FILE}`;
  }
  // Validates the API's settings here, so a mistake stops npm start with the message at once.
  const apiConfig = loadApiConfig(env);
  await assertPortFree(apiConfig.host, apiConfig.port, 'HTTP API', 'set GP2GP_API_PORT');

  fs.mkdirSync(logDir, { recursive: true });
  const logFile = path.join(logDir, 'api.log');
  let child: ChildProcess | undefined;
  let stopping = false;
  let restarts = 0;
  const run = () => {
    const out = fs.openSync(logFile, 'a');
    child = spawn(process.execPath, [require.resolve('tsx/cli'), path.join(PROJECT_ROOT, 'api', 'main.ts')], {
      env,
      stdio: ['ignore', out, out],
      detached: true,
    });
    fs.closeSync(out);
    const startedAt = Date.now();
    child.once('exit', (code, signal) => {
      if (stopping) return;
      if (Date.now() - startedAt > 60_000) restarts = 0;
      const delay = Math.min(30_000, 1_000 * 2 ** restarts++);
      say(`HTTP API exited (${signal ?? code}); restarting in ${delay / 1000}s — log ${logFile}`);
      setTimeout(run, delay);
    });
  };
  run();
  const host = apiConfig.host.includes(':') ? `[${apiConfig.host}]` : apiConfig.host;
  return {
    url: `http://${host}:${apiConfig.port}`,
    tokenNote,
    async stop() {
      stopping = true;
      const c = child;
      if (!c || c.exitCode !== null || c.signalCode !== null) return;
      const exited = new Promise<void>((resolve) => c.once('exit', () => resolve()));
      c.kill('SIGTERM');
      const timer = setTimeout(() => c.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
