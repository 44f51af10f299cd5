/**
 * The chaos suite (`npm run test:chaos`, also run by .ci/run): proof that nothing accepted is lost or
 * doubled while the pipeline is being hurt. It starts its OWN Temporal dev server (SQLite file) and
 * its OWN MESH sandbox (file store) on free loopback ports, runs the worker and the HTTP API as
 * separate processes (`tsx worker/main.ts`, `tsx api/main.ts`), puts a fault proxy between the worker
 * and MESH, and drives a few thousand realistic events (demo/traffic.ts) for many practices — half
 * through the TypeScript client, half through the HTTP API — while it:
 *   (a) SIGKILLs the worker and restarts it, several times;
 *   (b) stops the Temporal dev server and starts it again on the same SQLite file;
 *   (c) has the proxy answer 5xx/429, reset connections, delay, and drop answers after MESH acted;
 *   (d) re-sends events already accepted.
 * Outputs are `both` (issue 12): every transfer also posts its events to the GP Registrations MI API —
 * a stand-in of it runs in this process (stack/registrations-api-stand-in.ts, its own key and folder),
 * behind a second fault proxy that answers 503/429, resets connections and drops answers after the
 * stand-in acted. The traffic carries the API's stages (test/chaos/registrations-api.ts).
 * The driver behaves like a GP system: a call that fails while a server is down is retried, and an
 * event counts as accepted only when the client or the API said accepted / duplicate. Then it submits
 * every practice's days, collects every file that reached the Authority's mailbox, takes the latest
 * version of each ODS + date, and compares it row by row with the offline render
 * (`bin/gp2gp-mi.js render`) of all accepted events; and, event by event, the requests the stand-in
 * accepted with apiEventsOf over each transfer's accepted events (lost = 0, invented = 0, repeats
 * only where an answer was lost, every body valid, no post failed). It prints the counts and ends with the line
 * `N passed, N failed`; the exit code is 1 when a check failed.
 *
 *   npm run test:chaos                         (CHAOS_PRACTICES=30 CHAOS_DAYS=2 CHAOS_REGISTRATIONS=4)
 *   KEEP_CHAOS_DIR=1 npm run test:chaos        keeps the servers' files and logs for a look afterwards
 *
 * Against another Temporal (`npm run test:cluster` runs it so against the full server on PostgreSQL):
 *   CHAOS_TEMPORAL_ADDRESS=host:port           no dev server of its own; that Temporal's namespace
 *                                              CHAOS_TEMPORAL_NAMESPACE (default `default`), which
 *                                              should hold no earlier chaos run's workflows
 *   CHAOS_WORKERS=2                            that many worker processes on the task queue; the chaos
 *                                              SIGKILLs one at a time, in turn, while the others poll
 *   CHAOS_TEMPORAL_RESTART=ipc                 the Temporal restarts are asked of the parent process
 *                                              over its IPC channel ({type:'restart-temporal'}, answered
 *                                              {type:'temporal-restarted'} once it serves again); without
 *                                              it an external Temporal is not restarted (and that check
 *                                              is left out)
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Gp2gpClient } from '../../client';
import { mapConcurrent } from '../../client/concurrency';
import { loadConfig, PROJECT_ROOT, type Config } from '../../config';
import { generateTraffic, prng, syntheticPractice } from '../../demo/traffic';
import { MeshClient } from '../../mesh';
import { recordKeyOf, type HookEvent } from '../../mi/events';
import { API_ENDPOINTS } from '../../mi/registrations-api';
import { withEventId } from '../../mi/event-id';
import { AuthorityMailbox, type ReceivedFile } from '../../stack/authority';
import { REGISTRATIONS_API_BASE_PATH, startRegistrationsApiStandIn } from '../../stack/registrations-api-stand-in';
import { provision, type Tools } from '../../stack/provision';
import { freePort, startMeshSandbox, startTemporalDevServer, stopProcess, type ServerHandle } from '../../stack/servers';
import { transferWorkflowId } from '../../workflows/ids';
import { transferQuery, type TransferView } from '../../messages/transfer';
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy';
import { recordSetsOf } from '../support/record-sets';
import { expectedApiEvents, hasApiStages, proveApiDelivery, withApiStages, type LossWindow } from './registrations-api';

// ---- settings -------------------------------------------------------------------------------------

const N_PRACTICES = Number(process.env.CHAOS_PRACTICES ?? 30);
const N_DAYS = Number(process.env.CHAOS_DAYS ?? 2);
const REGISTRATIONS = Number(process.env.CHAOS_REGISTRATIONS ?? 4);
/** Hard limit on the whole run: everything is stopped and the run fails after this. */
const BUDGET_MS = Number(process.env.CHAOS_BUDGET_SECONDS ?? 600) * 1000;
const SEED = Number(process.env.CHAOS_SEED ?? 20260327);
/** From setting up the processes to the hand-over point of today's rows. */
const HAND_OVER_AFTER_MS = Number(process.env.CHAOS_HAND_OVER_AFTER_SECONDS ?? 20) * 1000;
/** The practices' slots after the point. */
const HAND_OVER_SPREAD_MS = 10_000;
const SUPPLIER = 'X26CHS001';
const AUTHORITY = 'X26CHN001';
const PASSWORD = 'password';
const TOKEN = `chaos-${randomBytes(16).toString('hex')}`;
/** The GP Registrations MI API stand-in's key (its `apikey` header) and our reportingSystemSupplier. */
const API_KEY = randomBytes(24).toString('hex');
const REPORTING_SYSTEM_SUPPLIER = 'X26CHSUPP';
const CLIENT_CONCURRENCY = 12;
const HTTP_BATCH = 20;
const HTTP_CONCURRENCY = 3;
/** Another Temporal than a dev server of our own (e.g. test:cluster's full server on PostgreSQL). */
const EXTERNAL_TEMPORAL = process.env.CHAOS_TEMPORAL_ADDRESS || undefined;
const NAMESPACE = EXTERNAL_TEMPORAL ? (process.env.CHAOS_TEMPORAL_NAMESPACE ?? 'default') : 'default';
/** Worker processes polling the task queue; one is killed at a time. */
const N_WORKERS = Math.max(1, Number(process.env.CHAOS_WORKERS ?? 1));
/** The parent restarts the external Temporal when asked over IPC. */
const RESTART_VIA_IPC = !!EXTERNAL_TEMPORAL && process.env.CHAOS_TEMPORAL_RESTART === 'ipc' && typeof process.send === 'function';

const startedAt = Date.now();
const hardDeadline = startedAt + BUDGET_MS;
const say = (line: string) => console.log(`[chaos ${((Date.now() - startedAt) / 1000).toFixed(1).padStart(6)}s] ${line}`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));


function utcDay(offsetDays: number): string {
  return new Date(Date.now() + offsetDays * 86_400_000).toISOString().slice(0, 10);
}

function practiceSettings(ods: string, i: number) {
  return syntheticPractice(ods, 300_000_000_000 + i);
}

// ---- counters -------------------------------------------------------------------------------------

const counts = {
  eventsGenerated: 0,
  sends: 0,
  duplicateSends: 0,
  accepted: 0,
  duplicate: 0,
  refused: 0,
  clientRetries: 0,
  httpRetries: 0,
  workerKills: 0,
  workerUnexpectedExits: 0,
  workerStarts: 0,
  temporalRestarts: 0,
  submitRetries: 0,
};

// ---- processes ------------------------------------------------------------------------------------

/** A `tsx <script>` process in its own process group, restarted when it exits unless we stopped it. */
class Supervised {
  private child: ChildProcess | undefined;
  private stopping = false;
  private killedOnPurpose = false;
  starts = 0;

  constructor(
    readonly name: string,
    readonly script: string,
    readonly env: NodeJS.ProcessEnv,
    readonly logFile: string,
    readonly onUnexpectedExit: (code: number | null, signal: NodeJS.Signals | null) => void,
  ) {}

  start(): void {
    const out = fs.openSync(this.logFile, 'a');
    const child = spawn(process.execPath, [require.resolve('tsx/cli'), path.join(PROJECT_ROOT, this.script)], {
      env: this.env,
      stdio: ['ignore', out, out],
      detached: true,
      cwd: PROJECT_ROOT,
    });
    fs.closeSync(out);
    this.child = child;
    this.starts++;
    child.once('exit', (code, signal) => {
      if (this.stopping) return;
      if (this.killedOnPurpose) {
        this.killedOnPurpose = false;
        return;
      }
      this.onUnexpectedExit(code, signal);
      setTimeout(() => {
        if (!this.stopping && this.child === child) this.start();
      }, 1_000);
    });
  }

  /** SIGKILL to the whole process group (tsx runs node as a child): no chance to clean up. */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    this.killedOnPurpose = true;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      child.kill('SIGKILL');
    }
    await exited;
  }

  async stop(): Promise<void> {
    this.stopping = true;
    if (this.child) await stopProcess(this.child);
  }
}

// ---- the run ---------------------------------------------------------------------------------------

interface Check {
  name: string;
  ok: boolean;
  detail: string;
}

/** Asks the parent (npm run test:cluster) to restart its Temporal server; resolves once it serves again. */
function restartExternalTemporal(): Promise<void> {
  return new Promise((resolve, reject) => {
    const onMessage = (m: unknown) => {
      const msg = m as { type?: string; error?: string };
      if (msg?.type !== 'temporal-restarted') return;
      process.off('message', onMessage);
      if (msg.error) reject(new Error(`the parent could not restart Temporal: ${msg.error}`));
      else resolve();
    };
    process.on('message', onMessage);
    process.send!({ type: 'restart-temporal' });
  });
}

async function main(): Promise<Check[]> {
  const tools: Tools = provision((line) => say(line));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gp2gp-mi-chaos-'));
  const cleanups: (() => Promise<void>)[] = [];
  const cleanup = async () => {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
    if (!process.env.KEEP_CHAOS_DIR) fs.rmSync(dir, { recursive: true, force: true });
    else say(`files and logs kept in ${dir}`);
  };
  const watchdog = setTimeout(() => {
    say(`budget of ${BUDGET_MS / 1000}s used up: stopping everything`);
    void cleanup().finally(() => {
      console.log('0 passed, 1 failed');
      process.exit(1);
    });
  }, BUDGET_MS);
  watchdog.unref();

  try {
    return await run(tools, dir, cleanups);
  } finally {
    clearTimeout(watchdog);
    await cleanup();
  }
}

async function run(tools: Tools, dir: string, cleanups: (() => Promise<void>)[]): Promise<Check[]> {
  const checks: Check[] = [];
  const check = (name: string, ok: boolean, detail = '') => {
    checks.push({ name, ok, detail });
    say(`${ok ? 'PASS' : 'FAIL'} ${name}${detail ? ` — ${detail}` : ''}`);
  };

  // -- servers: our own, on free loopback ports (or an external Temporal, CHAOS_TEMPORAL_ADDRESS)
  const temporalPort = await freePort();
  const dbFile = path.join(dir, 'temporal.sqlite');
  const startTemporal = (): Promise<Pick<ServerHandle, 'address' | 'stop'>> =>
    EXTERNAL_TEMPORAL
      ? Promise.resolve({ address: EXTERNAL_TEMPORAL, stop: () => Promise.resolve() })
      : startTemporalDevServer({ tools, port: temporalPort, dbFile, namespace: NAMESPACE, logFile: path.join(dir, 'temporal.log') });
  let temporal = await startTemporal();
  cleanups.push(() => temporal.stop());
  const temporalRestartable = !EXTERNAL_TEMPORAL || RESTART_VIA_IPC;
  const temporalWhat = EXTERNAL_TEMPORAL
    ? `external Temporal ${EXTERNAL_TEMPORAL}, namespace ${NAMESPACE}${RESTART_VIA_IPC ? ', restarted by the parent on its database' : ', not restarted'}`
    : `Temporal dev server ${temporal.address} (SQLite ${dbFile})`;
  const sharedKey = randomBytes(16).toString('hex');
  const mesh = await startMeshSandbox({
    tools,
    port: await freePort(),
    storeDir: path.join(dir, 'mesh-store'),
    sharedKey,
    mailboxes: [SUPPLIER, AUTHORITY],
    logFile: path.join(dir, 'mesh-sandbox.log'),
  });
  cleanups.push(() => mesh.stop());
  say(`${temporalWhat}, MESH sandbox ${mesh.address}`);

  // -- the fault proxy between the worker and MESH: a few sure faults first, then random ones
  const random = prng(SEED);
  const proxy: FaultProxy = await startFaultProxy({
    target: mesh.address,
    random,
    rules: [
      { method: 'POST', path: /\/outbox$/, action: 'drop-response', times: 2 },
      { method: 'POST', path: /\/outbox$/, action: { status: 503 }, times: 1 },
      { method: 'POST', path: /\/outbox$/, action: 'reset', times: 1 },
      { method: 'POST', path: /\/outbox$/, action: { status: 429, headers: { 'retry-after': '1' } }, times: 1 },
      { method: 'GET', path: /\/inbox$/, action: { status: 502 }, times: 1 },
      { method: 'GET', path: /\/tracking/, action: { delayMs: 1_500 }, times: 1 },
      { method: 'POST', path: /\/outbox$/, action: 'drop-response', times: Infinity, probability: 0.1 },
      { action: { status: 503 }, times: Infinity, probability: 0.03 },
      { action: { status: 429, headers: { 'retry-after': '1' } }, times: Infinity, probability: 0.02 },
      { action: { status: 502 }, times: Infinity, probability: 0.02 },
      { action: { status: 504 }, times: Infinity, probability: 0.01 },
      { action: 'reset', times: Infinity, probability: 0.02 },
      { action: { delayMs: 400 }, times: Infinity, probability: 0.03 },
      { action: { delayMs: 2_000 }, times: Infinity, probability: 0.01 },
      { action: 'drop-response', times: Infinity, probability: 0.02 },
    ],
  });
  cleanups.push(() => proxy.close());

  // -- the GP Registrations MI API: the stand-in (in this process, its own key and folder), and a fault
  // proxy between the worker and it: sure faults first, then random ones. A dropped answer is one the
  // stand-in acted on (recorded) before the proxy closed the connection; a reset is never forwarded.
  const standIn = await startRegistrationsApiStandIn({ port: 0, apiKey: API_KEY, dir: path.join(dir, 'registrations-api') });
  cleanups.push(() => standIn.stop());
  const posts = new RegExp(`^${REGISTRATIONS_API_BASE_PATH}/[a-z-]+$`);
  const apiProxy: FaultProxy = await startFaultProxy({
    target: standIn.origin,
    random: prng(SEED + 12),
    rules: [
      { method: 'POST', path: posts, action: 'drop-response', times: 2 },
      { method: 'POST', path: posts, action: { status: 503 }, times: 1 },
      { method: 'POST', path: posts, action: 'reset', times: 1 },
      { method: 'POST', path: posts, action: { status: 429, headers: { 'retry-after': '1' } }, times: 1 },
      { method: 'POST', path: posts, action: 'drop-response', times: Infinity, probability: 0.03 },
      { method: 'POST', path: posts, action: { status: 503 }, times: Infinity, probability: 0.03 },
      { method: 'POST', path: posts, action: { status: 429, headers: { 'retry-after': '1' } }, times: Infinity, probability: 0.02 },
      { method: 'POST', path: posts, action: { status: 502 }, times: Infinity, probability: 0.01 },
      { method: 'POST', path: posts, action: 'reset', times: Infinity, probability: 0.02 },
      { method: 'POST', path: posts, action: { delayMs: 300 }, times: Infinity, probability: 0.02 },
    ],
  });
  cleanups.push(() => apiProxy.close());
  say(`Registrations API stand-in ${standIn.url}, behind a fault proxy at ${apiProxy.url}`);

  // -- practices, configuration, processes
  const practices = Array.from({ length: N_PRACTICES }, (_, i) => practiceSettings(`K${81000 + i}`, i));
  const practicesFile = path.join(dir, 'practices.json');
  fs.writeFileSync(practicesFile, JSON.stringify({ practices }, null, 2));
  const apiPort = await freePort();
  // Today's rows (the later stages of yesterday's transfers) wait in their transfers for the day's
  // hand-over point: set into the ingestion's chaos, so the hand-over itself meets the worker kills and
  // the Temporal restart. Near midnight, when the point would fall tomorrow, rows go at once.
  const handOverPoint = Date.now() + HAND_OVER_AFTER_MS;
  const handOverAt = new Date(handOverPoint + HAND_OVER_SPREAD_MS).toISOString().slice(0, 10) === utcDay(0) ? new Date(handOverPoint).toISOString().slice(11, 19) : 'immediate';
  say(`rows of today handed over at ${handOverAt}${handOverAt === 'immediate' ? '' : ' UTC'} (GP2GP_HAND_OVER_AT)`);
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    TEMPORAL_ADDRESS: temporal.address,
    TEMPORAL_NAMESPACE: NAMESPACE,
    TEMPORAL_TASK_QUEUE: 'gp2gp-mi-chaos',
    MESH_URL: proxy.url,
    MESH_MAILBOX: SUPPLIER,
    MESH_PASSWORD: PASSWORD,
    MESH_SHARED_KEY: sharedKey,
    MESH_TO: AUTHORITY,
    GP2GP_PRACTICES: practicesFile,
    GP2GP_DATA_DIR: dir,
    GP2GP_INBOX_POLL_SECONDS: '1',
    GP2GP_TRACKING_INTERVAL_SECONDS: '0.5',
    GP2GP_TRACKING_MAX_INTERVAL_SECONDS: '2',
    GP2GP_METRICS_PORT: '0',
    LOG_LEVEL: 'warn',
    GP2GP_API_PORT: String(apiPort),
    GP2GP_API_TOKENS: TOKEN,
    GP2GP_API_RATE_LIMIT_PER_MINUTE: '1000000',
    GP2GP_API_TEMPORAL_TIMEOUT_SECONDS: '15',
    GP2GP_OUTPUTS: 'both',
    GP2GP_HAND_OVER_AT: handOverAt,
    GP2GP_HAND_OVER_SPREAD_SECONDS: String(HAND_OVER_SPREAD_MS / 1000),
    GP2GP_REGISTRATIONS_API_URL: `${apiProxy.url}${REGISTRATIONS_API_BASE_PATH}`,
    GP2GP_REGISTRATIONS_API_KEY: API_KEY,
    GP2GP_REPORTING_SYSTEM_SUPPLIER: REPORTING_SYSTEM_SUPPLIER,
  };
  // When the pipeline itself may have lost an API post's completion (the post is then made again).
  const lossWindows: LossWindow[] = [];
  const workers = Array.from({ length: N_WORKERS }, (_, i) => {
    const name = N_WORKERS === 1 ? 'worker' : `worker ${i + 1}`;
    const logFile = path.join(dir, N_WORKERS === 1 ? 'worker.log' : `worker-${i + 1}.log`);
    return new Supervised(name, 'worker/main.ts', env, logFile, (code, signal) => {
      counts.workerUnexpectedExits++;
      lossWindows.push({ from: Date.now() - 1_000, to: Date.now(), what: `${name} exit` });
      say(`${name} exited by itself (${signal ?? code}); restarting it, as npm start's supervisor does`);
    });
  });
  for (const worker of workers) {
    worker.start();
    cleanups.push(() => worker.stop());
  }
  if (N_WORKERS > 1) say(`${N_WORKERS} worker processes on task queue ${env.TEMPORAL_TASK_QUEUE}; the chaos kills one at a time`);
  const api = new Supervised('api', 'api/main.ts', env, path.join(dir, 'api.log'), (code, signal) => {
    say(`HTTP API exited by itself (${signal ?? code}); restarting it`);
  });
  api.start();
  cleanups.push(() => api.stop());

  const config: Config = loadConfig(env);
  const client = await Gp2gpClient.connect(config);
  cleanups.push(() => client.close());
  const apiUrl = `http://127.0.0.1:${apiPort}`;

  // -- the traffic
  const days = Array.from({ length: N_DAYS }, (_, i) => utcDay(i - N_DAYS));
  const notAfter = new Date(Date.now() - 60_000).toISOString();
  // With outputs both, the traffic also carries the API's fields and stages: demo/traffic.ts's `api`
  // option makes them; a generator without it gets them added here (test/chaos/registrations-api.ts).
  const trafficOptions = {
    practices: practices.map((p) => p.ods),
    days,
    registrationsPerPracticeDay: REGISTRATIONS,
    seed: SEED,
    notAfter,
    api: true,
  };
  const generated = generateTraffic(trafficOptions);
  const apiStagesAdded = !hasApiStages(generated);
  const events = (apiStagesAdded ? withApiStages(generated, { random: prng(SEED + 1), notAfter }) : generated).map(
    (e) => withEventId(e) as HookEvent & { eventId: string },
  );
  counts.eventsGenerated = events.length;
  // Arrival order never matters: shuffle, then re-send about one event in eight later on.
  const order = events.map((_, i) => i);
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  const sends: { index: number; duplicate: boolean }[] = order.map((index) => ({ index, duplicate: false }));
  for (let k = 0; k < events.length / 8; k++) {
    const index = order[Math.floor(random() * order.length)]!;
    const at = Math.min(sends.length, Math.floor(sends.length * (0.3 + 0.7 * random())) + 1);
    sends.splice(at, 0, { index, duplicate: true });
  }
  say(`${events.length} events for ${N_PRACTICES} practices × ${N_DAYS} days (${days.join(', ')}), ${events.filter((e) => e.occurredAt.startsWith(utcDay(0))).length} of them of today, ${sends.length} sends with re-sent duplicates`);

  const outcome = new Map<number, 'accepted' | 'duplicate' | 'refused'>();
  const refusals: string[] = [];
  const note = (index: number, status: 'accepted' | 'duplicate' | 'refused', message?: string) => {
    counts[status]++;
    if (status === 'refused') refusals.push(`${events[index]!.eventId}: ${message}`);
    // The first answer that says the event is recorded is what counts; a refusal never overrides it.
    const before = outcome.get(index);
    if (before === undefined || before === 'refused') outcome.set(index, status);
  };

  // Why an event not yet recorded was last refused an answer: printed when ingestion stalls, so a run
  // that cannot finish says what it kept meeting (the events are synthetic; IDs carry no patient data).
  const lastFailure = new Map<number, string>();
  const failed = (index: number, err: unknown) => {
    const cause = err instanceof Error && err.cause instanceof Error ? `; cause: ${err.cause.message}` : '';
    lastFailure.set(index, `${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}${cause}`.slice(0, 400));
  };

  const viaClient = async (index: number) => {
    for (let attempt = 1; ; attempt++) {
      if (Date.now() > hardDeadline) throw new Error('deadline');
      try {
        const o = await client.temporal.withDeadline(Date.now() + 20_000, () => client.recordEvent(events[index]));
        note(index, o.status, o.status === 'refused' ? o.message : undefined);
        return;
      } catch (err) {
        failed(index, err);
        counts.clientRetries++;
        await sleep(Math.min(5_000, 200 * 2 ** Math.min(attempt, 5)));
      }
    }
  };

  const viaHttp = async (indices: number[]) => {
    let pending = indices;
    for (let attempt = 1; pending.length; attempt++) {
      if (Date.now() > hardDeadline) throw new Error('deadline');
      try {
        const res = await fetch(`${apiUrl}/v1/events`, {
          method: 'POST',
          headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
          body: JSON.stringify({ events: pending.map((i) => events[i]) }),
          signal: AbortSignal.timeout(60_000),
        });
        const body = (await res.json()) as { results?: { index: number; status: string; error?: { message: string } }[] };
        if (!body.results) throw new Error(`HTTP ${res.status}`);
        const again: number[] = [];
        for (const r of body.results) {
          const index = pending[r.index]!;
          if (r.status === 'accepted' || r.status === 'duplicate' || r.status === 'refused') note(index, r.status, r.error?.message);
          else {
            failed(index, new Error(`HTTP API answered ${r.status}${r.error?.message ? `: ${r.error.message}` : ''}`));
            again.push(index);
          }
        }
        if (again.length) counts.httpRetries++;
        pending = again;
      } catch (err) {
        for (const index of pending) failed(index, err);
        counts.httpRetries++;
      }
      if (pending.length) await sleep(Math.min(5_000, 200 * 2 ** Math.min(attempt, 5)));
    }
  };

  // Client and HTTP share the sends: even positions through the client, odd ones in HTTP batches.
  const clientSends = sends.filter((_, i) => i % 2 === 0);
  const httpSends = sends.filter((_, i) => i % 2 === 1);
  counts.sends = sends.length;
  counts.duplicateSends = sends.filter((s) => s.duplicate).length;
  let ingesting = true;
  const ingest = (async () => {
    let next = 0;
    const clientLane = async () => {
      for (let i = next++; i < clientSends.length; i = next++) await viaClient(clientSends[i]!.index);
    };
    const batches: number[][] = [];
    for (let i = 0; i < httpSends.length; i += HTTP_BATCH) batches.push(httpSends.slice(i, i + HTTP_BATCH).map((s) => s.index));
    let nextBatch = 0;
    const httpLane = async () => {
      for (let i = nextBatch++; i < batches.length; i = nextBatch++) await viaHttp(batches[i]!);
    };
    await Promise.all([
      ...Array.from({ length: CLIENT_CONCURRENCY }, clientLane),
      ...Array.from({ length: HTTP_CONCURRENCY }, httpLane),
    ]);
    ingesting = false;
  })();

  // -- the chaos: actions at intervals, during ingestion and then during delivery
  const killWorker = async () => {
    // One at a time, in turn: with several workers the others keep polling meanwhile.
    const worker = workers[counts.workerKills % workers.length]!;
    lossWindows.push({ from: Date.now(), to: Date.now(), what: `${worker.name} SIGKILL` });
    await worker.kill();
    counts.workerKills++;
    say(`SIGKILL ${worker.name} (${counts.workerKills}); accepted so far ${outcome.size}/${events.length}`);
    await sleep(1_500);
    worker.start();
  };
  const restartTemporal = async () => {
    if (!temporalRestartable) {
      say('(the external Temporal is not restarted: no CHAOS_TEMPORAL_RESTART=ipc)');
      return;
    }
    const from = Date.now();
    if (EXTERNAL_TEMPORAL) {
      say(`asking the parent to restart the Temporal server; accepted so far ${outcome.size}/${events.length}`);
      await restartExternalTemporal();
      counts.temporalRestarts++;
      say(`Temporal server running again on its database (${counts.temporalRestarts})`);
    } else {
      say(`stopping the Temporal dev server; accepted so far ${outcome.size}/${events.length}`);
      await temporal.stop();
      await sleep(3_000);
      temporal = await startTemporal();
      counts.temporalRestarts++;
      say(`Temporal dev server running again on the same SQLite file (${counts.temporalRestarts})`);
    }
    lossWindows.push({ from, to: Date.now(), what: 'Temporal restart' });
  };
  // A stall (no event recorded for 30 s while some are not) is described once per stall: each waiting
  // event's last failure and its transfer workflow's state, as the server sees it.
  let lastCount = -1;
  let lastMoved = Date.now();
  let stallReported = false;
  const progress = setInterval(() => {
    say(`… ${outcome.size}/${events.length} recorded`);
    if (outcome.size !== lastCount) {
      lastCount = outcome.size;
      lastMoved = Date.now();
      stallReported = false;
    } else if (!stallReported && Date.now() - lastMoved >= 30_000) {
      stallReported = true;
      void reportStall();
    }
  }, 10_000);
  const reportStall = async () => {
    const waiting = events.map((_, i) => i).filter((i) => !outcome.has(i));
    say(`no event recorded for 30 s; ${waiting.length} waiting${waiting.length > 10 ? ' (the first 10)' : ''}:`);
    for (const index of waiting.slice(0, 10)) {
      const k = recordKeyOf(events[index]!);
      const id = transferWorkflowId(k.side, k.practiceOds, k.key);
      let state: string;
      try {
        const d = await client.temporal.withDeadline(Date.now() + 10_000, () => client.temporal.workflow.getHandle(id).describe());
        const raw = d.raw.pendingWorkflowTask;
        const task = raw ? `, workflow task ${raw.state === 2 ? 'started' : 'scheduled'} (attempt ${raw.attempt ?? '?'})` : ', no workflow task pending';
        state = `${d.status.name}, ${d.historyLength} history events${task}`;
      } catch (err) {
        state = `describe failed: ${err instanceof Error ? err.message : String(err)}`;
      }
      say(`  ${id} (${events[index]!.type}): ${state}; last failure: ${lastFailure.get(index) ?? 'none yet (in flight)'}`);
    }
    // And what the workers last logged as errors (pino level 50 and above), a few lines each.
    for (const w of [...workers, api]) {
      const lines = fs.existsSync(w.logFile) ? fs.readFileSync(w.logFile, 'utf8').split('\n') : [];
      const errors = lines.filter((l) => /"level":(5\d|60)\b/.test(l)).slice(-5);
      for (const line of errors) say(`  ${w.name} log: ${line.slice(0, 600)}`);
    }
  };
  void ingest.finally(() => clearInterval(progress));
  const ingestChaos = [killWorker, restartTemporal, killWorker, killWorker];
  for (const action of ingestChaos) {
    await Promise.race([sleep(5_000), ingest]);
    await action();
  }
  await ingest;
  say(`ingested: ${outcome.size} of ${events.length} events recorded (${counts.accepted} accepted, ${counts.duplicate} duplicate answers, ${counts.refused} refused)`);
  if (ingesting) throw new Error('ingestion did not finish');

  // -- every transfer has handed its rows to its practice's reporting workflow
  const transferIds = [...new Set(events.map((e) => { const k = recordKeyOf(e); return transferWorkflowId(k.side, k.practiceOds, k.key); }))];
  await mapConcurrent(transferIds, 8, async (id) => {
    for (;;) {
      if (Date.now() > hardDeadline) throw new Error('deadline');
      try {
        const view = await client.temporal.withDeadline(Date.now() + 20_000, () => client.temporal.workflow.getHandle(id).query(transferQuery));
        if (!view.forwarding) return;
      } catch {
        /* server or worker down for a moment */
      }
      await sleep(500);
    }
  });
  say(`all ${transferIds.length} transfer workflows have forwarded their rows`);

  // -- submit every practice's days while the worker is killed and Temporal restarted again
  const authorityMesh = new MeshClient({ url: mesh.address, mailbox: AUTHORITY, password: PASSWORD, sharedKey, retry: { baseDelayMs: 100 } });
  cleanups.push(() => authorityMesh.close());
  const authority = new AuthorityMailbox(authorityMesh, { workflowId: config.mesh.workflowId });
  const received: ReceivedFile[] = [];
  const collect = async () => {
    try {
      received.push(...(await authority.collect()));
    } catch {
      /* collected next time */
    }
  };
  const submitted = new Set<string>();
  const submitAll = mapConcurrent(practices, 4, async (p) => {
    for (;;) {
      if (Date.now() > hardDeadline) throw new Error('deadline');
      try {
        const [r] = await client.temporal.withDeadline(Date.now() + 20_000, () => client.submit({ practiceOds: p.ods, days }));
        for (const s of r!.result.submissions) submitted.add(s.submissionId);
        return;
      } catch {
        counts.submitRetries++;
        await sleep(1_000);
      }
    }
  });
  const deliveryChaos = [killWorker, restartTemporal, killWorker];
  let delivered = false;
  const untilDelivered = (async () => {
    await submitAll;
    say(`submitted: ${submitted.size} submissions started`);
    for (;;) {
      if (Date.now() > hardDeadline) throw new Error('deadline');
      await collect();
      let done = 0;
      for (const p of practices) {
        try {
          const v = await client.temporal.withDeadline(Date.now() + 10_000, () => client.reportingStatus(p.ods));
          if (v.inFlight.length === 0 && days.every((d) => !v.pendingDays.includes(d)) && v.lastDeliveredDay !== undefined && v.lastDeliveredDay >= days[days.length - 1]!) done++;
        } catch {
          /* down for a moment */
        }
      }
      if (done === practices.length) break;
      await sleep(1_000);
    }
    await collect();
    delivered = true;
  })();
  for (const action of deliveryChaos) {
    await Promise.race([sleep(4_000), untilDelivered]);
    await action();
  }
  await untilDelivered;
  say(`delivered: every practice's days acknowledged; ${received.length} files collected from the Authority's mailbox`);

  // -- every transfer has posted its API events (or ended a post failed): none pending
  const apiViews = new Map<string, TransferView['apiDelivery'] | null>();
  await mapConcurrent(transferIds, 8, async (id) => {
    for (;;) {
      if (Date.now() > hardDeadline) throw new Error('deadline');
      try {
        const view = await client.temporal.withDeadline(Date.now() + 20_000, () => client.temporal.workflow.getHandle(id).query(transferQuery));
        if (view.apiDelivery?.status !== 'pending') {
          apiViews.set(id, view.outputs === 'both' ? (view.apiDelivery ?? null) : null);
          return;
        }
      } catch {
        /* server or worker down for a moment */
      }
      await sleep(500);
    }
  });
  const apiFailed = [...apiViews].filter(([, v]) => v?.status === 'failed');
  const notReporting = [...apiViews].filter(([, v]) => v === null).map(([id]) => id);
  say(`API delivery settled for all ${transferIds.length} transfers (${apiFailed.length} with a failed post)`);

  // -- the proof
  const acceptedEvents = events.filter((_, i) => outcome.get(i) === 'accepted' || outcome.get(i) === 'duplicate');
  const eventsFile = path.join(dir, 'accepted-events.jsonl');
  fs.writeFileSync(eventsFile, acceptedEvents.map((e) => JSON.stringify(e)).join('\n') + '\n');
  const rendered = execFileSync(
    process.execPath,
    [path.join(PROJECT_ROOT, 'bin', 'gp2gp-mi.js'), 'render', '--events', eventsFile, '--practices', practicesFile, '--from', days[0]!, '--to', days[days.length - 1]!],
    { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 },
  );
  const expected = recordSetsOf(rendered);

  // The latest version of each ODS + date: highest submission sequence, then file number.
  const versionOf = (localId: string | undefined): [number, number] => {
    const m = /-(\d+)-f(\d+)$/.exec(localId ?? '');
    return m ? [Number(m[1]), Number(m[2])] : [-1, -1];
  };
  const latest = new Map<string, { set: string; version: [number, number] }>();
  let receivedSets = 0;
  for (const file of received) {
    const version = versionOf(file.metadata.localId);
    for (const [key, set] of recordSetsOf(file.content)) {
      receivedSets++;
      const before = latest.get(key);
      if (!before || version[0] > before.version[0] || (version[0] === before.version[0] && version[1] > before.version[1])) latest.set(key, { set, version });
    }
  }
  const localIds = received.map((f) => f.metadata.localId ?? '(none)');
  const sentTwice = [...new Set(localIds.filter((id, i) => localIds.indexOf(id) !== i))];

  const rowsOf = (set: string) => set.split('\r\n').filter((l) => /^(RR|SR),/.test(l));
  let expectedRows = 0;
  let receivedRows = 0;
  let lost = 0;
  let invented = 0;
  let duplicated = 0;
  const missingSets: string[] = [];
  const differingSets: string[] = [];
  for (const [key, set] of expected) {
    const want = rowsOf(set);
    expectedRows += want.length;
    const got = latest.get(key);
    if (!got) {
      missingSets.push(key);
      lost += want.length;
      continue;
    }
    const have = rowsOf(got.set);
    receivedRows += have.length;
    const wantCount = multiset(want);
    const haveCount = multiset(have);
    for (const [row, n] of wantCount) lost += Math.max(0, n - (haveCount.get(row) ?? 0));
    for (const [row, n] of haveCount) {
      const w = wantCount.get(row) ?? 0;
      if (w === 0) invented += n;
      else if (n > w) duplicated += n - w;
    }
    if (got.set !== set) differingSets.push(key);
  }
  const extraSets = [...latest.keys()].filter((k) => !expected.has(k));
  for (const k of extraSets) invented += rowsOf(latest.get(k)!.set).length;
  const notRecorded = events.length - [...outcome.values()].filter((s) => s !== 'refused').length;
  const faults = proxy.counts();
  const faultKinds = {
    '5xx': Object.entries(faults).filter(([k]) => /^status 5/.test(k)).reduce((n, [, v]) => n + v, 0),
    '429': faults['status 429'] ?? 0,
    reset: faults.reset ?? 0,
    delay: faults.delay ?? 0,
    'drop-response': faults['drop-response'] ?? 0,
  };

  // The API, event by event: what the accepted events imply (offline) against what the stand-in accepted.
  const expectedApi = expectedApiEvents(acceptedEvents, REPORTING_SYSTEM_SUPPLIER);
  const apiProof = proveApiDelivery(expectedApi, standIn.requests(), lossWindows);
  const apiFaults = apiProxy.counts();
  const apiFaultKinds = {
    '503': apiFaults['status 503'] ?? 0,
    '502': apiFaults['status 502'] ?? 0,
    '429': apiFaults['status 429'] ?? 0,
    reset: apiFaults.reset ?? 0,
    delay: apiFaults.delay ?? 0,
    'drop-response': apiFaults['drop-response'] ?? 0,
  };
  // Answers the stand-in itself gave other than 2xx (a refused request: a bad body, path or key).
  const standInRefusals = apiProxy.requests.filter((r) => (r.action === 'forward' || r.action === 'delay') && r.status !== undefined && r.status >= 300);
  const lostAnswers = apiFaultKinds['drop-response'] + apiFaultKinds.reset;
  const endpointLine = API_ENDPOINTS.map((e) => `${e} ${apiProof.byEndpoint[e]?.received ?? 0}/${apiProof.byEndpoint[e]?.expected ?? 0}`).join(', ');

  console.log('');
  console.log('chaos run');
  console.log(`  events generated        ${events.length} (${N_PRACTICES} practices × ${N_DAYS} days, ${transferIds.length} transfers)`);
  console.log(`  sends                   ${counts.sends} (${counts.duplicateSends} re-sent duplicates; half via client, half via HTTP API)`);
  console.log(`  events accepted         ${acceptedEvents.length} of ${events.length} (answers: ${counts.accepted} accepted, ${counts.duplicate} duplicate, ${counts.refused} refused)`);
  console.log(`  retries by the driver   client ${counts.clientRetries}, HTTP ${counts.httpRetries}, submit ${counts.submitRetries}`);
  console.log(`  Temporal                ${temporalWhat}`);
  console.log(`  worker SIGKILLs         ${counts.workerKills}${N_WORKERS > 1 ? ` across ${N_WORKERS} worker processes, one at a time` : ''} (restarts ${workers.reduce((n, w) => n + w.starts - 1, 0)}, exits on their own ${counts.workerUnexpectedExits})`);
  console.log(`  Temporal restarts       ${counts.temporalRestarts} (${EXTERNAL_TEMPORAL ? (temporalRestartable ? 'the external server, on its database' : 'external: not restarted') : 'same SQLite file'})`);
  console.log(`  MESH requests via proxy ${proxy.requests.length}; faults injected: ${Object.entries(faultKinds).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  console.log(`                          (${Object.entries(faults).filter(([k]) => k !== 'forward').map(([k, v]) => `${k}: ${v}`).join(', ')})`);
  console.log(`  submissions             ${submitted.size} started by submit`);
  console.log(`  files received          ${received.length} (${receivedSets} record sets; ${latest.size} ODS + date, latest version each)`);
  console.log(`  rows                    expected ${expectedRows}, received ${receivedRows}`);
  console.log(`  lost = ${lost}, invented = ${invented}, duplicated = ${duplicated}, MESH messages sent twice = ${sentTwice.length}`);
  console.log(`  API traffic             outputs both; API stages ${apiStagesAdded ? 'added by the chaos suite' : 'from demo/traffic.ts'}; ${apiProof.transfers} transfers with API events`);
  console.log(`  API requests via proxy  ${apiProxy.requests.length}; faults injected: ${Object.entries(apiFaultKinds).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  console.log(`  API events              expected ${apiProof.expected}, accepted by the stand-in ${apiProof.received} (received/expected: ${endpointLine})`);
  console.log(`  API lost = ${apiProof.lost}, invented = ${apiProof.invented}, repeats = ${apiProof.repeats} (${apiProof.repeatsAfterLostAnswers} after answers lost at the proxy, ${apiProof.repeatsAcrossProcessLoss} across a worker SIGKILL / Temporal restart), failed posts = ${apiFailed.length}`);
  console.log('');

  check('every generated event was recorded (accepted or duplicate)', notRecorded === 0, `${notRecorded} not recorded${refusals.length ? `; first refusal: ${refusals[0]}` : ''}`);
  check('every practice-day is present', missingSets.length === 0 && expected.size === N_PRACTICES * N_DAYS, `${latest.size} of ${expected.size} expected (${N_PRACTICES * N_DAYS} practice-days)${missingSets.length ? `; missing ${missingSets.slice(0, 5).join(', ')}` : ''}`);
  check('no row lost', lost === 0, `lost = ${lost}`);
  check('no row invented, no record set invented', invented === 0 && extraSets.length === 0, `invented = ${invented}${extraSets.length ? `; extra ${extraSets.slice(0, 5).join(', ')}` : ''}`);
  check('no row duplicated', duplicated === 0, `duplicated = ${duplicated}`);
  check('each record set byte-equal to the offline render', differingSets.length === 0, differingSets.length ? `differ: ${differingSets.slice(0, 5).join(', ')}` : `${expected.size} record sets`);
  check('no MESH message sent twice for one submission file (local ids unique)', sentTwice.length === 0, sentTwice.length ? `twice: ${sentTwice.slice(0, 5).join(', ')}` : `${localIds.length} messages, ${new Set(localIds).size} local ids`);
  check('every submission delivered (all files acknowledged)', delivered, '');
  check('the worker was SIGKILLed and restarted several times', counts.workerKills >= 3, `${counts.workerKills} kills`);
  if (!EXTERNAL_TEMPORAL) check('the Temporal dev server was restarted on its SQLite file', counts.temporalRestarts >= 2, `${counts.temporalRestarts} restarts`);
  else if (temporalRestartable) check('the external Temporal server was restarted on its database', counts.temporalRestarts >= 2, `${counts.temporalRestarts} restarts`);
  if (N_WORKERS > 1) check(`each of the ${N_WORKERS} worker processes was SIGKILLed while the others polled`, workers.every((w) => w.starts > 1), workers.map((w) => `${w.name}: ${w.starts - 1} restarts`).join(', '));
  check('duplicates were re-sent', counts.duplicateSends > 0, `${counts.duplicateSends} re-sent`);
  check('every kind of MESH fault was injected', Object.values(faultKinds).every((n) => n > 0), JSON.stringify(faultKinds));
  check('every transfer reports to MESH and the API (outputs both)', notReporting.length === 0, notReporting.length ? `not: ${notReporting.slice(0, 5).join(', ')}` : `${transferIds.length} transfers`);
  check('the traffic implies API events at every endpoint', API_ENDPOINTS.every((e) => (apiProof.byEndpoint[e]?.expected ?? 0) > 0), endpointLine);
  check('no API event lost (every expected event at the stand-in)', apiProof.lost === 0, `lost = ${apiProof.lost} of ${apiProof.expected}${apiProof.lostExamples.length ? `; e.g. ${apiProof.lostExamples.join(', ')}` : ''}`);
  check('no API event invented (nothing at the stand-in that no accepted event implies)', apiProof.invented === 0, `invented = ${apiProof.invented}${apiProof.inventedExamples.length ? `; e.g. ${apiProof.inventedExamples.join(' | ')}` : ''}`);
  check(
    'API repeats only where an answer was lost (repeats ≤ dropped answers + resets, besides worker kills / Temporal restarts)',
    apiProof.repeatsAfterLostAnswers <= lostAnswers,
    `repeats = ${apiProof.repeats}: ${apiProof.repeatsAfterLostAnswers} ≤ ${apiFaultKinds['drop-response']} dropped + ${apiFaultKinds.reset} reset, ${apiProof.repeatsAcrossProcessLoss} across a process loss`,
  );
  check('every API body valid (validateApiRequest), expected and received', apiProof.invalidReceived.length === 0 && apiProof.invalidExpected.length === 0, `${apiProof.received} received, ${apiProof.expected} expected${apiProof.invalidReceived.length ? `; invalid received ${apiProof.invalidReceived.slice(0, 3).join(', ')}` : ''}${apiProof.invalidExpected.length ? `; invalid expected ${apiProof.invalidExpected.slice(0, 3).join(', ')}` : ''}`);
  check('no API post failed, and the stand-in refused no request', apiFailed.length === 0 && standInRefusals.length === 0, `failed posts ${apiFailed.length}${apiFailed.length ? ` (${apiFailed[0]![0]}: ${apiFailed[0]![1]?.failed?.reason})` : ''}; stand-in refusals ${standInRefusals.length}${standInRefusals.length ? ` (${standInRefusals[0]!.status} ${standInRefusals[0]!.url})` : ''}`);
  check('every kind of API fault was injected', Object.values(apiFaultKinds).every((n) => n > 0), JSON.stringify(apiFaultKinds));
  return checks;
}

function multiset(rows: string[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const r of rows) m.set(r, (m.get(r) ?? 0) + 1);
  return m;
}

main().then(
  (checks) => {
    const failed = checks.filter((c) => !c.ok).length;
    console.log(`${checks.length - failed} passed, ${failed} failed`);
    process.exit(failed ? 1 : 0);
  },
  (err: unknown) => {
    console.error(`chaos: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    console.log('0 passed, 1 failed');
    process.exit(1);
  },
);
