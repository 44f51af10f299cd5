/**
 * Stopping `npm start` every way a terminal or a process manager does (issue #16 item 3), in real
 * processes: Ctrl-C under a pipe (SIGINT to the whole foreground group, tee included), Ctrl-C twice,
 * SIGTERM to npm, SIGHUP when the terminal closes, SIGKILL of npm or of the supervisor (SIGINT to tsx
 * and SIGTERM to the supervisor: test/stack/start.test.ts). Each time every process it started must
 * be gone within seconds and every port free; a start that finds what an earlier one left running
 * says which processes and ports, and how to stop them. And the data folder (event payloads, logs)
 * is owner-only (item 14).
 *
 * Each way costs a real start, so they run side by side (a few at a time), each on its own data
 * folder and free ports. Linux only (/proc), like the rest of the embedded stack's tests.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { freePort } from '../../stack/servers';
import { allGone, descendants, killLeftovers, readProc, sleep, stackProcesses, type Proc } from './processes';

const ROOT = path.join(__dirname, '..', '..');

/** A few stacks at a time: each start is a Temporal dev server, a MESH sandbox and five node processes. */
let slots = 4;
const waiting: (() => void)[] = [];
async function withSlot<T>(fn: () => Promise<T>): Promise<T> {
  while (slots === 0) await new Promise<void>((r) => waiting.push(r));
  slots--;
  try {
    return await fn();
  } finally {
    slots++;
    waiting.shift()?.();
  }
}

interface Stack {
  dir: string;
  env: NodeJS.ProcessEnv;
  ports: Record<string, number>;
  root: ChildProcess;
  output: () => string;
  /** Everything `npm start` runs, taken once it is up. */
  procs: Proc[];
  npm: Proc;
  supervisor: Proc;
}

const stacks: Stack[] = [];

type StartOptions = { pipe?: boolean; env?: Record<string, string>; before?: (dir: string) => void; /** Stop waiting at the Temporal dev server's start. */ startingUp?: boolean };

/**
 * A port found free can be taken before the stack binds it: the test run starts other Temporal dev
 * servers at the same time, which bind ports of their own choosing for their internal services. Such a
 * start stops cleanly with "address already in use" (what a user gets too); here it is tried again on
 * other ports, twice at most, as a user would after choosing another port.
 */
async function startStack(name: string, o: StartOptions = {}): Promise<Stack> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startStackOnce(attempt === 1 ? name : `${name}-${attempt}`, o);
    } catch (err) {
      if (attempt >= 3 || !/address already in use|is already in use/.test((err as Error).message)) throw err;
    }
  }
}

/**
 * `npm start` as a terminal runs it: in its own process group (the terminal's foreground group),
 * with `| tee` in that group when `pipe` is set.
 */
async function startStackOnce(name: string, o: StartOptions): Promise<Stack> {
  const workDir = inject('workDir');
  const dir = path.join(workDir, `stop-${name}`);
  o.before?.(dir);
  const ports: Record<string, number> = {};
  for (const v of ['TEMPORAL_PORT', 'TEMPORAL_UI_PORT', 'MESH_PORT', 'GP2GP_METRICS_PORT', 'GP2GP_API_PORT', 'GP2GP_CODEC_PORT', 'GP2GP_REGISTRATIONS_API_PORT']) ports[v] = await freePort();
  const log = path.join(workDir, `stop-${name}.log`);
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ...Object.fromEntries(Object.entries(ports).map(([k, v]) => [k, String(v)])),
    GP2GP_DATA_DIR: dir,
    TEMPORAL_ADDRESS: '',
    MESH_URL: '',
    GP2GP_REGISTRATIONS_API_URL: '',
    GP2GP_ENCRYPTION_KEYS: '',
    ...o.env,
  };
  let root: ChildProcess;
  if (o.pipe) {
    root = spawn('sh', ['-c', 'npm start 2>&1 | tee "$STOP_TEST_LOG" >/dev/null'], { cwd: ROOT, env: { ...env, STOP_TEST_LOG: log }, detached: true, stdio: 'ignore' });
  } else {
    const fd = fs.openSync(log, 'w');
    root = spawn('npm', ['start'], { cwd: ROOT, env, detached: true, stdio: ['ignore', fd, fd] });
    fs.closeSync(fd);
  }
  const output = () => (fs.existsSync(log) ? fs.readFileSync(log, 'utf8') : '');
  const partial: Stack = { dir, env, ports, root, output, procs: [], npm: undefined!, supervisor: undefined! };
  stacks.push(partial);
  try {
    if (o.startingUp) {
      while (!descendants(root.pid!).some((p) => p.cmd.includes('temporal server'))) {
        if (root.exitCode !== null) throw new Error(`npm start exited:\n${output()}`);
        await sleep(20);
      }
      partial.procs = descendants(root.pid!);
    } else {
      partial.procs = await stackProcesses(root.pid!, output, { codec: !!o.env?.GP2GP_ENCRYPTION_KEYS });
    }
  } catch (err) {
    partial.procs = descendants(root.pid!);
    throw new Error(`${name}: ${(err as Error).message}`);
  }
  const find = (what: string, test: (p: Proc) => boolean) => {
    const p = partial.procs.find(test);
    if (!p) throw new Error(`${name}: no ${what} among\n${partial.procs.map((q) => `${q.pid} ${q.cmd}`).join('\n')}`);
    return p;
  };
  partial.npm = o.pipe ? find('npm', (p) => p.ppid === root.pid && /npm/.test(p.cmd)) : readProc(root.pid!)!;
  partial.procs = o.pipe ? partial.procs : [partial.npm, ...partial.procs];
  partial.supervisor = find('supervisor', (p) => p.cmd.includes('stack/start.ts') && p.cmd.includes('preflight'));
  return partial;
}

/** Waits until no process of the stack is left and its ports are free; returns how long it took. */
async function expectAllGone(s: Stack): Promise<number> {
  const { ms, taken } = await allGone(s.procs, Object.values(s.ports), s.output, s.dir);
  expect(taken).toEqual([]);
  return ms;
}

/** Files and folders under `dir` that other users could read or enter. */
function openToOthers(dir: string): string[] {
  const open: string[] = [];
  const walk = (p: string) => {
    let st: fs.Stats;
    try {
      st = fs.lstatSync(p);
    } catch {
      return; // removed meanwhile (a temporary file)
    }
    if (st.isSymbolicLink()) return;
    if (st.mode & 0o077) open.push(`${(st.mode & 0o777).toString(8)} ${path.relative(dir, p) || '.'}`);
    if (st.isDirectory()) for (const e of fs.readdirSync(p)) walk(path.join(p, e));
  };
  walk(dir);
  return open;
}

/** A second `npm start` on the same data folder and ports. */
async function startAgain(s: Stack): Promise<{ code: number | null; output: string }> {
  const child = spawn(process.execPath, [require.resolve('tsx/cli'), path.join(ROOT, 'stack', 'start.ts')], { cwd: ROOT, env: s.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  return { code, output };
}

const signalGroup = (s: Stack, sig: NodeJS.Signals) => process.kill(-s.root.pid!, sig);
const TIMEOUT = 300_000;

describe.concurrent('stopping npm start leaves nothing running', () => {
  afterAll(async () => {
    // Whatever a failed test left behind: never leave a stack running.
    for (const s of stacks) killLeftovers(s.procs);
  });

  it(
    'Ctrl-C under `| tee` (SIGINT to the whole group; stdout gone); the data folder is owner-only',
    async () => {
      await withSlot(async () => {
        const s = await startStack('pipe-ctrl-c', {
          pipe: true,
          // An existing data folder readable by everyone, as an earlier version left it.
          before: (dir) => {
            fs.mkdirSync(dir, { recursive: true });
            fs.chmodSync(dir, 0o755);
          },
        });
        expect(fs.statSync(s.dir).mode & 0o777).toBe(0o700);
        expect(s.output()).toMatch(/was open to other users \(mode 0?755\)/);
        expect(openToOthers(s.dir)).toEqual([]);
        signalGroup(s, 'SIGINT');
        console.log(`pipe-ctrl-c: stopped in ${await expectAllGone(s)} ms`);
      });
    },
    TIMEOUT,
  );

  it(
    'Ctrl-C pressed twice 0.3 s apart (with the codec server running)',
    async () => {
      await withSlot(async () => {
        const s = await startStack('double-ctrl-c', { env: { GP2GP_ENCRYPTION_KEYS: `k1:${randomBytes(32).toString('base64')}` } });
        signalGroup(s, 'SIGINT');
        await sleep(300);
        // A terminal's second Ctrl-C reaches whatever of the group is left; when the first one
        // already stopped it all (CI saw that once), there is nothing to signal and nothing to test.
        try {
          signalGroup(s, 'SIGINT');
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
        }
        console.log(`double-ctrl-c: stopped in ${await expectAllGone(s)} ms`);
        expect(s.output()).toMatch(/stopped/);
      });
    },
    TIMEOUT,
  );

  it(
    'Ctrl-C during start-up (while the Temporal dev server starts)',
    async () => {
      await withSlot(async () => {
        const s = await startStack('ctrl-c-starting', { startingUp: true });
        signalGroup(s, 'SIGINT');
        // Whatever it still starts after the Ctrl-C must go too.
        const t0 = Date.now();
        while (s.root.exitCode === null && s.root.signalCode === null && Date.now() - t0 < 30_000) {
          for (const p of descendants(s.root.pid!)) if (!s.procs.some((q) => q.pid === p.pid && q.start === p.start)) s.procs.push(p);
          await sleep(50);
        }
        console.log(`ctrl-c-starting: stopped in ${await expectAllGone(s)} ms`);
      });
    },
    TIMEOUT,
  );

  it(
    'SIGHUP when the terminal closes (with `| tee`)',
    async () => {
      await withSlot(async () => {
        const s = await startStack('sighup', { pipe: true });
        signalGroup(s, 'SIGHUP');
        console.log(`sighup: stopped in ${await expectAllGone(s)} ms`);
      });
    },
    TIMEOUT,
  );

  it(
    'SIGTERM to npm (npm does not pass it on to the script)',
    async () => {
      await withSlot(async () => {
        const s = await startStack('sigterm-npm');
        process.kill(s.npm.pid, 'SIGTERM');
        console.log(`sigterm-npm: stopped in ${await expectAllGone(s)} ms`);
      });
    },
    TIMEOUT,
  );

  it(
    'SIGKILL of the supervisor',
    async () => {
      await withSlot(async () => {
        const s = await startStack('sigkill-supervisor');
        process.kill(s.supervisor.pid, 'SIGKILL');
        console.log(`sigkill-supervisor: stopped in ${await expectAllGone(s)} ms`);
      });
    },
    TIMEOUT,
  );

  it(
    'SIGKILL of npm',
    async () => {
      await withSlot(async () => {
        const s = await startStack('sigkill-npm');
        process.kill(s.npm.pid, 'SIGKILL');
        console.log(`sigkill-npm: stopped in ${await expectAllGone(s)} ms`);
      });
    },
    TIMEOUT,
  );

  it(
    'a start after everything of ours but the servers was killed (SIGKILL) names what is left and how to stop it',
    async () => {
      await withSlot(async () => {
        const s = await startStack('orphans');
        const servers = s.procs.filter((p) => /temporal server|uvicorn|worker\/main|api\/main/.test(p.cmd));
        // Frozen first, so that neither the supervisor nor its clean-up process can act on the other's end.
        const rest = s.procs.filter((p) => !servers.includes(p));
        for (const p of rest) process.kill(p.pid, 'SIGSTOP');
        for (const p of rest) process.kill(p.pid, 'SIGKILL');
        await sleep(500);
        const again = await startAgain(s);
        expect(again.code).toBe(1);
        expect(again.output).toMatch(/has gone but left running/);
        for (const port of [s.ports.TEMPORAL_PORT, s.ports.MESH_PORT, s.ports.GP2GP_API_PORT, s.ports.GP2GP_METRICS_PORT]) expect(again.output).toContain(String(port));
        const command = /kill -TERM -- ((?:-\d+ ?)+)/.exec(again.output);
        expect(command).not.toBeNull();
        for (const g of command![1]!.trim().split(' ')) process.kill(Number(g), 'SIGTERM');
        await expectAllGone(s);
      });
    },
    TIMEOUT,
  );
});
