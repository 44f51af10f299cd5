/**
 * The embedded dev server's SQLite settings, side by side in one run (issue 13): the same ingest
 * through the client into five Temporal dev servers that differ only in their settings — SQLite's
 * defaults (rollback journal, synchronous=FULL), WAL with synchronous=FULL, the same with the
 * visibility indexes nothing queries by dropped (stack/dev-server-visibility.ts), that with the
 * search-attribute list cached (the embedded default), and WAL with synchronous=NORMAL — in
 * interleaved rounds, each with its own worker and MESH sandbox.
 * Figures: events/s and acceptance latency (ratio to the defaults), and the server's CPU per event.
 *
 * And crash safety, per setting: the dev server is SIGKILLed in the middle of an ingest (no chance to
 * flush or checkpoint), SQLite's integrity check runs on the file, the server is started again on it,
 * and every event that had been answered "accepted" is sent again: each must come back "duplicate"
 * (the transfer still holds it), none "accepted" (lost). A SIGKILL loses nothing that reached the OS,
 * so this proves the file and the WAL recover; what synchronous=NORMAL gives up — the last commits
 * when the OS itself crashes or power fails — no process kill can show, and is said in the notes.
 *
 *   npx tsx bench/sqlite.ts        (or npm run bench -- sqlite)
 *   BENCH_SQLITE_PRACTICES=20 BENCH_SQLITE_DAYS=3 BENCH_SQLITE_ROUNDS=3 BENCH_SQLITE_CONCURRENCY=32
 */
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import type { HookEvent } from '../mi/events';
import { startTemporalDevServer, type ServerHandle, type TemporalDevServerOptions } from '../stack/servers';
import { UNQUERIED_VISIBILITY_INDEXES } from '../stack/dev-server-visibility';
import { traffic, utcDay, viaClient } from './ingest';
import { formatResults, type BenchResult } from './result';
import { cpuDuring, percentile, practiceCodes, startBenchStack, tracked, type BenchStack, type Timed } from './stack';
import { mapConcurrent } from '../client/concurrency';

/**
 * `default` is SQLite's own defaults; `embedded` is what `npm start` runs (DEV_SERVER_SQLITE_PRAGMAS,
 * the visibility indexes nothing queries by dropped — stack/dev-server-visibility.ts — and the
 * search-attribute list cached). The others differ from it one step at a time, and read the
 * search-attribute list on every use as the dev server does by default.
 */
const WAL_FULL = { journal_mode: 'WAL', synchronous: 'FULL' };
/** A variant is the dev server options it differs in, passed to the server as they are. */
const VARIANTS = {
  default: { sqlitePragmas: {}, allVisibilityIndexes: true, searchAttributesReadOnEveryUse: true },
  'wal-full': { sqlitePragmas: WAL_FULL, allVisibilityIndexes: true, searchAttributesReadOnEveryUse: true },
  'wal-full-lean': { sqlitePragmas: WAL_FULL, allVisibilityIndexes: false, searchAttributesReadOnEveryUse: true },
  embedded: { sqlitePragmas: WAL_FULL, allVisibilityIndexes: false, searchAttributesReadOnEveryUse: false },
  'wal-normal': { sqlitePragmas: { journal_mode: 'WAL', synchronous: 'NORMAL' }, allVisibilityIndexes: true, searchAttributesReadOnEveryUse: true },
} as const satisfies Record<string, Pick<TemporalDevServerOptions, 'sqlitePragmas' | 'allVisibilityIndexes' | 'searchAttributesReadOnEveryUse'>>;
type Variant = keyof typeof VARIANTS;

interface Subject {
  variant: Variant;
  stack: BenchStack;
  /** The dev server now running (replaced after the crash probe's restart). */
  temporal: ServerHandle;
  dbFile: string;
}

/** SQLite's own verdict on the file, from the project venv's Python (its sqlite3 module). */
function integrityCheck(python: string, dbFile: string): string {
  return execFileSync(python, ['-c', 'import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute("pragma integrity_check").fetchone()[0])', dbFile], { encoding: 'utf8' }).trim();
}

/** SIGKILL to the dev server's whole process group: no shutdown, no checkpoint. */
async function killHard(server: ServerHandle): Promise<void> {
  const exited = new Promise<void>((resolve) => server.process.once('exit', () => resolve()));
  process.kill(-server.process.pid!, 'SIGKILL');
  await exited;
}

interface CrashProbe {
  accepted: number;
  duplicate: number;
  lost: number;
  unanswered: number;
  integrity: string;
}

/**
 * Ingests `events`, SIGKILLs the server once `killAfter` of them were answered, restarts it on the
 * same file, then re-sends every event answered "accepted" and counts how they come back.
 */
async function crashProbe(subject: Subject, events: HookEvent[], concurrency: number, killAfter: number): Promise<CrashProbe> {
  const { stack } = subject;
  const accepted: HookEvent[] = [];
  let answered = 0;
  let unanswered = 0;
  let killing: Promise<void> | undefined;
  await mapConcurrent(events, concurrency, async (event) => {
    if (killing) return;
    try {
      const o = await stack.client.recordEvent(event, { deadline: Date.now() + 10_000 });
      if (o.status === 'accepted') accepted.push(event);
    } catch {
      unanswered++; // in flight when the server died: either outcome is allowed
    }
    if (++answered === killAfter) killing = killHard(subject.temporal);
  });
  await killing;
  const integrity = integrityCheck(stack.tools.python, subject.dbFile);
  subject.temporal = await startTemporalDevServer({
    tools: stack.tools,
    port: Number(subject.temporal.address.split(':').pop()),
    dbFile: subject.dbFile,
    namespace: 'default',
    logFile: path.join(stack.dir, 'temporal-restarted.log'),
    ...VARIANTS[subject.variant],
  });
  tracked('Temporal dev server (restarted)', subject.temporal.process);
  let duplicate = 0;
  let lost = 0;
  await mapConcurrent(accepted, concurrency, async (event) => {
    // The worker reconnects on its own; give it time rather than count its reconnection as a loss.
    const o = await stack.client.recordEvent(event, { deadline: Date.now() + 120_000 });
    if (o.status === 'duplicate') duplicate++;
    else lost++;
  });
  return { accepted: accepted.length, duplicate, lost, unanswered, integrity };
}

export async function benchSqlite(): Promise<BenchResult[]> {
  const nPractices = Number(process.env.BENCH_SQLITE_PRACTICES ?? 20);
  const nDays = Number(process.env.BENCH_SQLITE_DAYS ?? 3);
  const rounds = Math.max(1, Number(process.env.BENCH_SQLITE_ROUNDS ?? 3));
  const concurrency = Number(process.env.BENCH_SQLITE_CONCURRENCY ?? 32);
  const practices = practiceCodes('S', nPractices);
  const crashPractices = practiceCodes('K', 5);
  const days = Array.from({ length: nDays }, (_, i) => utcDay(i - nDays - 1));
  const events = traffic(practices, days, 6);
  const crashEvents = traffic(crashPractices, days.slice(0, 1), 12);
  const warm = traffic(practiceCodes('S', 1), [utcDay(-nDays - 3)], 3);

  const subjects: Subject[] = [];
  try {
    for (const variant of Object.keys(VARIANTS) as Variant[]) {
      const stack = await startBenchStack({ name: `sqlite-${variant}`, practices: [...practices, ...crashPractices], ...VARIANTS[variant] });
      subjects.push({ variant, stack, temporal: stack.temporal!, dbFile: path.join(stack.dir, 'temporal.sqlite') });
      await viaClient(stack, warm, 4);
    }
    console.error(`sqlite: ${events.length} events per setting in ${rounds} interleaved rounds, concurrency ${concurrency}`);
    const runs = new Map<Variant, { timed: Timed[]; serverCpu: number }>(subjects.map((s) => [s.variant, { timed: [], serverCpu: 0 }]));
    const slice = <T>(xs: T[], r: number) => xs.slice(Math.floor((r * xs.length) / rounds), Math.floor(((r + 1) * xs.length) / rounds));
    for (let r = 0; r < rounds; r++) {
      // Each round in a different order, so that no setting always runs right after the same one.
      for (let i = 0; i < subjects.length; i++) {
        const s = subjects[(i + r) % subjects.length]!;
        const { value, cpu } = await cpuDuring({ server: s.temporal.process.pid! }, () => viaClient(s.stack, slice(events, r), concurrency));
        const run = runs.get(s.variant)!;
        run.timed.push(value);
        run.serverCpu += cpu.server!;
      }
      console.error(`  round ${r + 1}/${rounds} done`);
    }
    const probes = new Map<Variant, CrashProbe>();
    for (const s of subjects) probes.set(s.variant, await crashProbe(s, crashEvents, concurrency, Math.floor(crashEvents.length / 2)));

    const figures = (v: Variant) => {
      const run = runs.get(v)!;
      const seconds = run.timed.reduce((n, t) => n + t.seconds, 0);
      const latencies = run.timed.flatMap((t) => t.latencies).sort((a, b) => a - b);
      return { rate: events.length / seconds, p50: percentile(latencies, 50), p99: percentile(latencies, 99), cpu: (1000 * run.serverCpu) / events.length };
    };
    const base = figures('default');
    const results: BenchResult[] = [];
    for (const s of subjects) {
      const f = figures(s.variant);
      const probe = probes.get(s.variant)!;
      const pragmas =
        (Object.entries(VARIANTS[s.variant].sqlitePragmas).map(([k, v]) => `${k}=${v}`).join(' ') || "SQLite's defaults (journal_mode=DELETE, synchronous=FULL)") +
        (VARIANTS[s.variant].allVisibilityIndexes ? "; Temporal's full set of visibility indexes" : `; ${UNQUERIED_VISIBILITY_INDEXES.length} unqueried visibility indexes dropped`) +
        (VARIANTS[s.variant].searchAttributesReadOnEveryUse ? '; search attributes read on every use' : '; search attributes cached (the embedded default)');
      results.push(
        { name: `sqlite.ingest.${s.variant}`, value: f.rate, unit: 'events/s', baseline: base.rate, ratio: f.rate / base.rate, note: `${pragmas}; client ingest, ${events.length} events, concurrency ${concurrency}, ${rounds} interleaved rounds` },
        { name: `sqlite.ingest.${s.variant}.p50`, value: f.p50, unit: 'ms', baseline: base.p50, ratio: f.p50 / base.p50 },
        { name: `sqlite.ingest.${s.variant}.p99`, value: f.p99, unit: 'ms', baseline: base.p99, ratio: f.p99 / base.p99 },
        { name: `sqlite.cpu.server.${s.variant}`, value: f.cpu, unit: 'ms/event', baseline: base.cpu, ratio: f.cpu / base.cpu, note: 'Temporal dev server CPU per event' },
        {
          name: `sqlite.crash.${s.variant}.lost`,
          value: probe.lost,
          unit: 'events',
          note: `server SIGKILLed mid-ingest, restarted on its file: integrity_check ${probe.integrity}; of ${probe.accepted} accepted, ${probe.duplicate} still there (re-sent → duplicate), ${probe.lost} lost; ${probe.unanswered} unanswered at the kill${s.variant === 'wal-normal' ? '; an OS crash or power cut (not tested) may lose the last commits with synchronous=NORMAL' : ''}`,
        },
      );
    }
    return results;
  } finally {
    for (const s of subjects) {
      await s.temporal.stop().catch(() => undefined);
      await s.stack.stop();
    }
  }
}

if (require.main === module) {
  benchSqlite().then(
    (results) => console.log(formatResults(results)),
    (err: unknown) => {
      console.error(`bench sqlite: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      process.exit(1);
    },
  );
}
