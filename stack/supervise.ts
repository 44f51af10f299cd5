/**
 * Runs one of our TypeScript entry points (the worker, the HTTP API) as a child process and restarts
 * it with backoff when it dies unexpectedly, so a crash never needs an operator. Own process group,
 * so Ctrl-C reaches `npm start` first and it stops the children in order.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PROJECT_ROOT } from '../config';
import { signalGroup, stackStopping, trackProcess } from './lifecycle';

export interface Supervised {
  stop(): Promise<void>;
}

export function superviseProcess(options: {
  /** Said in messages, e.g. "worker". */
  name: string;
  /** Entry point relative to the project root, e.g. worker/main.ts. */
  entry: string;
  env: NodeJS.ProcessEnv;
  logFile: string;
  say: (line: string) => void;
  /** How long a SIGTERM may take before SIGKILL (the worker lets running activities finish). */
  graceMs?: number;
  /** The ports it listens on, for the message of a later start that finds it still running. */
  ports?: number[];
}): Supervised {
  let child: ChildProcess | undefined;
  let stopping = false;
  let restarts = 0;
  let restartTimer: NodeJS.Timeout | undefined;
  fs.mkdirSync(path.dirname(options.logFile), { recursive: true, mode: 0o700 });
  const run = () => {
    if (stopping || stackStopping()) return;
    const out = fs.openSync(options.logFile, 'a', 0o600);
    child = spawn(process.execPath, [require.resolve('tsx/cli'), path.join(PROJECT_ROOT, options.entry)], {
      env: options.env,
      stdio: ['ignore', out, out],
      detached: true,
    });
    fs.closeSync(out);
    trackProcess(options.name, child, options.ports);
    const startedAt = Date.now();
    child.once('exit', (code, signal) => {
      if (stopping || stackStopping()) return;
      if (Date.now() - startedAt > 60_000) restarts = 0;
      const delay = Math.min(30_000, 1_000 * 2 ** restarts++);
      options.say(`${options.name} exited (${signal ?? code}); restarting in ${delay / 1000}s — log ${options.logFile}`);
      restartTimer = setTimeout(run, delay);
    });
  };
  run();
  return {
    async stop() {
      stopping = true;
      clearTimeout(restartTimer);
      const c = child;
      if (!c || c.exitCode !== null || c.signalCode !== null) return;
      const exited = new Promise<void>((resolve) => c.once('exit', () => resolve()));
      // The whole group: tsx and the process it runs.
      signalGroup(c.pid!, 'SIGTERM');
      const timer = setTimeout(() => signalGroup(c.pid!, 'SIGKILL'), options.graceMs ?? 20_000);
      await exited;
      clearTimeout(timer);
      signalGroup(c.pid!, 'SIGKILL');
    },
  };
}
