/**
 * The operators' additions to `npm start` (issue #7), kept out of stack/start.ts:
 *  - the practices file of the embedded default: examples/practices.json plus the demo's practices
 *    (`npm run demo -- --practices N` adds them to <data>/demo/practices.json and asks the running
 *    `npm start`, by SIGUSR2, to restart the worker and HTTP API on the new list);
 *  - the codec server process when payload encryption is on, with a generated token file;
 *  - the metrics port check.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { COMPOSED_PRACTICES_FILE, DEMO_PRACTICES_FILE, EXAMPLE_PRACTICES_FILE, PROJECT_ROOT, resolvePracticesFile, type Config } from '../config';
import { loadCodecConfig } from '../config/codec';
import { loadPractices, type PracticeSettings } from '../mi/practices';
import { ensureSecretFile, signalGroup, trackProcess } from './lifecycle';
import { assertPortFree } from './servers';

// The paths live beside resolvePracticesFile (config/index.ts), which the CLI and every process use too.
export { DEMO_PRACTICES_FILE, EXAMPLE_PRACTICES_FILE };
export const EFFECTIVE_PRACTICES_FILE = COMPOSED_PRACTICES_FILE;

/**
 * The practices file `npm start` gives the worker and API. With GP2GP_PRACTICES set: that file, as
 * is. On the embedded default: examples/practices.json + the demo's practices, written to
 * <data>/practices.json. Returns the file and how many practices it holds.
 */
export function composePractices(config: Config, env: NodeJS.ProcessEnv): { file: string; count: number; demo: number } {
  const resolved = resolvePracticesFile(env, config.dataDir);
  if (!resolved.embedded) return { file: resolved.file, count: loadPractices(resolved.file).length, demo: 0 };
  const base = loadPractices(EXAMPLE_PRACTICES_FILE);
  const demoFile = DEMO_PRACTICES_FILE(config.dataDir);
  const demo = fs.existsSync(demoFile) ? loadPractices(demoFile) : [];
  const seen = new Set(base.map((p) => p.ods));
  const all: PracticeSettings[] = [...base, ...demo.filter((p) => !seen.has(p.ods))];
  // Where resolvePracticesFile looks on the embedded default: the CLI sees what the worker and API see.
  const file = COMPOSED_PRACTICES_FILE(config.dataDir);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp`;
  fs.writeFileSync(tmp, `${JSON.stringify({ practices: all }, null, 2)}\n`);
  fs.renameSync(tmp, file);
  return { file, count: all.length, demo: all.length - base.length };
}

export async function checkMetricsPort(config: Config): Promise<void> {
  if (config.metrics) await assertPortFree(config.metrics.host, config.metrics.port, 'worker metrics', 'set GP2GP_METRICS_PORT (0 turns metrics off)');
}

/** The codec token file of the embedded default: created once (mode 0600), never printed. */
export function ensureCodecToken(dataDir: string): string {
  return ensureSecretFile(dataDir, 'codec-token');
}

export interface CodecProcess {
  url: string;
  loginUrl: string;
  tokenNote: string;
  stop(): Promise<void>;
}

/**
 * Prepares the codec server (when encryption is on): validates its settings and port now, so a
 * mistake stops npm start at once; start() spawns it. The Web UI is started with its URL.
 */
export async function prepareCodecServer(config: Config, baseEnv: NodeJS.ProcessEnv, logDir: string): Promise<{ url: string; start(): CodecProcess } | undefined> {
  if (!config.encryption) return undefined;
  const env: NodeJS.ProcessEnv = { ...baseEnv };
  let tokenNote: string;
  if (!env.GP2GP_CODEC_TOKENS?.trim() && !env.GP2GP_CODEC_TOKEN_FILE?.trim()) {
    env.GP2GP_CODEC_TOKEN_FILE = ensureCodecToken(config.dataDir);
    tokenNote = `token in ${env.GP2GP_CODEC_TOKEN_FILE}`;
  } else {
    tokenNote = env.GP2GP_CODEC_TOKENS?.trim() ? 'tokens from GP2GP_CODEC_TOKENS' : `tokens from ${env.GP2GP_CODEC_TOKEN_FILE}`;
  }
  const codec = loadCodecConfig(env);
  await assertPortFree(codec.host, codec.port, 'codec server', 'set GP2GP_CODEC_PORT');
  const url = `http://${codec.host}:${codec.port}`;
  return {
    url,
    start() {
      fs.mkdirSync(logDir, { recursive: true, mode: 0o700 });
      const out = fs.openSync(path.join(logDir, 'codec.log'), 'a', 0o600);
      const child: ChildProcess = spawn(process.execPath, [require.resolve('tsx/cli'), path.join(PROJECT_ROOT, 'codec', 'main.ts')], {
        env,
        stdio: ['ignore', out, out],
        detached: true,
      });
      fs.closeSync(out);
      trackProcess('codec server', child, [codec.port]);
      return {
        url,
        loginUrl: `${url}/login`,
        tokenNote,
        async stop() {
          if (child.exitCode !== null || child.signalCode !== null) return;
          const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
          // The whole group: tsx and the process it runs.
          signalGroup(child.pid!, 'SIGTERM');
          const timer = setTimeout(() => signalGroup(child.pid!, 'SIGKILL'), 5_000);
          await exited;
          clearTimeout(timer);
          signalGroup(child.pid!, 'SIGKILL');
        },
      };
    },
  };
}
