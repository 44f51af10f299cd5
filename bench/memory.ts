/**
 * Worker memory: RSS of the worker process (`tsx worker/main.ts`, as deployed) once it is ready, and
 * with BENCH_MEMORY_WORKFLOWS (default 10,000) open transfer workflows in its cache (one registration
 * each: open, waiting for the next stage), and the difference per workflow. Own Temporal dev server
 * (SQLite) and MESH sandbox.
 *
 * Three times, in one run: the worker as deployed (our modules shared by every cached workflow, see
 * WORKFLOW_PRELOAD_MODULES in worker/main.ts); as before issue 13 (GP2GP_WORKER_SHARE_MODULES=off:
 * each workflow evaluates its own copy), the baseline of the per-workflow figure; and the ingest
 * bench's no-op worker holding as many no-op workflows, the SDK's own floor. BENCH_MEMORY_BASELINE=0
 * skips the baseline, BENCH_MEMORY_NOOP=0 the floor.
 *
 *   npx tsx bench/memory.ts       (or npm run bench -- memory)
 */
import * as path from 'node:path';
import { withEventId } from '../mi/event-id';
import type { HookEvent } from '../mi/events';
import { baseline } from './ingest';
import { formatResults, type BenchResult } from './result';
import { cpuDuring, groupProcesses, MiB, practiceCodes, startBenchStack, startScript, statusBytes, timedPool } from './stack';

/** RSS of the largest process in a process group (the worker's node process, not tsx's launcher). */
function groupRssBytes(pgid: number): number {
  return Math.max(0, ...groupProcesses(pgid, (pid) => statusBytes(pid, 'VmRSS')));
}

/** RSS after things settle: the lowest of a few samples a second apart (GC may run between). */
async function settledRss(pgid: number): Promise<number> {
  const samples: number[] = [];
  for (let i = 0; i < 5; i++) {
    await new Promise((r) => setTimeout(r, 1_000));
    samples.push(groupRssBytes(pgid));
  }
  return Math.min(...samples);
}

interface Measured {
  idle: number;
  loaded: number;
  seconds: number;
  /** The worker's CPU seconds while the workflows were opened. */
  cpu: number;
}

/** n registrations, each opening its own transfer (one event each: open, waiting for the next stage). */
function registrations(practices: string[], n: number): HookEvent[] {
  const day = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
  return Array.from({ length: n }, (_, i) => ({
    type: 'registration',
    practiceOds: practices[i % practices.length]!,
    registrationId: `MEM-${i}`,
    occurredAt: `${day}T10:${String(i % 60).padStart(2, '0')}:00Z`,
    registrationType: 'new',
    registeringUser: `L${i}`,
  }));
}

/**
 * `what`: our worker with our modules shared or each workflow evaluating its own copy, or the
 * ingest bench's no-op worker (bench/noop/: the SDK's own cost of a cached workflow that holds
 * almost nothing, taking the same events by the same update-with-start).
 */
async function measure(n: number, what: 'shared' | 'unshared' | 'noop'): Promise<Measured> {
  const practices = practiceCodes('M', 50);
  // The whole set cached, so RSS shows the per-workflow cost (production default: 2,000).
  const env: Record<string, string> = { GP2GP_WORKER_CACHED_WORKFLOWS: String(n), ...(what === 'unshared' ? { GP2GP_WORKER_SHARE_MODULES: 'off' } : {}) };
  const stack = await startBenchStack({ name: 'memory', practices, env });
  const noop = what === 'noop' ? startScript('bench/noop/worker.ts', stack.env, path.join(stack.dir, 'noop-worker.log')) : undefined;
  try {
    await noop?.waitForLog(/worker ready/);
    const pgid = (noop ?? stack.worker).child.pid!;
    const idle = await settledRss(pgid);
    const events = registrations(practices, n);
    const { value: t, cpu } = await cpuDuring({ worker: pgid }, () =>
      noop
        ? baseline(stack, events.map((e) => withEventId(e)), 32)
        : timedPool(events, 32, async (e) => {
            const o = await stack.client.recordEvent(e);
            if (o.status !== 'accepted') throw new Error(`memory: ${JSON.stringify(o)}`);
          }),
    );
    console.error(`memory: ${n} ${noop ? 'no-op' : 'transfer'} workflows opened in ${t.seconds.toFixed(0)} s, worker CPU ${cpu.worker!.toFixed(0)} s (${what})`);
    const loaded = await settledRss(pgid);
    return { idle, loaded, seconds: t.seconds, cpu: cpu.worker! };
  } finally {
    await noop?.stop();
    await stack.stop();
  }
}

export async function benchMemory(): Promise<BenchResult[]> {
  const n = Number(process.env.BENCH_MEMORY_WORKFLOWS ?? 10_000);
  const withBaseline = process.env.BENCH_MEMORY_BASELINE !== '0';
  const before = withBaseline ? await measure(n, 'unshared') : undefined;
  const ours = await measure(n, 'shared');
  const floor = process.env.BENCH_MEMORY_NOOP !== '0' ? await measure(n, 'noop') : undefined;
  const perWorkflow = (m: Measured) => (m.loaded - m.idle) / n / 1024;
  const results: BenchResult[] = [
    { name: 'memory.worker.idle', value: ours.idle / MiB, unit: 'MiB', note: "worker RSS when ready (50 practices' reporting workflows)" },
    { name: `memory.worker.${n}-open-transfers`, value: ours.loaded / MiB, unit: 'MiB', note: `worker RSS with ${n} open transfer workflows cached (all cached); opened in ${ours.seconds.toFixed(0)} s, ${((ours.cpu / n) * 1000).toFixed(1)} ms of worker CPU each` },
    {
      name: 'memory.worker.per-workflow',
      value: perWorkflow(ours),
      unit: 'KiB',
      ...(before ? { baseline: perWorkflow(before), ratio: perWorkflow(ours) / perWorkflow(before) } : {}),
      note: `(loaded − idle) / workflows, our modules shared by every workflow; goal ≤ 150 KiB${before ? '; baseline: each workflow with its own copy (as before)' : ''}`,
    },
  ];
  if (floor) {
    results.push({
      name: 'memory.worker.per-workflow.noop-workflow',
      value: perWorkflow(floor),
      unit: 'KiB',
      note: `the SDK's own cost of a cached workflow: the ingest bench's no-op worker (bench/noop/) holding ${n} no-op workflows opened by the same events (idle ${(floor.idle / MiB).toFixed(0)} MiB, ${(floor.loaded / MiB).toFixed(0)} MiB loaded); ours is ${(perWorkflow(ours) / perWorkflow(floor)).toFixed(2)}× it`,
    });
  }
  if (before) {
    results.push(
      { name: 'memory.worker.per-workflow.unshared', value: perWorkflow(before), unit: 'KiB', note: `GP2GP_WORKER_SHARE_MODULES=off: idle ${(before.idle / MiB).toFixed(0)} MiB, ${(before.loaded / MiB).toFixed(0)} MiB with ${n} cached` },
    );
  }
  return results;
}

if (require.main === module) {
  benchMemory().then(
    (results) => console.log(formatResults(results)),
    (err: unknown) => {
      console.error(`bench memory: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      process.exit(1);
    },
  );
}
