/**
 * Worker memory: RSS of the worker process (`tsx worker/main.ts`, as deployed) once it is ready, and
 * with BENCH_MEMORY_WORKFLOWS (default 10,000) open transfer workflows in its cache (one registration
 * each: open, waiting for the next stage), and the difference per workflow. Own Temporal dev server
 * (SQLite) and MESH sandbox.
 *
 *   npx tsx bench/memory.ts       (or npm run bench -- memory)
 */
import * as fs from 'node:fs';
import { formatResults, type BenchResult } from './result';
import { MiB, practiceCodes, startBenchStack, timedPool } from './stack';

/** RSS of the largest process in a process group (the worker's node process, not tsx's launcher). */
function groupRssBytes(pgid: number): number {
  let largest = 0;
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]) !== pgid) continue;
      const rss = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${entry}/status`, 'utf8'));
      if (rss) largest = Math.max(largest, Number(rss[1]) * 1024);
    } catch {
      /* gone */
    }
  }
  return largest;
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

export async function benchMemory(): Promise<BenchResult[]> {
  const n = Number(process.env.BENCH_MEMORY_WORKFLOWS ?? 10_000);
  const practices = practiceCodes('M', 50);
  // The whole set cached, so RSS shows the per-workflow cost (production default: 2,000).
  const stack = await startBenchStack({ name: 'memory', practices, env: { GP2GP_WORKER_CACHED_WORKFLOWS: String(n) } });
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
    console.error(`memory: ${n} transfer workflows opened in ${t.seconds.toFixed(0)} s`);
    const loaded = await settledRss(pgid);
    const perWorkflow = (loaded - idle) / n;
    return [
      { name: 'memory.worker.idle', value: idle / MiB, unit: 'MiB', note: `worker RSS when ready (${practices.length} practices' reporting workflows)` },
      { name: `memory.worker.${n}-open-transfers`, value: loaded / MiB, unit: 'MiB', note: `worker RSS with ${n} open transfer workflows cached (all cached)` },
      { name: 'memory.worker.per-workflow', value: perWorkflow / 1024, unit: 'KiB', note: '(loaded − idle) / workflows' },
    ];
  } finally {
    await stack.stop();
  }
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
