/**
 * What the pipeline benches share: their own Temporal dev server (SQLite file, as `npm start` runs
 * it) and MESH sandbox on free loopback ports, the worker and the HTTP API as separate processes
 * (`tsx worker/main.ts`, `tsx api/main.ts`, exactly as deployed), practices files, and small
 * statistics helpers. Nothing here touches the test run's servers.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Gp2gpClient } from '../client';
import { mapConcurrent } from '../client/concurrency';
import { loadConfig, PROJECT_ROOT, type Config } from '../config';
import { MeshClient } from '../mesh';
import { METRICS } from '../observability/metric-names';
import { AuthorityMailbox, type ReceivedFile } from '../stack/authority';
import { StackGuard } from '../stack/lifecycle';
import { provision, type Tools } from '../stack/provision';
import { syntheticPractice } from '../demo/traffic';
import { freePort, startMeshSandbox, startTemporalDevServer, stopProcess, type ServerHandle } from '../stack/servers';

export const SUPPLIER = 'X26BNS001';
export const AUTHORITY = 'X26BNN001';
export const PASSWORD = 'password';

export function practiceSettings(ods: string, i: number) {
  return syntheticPractice(ods, 400_000_000_000 + i);
}

/** ODS codes `<prefix><n>` for n practices, e.g. B1000…B1099. */
export function practiceCodes(prefix: string, n: number): string[] {
  return Array.from({ length: n }, (_, i) => `${prefix}${String(10_000 + i)}`);
}

// ---- processes: stopped with the bench however it ends ----------------------------------------------

let guard: StackGuard | undefined;

/**
 * Starts tracking what the benches start (servers, workers, the API): a clean-up process
 * (stack/lifecycle.ts) stops every tracked process group if the bench dies, even by SIGKILL, and
 * `stopTracked` stops them on Ctrl-C / SIGTERM / SIGHUP. Call once, before any bench starts; `finish`
 * after an orderly end.
 */
export function guardBenches(): { stopTracked(): Promise<void>; finish(): void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gp2gp-mi-bench-guard-'));
  const g = new StackGuard(dir, path.join(dir, 'clean-up.log'), (line) => console.error(`bench: ${line}`));
  g.begin();
  guard = g;
  return {
    stopTracked: async () => {
      g.stopping = true;
      await g.stopRemaining(5_000);
    },
    finish: () => {
      g.finish();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A process the bench started, tracked for the clean-up (no-op when not guarded). */
export function tracked(name: string, child: ChildProcess): void {
  guard?.track(name, child, []);
}

export interface ScriptProcess {
  child: ChildProcess;
  /** Resolves when a line of the process's log matches. */
  waitForLog(re: RegExp, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/** `tsx <script>` in its own process group, logging to a file. */
export function startScript(script: string, env: NodeJS.ProcessEnv, logFile: string): ScriptProcess {
  const out = fs.openSync(logFile, 'a');
  const child = spawn(process.execPath, [require.resolve('tsx/cli'), path.join(PROJECT_ROOT, script)], {
    env,
    stdio: ['ignore', out, out],
    detached: true,
    cwd: PROJECT_ROOT,
  });
  fs.closeSync(out);
  tracked(script, child);
  return {
    child,
    async waitForLog(re, timeoutMs = 120_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const text = fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8') : '';
        if (re.test(text)) return;
        if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${script} exited; log ${logFile}:\n${text.slice(-2000)}`);
        if (Date.now() > deadline) throw new Error(`${script} did not log ${re} within ${timeoutMs / 1000}s; log ${logFile}`);
        await new Promise((r) => setTimeout(r, 200));
      }
    },
    stop: () => stopProcess(child, 15_000),
  };
}

/**
 * The Temporal a bench runs on: its own dev server (the embedded default), or, for the benches that
 * allow it, an external one named by TEMPORAL_ADDRESS — e.g. the production-shaped cluster of
 * `npm run test:cluster -- --serve`, whose printed TEMPORAL_SERVER_PID and POSTGRES_PID name the
 * processes (with their descendants) whose CPU and memory count as the engine's.
 */
export interface Engine {
  /** e.g. "dev server (SQLite)" or "external Temporal at 127.0.0.1:7233". */
  description: string;
  external: boolean;
  address: string;
  namespace: string;
  /**
   * The processes whose CPU and memory are the engine's, each with its descendants (a database's
   * backends run in sessions of their own, so process groups would miss them); may be empty.
   */
  roots: number[];
}

/** The external engine named by the environment (TEMPORAL_ADDRESS …), or undefined. */
export function externalEngine(env: NodeJS.ProcessEnv = process.env): Engine | undefined {
  const address = env.TEMPORAL_ADDRESS?.trim();
  if (!address) return undefined;
  const roots: number[] = [];
  for (const name of ['TEMPORAL_SERVER_PID', 'POSTGRES_PID'] as const) {
    const v = env[name]?.trim();
    if (!v) continue;
    if (!/^\d+$/.test(v) || !fs.existsSync(`/proc/${v}`)) throw new Error(`${name}: "${v}" is not a running process's id`);
    roots.push(Number(v));
  }
  const parts = [env.TEMPORAL_SERVER_PID ? 'server' : '', env.POSTGRES_PID ? 'PostgreSQL' : ''].filter(Boolean);
  return {
    description: `external Temporal at ${address}${parts.length ? ` (CPU of ${parts.join(' + ')})` : ' (its CPU not measured: set TEMPORAL_SERVER_PID)'}`,
    external: true,
    address,
    namespace: env.TEMPORAL_NAMESPACE?.trim() || 'default',
    roots,
  };
}

export interface BenchStack {
  dir: string;
  tools: Tools;
  engine: Engine;
  /** The bench's own dev server; absent on an external engine. */
  temporal?: ServerHandle;
  mesh: ServerHandle;
  sharedKey: string;
  practicesFile: string;
  /** The environment of the worker and API processes. */
  env: NodeJS.ProcessEnv;
  config: Config;
  client: Gp2gpClient;
  worker: ScriptProcess;
  api?: { url: string; token: string; process: ScriptProcess };
  authorityMesh(): MeshClient;
  stop(): Promise<void>;
}

export async function startBenchStack(options: {
  name: string;
  practices: string[];
  api?: boolean;
  env?: Record<string, string>;
  /** SQLite pragmas of the dev server's file (default: the embedded default's, stack/servers.ts). */
  sqlitePragmas?: Readonly<Record<string, string>>;
  /** Keep Temporal's full set of visibility indexes (the embedded default drops the unqueried ones). */
  allVisibilityIndexes?: boolean;
  /** The dev server's own search-attribute handling: read from the database on every use (ours caches it). */
  searchAttributesReadOnEveryUse?: boolean;
  /** Run on this external Temporal instead of an own dev server (see externalEngine). */
  engine?: Engine;
}): Promise<BenchStack> {
  const tools = provision();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `gp2gp-mi-bench-${options.name}-`));
  const stops: (() => Promise<void>)[] = [];
  const stop = async () => {
    for (const s of stops.reverse()) await s().catch(() => undefined);
    if (!process.env.KEEP_BENCH_DIR) fs.rmSync(dir, { recursive: true, force: true });
  };
  try {
    let temporal: ServerHandle | undefined;
    let engine = options.engine;
    if (!engine) {
      const own = await startTemporalDevServer({
        tools,
        port: await freePort(),
        dbFile: path.join(dir, 'temporal.sqlite'),
        namespace: 'default',
        logFile: path.join(dir, 'temporal.log'),
        sqlitePragmas: options.sqlitePragmas,
        allVisibilityIndexes: options.allVisibilityIndexes,
        searchAttributesReadOnEveryUse: options.searchAttributesReadOnEveryUse,
      });
      tracked('Temporal dev server', own.process);
      stops.push(() => own.stop());
      temporal = own;
      engine = { description: 'dev server (SQLite)', external: false, address: own.address, namespace: 'default', roots: [own.process.pid!] };
    }
    const sharedKey = randomBytes(16).toString('hex');
    const mesh = await startMeshSandbox({
      tools,
      port: await freePort(),
      storeDir: path.join(dir, 'mesh-store'),
      sharedKey,
      mailboxes: [SUPPLIER, AUTHORITY],
      logFile: path.join(dir, 'mesh-sandbox.log'),
    });
    tracked('MESH sandbox', mesh.process);
    stops.push(() => mesh.stop());
    const practicesFile = path.join(dir, 'practices.json');
    fs.writeFileSync(practicesFile, JSON.stringify({ practices: options.practices.map(practiceSettings) }));
    const token = `bench-${randomBytes(16).toString('hex')}`;
    const apiPort = await freePort();
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      TEMPORAL_ADDRESS: engine.address,
      TEMPORAL_NAMESPACE: engine.namespace,
      TEMPORAL_TASK_QUEUE: 'gp2gp-mi-bench',
      MESH_URL: mesh.address,
      MESH_MAILBOX: SUPPLIER,
      MESH_PASSWORD: PASSWORD,
      MESH_SHARED_KEY: sharedKey,
      MESH_TO: AUTHORITY,
      GP2GP_PRACTICES: practicesFile,
      GP2GP_DATA_DIR: dir,
      GP2GP_INBOX_POLL_SECONDS: '2',
      GP2GP_TRACKING_INTERVAL_SECONDS: '0.5',
      GP2GP_TRACKING_MAX_INTERVAL_SECONDS: '2',
      GP2GP_METRICS_PORT: '0',
      LOG_LEVEL: 'info',
      GP2GP_API_PORT: String(apiPort),
      GP2GP_API_TOKENS: token,
      GP2GP_API_RATE_LIMIT_PER_MINUTE: '10000000',
      GP2GP_API_MAX_IN_FLIGHT_EVENTS: '100000',
      ...options.env,
    };
    const worker = startScript('worker/main.ts', env, path.join(dir, 'worker.log'));
    stops.push(() => worker.stop());
    // Ready once every practice's reporting workflow runs: thousands take a while.
    await worker.waitForLog(/worker ready/, 120_000 + options.practices.length * 50);
    let api: BenchStack['api'];
    if (options.api) {
      const p = startScript('api/main.ts', env, path.join(dir, 'api.log'));
      stops.push(() => p.stop());
      await p.waitForLog(/api listening/);
      api = { url: `http://127.0.0.1:${apiPort}`, token, process: p };
    }
    const config = loadConfig(env);
    const client = await Gp2gpClient.connect(config);
    stops.push(() => client.close());
    const meshClients: MeshClient[] = [];
    stops.push(async () => {
      for (const m of meshClients) await m.close();
    });
    return {
      dir,
      tools,
      engine,
      ...(temporal ? { temporal } : {}),
      mesh,
      sharedKey,
      practicesFile,
      env,
      config,
      client,
      worker,
      ...(api ? { api } : {}),
      authorityMesh() {
        const m = new MeshClient({ url: mesh.address, mailbox: AUTHORITY, password: PASSWORD, sharedKey, retry: { baseDelayMs: 100 } });
        meshClients.push(m);
        return m;
      },
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

// ---- measuring -------------------------------------------------------------------------------------

export interface Timed {
  seconds: number;
  /** Per-call latency, milliseconds, sorted. */
  latencies: number[];
}

/** Runs fn over every item with `concurrency` calls in flight; times each call and the whole. */
export async function timedPool<T>(items: readonly T[], concurrency: number, fn: (item: T) => Promise<void>): Promise<Timed> {
  const latencies: number[] = [];
  const started = process.hrtime.bigint();
  await mapConcurrent(items, concurrency, async (item) => {
    const t0 = process.hrtime.bigint();
    await fn(item);
    latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
  });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  latencies.sort((a, b) => a - b);
  return { seconds, latencies };
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

export const MiB = 1024 * 1024;

/** Every process's stat fields after the command name (Linux /proc), by pid; one that ends meanwhile is left out. */
function procStats(): Map<number, string[]> {
  const all = new Map<number, string[]>();
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      // Fields after the command name (which may contain spaces) start after the last ')'.
      all.set(Number(entry), stat.slice(stat.lastIndexOf(')') + 2).split(' '));
    } catch {
      // The process ended between listing and reading.
    }
  }
  return all;
}

/** The /proc entries of every process in a process group (Linux), read with `read`. */
export function groupProcesses<T>(pgid: number, read: (pid: string, statFields: string[]) => T): T[] {
  return [...procStats()].filter(([, fields]) => Number(fields[2]) === pgid).map(([pid, fields]) => read(String(pid), fields)); // pgrp
}

/** A kB figure (e.g. VmRSS, VmHWM) from /proc/<pid>/status, in bytes; 0 if absent. */
export function statusBytes(pid: string, field: string): number {
  const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}

/** CPU seconds (user + system) used so far by every process in a process group (Linux /proc). */
export function groupCpuSeconds(pgid: number): number {
  const tick = 100; // USER_HZ on Linux
  return groupProcesses(pgid, (_pid, fields) => (Number(fields[11]) + Number(fields[12])) / tick).reduce((a, b) => a + b, 0); // utime, stime
}

/** Every process below these roots (Linux /proc), the roots included, read with `read`. */
export function treeProcesses<T>(roots: readonly number[], read: (pid: string, statFields: string[]) => T): T[] {
  const all = procStats();
  const inTree = new Set(roots.filter((r) => all.has(r)));
  for (let grew = true; grew; ) {
    grew = false;
    for (const [pid, fields] of all) {
      // fields[1] is the parent pid
      if (!inTree.has(pid) && inTree.has(Number(fields[1]))) {
        inTree.add(pid);
        grew = true;
      }
    }
  }
  return [...inTree].map((pid) => read(String(pid), all.get(pid)!));
}

/**
 * CPU seconds used so far by these processes and their descendants, counting the ended children
 * the roots have waited for (a database's finished backends) through the roots' cutime/cstime.
 */
export function treeCpuSeconds(roots: readonly number[]): number {
  const tick = 100; // USER_HZ on Linux
  const rootSet = new Set(roots.map(String));
  return treeProcesses(roots, (pid, f) => (Number(f[11]) + Number(f[12]) + (rootSet.has(pid) ? Number(f[13]) + Number(f[14]) : 0)) / tick).reduce((a, b) => a + b, 0);
}

/** What a bench measures a figure of: a process group, or process trees given by their roots. */
export type ProcessSubject = number | { trees: readonly number[] };

/** The processes of a subject, each read with `read`. */
export function subjectProcesses<T>(subject: ProcessSubject, read: (pid: string, statFields: string[]) => T): T[] {
  return typeof subject === 'number' ? groupProcesses(subject, read) : treeProcesses(subject.trees, read);
}

/** CPU seconds used by each subject (a process group, or process trees) during fn. */
export async function cpuDuring<T>(groups: Record<string, ProcessSubject>, fn: () => Promise<T>): Promise<{ value: T; cpu: Record<string, number> }> {
  const seconds = (g: ProcessSubject) => (typeof g === 'number' ? groupCpuSeconds(g) : treeCpuSeconds(g.trees));
  const before = Object.fromEntries(Object.entries(groups).map(([k, g]) => [k, seconds(g)]));
  const value = await fn();
  const cpu = Object.fromEntries(Object.entries(groups).map(([k, g]) => [k, seconds(g) - before[k]!]));
  return { value, cpu };
}

/** The product worker's hand-over signals so far, and the forwards they carried (its Prometheus endpoint). */
export async function handOverSignals(port: number): Promise<{ signals: number; forwards: number }> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const value = (name: string) => {
    const line = text.split('\n').find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
    return Number(line?.trim().split(/\s+/).at(-1) ?? 0);
  };
  return { signals: value(`${METRICS.rowsHandOverForwards}_count`), forwards: value(`${METRICS.rowsHandOverForwards}_sum`) };
}

/** The Authority's mailbox, collected (and acknowledged) round after round until stopped. */
export interface AuthorityCollector {
  /** Ends the rounds and waits for the one under way; safe to call again. */
  stop(): Promise<void>;
}

/** Collects every file the Authority receives, every `intervalMs`, handing each round's files to `onFiles`. */
export function collectFromAuthority(stack: BenchStack, intervalMs: number, onFiles: (files: ReceivedFile[]) => void): AuthorityCollector {
  const authority = new AuthorityMailbox(stack.authorityMesh(), { workflowId: stack.config.mesh.workflowId });
  let collecting = true;
  const rounds = (async () => {
    while (collecting) {
      // The mailbox unreachable for a moment (or gone while the bench is being stopped) is no reason
      // to crash: the next round tries again, and an unfinished delivery fails the bench's wait instead.
      try {
        onFiles(await authority.collect());
      } catch (err) {
        if (collecting) console.error(`  collecting from the Authority's mailbox: ${err instanceof Error ? err.message : String(err)}`);
      }
      await new Promise((r) => setTimeout(r, intervalMs));
    }
  })();
  return {
    async stop() {
      collecting = false;
      await rounds;
    },
  };
}
