/**
 * A national day, run for real (issue 13): about 80,000 hook events for 6,300 practices sent through
 * the HTTP API in batched requests, as a GP system supplier's gateway sends them, into the embedded
 * default (a Temporal dev server on SQLite, the MESH sandbox, the worker and the API as processes);
 * then every practice's day is submitted and the run waits until every file has been acknowledged by
 * the Authority (polling its mailbox all the while) and every reporting workflow says delivered.
 *
 * Prints events/s, minutes to ingest (goal < 10 min on the 2-core machine), minutes to deliver, the
 * CPU each process spent per event while ingesting, hand-over signals per event (the worker's
 * gp2gp_rows_hand_over_forwards), the peak RSS of each process group, and the engine's own day
 * (below) as `national-day.baseline.*`, with ours against it as baseline and ratio. Figures
 * are named `national-day.*`; a smaller run (BENCH_NATIONAL_PRACTICES / BENCH_NATIONAL_EVENTS) says
 * SCALED DOWN in every note.
 *
 *   npm run bench -- national-day
 *   BENCH_NATIONAL_PRACTICES=300 BENCH_NATIONAL_EVENTS=4000 npm run bench -- national-day
 *   BENCH_NATIONAL_BATCH=100 BENCH_NATIONAL_REQUESTS=4   (events per request, requests in flight: a request
 *   answers within the API's 30 s Temporal timeout; 500 did not, leaving half of each batch unavailable)
 *
 * The engine's own national day is measured first, on a dev server of its own: the same events, in
 * the same order, as update-with-start calls of the ingest bench's no-op workflow (bench/noop/) with
 * the same worker cache and as many calls in flight as the API makes (requests × its event
 * concurrency). Its minutes and CPU per event are the baseline of ours (BENCH_NATIONAL_BASELINE=0
 * skips it). Not like for like in every respect: it has one workflow per transfer and no reporting
 * workflows (so less for the cache to hold), its calls have no deadline, and its stack's idle product
 * worker and MESH sandbox poll its server (counted in the server's CPU); one run, not interleaved.
 *
 * The worker runs with its configured cache (GP2GP_WORKER_CACHED_WORKFLOWS, default 2,000), not one
 * sized to hold the whole day: every cached workflow costs the SDK's core CPU on every workflow task of
 * every other one (see the README's Performance section), which a day-sized cache of 37,633 paid for
 * with a rate that fell by half as it filled.
 */
import * as os from 'node:os';
import * as path from 'node:path';
import { mapConcurrent } from '../client/concurrency';
import { DEFAULT_API_EVENT_CONCURRENCY } from '../config/api';
import { generateTraffic } from '../demo/traffic';
import { withEventId } from '../mi/event-id';
import type { HookEvent } from '../mi/events';
import { baseline, handOverAtToday, onToday, untilHandedOver, utcDay } from './ingest';
import { recordKeyOf } from '../mi/events';
import { DEFAULT_HAND_OVER_SPREAD_MS } from '../mi/hand-over';
import { formatResults, type BenchResult } from './result';
import type { Config } from '../config';
import { freePort } from '../stack/servers';
import {
  collectFromAuthority,
  cpuDuring,
  handOverSignals,
  practiceCodes,
  startBenchStack,
  startScript,
  statusBytes,
  subjectProcesses,
  type AuthorityCollector,
  type BenchStack,
  type ProcessSubject,
} from './stack';

const NATIONAL_PRACTICES = 6_300;
const NATIONAL_EVENTS = 80_000;

/** Peak RSS (VmHWM, bytes) of every process of a group or tree, summed: each process's own peak. */
function peakRss(subject: ProcessSubject): number {
  return subjectProcesses(subject, (pid) => statusBytes(pid, 'VmHWM')).reduce((a, b) => a + b, 0);
}

/** The day's traffic, sized to about `target` events: registrations per practice from a sample's ratio. */
function nationalTraffic(practices: string[], day: string, target: number): HookEvent[] {
  const notAfter = new Date(Date.now() - 60_000).toISOString();
  const sample = generateTraffic({ practices: practices.slice(0, 50), days: [day], registrationsPerPracticeDay: 4, seed: 3, notAfter });
  const perRegistration = sample.length / (Math.min(50, practices.length) * 4);
  const perDay = Math.max(1, Math.round(target / (practices.length * perRegistration)));
  const events = generateTraffic({ practices, days: [day], registrationsPerPracticeDay: perDay, seed: 3, notAfter });
  // A gateway sends in the order things happened.
  return events.sort((a, b) => a.occurredAt.localeCompare(b.occurredAt));
}

interface BatchAnswer {
  results: { index: number; status: string; error?: { message: string } }[];
}

/**
 * Sends every event in batched requests, `inFlight` at a time; events answered 'unavailable' (a 503
 * for that event: Temporal too slow) are sent again in a later batch, as a gateway retries them.
 */
async function sendBatches(stack: BenchStack, events: HookEvent[], batchSize: number, inFlight: number): Promise<{ retried: number }> {
  const api = stack.api!;
  let queue = events;
  let retried = 0;
  while (queue.length) {
    const batches: HookEvent[][] = [];
    for (let i = 0; i < queue.length; i += batchSize) batches.push(queue.slice(i, i + batchSize));
    const again: HookEvent[] = [];
    await mapConcurrent(batches, inFlight, async (batch) => {
      const res = await fetch(`${api.url}/v1/events`, {
        method: 'POST',
        headers: { authorization: `Bearer ${api.token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ events: batch }),
      });
      if (res.status === 429 || res.status === 503) {
        again.push(...batch);
        await new Promise((r) => setTimeout(r, 1000));
        return;
      }
      const body = (await res.json()) as BatchAnswer;
      if (res.status !== 200) throw new Error(`national-day: batch answered ${res.status}: ${JSON.stringify(body).slice(0, 500)}`);
      for (const r of body.results) {
        if (r.status === 'accepted' || r.status === 'duplicate') continue;
        if (r.status === 'unavailable') again.push(batch[r.index]!);
        else throw new Error(`national-day: event ${r.index} ${r.status}: ${r.error?.message}`);
      }
    });
    retried += again.length;
    queue = again;
  }
  return { retried };
}

interface EngineDay {
  seconds: number;
  cpu: { server: number; worker: number };
  concurrency: number;
  cache: number;
}

/**
 * The same day into the no-op workflow on a fresh dev server: what Temporal itself needs for it here.
 * The no-op worker gets the cache the product worker's configuration resolves to.
 */
async function engineDay(events: HookEvent[], env: Record<string, string>, concurrency: number): Promise<EngineDay> {
  const stack = await startBenchStack({ name: 'national-day-baseline', practices: practiceCodes('B', 1), env });
  const cache = stack.config.pipeline.workerCachedWorkflows;
  const noopWorker = startScript('bench/noop/worker.ts', { ...stack.env, GP2GP_WORKER_CACHED_WORKFLOWS: String(cache) }, path.join(stack.dir, 'noop-worker.log'));
  try {
    await noopWorker.waitForLog(/worker ready/);
    console.error(`national-day: the engine's own day first (no-op workflow, ${concurrency} calls in flight, worker cache ${cache})`);
    const progress = setInterval(() => console.error('  baseline running…'), 60_000);
    try {
      const { value, cpu } = await cpuDuring({ server: { trees: stack.engine.roots }, worker: noopWorker.child.pid! }, () =>
        baseline(stack, events.map(withEventId), concurrency),
      );
      return { seconds: value.seconds, cpu: { server: cpu.server!, worker: cpu.worker! }, concurrency, cache };
    } finally {
      clearInterval(progress);
    }
  } finally {
    await noopWorker.stop();
    await stack.stop();
  }
}

/** The worker's caches: the transfers' queue's, and the reporting queue's when it has one of its own. */
function cacheOf(config: Config): string {
  const { taskQueue, reportingTaskQueue } = config.temporal;
  const { workerCachedWorkflows, reportingCachedWorkflows } = config.pipeline;
  return reportingTaskQueue === taskQueue ? String(workerCachedWorkflows) : `${workerCachedWorkflows} + reporting ${reportingCachedWorkflows}`;
}

/**
 * The production-shaped day's second half: waits for the hand-over point, then measures every
 * transfer handing its rows over (time from the point, CPU of each process), and reports both halves.
 */
async function handOverAtPoint(o: {
  stack: BenchStack;
  groups: Record<string, ProcessSubject>;
  metricsPort: number;
  events: HookEvent[];
  point: number;
  engine: EngineDay | undefined;
  ingestSeconds: number;
  cpu: Record<string, number>;
  signals: number;
  retried: number;
  scaled: string;
  /** Load average (1 min) at the ingest's start and end. */
  ingestLoad: [number, number];
}): Promise<BenchResult[]> {
  const { events, point, engine } = o;
  if (Date.now() >= o.point) throw new Error('national-day: the ingest outlasted the hand-over point; raise BENCH_NATIONAL_HAND_OVER_AFTER_MINUTES');
  const transfers = new Set(events.map((e) => JSON.stringify(recordKeyOf(e)))).size;
  const cpuNow = Object.entries(o.cpu).map(([k, v]) => `${k} ${((1000 * v) / events.length).toFixed(2)}`).join(', ');
  console.error(`national-day: ingested in ${(o.ingestSeconds / 60).toFixed(1)} min (CPU ms/event: ${cpuNow}); waiting for the hand-over point (${new Date(point).toISOString()}) of ${transfers} transfers`);
  const before = await handOverSignals(o.metricsPort);
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, point - 1_000 - Date.now())));
  const load0 = os.loadavg()[0]!;
  const measured = await cpuDuring({ server: o.groups['temporal-server']!, worker: o.groups.worker! }, () => untilHandedOver(o.metricsPort, before, transfers, point, 60 * 60_000));
  const handOverSeconds = (Date.now() - point) / 1000;
  const tail = await cpuDuring({ server: o.groups['temporal-server']!, worker: o.groups.worker! }, () => new Promise((resolve) => setTimeout(resolve, 5_000)));
  const load1 = os.loadavg()[0]!;
  const perEvent = (seconds: number) => (1000 * seconds) / events.length;
  const against = (value: number, base: number | undefined) => (base === undefined ? {} : { baseline: base, ratio: value / base });
  const handOverCpu = { server: measured.cpu.server! + tail.cpu.server!, worker: measured.cpu.worker! + tail.cpu.worker! };
  const signals = measured.value.signals - before.signals;
  const forwards = measured.value.forwards - before.forwards;
  const setup = `${events.length} events of today, ${transfers} transfers, the rows held until the hand-over point, the practices' slots spread over ${o.stack.config.pipeline.handOverSpreadMs / 1000} s after it${o.scaled}`;
  return [
    ...(engine
      ? [
          { name: 'national-day.today.baseline.ingest', value: engine.seconds / 60, unit: 'min', note: `the engine's own day, the same events into the no-op workflow, ${engine.concurrency} in flight${o.scaled}` },
          { name: 'national-day.today.baseline.cpu.server', value: perEvent(engine.cpu.server), unit: 'ms/event', note: `Temporal dev server CPU per event, no-op workflow${o.scaled}` },
          { name: 'national-day.today.baseline.cpu.worker', value: perEvent(engine.cpu.worker), unit: 'ms/event', note: `no-op worker CPU per event${o.scaled}` },
        ]
      : []),
    { name: 'national-day.today.ingest', value: o.ingestSeconds / 60, unit: 'min', ...against(o.ingestSeconds / 60, engine ? engine.seconds / 60 : undefined), note: `goal < 10 min; ${setup}; load avg ${o.ingestLoad[0].toFixed(1)} → ${o.ingestLoad[1].toFixed(1)}; ${o.retried} events answered unavailable and sent again` },
    { name: 'national-day.today.ingest-rate', value: events.length / o.ingestSeconds, unit: 'events/s', ...against(events.length / o.ingestSeconds, engine ? events.length / engine.seconds : undefined), note: setup },
    { name: 'national-day.today.cpu.server', value: perEvent(o.cpu.server!), unit: 'ms/event', ...against(perEvent(o.cpu.server!), engine ? perEvent(engine.cpu.server) : undefined), note: `Temporal dev server CPU during the ingest, per event${o.scaled}` },
    { name: 'national-day.today.cpu.worker', value: perEvent(o.cpu.worker!), unit: 'ms/event', ...against(perEvent(o.cpu.worker!), engine ? perEvent(engine.cpu.worker) : undefined), note: `worker CPU during the ingest, per event${o.scaled}` },
    { name: 'national-day.today.cpu.api', value: perEvent(o.cpu.api!), unit: 'ms/event', note: `HTTP API CPU during the ingest, per event${o.scaled}` },
    { name: 'national-day.today.hand-over', value: handOverSeconds / 60, unit: 'min', note: `from the hand-over point until every transfer had handed its rows over: ${signals} signals carrying ${forwards} forwards (${(forwards / Math.max(1, signals)).toFixed(2)} per signal); load avg ${load0.toFixed(1)} → ${load1.toFixed(1)}${o.scaled}` },
    { name: 'national-day.today.hand-over.cpu.server', value: perEvent(handOverCpu.server), unit: 'ms/event', note: `Temporal dev server CPU of the hand-over at the point (and 5 s after), per event of the day${o.scaled}` },
    { name: 'national-day.today.hand-over.cpu.worker', value: perEvent(handOverCpu.worker), unit: 'ms/event', note: `worker CPU of the hand-over at the point (and 5 s after), per event of the day${o.scaled}` },
    { name: 'national-day.today.hand-over.signals-per-event', value: (o.signals + signals) / events.length, unit: 'signals/event', note: `hand-over signals per event of the day: ${o.signals} during the ingest (rows of events after the point, none expected), ${signals} at the point${o.scaled}` },
  ];
}

export async function benchNationalDay(): Promise<BenchResult[]> {
  const nPractices = Number(process.env.BENCH_NATIONAL_PRACTICES ?? NATIONAL_PRACTICES);
  const target = Number(process.env.BENCH_NATIONAL_EVENTS ?? NATIONAL_EVENTS);
  const batchSize = Number(process.env.BENCH_NATIONAL_BATCH ?? 100);
  const requests = Number(process.env.BENCH_NATIONAL_REQUESTS ?? 4);
  const scaled = nPractices < NATIONAL_PRACTICES || target < NATIONAL_EVENTS ? '; SCALED DOWN' : '';
  const practices = practiceCodes('N', nPractices);
  // BENCH_NATIONAL_TODAY=1: the production shape. The day's events arrive during the day (here, moved
  // onto today), so their rows wait in their transfers for the hand-over point (GP2GP_HAND_OVER_AT),
  // set BENCH_NATIONAL_HAND_OVER_AFTER_MINUTES after the start; measured: the ingest, then the
  // hand-over at the point. Today cannot be submitted before it ends, so no delivery is measured.
  const today = process.env.BENCH_NATIONAL_TODAY === '1';
  const day = utcDay(today ? 0 : -1);
  const events = today ? onToday(nationalTraffic(practices, utcDay(-1), target)) : nationalTraffic(practices, day, target);

  // Settings passed on from the bench's environment when set, else the worker's defaults.
  const fromEnv = (keys: readonly string[]): Record<string, string> => Object.fromEntries(keys.flatMap((k) => (process.env[k] ? [[k, process.env[k]!]] : [])));
  // The worker's cache as configured (GP2GP_WORKER_CACHED_WORKFLOWS).
  const cacheEnv = fromEnv(['GP2GP_WORKER_CACHED_WORKFLOWS', 'GP2GP_TRANSFER_WORKERS']);
  // And the reporting queue's (GP2GP_REPORTING_CACHED_WORKFLOWS; TEMPORAL_REPORTING_TASK_QUEUE=gp2gp-mi-bench,
  // the bench's task queue, puts reporting on it: one queue and one cache, as before the split).
  const reportingEnv = fromEnv(['GP2GP_REPORTING_CACHED_WORKFLOWS', 'TEMPORAL_REPORTING_TASK_QUEUE']);
  // The bench's API records each request's events this many at a time.
  const engine = process.env.BENCH_NATIONAL_BASELINE === '0' ? undefined : await engineDay(events, cacheEnv, requests * DEFAULT_API_EVENT_CONCURRENCY);
  // The point counts from here: after the engine's own day.
  const point = Date.now() + Number(process.env.BENCH_NATIONAL_HAND_OVER_AFTER_MINUTES ?? 45) * 60_000;
  const handOverAt = today ? handOverAtToday(point, Number(process.env.GP2GP_HAND_OVER_SPREAD_SECONDS ?? DEFAULT_HAND_OVER_SPREAD_MS / 1000) * 1000) : undefined;
  if (today && !handOverAt) throw new Error('national-day: the hand-over point would fall after midnight; run earlier in the day or lower BENCH_NATIONAL_HAND_OVER_AFTER_MINUTES');
  const metricsPort = await freePort();
  const stack = await startBenchStack({
    name: 'national-day',
    practices,
    api: true,
    env: {
      GP2GP_FIRST_DAY: day,
      ...(handOverAt ? { GP2GP_HAND_OVER_AT: handOverAt, ...fromEnv(['GP2GP_HAND_OVER_SPREAD_SECONDS']) } : {}),
      GP2GP_TRACKING_INTERVAL_SECONDS: '1',
      GP2GP_TRACKING_MAX_INTERVAL_SECONDS: '5',
      GP2GP_INBOX_POLL_SECONDS: '5',
      ...cacheEnv,
      ...reportingEnv,
      // Its metrics say how many transfer forwards shared a hand-over signal.
      GP2GP_METRICS_HOST: '127.0.0.1',
      GP2GP_METRICS_PORT: String(metricsPort),
    },
  });
  const groups: Record<string, ProcessSubject> = {
    'temporal-server': { trees: stack.engine.roots },
    'mesh-sandbox': stack.mesh.process.pid!,
    worker: stack.worker.child.pid!,
    api: stack.api!.process.child.pid!,
  };
  let collector: AuthorityCollector | undefined;
  try {
    console.error(`national-day: ${events.length} events for ${nPractices} practices on ${day}, batches of ${batchSize}, ${requests} requests in flight, worker cache ${cacheOf(stack.config)} workflows${scaled}`);
    const load0 = os.loadavg()[0]!;
    const t0 = Date.now();
    let sent = 0;
    const progress = setInterval(() => console.error(`  ${Math.round((Date.now() - t0) / 1000)} s`), 60_000);
    let retried = 0;
    // What each process spent on the ingest, per event: on 2 shared cores the rate follows the sum.
    const ingestCpu = { server: groups['temporal-server']!, worker: groups.worker!, api: groups.api! };
    const cpuOf = { server: 'Temporal dev server', worker: 'worker', api: 'HTTP API' };
    const handOverBefore = await handOverSignals(metricsPort);
    const { cpu } = await cpuDuring(ingestCpu, async () => {
      try {
        // In slices, so progress shows and a slow machine's run can be watched.
        const slice = Math.max(batchSize * requests * 10, 1);
        for (let i = 0; i < events.length; i += slice) {
          retried += (await sendBatches(stack, events.slice(i, i + slice), batchSize, requests)).retried;
          sent = Math.min(events.length, i + slice);
          console.error(`  ingested ${sent}/${events.length} (${(sent / ((Date.now() - t0) / 1000)).toFixed(0)} events/s)`);
        }
      } finally {
        clearInterval(progress);
      }
    });
    const ingestSeconds = (Date.now() - t0) / 1000;
    const handOverAfter = await handOverSignals(metricsPort);
    const signals = handOverAfter.signals - handOverBefore.signals;
    const forwards = handOverAfter.forwards - handOverBefore.forwards;
    if (today) return await handOverAtPoint({ stack, groups, metricsPort, events, point, engine, ingestSeconds, cpu, signals, retried, scaled, ingestLoad: [load0, os.loadavg()[0]!] });

    let files = 0;
    collector = collectFromAuthority(stack, 500, (received) => (files += received.length));
    const s0 = Date.now();
    await mapConcurrent(practices, 8, async (practiceOds) => {
      await stack.client.submit({ practiceOds, days: [day] });
    });
    const submitSeconds = (Date.now() - s0) / 1000;
    // Only the practices not yet seen delivered are asked again.
    let waiting = practices;
    while (waiting.length) {
      const still: string[] = [];
      await mapConcurrent(waiting, 16, async (p) => {
        const v = await stack.client.reportingStatus(p);
        if (!(v.inFlight.length === 0 && v.lastDeliveredDay === day)) still.push(p);
      });
      waiting = still;
      if (!waiting.length) break;
      if (Date.now() - s0 > 90 * 60_000) throw new Error(`national-day: ${waiting.length} practices not delivered after 90 min`);
      console.error(`  delivering: ${nPractices - waiting.length}/${nPractices} delivered, ${files} files acknowledged`);
      await new Promise((r) => setTimeout(r, 5_000));
    }
    const deliverSeconds = (Date.now() - s0) / 1000;
    await collector.stop();
    const load1 = os.loadavg()[0]!;
    const peaks = Object.fromEntries(Object.entries(groups).map(([name, subject]) => [name, peakRss(subject) / 1024 / 1024]));
    const setup = `${events.length} events, ${nPractices} practices, HTTP batches of ${batchSize}, ${requests} in flight, worker cache ${cacheOf(stack.config)}; load avg ${load0.toFixed(1)} → ${load1.toFixed(1)}${scaled}`;
    const perEvent = (seconds: number) => (1000 * seconds) / events.length;
    // Against the engine's own day where it was measured: minutes and CPU (lower is better), rate (higher).
    const against = (value: number, base: number | undefined) => (base === undefined ? {} : { baseline: base, ratio: value / base });
    const engineNote = engine
      ? `; baseline: the same events into the no-op workflow on a dev server of its own, ${engine.concurrency} calls in flight, the same worker cache`
      : '';
    return [
      ...(engine
        ? [
            { name: 'national-day.baseline.ingest', value: engine.seconds / 60, unit: 'min', note: `the engine's own day: every event an update-with-start of the no-op workflow (bench/noop/), ${engine.concurrency} in flight, worker cache ${engine.cache}${scaled}` },
            { name: 'national-day.baseline.cpu.server', value: perEvent(engine.cpu.server), unit: 'ms/event', note: `Temporal dev server CPU per event, no-op workflow${scaled}` },
            { name: 'national-day.baseline.cpu.worker', value: perEvent(engine.cpu.worker), unit: 'ms/event', note: `no-op worker CPU per event${scaled}` },
          ]
        : []),
      { name: 'national-day.ingest', value: ingestSeconds / 60, unit: 'min', ...against(ingestSeconds / 60, engine ? engine.seconds / 60 : undefined), note: `goal < 10 min; ${setup}; ${retried} events answered unavailable and sent again${engineNote}` },
      { name: 'national-day.ingest-rate', value: events.length / ingestSeconds, unit: 'events/s', ...against(events.length / ingestSeconds, engine ? events.length / engine.seconds : undefined), note: setup },
      ...(Object.keys(cpuOf) as (keyof typeof cpuOf)[]).map((name) => ({
        name: `national-day.cpu.${name}`,
        value: perEvent(cpu[name]!),
        unit: 'ms/event',
        ...(name === 'api' ? {} : against(perEvent(cpu[name]!), engine ? perEvent(engine.cpu[name]) : undefined)),
        note: `${cpuOf[name]} CPU during the ingest, per event${scaled}`,
      })),
      {
        name: 'national-day.hand-over.signals-per-event',
        value: signals / events.length,
        unit: 'signals/event',
        note: `hand-over signals to reporting workflows per event during the ingest: ${signals} signals carrying ${forwards} transfer forwards, ${(forwards / Math.max(1, signals)).toFixed(2)} per signal (gp2gp_rows_hand_over_forwards)${scaled}`,
      },
      { name: 'national-day.deliver', value: deliverSeconds / 60, unit: 'min', note: `submit of every practice (${submitSeconds.toFixed(0)} s) → every reporting workflow delivered; ${files} files acknowledged by the Authority${scaled}` },
      ...Object.entries(peaks).map(([name, mib]) => ({ name: `national-day.peak-rss.${name}`, value: mib, unit: 'MiB', note: 'sum of each process\'s own peak (VmHWM) in the group' })),
      { name: 'national-day.peak-rss.bench-driver', value: process.memoryUsage().rss / 1024 / 1024, unit: 'MiB', note: 'this process, at the end' },
    ];
  } finally {
    await collector?.stop().catch(() => undefined);
    await stack.stop();
  }
}

if (require.main === module) {
  benchNationalDay().then(
    (results) => console.log(formatResults(results)),
    (err: unknown) => {
      console.error(`bench national-day: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      process.exit(1);
    },
  );
}
