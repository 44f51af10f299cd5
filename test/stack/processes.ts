/**
 * What the `npm start` tests look at from outside: the processes it runs (/proc: Linux only, like the
 * embedded stack's tests) and whether its ports are free again.
 */
import * as fs from 'node:fs';
import * as net from 'node:net';

export interface Proc {
  pid: number;
  ppid: number;
  pgid: number;
  start: string;
  state: string;
  cmd: string;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function readProc(pid: number): Proc | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
    return { pid, state: f[0]!, ppid: Number(f[1]), pgid: Number(f[2]), start: f[19]!, cmd };
  } catch {
    return undefined;
  }
}

/** Every process below `root` (detached ones included: they are its descendants while it runs). */
export function descendants(root: number): Proc[] {
  const byParent = new Map<number, Proc[]>();
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const p = readProc(Number(name));
    if (p) byParent.set(p.ppid, [...(byParent.get(p.ppid) ?? []), p]);
  }
  const out: Proc[] = [];
  const queue = [root];
  while (queue.length) {
    for (const c of byParent.get(queue.shift()!) ?? []) {
      out.push(c);
      queue.push(c.pid);
    }
  }
  return out;
}

/** Still the same process (not a reused pid), and not a zombie waiting to be reaped. */
export function alive(p: Proc): boolean {
  const now = readProc(p.pid);
  return !!now && now.start === p.start && now.state !== 'Z';
}

export async function portFree(port: number): Promise<boolean> {
  return await new Promise<boolean>((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen({ host: '127.0.0.1', port, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/**
 * The processes below `root` once npm start is fully up: the banner printed and the worker and the
 * HTTP API (and codec server) each running under tsx.
 */
export async function stackProcesses(root: number, output: () => string, o: { codec?: boolean; timeoutMs?: number } = {}): Promise<Proc[]> {
  const deadline = Date.now() + (o.timeoutMs ?? 120_000);
  const count = (procs: Proc[], s: string) => procs.filter((p) => p.cmd.includes(s)).length;
  for (;;) {
    if (/cannot start/.test(output())) throw new Error(`npm start failed:\n${output()}`);
    const procs = descendants(root);
    const up =
      /Ctrl-C stops everything/.test(output()) &&
      count(procs, 'worker/main.ts') >= 2 &&
      count(procs, 'api/main.ts') >= 2 &&
      (!o.codec || count(procs, 'codec/main.ts') >= 2);
    if (up) return procs;
    if (Date.now() > deadline) throw new Error(`npm start did not come up:\n${output()}`);
    await sleep(200);
  }
}

/** "Within seconds": the worker's and Temporal's graceful stops take a few; room for a loaded machine. */
export const STOP_WITHIN_MS = 30_000;

/**
 * Waits until none of `procs` is left (failing after STOP_WITHIN_MS, naming the survivors), then
 * returns the ports still taken (expected: none) and how long the stop took.
 */
export async function allGone(procs: Proc[], ports: number[], output: () => string = () => '', dataDir?: string): Promise<{ ms: number; taken: number[] }> {
  const t0 = Date.now();
  while (procs.some(alive)) {
    if (Date.now() - t0 > STOP_WITHIN_MS) {
      const left = procs.filter(alive).map((p) => `${p.pid} (parent ${readProc(p.pid)?.ppid}) ${p.cmd.slice(0, 120)}`);
      throw new Error(`still running ${STOP_WITHIN_MS / 1000}s after the stop:\n${left.join('\n')}\n--- output:\n${output()}`);
    }
    await sleep(100);
  }
  const taken: number[] = [];
  for (const port of ports) {
    if (await portFree(port)) continue;
    // Other test files start servers at the same time, and a port this stack freed may be bound again
    // by one of them at once. Taken means taken by one of ours: a process that is one of the stack's,
    // or was started for the same data folder (a worker restarted after the list was taken).
    const owners = listeners(port);
    if (owners.length === 0 || owners.some((pid) => procs.some((p) => p.pid === pid) || (dataDir !== undefined && startedFor(pid, dataDir)))) taken.push(port);
  }
  return { ms: Date.now() - t0, taken };
}

/** Pids of the processes listening on a TCP port (from /proc: the socket inodes, then the fds). */
export function listeners(port: number): number[] {
  const inodes = new Set<string>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = '';
    try {
      text = fs.readFileSync(table, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols.length < 10 || cols[3] !== '0A') continue; // LISTEN
      if (parseInt(cols[1]!.split(':')[1]!, 16) === port) inodes.add(cols[9]!);
    }
  }
  if (inodes.size === 0) return [];
  const pids: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let fds: string[] = [];
    try {
      fds = fs.readdirSync(`/proc/${entry}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      let target = '';
      try {
        target = fs.readlinkSync(`/proc/${entry}/fd/${fd}`);
      } catch {
        continue;
      }
      const m = /^socket:\[(\d+)\]$/.exec(target);
      if (m && inodes.has(m[1]!)) {
        pids.push(Number(entry));
        break;
      }
    }
  }
  return pids;
}

/** Whether a process was started for this data folder (its environment or command line names it). */
function startedFor(pid: number, dataDir: string): boolean {
  try {
    const env = fs.readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
    if (env.includes(`GP2GP_DATA_DIR=${dataDir}`)) return true;
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(dataDir);
  } catch {
    return false;
  }
}

/** Never leave a stack running after a failed test. */
export function killLeftovers(procs: Proc[]): void {
  for (const p of procs) if (alive(p)) process.kill(p.pid, 'SIGKILL');
}
