/**
 * What makes stopping `npm start` stop everything it started, however it is stopped (issue #16
 * items 3 and 14), kept out of stack/start.ts:
 *  - every process it starts runs in its own process group and is tracked here (StackGuard.track):
 *    listed with its ports in <data>/stack.json, and told to a small detached clean-up process
 *    (stack/reaper.cjs) that stops them all if `npm start` itself dies without doing so (SIGKILL, a
 *    crash);
 *  - `npm start` watches the processes that started it (tsx, `sh -c`, npm) and stops everything when
 *    one of them goes: npm passes a SIGTERM on to its `sh -c`, which dies without passing it on;
 *  - once stopping has begun nothing new is started (a restart, a start-up still in progress);
 *  - a start that finds an earlier one running, or processes an earlier one left, says which
 *    processes and ports, and how to stop them (earlierStack);
 *  - the data folder (event payloads in SQLite, logs) is owner-only (secureDataDir; start.ts also
 *    sets the umask so every file created under it is 0600).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

// ---- processes -------------------------------------------------------------------------------------

const HAS_PROC = fs.existsSync('/proc/self/stat');

function procStat(pid: number): { state: string; ppid: number; start: string } | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { state: f[0]!, ppid: Number(f[1]), start: f[19]! };
  } catch {
    return undefined;
  }
}

/** When the process started (Linux: clock ticks since boot), to tell it from a later one reusing its pid. */
export function startTimeOf(pid: number): string | undefined {
  return HAS_PROC ? procStat(pid)?.start : undefined;
}

/** The process `pid` is running, and is the one that started at `start` (when known). */
export function isRunning(pid: number, start?: string): boolean {
  if (!pid || pid < 0) return false;
  if (HAS_PROC) {
    const st = procStat(pid);
    return !!st && st.state !== 'Z' && (start === undefined || st.start === start);
  }
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** A process group we started is still there: its leader (the same one), or, the leader gone, any member. */
function groupRunning(pgid: number, start?: string): boolean {
  if (isRunning(pgid)) return isRunning(pgid, start);
  try {
    // The kernel does not reuse a pid while a group of that id has members, so these are ours.
    process.kill(-pgid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    /* already gone */
  }
}

function ps(pid: number, field: string): string {
  try {
    return execFileSync('ps', ['-o', `${field}=`, '-p', String(pid)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return '';
  }
}

function parentOf(pid: number): number {
  return HAS_PROC ? (procStat(pid)?.ppid ?? 0) : Number(ps(pid, 'ppid')) || 0;
}

function commandOf(pid: number): string {
  if (!HAS_PROC) return ps(pid, 'command');
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
  } catch {
    return '';
  }
}

interface Launcher {
  pid: number;
  start?: string | undefined;
  command: string;
}

/**
 * The processes that started this one and whose end means "stop": the parent (tsx), and under
 * `npm start` every process up to and including npm (tsx, `sh -c`, npm). Not the shell or process
 * manager above npm, so `nohup npm start &` outlives its shell.
 */
function launchers(env: NodeJS.ProcessEnv): Launcher[] {
  const chain: Launcher[] = [];
  let pid = process.ppid;
  for (let i = 0; i < 6 && pid > 0; i++) {
    const command = commandOf(pid);
    chain.push({ pid, start: startTimeOf(pid), command });
    if (!env.npm_lifecycle_event) return chain;
    if (/(^|[/\s])npm(-cli\.js)?(\s|$)/.test(command)) return chain;
    pid = parentOf(pid);
  }
  return chain.slice(0, 1); // npm not found: the parent only
}

// ---- the record of a running stack -----------------------------------------------------------------

export interface ProcessRecord {
  name: string;
  /** Also its process group (each is started as a group leader). */
  pid: number;
  start?: string | undefined;
  ports: number[];
}

interface StackRecord {
  pid: number;
  start?: string | undefined;
  dataDir: string;
  reaper?: { pid: number; start?: string | undefined } | undefined;
  processes: ProcessRecord[];
  /** Servers running inside the supervisor itself (the Registrations API stand-in), with their ports. */
  serves?: { name: string; ports: number[] }[] | undefined;
}

/** The supervisor's pid alone (`npm run demo` reads it to send SIGUSR2). */
const LOCK_FILE = (dataDir: string) => path.join(dataDir, 'stack.pid');
/** Which processes it started, with their ports. */
const RECORD_FILE = (dataDir: string) => path.join(dataDir, 'stack.json');

function writePrivate(file: string, content: string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, content, { mode: 0o600 });
  fs.renameSync(tmp, file);
}

function describe(processes: ProcessRecord[]): string {
  return processes
    .map((p) => `${p.name} pid ${p.pid}${p.ports.length ? ` (port${p.ports.length > 1 ? 's' : ''} ${p.ports.join(', ')})` : ''}`)
    .join(', ');
}

/**
 * Why this start must not go on, or undefined: an earlier `npm start` on the same data folder still
 * running, or processes an earlier one left running (it was killed, and so was its clean-up).
 */
export function earlierStack(dataDir: string): string | undefined {
  let pid: number;
  try {
    pid = Number(fs.readFileSync(LOCK_FILE(dataDir), 'utf8').trim());
  } catch {
    return undefined;
  }
  if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid) return undefined;
  let record: StackRecord | undefined;
  try {
    const parsed = JSON.parse(fs.readFileSync(RECORD_FILE(dataDir), 'utf8')) as StackRecord;
    if (parsed.pid === pid && Array.isArray(parsed.processes)) record = parsed;
  } catch {
    /* an older version's lock, or none */
  }
  const left = (record?.processes ?? []).filter((p) => groupRunning(p.pid, p.start));
  if (isRunning(pid, record?.start)) {
    const inside = (record?.serves ?? []).map((s) => `${s.name} in pid ${pid} itself (port${s.ports.length > 1 ? 's' : ''} ${s.ports.join(', ')})`);
    const running = [...(left.length ? [describe(left)] : []), ...inside].join(', ');
    return (
      `already running (pid ${pid}) with data in ${dataDir}${running ? `: ${running}` : ''}. ` +
      `Stop it with Ctrl-C in its terminal or \`kill ${pid}\`; or set GP2GP_DATA_DIR and other ports to run a second one`
    );
  }
  if (left.length === 0) return undefined;
  if (record?.reaper && isRunning(record.reaper.pid, record.reaper.start)) {
    return `an earlier npm start (pid ${pid}) has gone; its clean-up (pid ${record.reaper.pid}) is still stopping ${describe(left)}. Try again in a few seconds`;
  }
  return (
    `an earlier npm start (pid ${pid}) has gone but left running: ${describe(left)}. ` +
    `Stop them with \`kill -TERM -- ${left.map((p) => `-${p.pid}`).join(' ')}\` and start again`
  );
}

// ---- the data folder -------------------------------------------------------------------------------

/** What `npm start` keeps in a data folder: one holding any of these (or nothing) is ours to chmod. */
const OURS = ['stack.pid', 'temporal', 'mesh', 'logs', 'api-token', 'practices.json', 'authority', 'registrations-api', 'registrations-api-key'];

/**
 * A secret of the embedded default kept in the data folder (API token, codec token, stand-in key):
 * created once with 32 random bytes (mode 0600) and kept across restarts; the path is returned, never
 * the secret.
 */
export function ensureSecretFile(dataDir: string, name: string): string {
  const file = path.join(dataDir, name);
  if (!fs.existsSync(file)) {
    fs.mkdirSync(dataDir, { recursive: true });
    fs.writeFileSync(file, `${randomBytes(32).toString('hex')}\n`, { mode: 0o600 });
  }
  return file;
}

/**
 * Creates the data folder owner-only (0700), or makes an existing one so, saying what it changed.
 * A folder that is not only ours (a shared one, /tmp, sticky) is left as it is, with a warning: what
 * we create inside it is owner-only anyway (the umask).
 */
export function secureDataDir(dir: string, say: (line: string) => void): void {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const st = fs.statSync(dir);
  const mode = st.mode & 0o777;
  if ((mode & 0o077) === 0) return;
  const shown = `0${mode.toString(8)}`;
  const entries = fs.readdirSync(dir);
  const mine = !(st.mode & 0o1000) && (process.getuid?.() ?? st.uid) === st.uid && (entries.length === 0 || entries.some((e) => OURS.includes(e)));
  const warn = (why: string) =>
    say(`WARNING: data folder ${dir} is open to other users (mode ${shown}) and ${why}; it holds event payloads and logs: give it a folder of its own, or chmod 700 it`);
  if (!mine) return warn('holds other things, so it was left as it is');
  try {
    fs.chmodSync(dir, 0o700);
    say(`data folder ${dir} was open to other users (mode ${shown}): now 0700, owner only (it holds event payloads and logs)`);
  } catch (err) {
    warn(`could not be changed (${(err as Error).message})`);
  }
}

// ---- the guard -------------------------------------------------------------------------------------

interface Tracked extends ProcessRecord {
  child: ChildProcess;
}

let current: StackGuard | undefined;

/** Registers a process `npm start` started (no-op outside `npm start`, e.g. the test run's servers). */
export function trackProcess(name: string, child: ChildProcess, ports: number[] = []): void {
  current?.track(name, child, ports);
}

/** Stopping has begun: start nothing new (no restart of a supervised process). */
export function stackStopping(): boolean {
  return current?.stopping ?? false;
}

export class StackGuard {
  stopping = false;
  private readonly tracked = new Map<number, Tracked>();
  private readonly serves = new Map<string, number[]>();
  private reaper: ChildProcess | undefined;
  private watch: NodeJS.Timeout | undefined;
  private readonly start = startTimeOf(process.pid);

  constructor(
    private readonly dataDir: string,
    private readonly logFile: string,
    private readonly say: (line: string) => void,
  ) {}

  /** Takes the data folder (stack.pid, stack.json) and starts the clean-up process. */
  begin(): void {
    current = this;
    writePrivate(LOCK_FILE(this.dataDir), String(process.pid));
    this.startReaper();
    this.save();
  }

  /** Calls `onGone` (once) when a process that started this one has gone. */
  watchLaunchers(env: NodeJS.ProcessEnv, onGone: (what: string) => void): void {
    const chain = launchers(env);
    if (chain.length === 0) return;
    const parent = process.ppid;
    this.watch = setInterval(() => {
      const gone = chain.find((p) => !isRunning(p.pid, p.start));
      if (!gone && process.ppid === parent) return;
      clearInterval(this.watch);
      const who = gone ?? chain[0]!;
      const command = who.command.length > 60 ? `${who.command.slice(0, 57)}…` : who.command;
      onGone(`${command || 'its parent'} (pid ${who.pid})`);
    }, 500);
    this.watch.unref();
  }

  track(name: string, child: ChildProcess, ports: number[]): void {
    const pid = child.pid;
    if (!pid) return; // not started (the spawn error is reported by its caller)
    if (this.stopping) {
      // Started by a start-up or restart still in progress when stopping began.
      signalGroup(pid, 'SIGTERM');
    }
    this.tracked.set(pid, { name, pid, start: startTimeOf(pid), ports, child });
    this.tell(`+${pid}`);
    this.save();
    child.once('exit', () => {
      // Anything left in its group (a tsx child whose tsx was killed) goes with it.
      signalGroup(pid, 'SIGKILL');
      this.tracked.delete(pid);
      this.tell(`-${pid}`);
      this.save();
    });
  }

  /** A server running inside this process (it stops with it): listed, with its ports, for a second start's message. */
  serving(name: string, ports: number[] | undefined): void {
    if (ports) this.serves.set(name, ports);
    else this.serves.delete(name);
    this.save();
  }

  /** SIGKILL to every group still running: a second Ctrl-C, or a stop taking too long. */
  killAll(): void {
    for (const pid of this.tracked.keys()) signalGroup(pid, 'SIGKILL');
  }

  /** Stops what is still tracked after the orderly stop (a start-up in progress): SIGTERM, then SIGKILL. */
  async stopRemaining(graceMs = 10_000): Promise<void> {
    const left = [...this.tracked.values()];
    if (left.length === 0) return;
    const exited = Promise.all(left.map((t) => (t.child.exitCode !== null || t.child.signalCode !== null ? undefined : new Promise((r) => t.child.once('exit', r)))));
    for (const t of left) signalGroup(t.pid, 'SIGTERM');
    const timer = setTimeout(() => this.killAll(), graceMs);
    await exited;
    clearTimeout(timer);
  }

  /** After the stop: releases the data folder and lets the clean-up process go. */
  finish(): void {
    clearInterval(this.watch);
    for (const file of [LOCK_FILE(this.dataDir), RECORD_FILE(this.dataDir)]) {
      try {
        if (file.endsWith('.pid') ? fs.readFileSync(file, 'utf8').trim() === String(process.pid) : true) fs.unlinkSync(file);
      } catch {
        /* already gone */
      }
    }
    const reaper = this.reaper;
    this.reaper = undefined;
    reaper?.stdin?.end();
    if (current === this) current = undefined;
  }

  private startReaper(): void {
    fs.mkdirSync(path.dirname(this.logFile), { recursive: true, mode: 0o700 });
    const out = fs.openSync(this.logFile, 'a', 0o600);
    const reaper = spawn(process.execPath, [path.join(__dirname, 'reaper.cjs'), String(process.pid), '15000'], {
      stdio: ['pipe', out, out],
      detached: true,
    });
    fs.closeSync(out);
    reaper.on('error', (err) => this.say(`clean-up process: ${err.message}`));
    reaper.stdin!.on('error', () => undefined);
    reaper.unref();
    (reaper.stdin as unknown as { unref?: () => void }).unref?.();
    this.reaper = reaper;
    for (const pid of this.tracked.keys()) this.tell(`+${pid}`);
    reaper.once('exit', () => {
      if (this.reaper !== reaper) return;
      // Killed by someone: a new one, told about everything still running.
      this.say('the clean-up process has gone; starting a new one');
      this.startReaper();
      this.save();
    });
  }

  private tell(line: string): void {
    if (this.reaper?.stdin?.writable) this.reaper.stdin.write(`${line}\n`);
  }

  private save(): void {
    if (current !== this) return;
    const record: StackRecord = {
      pid: process.pid,
      start: this.start,
      dataDir: this.dataDir,
      reaper: this.reaper?.pid ? { pid: this.reaper.pid, start: startTimeOf(this.reaper.pid) } : undefined,
      processes: [...this.tracked.values()].map(({ name, pid, start, ports }) => ({ name, pid, start, ports })),
      serves: this.serves.size ? [...this.serves].map(([name, ports]) => ({ name, ports })) : undefined,
    };
    try {
      writePrivate(RECORD_FILE(this.dataDir), `${JSON.stringify(record, null, 2)}\n`);
    } catch (err) {
      this.say(`cannot write ${RECORD_FILE(this.dataDir)}: ${(err as Error).message}`);
    }
  }
}
