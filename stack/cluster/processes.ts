/**
 * Processes of the production-shaped cluster run: each in its own process group (so a terminal's
 * Ctrl-C reaches the runner first and it stops them in order), tracked by stack/lifecycle.ts (so its
 * clean-up process stops them if the runner itself is killed), and stopped with everything they
 * started themselves — also a child's own detached children (vitest's MESH sandbox, the chaos suite's
 * servers and workers), found by walking /proc before the child is told to stop.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { signalGroup, trackProcess } from '../lifecycle';

export interface Launched {
  name: string;
  child: ChildProcess;
  logFile: string;
  /** SIGTERM to it and every process under it (each one's group), SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
  /** Resolves when it has exited (with its code or signal). */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** The last lines of a log; JSON lines (the Temporal server's) shortened to level, msg and error. */
export function tailOf(file: string, lines = 12): string {
  try {
    return fs
      .readFileSync(file, 'utf8')
      .trim()
      .split('\n')
      .slice(-lines)
      .map((line) => {
        if (!line.startsWith('{')) return line;
        try {
          const j = JSON.parse(line) as { level?: string; msg?: string; error?: string };
          return `${j.level ?? ''} ${j.msg ?? ''}${j.error ? `: ${j.error}` : ''}`;
        } catch {
          return line;
        }
      })
      .join('\n');
  } catch {
    return '';
  }
}

/** Every process below `pid` (children, grandchildren, …), from /proc. */
export function descendants(pid: number): number[] {
  const children = new Map<number, number[]>();
  let entries: string[];
  try {
    entries = fs.readdirSync('/proc');
  } catch {
    return [];
  }
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${e}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const list = children.get(ppid) ?? [];
      list.push(Number(e));
      children.set(ppid, list);
    } catch {
      /* gone meanwhile */
    }
  }
  const out: number[] = [];
  const walk = (p: number) => {
    for (const c of children.get(p) ?? []) {
      out.push(c);
      walk(c);
    }
  };
  walk(pid);
  return out;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function signalTree(pids: number[], signal: NodeJS.Signals): void {
  for (const pid of pids) {
    signalGroup(pid, signal); // a group leader (detached children are)
    try {
      process.kill(pid, signal);
    } catch {
      /* gone */
    }
  }
}

/**
 * Starts `cmd` in its own process group with its output appended to `logFile` (or inherited, for the
 * test runners whose output is the report). `signal` is what stop() sends first (postgres: SIGINT, a
 * fast shutdown).
 */
export function launch(
  name: string,
  cmd: string,
  args: string[],
  o: { env?: NodeJS.ProcessEnv; cwd?: string; logFile: string; tee?: boolean; ports?: number[]; signal?: NodeJS.Signals; ipc?: boolean },
): Launched {
  fs.mkdirSync(path.dirname(o.logFile), { recursive: true });
  // tee: shown here as it comes (a test runner's report) and kept in the log for the summary.
  const out = o.tee ? 'pipe' : fs.openSync(o.logFile, 'a', 0o600);
  const stdio: SpawnOptions['stdio'] = ['ignore', out, out];
  if (o.ipc) stdio.push('ipc');
  const child = spawn(cmd, args, { env: o.env ?? process.env, cwd: o.cwd, stdio, detached: true });
  if (typeof out === 'number') fs.closeSync(out);
  if (o.tee) {
    const log = fs.createWriteStream(o.logFile, { flags: 'a', mode: 0o600 });
    for (const stream of [child.stdout, child.stderr]) {
      stream?.on('data', (d: Buffer) => {
        process.stdout.write(d);
        log.write(d);
      });
    }
    child.once('close', () => log.end());
  }
  trackProcess(name, child, o.ports ?? []);
  child.on('error', () => {
    /* reported through exited / the readiness wait */
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve({ code: child.exitCode, signal: child.signalCode });
    child.once('exit', (code, signal) => resolve({ code, signal }));
    child.once('error', () => resolve({ code: -1, signal: null }));
  });
  const stop = async (graceMs = 15_000) => {
    const tree = child.pid ? descendants(child.pid) : [];
    if (child.exitCode === null && child.signalCode === null && child.pid) {
      try {
        process.kill(-child.pid, o.signal ?? 'SIGTERM');
      } catch {
        child.kill(o.signal ?? 'SIGTERM');
      }
    }
    // What it started in groups or sessions of their own (it may not live to stop them itself).
    signalTree(tree, 'SIGTERM');
    const deadline = Date.now() + graceMs;
    while (Date.now() < deadline && ((child.exitCode === null && child.signalCode === null && child.pid) || tree.some(alive))) {
      await new Promise((r) => setTimeout(r, 100));
    }
    if (child.pid) signalGroup(child.pid, 'SIGKILL');
    signalTree(tree.filter(alive), 'SIGKILL');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 2_000))]);
  };
  return { name, child, logFile: o.logFile, stop, exited };
}

/** Polls `probe` until true; fails with the log's tail when the process exits or time runs out. */
export async function waitReady(p: Launched, timeoutMs: number, probe: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (p.child.exitCode !== null || p.child.signalCode !== null) {
      throw new Error(`${p.name} exited during start-up (${p.child.exitCode ?? p.child.signalCode}); log ${p.logFile}:\n${tailOf(p.logFile)}`);
    }
    if (await probe().catch(() => false)) return;
    if (Date.now() > deadline) {
      await p.stop();
      throw new Error(`${p.name} did not become ready within ${timeoutMs / 1000}s; log ${p.logFile}:\n${tailOf(p.logFile)}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}
