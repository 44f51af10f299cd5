/**
 * Ingest benchmark: how fast hook events are accepted, through the TypeScript client and through the
 * HTTP API, next to the engine's own limit measured in the same run on the same server — a no-op
 * workflow (bench/noop/) taking the same number of update-with-start calls, with the same payloads,
 * the same number of distinct workflows and the same concurrency. Our figure is reported as a ratio of
 * that baseline (goal ≥ 0.9; CPU per event: server ≤ 1.2×, worker ≤ 2×). Also: the time to ingest a
 * national day (~80k events) extrapolated from the measured client rate, said so in its note; the
 * real run is `npm run bench -- national-day` (bench/national-day.ts).
 *
 * Where our extra cost goes: a fourth side, in the same interleaved rounds, sends the same traffic
 * through the client to the product's own workflows in an attribution worker that does everything but
 * hand rows to the reporting workflows (bench/without-hand-over/). Baseline → without hand-over is
 * the transfer workflow's own work; without hand-over → ours is the hand-over.
 *
 * It starts its own Temporal dev server (SQLite) and MESH sandbox; the product's worker, the no-op
 * worker and the HTTP API each run as a separate process, as deployed. With TEMPORAL_ADDRESS set it
 * runs on that Temporal instead — e.g. the production-shaped cluster (full server on PostgreSQL) that
 * `npm run test:cluster -- --serve` keeps up: paste the two lines it prints, whose TEMPORAL_SERVER_PID
 * and POSTGRES_PID make the engine's CPU per event the server's plus its database's. An external
 * engine keeps what earlier runs left, so each run there draws its own registrations (a fresh seed).
 *
 *   npx tsx bench/ingest.ts       (or npm run bench -- ingest)
 *   BENCH_INGEST_PRACTICES=30 BENCH_INGEST_DAYS=4 BENCH_INGEST_CONCURRENCY=32
 *   TEMPORAL_ADDRESS=127.0.0.1:40123 TEMPORAL_NAMESPACE=default TEMPORAL_SERVER_PID=… POSTGRES_PID=… npm run bench -- ingest
 */
import { randomInt } from 'node:crypto';
import * as path from 'node:path';
import { WithStartWorkflowOperation } from '@temporalio/client';
import { generateTraffic } from '../demo/traffic';
import { recordKeyOf, type HookEvent } from '../mi/events';
import { withEventId } from '../mi/event-id';
import { recordEventUpdate, type StoredEvent } from '../messages/transfer';
import { transferWorkflowId } from '../workflows/ids';
import { formatResults, type BenchResult } from './result';
import { Gp2gpClient } from '../client';
import { loadConfig } from '../config';
import { freePort } from '../stack/servers';
import { cpuDuring, externalEngine, handOverSignals, percentile, practiceCodes, startBenchStack, startScript, timedPool, type BenchStack, type ProcessSubject, type Timed } from './stack';

const NATIONAL_DAY_EVENTS = 80_000;
/** bench/noop/worker.ts's cache. */
const NOOP_CACHED_WORKFLOWS = 10_000;

export function utcDay(offsetDays: number): string {
  return new Date(Date.now() + offsetDays * 86_400_000).toISOString().slice(0, 10);
}

export function traffic(practices: string[], days: string[], registrations: number, seed = 11): StoredEvent[] {
  return generateTraffic({ practices, days, registrationsPerPracticeDay: registrations, seed, notAfter: new Date(Date.now() - 60_000).toISOString() }).map(
    (e) => withEventId(e),
  );
}

/** Each event as an update-with-start of the no-op workflow (bench/noop/), the engine's own cost. */
export async function baseline(stack: BenchStack, events: StoredEvent[], concurrency: number): Promise<Timed> {
  const temporal = stack.client.temporal;
  return await timedPool(events, concurrency, async (event) => {
    const { side, practiceOds, key } = recordKeyOf(event);
    // The transfer's own update: the no-op workflow answers it under the same name.
    const result = await temporal.workflow.executeUpdateWithStart(recordEventUpdate, {
      args: [event],
      updateId: `event-${event.eventId}`,
      startWorkflowOperation: new WithStartWorkflowOperation('noopWorkflow', {
        workflowId: `noop-${transferWorkflowId(side, practiceOds, key)}`,
        taskQueue: 'bench-noop',
        args: [],
        workflowIdConflictPolicy: 'USE_EXISTING',
      }),
    });
    if (result.outcome !== 'accepted') throw new Error(`baseline: ${JSON.stringify(result)}`);
  });
}

export async function viaClient(stack: BenchStack, events: HookEvent[], concurrency: number): Promise<Timed> {
  return await timedPool(events, concurrency, async (event) => {
    const o = await stack.client.recordEvent(event);
    if (o.status !== 'accepted') throw new Error(`client: ${JSON.stringify(o)}`);
  });
}

async function viaHttp(stack: BenchStack, events: HookEvent[], concurrency: number): Promise<Timed> {
  const api = stack.api!;
  return await timedPool(events, concurrency, async (event) => {
    const res = await fetch(`${api.url}/v1/events`, {
      method: 'POST',
      headers: { authorization: `Bearer ${api.token}`, 'content-type': 'application/json' },
      body: JSON.stringify(event),
    });
    const body = (await res.json()) as { status?: string };
    if (res.status !== 200 || body.status !== 'accepted') throw new Error(`http: ${res.status} ${JSON.stringify(body)}`);
  });
}

/** CPU per event of the attribution side against the baseline, with the hand-over's share of ours. */
function attributedCpu(process: 'server' | 'worker', bare: number, baseline: number, ours: number): BenchResult {
  return {
    name: `ingest.cpu.${process}.without-hand-over`,
    value: bare,
    unit: 'ms/event',
    baseline,
    ratio: bare / baseline,
    note: `attribution; the hand-over's share of ingest.cpu.${process}.client: ${(ours - bare).toFixed(2)} ms/event`,
  };
}

/**
 * Events moved onto today's date, in order: from yesterday's 00:00 up to a minute ago (events of later
 * days included) mapped onto today from 00:00 to a minute ago, so they arrive during their own day, as
 * in production.
 */
export function onToday<E extends { occurredAt: string }>(events: readonly E[]): E[] {
  const end = Date.now() - 60_000;
  const todayStart = Date.parse(`${utcDay(0)}T00:00:00Z`);
  const yesterdayStart = todayStart - 86_400_000;
  const scale = (end - todayStart) / (end - yesterdayStart);
  return events.map((e) => {
    const at = todayStart + Math.floor((Date.parse(e.occurredAt) - yesterdayStart) * scale);
    return { ...e, occurredAt: new Date(Math.min(at, end)).toISOString() };
  });
}

/** A day of generated traffic (yesterday's, up to a minute ago) moved onto today (onToday). */
function todaysTraffic(practices: string[], registrations: number, seed: number): StoredEvent[] {
  return onToday(traffic(practices, [utcDay(-1)], registrations, seed));
}

/** `point` as GP2GP_HAND_OVER_AT (HH:MM:SS), if it and the spread after it (ms) end today. */
export function handOverAtToday(point: number, spreadMs: number): string | undefined {
  if (new Date(point + spreadMs).toISOString().slice(0, 10) !== utcDay(0)) return undefined;
  return new Date(point).toISOString().slice(11, 19);
}

/** Waits until `transfers` more forwards than `before` have reached reporting workflows (the worker's metrics). */
export async function untilHandedOver(metricsPort: number, before: { signals: number; forwards: number }, transfers: number, point: number, limitMs: number): Promise<{ signals: number; forwards: number }> {
  for (;;) {
    const now = await handOverSignals(metricsPort);
    if (now.forwards - before.forwards >= transfers) return now;
    if (Date.now() - point > limitMs) throw new Error(`bench: ${transfers - (now.forwards - before.forwards)} transfers had not handed over ${limitMs / 60_000} min after the point`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** The held-rows side's spread of practice slots after the point. */
const HELD_SPREAD_MS = 20_000;

interface HeldRowsRun {
  events: number;
  transfers: number;
  leadMs: number;
  ingestSeconds: number;
  ingestCpu: Record<string, number>;
  handOverSeconds: number;
  handOverCpu: Record<string, number>;
  signals: number;
  forwards: number;
}

/**
 * The production shape (issue 13): events of today, whose rows wait in their transfers until the
 * day's hand-over point (GP2GP_HAND_OVER_AT, here set a little after the events are sent), then go to
 * the reporting workflows all at once. Measured: taking the events, and the hand-over at the point,
 * each with the CPU of every process. Undefined (skipped, said on stderr) when the point would fall
 * on tomorrow.
 */
async function heldRowsSide(
  stack: BenchStack,
  groups: Record<string, ProcessSubject>,
  metricsPort: number,
  options: { practices: string[]; registrations: number; seed: number; concurrency: number; leadMs: number },
): Promise<HeldRowsRun | undefined> {
  const point = Math.ceil((Date.now() + options.leadMs) / 1000) * 1000;
  const handOverAt = handOverAtToday(point, HELD_SPREAD_MS);
  if (!handOverAt) {
    console.error('ingest: the held-rows side is skipped: its hand-over point would fall after midnight');
    return undefined;
  }
  const events = todaysTraffic(options.practices, options.registrations, options.seed);
  const transfers = new Set(events.map((e) => JSON.stringify(recordKeyOf(e)))).size;
  // The practices' slots spread over 20 s (30 practices; 30 minutes for a nation's in production).
  const env = { ...stack.env, GP2GP_HAND_OVER_AT: handOverAt, GP2GP_HAND_OVER_SPREAD_SECONDS: String(HELD_SPREAD_MS / 1000) };
  const client = await Gp2gpClient.connect(loadConfig(env));
  try {
    console.error(`ingest: held-rows side: ${events.length} events of today (${transfers} transfers), hand-over point ${env.GP2GP_HAND_OVER_AT} UTC`);
    const ingest = await cpuDuring(groups, () => viaClient({ ...stack, client }, events, options.concurrency));
    if (Date.now() >= point) throw new Error('ingest: the held-rows side took longer than its lead time; raise it');
    const before = await handOverSignals(metricsPort);
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, point - 1_000 - Date.now())));
    const handOver = await cpuDuring(groups, () => untilHandedOver(metricsPort, before, transfers, point, 10 * 60_000));
    const handOverSeconds = (Date.now() - point) / 1000;
    // The reporting workflows' tasks for the last signals, inside the window.
    const tail = await cpuDuring(groups, () => new Promise((resolve) => setTimeout(resolve, 2_000)));
    const handOverCpu = Object.fromEntries(Object.keys(groups).map((k) => [k, (handOver.cpu[k] ?? 0) + (tail.cpu[k] ?? 0)]));
    return {
      events: events.length,
      transfers,
      leadMs: options.leadMs,
      ingestSeconds: ingest.value.seconds,
      ingestCpu: ingest.cpu,
      handOverSeconds,
      handOverCpu,
      signals: handOver.value.signals - before.signals,
      forwards: handOver.value.forwards - before.forwards,
    };
  } finally {
    await client.close();
  }
}

export async function benchIngest(): Promise<BenchResult[]> {
  const nPractices = Number(process.env.BENCH_INGEST_PRACTICES ?? 30);
  const nDays = Number(process.env.BENCH_INGEST_DAYS ?? 4);
  const registrations = Number(process.env.BENCH_INGEST_REGISTRATIONS ?? 6);
  const concurrency = Number(process.env.BENCH_INGEST_CONCURRENCY ?? 32);
  const clientPractices = practiceCodes('C', nPractices);
  const httpPractices = practiceCodes('H', nPractices);
  // Practices of the attribution side: the same traffic as the client's, its own workflow ids.
  const bareCodes = practiceCodes('N', nPractices);
  // Practices of the held-rows side: the client's traffic shape on today's date (see heldRowsSide).
  const todayCodes = practiceCodes('T', nPractices);
  const days = Array.from({ length: nDays }, (_, i) => utcDay(i - nDays - 1));
  const engine = externalEngine();
  // On a fresh dev server the same seed gives the same traffic every run; an external engine still
  // holds the transfers of earlier runs, which would answer "duplicate".
  const seed = engine ? randomInt(1, 2 ** 31) : 11;
  const metricsPort = await freePort();
  const stack = await startBenchStack({
    name: 'ingest',
    practices: [...clientPractices, ...httpPractices, ...bareCodes, ...todayCodes],
    api: true,
    ...(engine ? { engine } : {}),
    // Every worker holds every workflow of the run (the no-op worker's 10,000), so none replays
    // evicted ones and the sides differ only in what they do; the product worker's metrics tell how
    // many forwards shared a hand-over signal.
    env: {
      GP2GP_WORKER_CACHED_WORKFLOWS: String(NOOP_CACHED_WORKFLOWS),
      GP2GP_METRICS_HOST: '127.0.0.1',
      GP2GP_METRICS_PORT: String(metricsPort),
      // Our worker's and the attribution worker's split of the cache, when set (GP2GP_TRANSFER_WORKERS).
      ...(process.env.GP2GP_TRANSFER_WORKERS ? { GP2GP_TRANSFER_WORKERS: process.env.GP2GP_TRANSFER_WORKERS } : {}),
    },
  });
  const noopWorker = startScript('bench/noop/worker.ts', stack.env, path.join(stack.dir, 'noop-worker.log'));
  // Metrics on in both, as in production (the no-op worker has none to record).
  const bareEnv = { ...stack.env, TEMPORAL_TASK_QUEUE: 'bench-without-hand-over', GP2GP_METRICS_PORT: String(await freePort()) };
  const bareWorker = startScript('bench/without-hand-over/worker.ts', bareEnv, path.join(stack.dir, 'without-hand-over-worker.log'));
  let bareClient: Gp2gpClient | undefined;
  try {
    await noopWorker.waitForLog(/worker ready/);
    await bareWorker.waitForLog(/worker ready/, 120_000);
    bareClient = await Gp2gpClient.connect(loadConfig(bareEnv));
    const clientEvents = traffic(clientPractices, days, registrations, seed);
    const httpEvents = traffic(httpPractices, days, registrations, seed + 1).slice(0, clientEvents.length);
    // The client's traffic exactly (same seed), moved to the attribution side's practices.
    const bareEvents = traffic(bareCodes, days, registrations, seed);
    const workflows = new Set(clientEvents.map((e) => JSON.stringify(recordKeyOf(e)))).size;
    console.error(`ingest: ${clientEvents.length} events (${workflows} transfers) per run, concurrency ${concurrency}, on the ${stack.engine.description}`);

    // A short warm-up of every path (connections, worker caches, JIT), on events of its own.
    const warm = traffic(practiceCodes('C', 1), [utcDay(-nDays - 3)], 3, seed + 2);
    await baseline(stack, warm.map((e) => ({ ...e, eventId: `warm-${e.eventId}` })), 4);
    await viaClient(stack, warm, 4);
    await viaClient({ ...stack, client: bareClient }, traffic(practiceCodes('N', 1), [utcDay(-nDays - 3)], 3, seed + 2), 4);

    // Interleaved rounds, so a busy spell of the machine does not land on one side only.
    const rounds = Math.max(1, Number(process.env.BENCH_INGEST_ROUNDS ?? 3));
    const slice = <T>(xs: T[], r: number) => xs.slice(Math.floor((r * xs.length) / rounds), Math.floor(((r + 1) * xs.length) / rounds));
    const groups = {
      server: { trees: stack.engine.roots },
      worker: stack.worker.child.pid!,
      noop: noopWorker.child.pid!,
      api: stack.api!.process.child.pid!,
      bare: bareWorker.child.pid!,
    };
    const runs: Record<'base' | 'client' | 'http' | 'bare', { timed: Timed[]; cpu: Record<string, number>[] }> = {
      base: { timed: [], cpu: [] },
      client: { timed: [], cpu: [] },
      http: { timed: [], cpu: [] },
      bare: { timed: [], cpu: [] },
    };
    const measure = async (kind: keyof typeof runs, fn: () => Promise<Timed>) => {
      const driver0 = process.cpuUsage();
      const { value, cpu } = await cpuDuring(groups, fn);
      const d = process.cpuUsage(driver0);
      runs[kind].timed.push(value);
      runs[kind].cpu.push({ ...cpu, driver: (d.user + d.system) / 1e6 });
    };
    const sides: [keyof typeof runs, (r: number) => Promise<Timed>][] = [
      ['base', (r) => baseline(stack, slice(clientEvents, r), concurrency)],
      ['client', (r) => viaClient(stack, slice(clientEvents, r), concurrency)],
      ['http', (r) => viaHttp(stack, slice(httpEvents, r), concurrency)],
      ['bare', (r) => viaClient({ ...stack, client: bareClient! }, slice(bareEvents, r), concurrency)],
    ];
    const handOverBefore = await handOverSignals(metricsPort);
    for (let r = 0; r < rounds; r++) {
      // Each round starts with the next side, so no side always follows the same one; a pause between
      // sides lets the last one's reporting workflow tasks finish outside the next one's window.
      for (let i = 0; i < sides.length; i++) {
        const [kind, run] = sides[(r + i) % sides.length]!;
        await measure(kind, () => run(r));
        await new Promise((resolve) => setTimeout(resolve, 1_000));
      }
      console.error(`  round ${r + 1}/${rounds} done`);
    }
    const handOverAfter = await handOverSignals(metricsPort);
    const held = await heldRowsSide(stack, groups, metricsPort, {
      practices: todayCodes,
      registrations: registrations * nDays,
      seed,
      concurrency,
      // Lead time for sending every event before the point: twice what the client side took, and 30 s.
      leadMs: 2_000 * runs.client.timed.reduce((n, t) => n + t.seconds, 0) + 30_000,
    });
    const merged = (kind: keyof typeof runs): Timed => ({
      seconds: runs[kind].timed.reduce((n, t) => n + t.seconds, 0),
      latencies: runs[kind].timed.flatMap((t) => t.latencies).sort((a, b) => a - b),
    });
    const cpuMs = (kind: keyof typeof runs, group: string, n: number) => (1000 * runs[kind].cpu.reduce((t, c) => t + (c[group] ?? 0), 0)) / n;
    const base = merged('base');
    const client = merged('client');
    const http = merged('http');
    const bare = merged('bare');

    const rate = (t: Timed, n: number) => n / t.seconds;
    const baseRate = rate(base, clientEvents.length);
    const clientRate = rate(client, clientEvents.length);
    const httpRate = rate(http, httpEvents.length);
    const bareRate = rate(bare, bareEvents.length);
    const nB = bareEvents.length;
    const p = (t: Timed, q: number) => percentile(t.latencies, q);
    const setup = `${clientEvents.length} events, ${workflows} workflows, concurrency ${concurrency}, ${rounds} interleaved rounds; on the ${stack.engine.description}`;
    const nC = clientEvents.length;
    const nH = httpEvents.length;
    const results: BenchResult[] = [
      { name: 'ingest.baseline.noop-workflow', value: baseRate, unit: 'events/s', note: `update-with-start on a no-op workflow; ${setup}` },
      { name: 'ingest.client', value: clientRate, unit: 'events/s', baseline: baseRate, ratio: clientRate / baseRate, note: 'Gp2gpClient.recordEvent; goal ≥ 0.9× baseline' },
      { name: 'ingest.http', value: httpRate, unit: 'events/s', baseline: baseRate, ratio: httpRate / baseRate, note: 'POST /v1/events, one event per request; goal ≥ 0.9× baseline' },
      { name: 'ingest.baseline.p50', value: p(base, 50), unit: 'ms' },
      { name: 'ingest.baseline.p99', value: p(base, 99), unit: 'ms' },
      { name: 'ingest.client.p50', value: p(client, 50), unit: 'ms', baseline: p(base, 50), ratio: p(client, 50) / p(base, 50), note: 'acceptance latency' },
      { name: 'ingest.client.p99', value: p(client, 99), unit: 'ms', baseline: p(base, 99), ratio: p(client, 99) / p(base, 99), note: 'acceptance latency' },
      { name: 'ingest.http.p50', value: p(http, 50), unit: 'ms', baseline: p(base, 50), ratio: p(http, 50) / p(base, 50), note: 'acceptance latency' },
      { name: 'ingest.http.p99', value: p(http, 99), unit: 'ms', baseline: p(base, 99), ratio: p(http, 99) / p(base, 99), note: 'acceptance latency' },
      { name: 'ingest.cpu.server.baseline', value: cpuMs('base', 'server', nC), unit: 'ms/event', note: `Temporal server CPU per event (not disturbed by other load)${stack.engine.external ? `; ${stack.engine.description}` : ''}` },
      { name: 'ingest.cpu.server.client', value: cpuMs('client', 'server', nC), unit: 'ms/event', baseline: cpuMs('base', 'server', nC), ratio: cpuMs('client', 'server', nC) / cpuMs('base', 'server', nC), note: 'goal ≤ 1.2× baseline' },
      { name: 'ingest.cpu.worker.baseline', value: cpuMs('base', 'noop', nC), unit: 'ms/event', note: 'no-op worker process CPU per event' },
      { name: 'ingest.cpu.worker.client', value: cpuMs('client', 'worker', nC), unit: 'ms/event', baseline: cpuMs('base', 'noop', nC), ratio: cpuMs('client', 'worker', nC) / cpuMs('base', 'noop', nC), note: 'our worker process CPU per event; goal ≤ 2× baseline' },
      { name: 'ingest.cpu.api.http', value: cpuMs('http', 'api', nH), unit: 'ms/event', note: 'HTTP API process CPU per event' },
      {
        name: 'ingest.client.without-hand-over',
        value: bareRate,
        unit: 'events/s',
        baseline: baseRate,
        ratio: bareRate / baseRate,
        note: 'attribution: the client into our workflows with forwardRows answering at once (bench/without-hand-over/); what ingest.client lacks of this is the hand-over',
      },
      attributedCpu('server', cpuMs('bare', 'server', nB), cpuMs('base', 'server', nC), cpuMs('client', 'server', nC)),
      attributedCpu('worker', cpuMs('bare', 'bare', nB), cpuMs('base', 'noop', nC), cpuMs('client', 'worker', nC)),
    ].filter((r) => stack.engine.roots.length > 0 || !r.name.startsWith('ingest.cpu.server.'));
    const signals = handOverAfter.signals - handOverBefore.signals;
    const forwards = handOverAfter.forwards - handOverBefore.forwards;
    results.push({
      name: 'ingest.hand-over.signals-per-event',
      value: signals / (nC + nH),
      unit: 'signals/event',
      note: `hand-over signals to reporting workflows per accepted event (client and HTTP sides): ${signals} signals carrying ${forwards} transfer forwards, ${(forwards / Math.max(1, signals)).toFixed(2)} per signal (gp2gp_rows_hand_over_forwards)`,
    });
    if (held) {
      const n = held.events;
      const perEvent = (cpu: Record<string, number>, group: string) => (1000 * (cpu[group] ?? 0)) / n;
      const baseServer = cpuMs('base', 'server', nC);
      const baseWorker = cpuMs('base', 'noop', nC);
      const heldSetup = `${n} events of today (${held.transfers} transfers), concurrency ${concurrency}, sent after the rounds (not interleaved), the rows held until a hand-over point ${(held.leadMs / 1000).toFixed(0)} s after the first event; against the rounds' baseline`;
      const total = (group: string) => perEvent(held.ingestCpu, group) + perEvent(held.handOverCpu, group);
      results.push(
        { name: 'ingest.today.client', value: n / held.ingestSeconds, unit: 'events/s', baseline: baseRate, ratio: n / held.ingestSeconds / baseRate, note: `Gp2gpClient.recordEvent, production-shaped: ${heldSetup}; goal ≥ 0.9× baseline` },
        ...(stack.engine.roots.length
          ? [
              { name: 'ingest.today.cpu.server', value: perEvent(held.ingestCpu, 'server'), unit: 'ms/event', baseline: baseServer, ratio: perEvent(held.ingestCpu, 'server') / baseServer, note: 'while the events are taken; goal ≤ 1.2× baseline' },
              { name: 'ingest.today.cpu.server.with-hand-over', value: total('server'), unit: 'ms/event', baseline: baseServer, ratio: total('server') / baseServer, note: 'taking the events and, at the hand-over point, handing every transfer\'s rows to the reporting workflows' },
            ]
          : []),
        { name: 'ingest.today.cpu.worker', value: perEvent(held.ingestCpu, 'worker'), unit: 'ms/event', baseline: baseWorker, ratio: perEvent(held.ingestCpu, 'worker') / baseWorker, note: 'while the events are taken; goal ≤ 2× baseline' },
        { name: 'ingest.today.cpu.worker.with-hand-over', value: total('worker'), unit: 'ms/event', baseline: baseWorker, ratio: total('worker') / baseWorker, note: 'taking the events and handing the rows over at the point' },
        { name: 'ingest.today.hand-over', value: held.handOverSeconds, unit: 's', note: `from the hand-over point (the practices' slots spread over ${HELD_SPREAD_MS / 1000} s after it) until every transfer had handed its rows over: ${held.signals} signals carrying ${held.forwards} forwards (${(held.signals / n).toFixed(3)} signals per event; ${(held.forwards / Math.max(1, held.signals)).toFixed(1)} forwards per signal)` },
        { name: 'ingest.today.hand-over.signals-per-event', value: held.signals / n, unit: 'signals/event', note: 'hand-over signals per accepted event when the rows wait for the hand-over point (compare ingest.hand-over.signals-per-event)' },
      );
    }
    results.push({
      name: 'ingest.national-day.client',
      value: NATIONAL_DAY_EVENTS / clientRate / 60,
      unit: 'min',
      note: `EXTRAPOLATED from the measured ${clientEvents.length}-event run (${clientRate.toFixed(0)} events/s) to ${NATIONAL_DAY_EVENTS} events; not run`,
    });
    return results;
  } finally {
    await bareClient?.close();
    await bareWorker.stop();
    await noopWorker.stop();
    await stack.stop();
  }
}

if (require.main === module) {
  benchIngest().then(
    (results) => console.log(formatResults(results)),
    (err: unknown) => {
      console.error(`bench ingest: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      process.exit(1);
    },
  );
}
