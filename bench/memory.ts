/**
 * Worker memory: RSS of the worker process (`tsx worker/main.ts`, as deployed) once it is ready, and
 * with BENCH_MEMORY_WORKFLOWS (default 10,000) open transfer workflows in its cache (one registration
 * each: open, waiting for the next stage), and the difference per workflow. Own Temporal dev server
 * (SQLite) and MESH sandbox.
 *
 * Twice, in one run: the worker as deployed (our modules shared by every cached workflow, see
 * WORKFLOW_PRELOAD_MODULES in worker/main.ts), and as before issue 13 (GP2GP_WORKER_SHARE_MODULES=off:
 * each workflow evaluates its own copy), the baseline of the per-workflow figure. BENCH_MEMORY_BASELINE=0
 * skips the baseline.
 *
 *   npx tsx bench/memory.ts       (or npm run bench -- memory)
 */
import { formatResults, type BenchResult } from './result';
import { groupProcesses, MiB, practiceCodes, startBenchStack, statusBytes, timedPool } from './stack';

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
}

async function measure(n: number, shareModules: boolean): Promise<Measured> {
  const practices = practiceCodes('M', 50);
  // The whole set cached, so RSS shows the per-workflow cost (production default: 2,000).
  const env: Record<string, string> = { GP2GP_WORKER_CACHED_WORKFLOWS: String(n), ...(shareModules ? {} : { GP2GP_WORKER_SHARE_MODULES: 'off' }) };
  const stack = await startBenchStack({ name: 'memory', practices, env });
  try {
    const pgid = stack.worker.child.pid!;
    const idle = await settledRss(pgid);
    const day = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
    const events = Array.from({ length: n }, (_, i) => ({
      type: 'registration',
      practiceOds: practices[i % practices.length]!,
      registrationId: `MEM-${i}`,
      occurredAt: `${day}T10:${String(i % 60).padStart(2, '0')}:00Z`,
      registrationType: 'new',
      registeringUser: `L${i}`,
    }));
    const t = await timedPool(events, 32, async (e) => {
      const o = await stack.client.recordEvent(e);
      if (o.status !== 'accepted') throw new Error(`memory: ${JSON.stringify(o)}`);
    });
    console.error(`memory: ${n} transfer workflows opened in ${t.seconds.toFixed(0)} s (${shareModules ? 'shared modules' : 'modules per workflow'})`);
    const loaded = await settledRss(pgid);
    return { idle, loaded, seconds: t.seconds };
  } finally {
    await stack.stop();
  }
}

export async function benchMemory(): Promise<BenchResult[]> {
  const n = Number(process.env.BENCH_MEMORY_WORKFLOWS ?? 10_000);
  const withBaseline = process.env.BENCH_MEMORY_BASELINE !== '0';
  const before = withBaseline ? await measure(n, false) : undefined;
  const ours = await measure(n, true);
  const perWorkflow = (m: Measured) => (m.loaded - m.idle) / n / 1024;
  const results: BenchResult[] = [
    { name: 'memory.worker.idle', value: ours.idle / MiB, unit: 'MiB', note: "worker RSS when ready (50 practices' reporting workflows)" },
    { name: `memory.worker.${n}-open-transfers`, value: ours.loaded / MiB, unit: 'MiB', note: `worker RSS with ${n} open transfer workflows cached (all cached); opened in ${ours.seconds.toFixed(0)} s` },
    {
      name: 'memory.worker.per-workflow',
      value: perWorkflow(ours),
      unit: 'KiB',
      ...(before ? { baseline: perWorkflow(before), ratio: perWorkflow(ours) / perWorkflow(before) } : {}),
      note: `(loaded − idle) / workflows, our modules shared by every workflow; goal ≤ 150 KiB${before ? '; baseline: each workflow with its own copy (as before)' : ''}`,
    },
  ];
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
