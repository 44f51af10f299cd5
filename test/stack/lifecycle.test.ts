/**
 * The pieces of stack/lifecycle.ts on their own, without a stack: the owner-only data folder (issue
 * #16 item 14), what a start says about an earlier one, and the clean-up process (stack/reaper.cjs).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { earlierStack, secureDataDir, startTimeOf } from '../../stack/lifecycle';
import { readProc, sleep, type Proc } from './processes';

const base = () => fs.mkdtempSync(path.join(inject('workDir'), 'lifecycle-'));
const modeOf = (p: string) => fs.statSync(p).mode & 0o7777;

const started: ChildProcess[] = [];
/** A process in its own group, as npm start runs each server. */
function group(script = 'sleep 60'): ChildProcess {
  const child = spawn('sh', ['-c', script], { detached: true, stdio: 'ignore' });
  started.push(child);
  return child;
}
const gone = (p: Proc) => {
  const now = readProc(p.pid);
  return !now || now.start !== p.start || now.state === 'Z';
};
async function until(cond: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) return false;
    await sleep(50);
  }
  return true;
}

afterAll(() => {
  for (const c of started) {
    try {
      process.kill(-c.pid!, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
});

describe('the data folder is owner-only', () => {
  it('is created 0700', () => {
    const lines: string[] = [];
    const dir = path.join(base(), 'new', '.data');
    secureDataDir(dir, (l) => lines.push(l));
    expect(modeOf(dir)).toBe(0o700);
    expect(lines).toEqual([]);
  });

  it('an existing one of ours that is too open is made 0700, saying so', () => {
    const lines: string[] = [];
    const dir = path.join(base(), '.data');
    fs.mkdirSync(path.join(dir, 'logs'), { recursive: true });
    fs.chmodSync(dir, 0o755);
    secureDataDir(dir, (l) => lines.push(l));
    expect(modeOf(dir)).toBe(0o700);
    expect(lines.join('\n')).toMatch(/was open to other users \(mode 0755\): now 0700/);
  });

  it('a folder holding other things, or a shared (sticky) one, is left alone with a warning', () => {
    for (const [mode, entry] of [
      [0o755, 'notes.txt'],
      [0o1777, undefined],
    ] as const) {
      const lines: string[] = [];
      const dir = path.join(base(), 'shared');
      fs.mkdirSync(dir);
      if (entry) fs.writeFileSync(path.join(dir, entry), '');
      fs.chmodSync(dir, mode);
      secureDataDir(dir, (l) => lines.push(l));
      expect(modeOf(dir)).toBe(mode);
      expect(lines.join('\n')).toMatch(/WARNING: data folder .* is open to other users/);
    }
  });
});

describe('what a start says about an earlier one', () => {
  const record = (dir: string, pid: number, start: string | undefined, processes: { name: string; pid: number; start?: string | undefined; ports: number[] }[]) => {
    fs.writeFileSync(path.join(dir, 'stack.pid'), String(pid));
    fs.writeFileSync(path.join(dir, 'stack.json'), JSON.stringify({ pid, start, dataDir: dir, processes }));
  };

  it('nothing when the earlier one and all it started are gone, or its pids now belong to others', async () => {
    const dir = base();
    expect(earlierStack(dir)).toBeUndefined();
    const dead = group('exit 0');
    await new Promise((r) => dead.once('exit', r));
    record(dir, dead.pid!, undefined, [{ name: 'worker', pid: dead.pid!, ports: [1] }]);
    expect(earlierStack(dir)).toBeUndefined();
    // Live pids, but not the processes recorded (another start time): a reused pid.
    const other = group();
    record(dir, other.pid!, 'not-its-start', [{ name: 'worker', pid: other.pid!, start: 'not-its-start', ports: [1] }]);
    expect(earlierStack(dir)).toBeUndefined();
  });

  it('which processes and ports an earlier, killed one left running, and the command that stops them', async () => {
    const dir = base();
    const gone_ = group('exit 0');
    await new Promise((r) => gone_.once('exit', r));
    const [temporal, worker] = [group(), group()];
    await sleep(50);
    record(dir, gone_.pid!, undefined, [
      { name: 'Temporal dev server', pid: temporal.pid!, start: startTimeOf(temporal.pid!), ports: [17233, 18233] },
      { name: 'worker', pid: worker.pid!, start: startTimeOf(worker.pid!), ports: [19464] },
    ]);
    const message = earlierStack(dir)!;
    expect(message).toContain(`has gone but left running: Temporal dev server pid ${temporal.pid} (ports 17233, 18233), worker pid ${worker.pid} (port 19464)`);
    expect(message).toContain(`kill -TERM -- -${temporal.pid} -${worker.pid}`);
  });

  it('an earlier one still running: its pid, what it runs on which ports, how to stop it', async () => {
    const dir = base();
    const [supervisor, mesh] = [group(), group()];
    await sleep(50);
    record(dir, supervisor.pid!, startTimeOf(supervisor.pid!), [{ name: 'MESH sandbox', pid: mesh.pid!, start: startTimeOf(mesh.pid!), ports: [18700] }]);
    const message = earlierStack(dir)!;
    expect(message).toMatch(new RegExp(`already running \\(pid ${supervisor.pid}\\) with data in .*MESH sandbox pid ${mesh.pid} \\(port 18700\\)`));
    expect(message).toContain(`kill ${supervisor.pid}`);
  });

  it('an earlier one still running names the servers inside it too (the Registrations API stand-in) and their ports', async () => {
    const dir = base();
    const supervisor = group();
    await sleep(50);
    record(dir, supervisor.pid!, startTimeOf(supervisor.pid!), []);
    const json = JSON.parse(fs.readFileSync(path.join(dir, 'stack.json'), 'utf8'));
    fs.writeFileSync(path.join(dir, 'stack.json'), JSON.stringify({ ...json, serves: [{ name: 'Registrations API stand-in', ports: [18400] }] }));
    const message = earlierStack(dir)!;
    expect(message).toContain(`already running (pid ${supervisor.pid}) with data in ${dir}: Registrations API stand-in in pid ${supervisor.pid} itself (port 18400)`);
  });
});

describe('the clean-up process (stack/reaper.cjs)', () => {
  const reaper = (graceMs: number) => {
    const child = spawn(process.execPath, [path.join(__dirname, '..', '..', 'stack', 'reaper.cjs'), String(process.pid), String(graceMs)], {
      stdio: ['pipe', 'ignore', 'ignore'],
    });
    started.push(child);
    return child;
  };
  const procOf = async (c: ChildProcess) => {
    await until(() => !!readProc(c.pid!), 2_000);
    return readProc(c.pid!)!;
  };

  it('when its pipe closes, stops the groups still listed (SIGTERM, then SIGKILL after the grace), not the ended ones', async () => {
    const r = reaper(1_000);
    const polite = group();
    const stubborn = group("trap '' TERM; while :; do sleep 0.1; done");
    const ended = group();
    const [p1, p2, p3] = [await procOf(polite), await procOf(stubborn), await procOf(ended)];
    r.stdin!.write(`+${p1.pid}\n+${p2.pid}\n+${p3.pid}\n-${p3.pid}\n`);
    await sleep(200);
    const t0 = Date.now();
    r.stdin!.end();
    expect(await until(() => gone(p1), 2_000)).toBe(true);
    expect(Date.now() - t0).toBeLessThan(1_000);
    expect(await until(() => gone(p2), 5_000)).toBe(true);
    expect(gone(p3)).toBe(false);
    expect(await until(() => r.exitCode !== null, 2_000)).toBe(true);
  });

  it('with nothing listed, just exits', async () => {
    const r = reaper(1_000);
    r.stdin!.end();
    expect(await until(() => r.exitCode !== null, 5_000)).toBe(true);
    expect(r.exitCode).toBe(0);
  });
});
