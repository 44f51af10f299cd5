/**
 * Rendering a national week of MI: about 130k RR and SR rows over 6,300 practices × 7 days (44,100
 * record sets), the volume the docs give for England. Measures the renderer (mi/csv.ts) against a plain
 * string-join renderer of the same rows that produces the very same bytes — the ratio to beat — and
 * against the csv-stringify renderer it replaced (bench/render-stringify.ts: the bytes of all three are
 * compared, so the rewrite is proven byte-identical on a national week), plus the submission's path:
 * record sets streamed into files (activities/submission-files.ts) against the join written whole.
 * Also building the rows from events, and peak memory (RSS sampled from a worker thread while the main
 * thread renders, each renderer in a fresh process), for the week and for one day of it: memory that
 * does not grow with the number of rows shows as a ratio near 1 between the two.
 *
 *   npx tsx bench/render.ts        (or npm run bench, which runs every bench)
 */
import { fork } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import { Worker } from 'node:worker_threads';
import { fitQuotedText, fitSoftware, footerFields, headerFields, planFiles, renderRecordSets } from '../mi/csv';
import type { HookEvent } from '../mi/events';
import { FIELDS, QUOTED_POSITIONS, SR_SPEC_FIELD_COUNT } from '../mi/fields';
import type { PracticeSettings } from '../mi/practices';
import { endOfDay, recordSetFromRows, type RecordSet, type RecordSetRow } from '../mi/record-set';
import { buildRow, firstEventAt } from '../mi/records';
import { prng, syntheticPractice } from '../demo/traffic';
import { writeRecordSetFiles } from '../activities/submission-files';
import { compareOnAdversarialSets, renderWithStringify } from './render-stringify';
import { formatResults, type BenchResult } from './result';

const PRACTICES = Number(process.env.BENCH_RENDER_PRACTICES ?? 6300);
const DAYS = ['2026-03-23', '2026-03-24', '2026-03-25', '2026-03-26', '2026-03-27', '2026-03-28', '2026-03-29'];
const RUNS = Number(process.env.BENCH_RENDER_RUNS ?? 3);
const MB = 1_000_000;
/**
 * V8 flags of the memory measurements: without its memory reducer, V8 does not hand pages back on a
 * timer in the middle of a measurement (which made "added" come out below zero).
 */
const MEMORY_FLAGS = (process.env.BENCH_RENDER_MEMORY_FLAGS ?? '--no-memory-reducer').split(' ').filter(Boolean);
const ADVERSARIAL_RUNS = Number(process.env.BENCH_RENDER_ADVERSARIAL_RUNS ?? 2000);

// ---- a deterministic national week --------------------------------------------------------------


interface Week {
  sets: RecordSet[];
  rows: number;
  events: number;
  buildSeconds: number;
}

export function makeWeek(): Week {
  const random = prng(20260323);
  const hex = (n: number) => Array.from({ length: n }, () => Math.floor(random() * 16).toString(16).toUpperCase()).join('');
  const guid = () => `${hex(8)}-${hex(4)}-${hex(4)}-${hex(4)}-${hex(12)}`;
  const at = (day: string, minute: number) => new Date(Date.parse(`${day}T07:00:00Z`) + minute * 60_000).toISOString();
  const sets: RecordSet[] = [];
  let rows = 0;
  let events = 0;
  let buildMs = 0;
  for (let p = 0; p < PRACTICES; p++) {
    const ods = `P${String(p).padStart(5, '0')}`;
    const practice: PracticeSettings = syntheticPractice(ods, 200000000000 + p, { applicationStatus: '111110000000000' });
    for (const day of DAYS) {
      const count = Math.floor(random() * 7); // 0–6 rows, 3 on average: ~132k in the week
      const setRows: RecordSetRow[] = [];
      for (let n = 0; n < count; n++) {
        const conversationId = guid();
        const start = Math.floor(random() * 600);
        const failed = random() < 0.1;
        const record: HookEvent[] =
          random() < 0.5
            ? requesterEvents(ods, `R-${p}-${day}-${n}`, conversationId, day, start, failed, guid, at)
            : senderEvents(ods, conversationId, day, start, failed, guid, at);
        const side = record[0]!.type === 'registration' ? 'RR' : 'SR';
        const t0 = performance.now();
        const fields = buildRow(side, record, endOfDay(day));
        buildMs += performance.now() - t0;
        setRows.push({ side, key: side === 'RR' ? `R-${p}-${day}-${n}` : conversationId, firstEventAt: firstEventAt(record)!, fields });
        events += record.length;
      }
      rows += setRows.length;
      sets.push(recordSetFromRows(practice, day, setRows));
    }
  }
  return { sets, rows, events, buildSeconds: buildMs / 1000 };
}

type At = (day: string, minute: number) => string;

function requesterEvents(ods: string, registrationId: string, conversationId: string, day: string, start: number, failed: boolean, guid: () => string, at: At): HookEvent[] {
  const base = { practiceOds: ods, registrationId };
  const events: HookEvent[] = [
    { ...base, type: 'registration', occurredAt: at(day, start), targetOds: 'B23456', registrationType: 'new', registeringUser: '555021935107' },
    { ...base, type: 'ehr-requested', occurredAt: at(day, start + 1), conversationId, requestMessageId: guid() },
  ];
  if (failed) {
    events.push({ ...base, type: 'request-failure', occurredAt: at(day, start + 9), conversationId, failurePoint: 60, failureType: 6, fatal: true, failedMessageId: guid(), errorCode: '06', errorDescription: 'Patient not at surgery, "NACK" received from the sending practice', retries: 0 });
  } else {
    events.push(
      { ...base, type: 'ehr-received', occurredAt: at(day, start + 12), conversationId, extractMessageId: guid(), largeMessageReasons: [0] },
      { ...base, type: 'extract-acknowledged', occurredAt: at(day, start + 300), conversationId, ackStatus: 1, ackCode: '0', ackMessageId: guid(), actingUser: '555021935107', retries: 0 },
    );
  }
  return events;
}

function senderEvents(ods: string, conversationId: string, day: string, start: number, failed: boolean, guid: () => string, at: At): HookEvent[] {
  const base = { practiceOds: ods, conversationId };
  const events: HookEvent[] = [
    { ...base, type: 'request-received', occurredAt: at(day, start), requestMessageId: guid(), requestingOds: 'B23456', requesterConfig: '1000000000' },
    { ...base, type: 'request-acknowledged', occurredAt: at(day, start + 2), ackCode: failed ? '06' : '0', ackMessageId: guid(), retries: 0, ...(failed ? { failureType: 1 as const, errorCode: '06', errorDescription: 'Patient not at surgery' } : {}) },
  ];
  if (!failed) {
    events.push(
      { ...base, type: 'ehr-sent', occurredAt: at(day, start + 5), extractMessageId: guid(), largeMessaging: false },
      { ...base, type: 'conversation-closed', occurredAt: at(day, start + 400) },
    );
  }
  return events;
}

// ---- the baseline: the same bytes by plain string joins -----------------------------------------

/** Quoted-field handling inlined; no CSV library. Must produce exactly what renderRecordSets does. */
export function renderByJoin(sets: readonly RecordSet[]): string {
  const out: string[] = [];
  for (const set of sets) {
    const header = headerFields(set.practice, set.day);
    header[3] = `"${fitSoftware(header[3]!)}"`;
    out.push(header.join(','));
    for (const row of set.rows) {
      const fields = row.side === 'SR' && !set.practice.placeholderColumns ? row.fields.slice(0, SR_SPEC_FIELD_COUNT) : row.fields.slice();
      for (const i of QUOTED_POSITIONS[row.side]) {
        if (fields[i]) fields[i] = `"${fitQuotedText(fields[i]!, FIELDS[row.side][i]!.max).replaceAll('"', '""')}"`;
      }
      out.push(fields.join(','));
    }
    out.push(footerFields(set).join(','));
  }
  out.push('');
  return out.join('\r\n');
}

// ---- measuring ----------------------------------------------------------------------------------

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

/**
 * The ways of rendering measured for memory: the whole output as one string (ours, the join), or the
 * submission's way, streamed into files in a scratch folder (stream).
 */
const RENDERERS = {
  ours: async (sets: readonly RecordSet[]) => renderRecordSets(sets).length,
  join: async (sets: readonly RecordSet[]) => renderByJoin(sets).length,
  stream: (sets: readonly RecordSet[]) => inScratchDir(async (dir) => (await writeRecordSetFiles(sets, dir)).reduce((n, f) => n + f.bytes, 0)),
} as const;
type Renderer = keyof typeof RENDERERS;

async function inScratchDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gp2gp-mi-bench-render-'));
  try {
    return await fn(dir);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Samples the process's RSS every millisecond or so from another thread while this one renders.
 * Started before "before" is read, so that the sampler's own thread counts on both sides.
 */
function startRssSampler(): { reset(): Promise<void>; peak(): Promise<number> } {
  const worker = new Worker(
    `const { parentPort } = require('node:worker_threads');
     let peak = process.memoryUsage.rss();
     const timer = setInterval(() => { peak = Math.max(peak, process.memoryUsage.rss()); }, 1);
     parentPort.on('message', (m) => {
       if (m === 'reset') { peak = process.memoryUsage.rss(); parentPort.postMessage('ok'); return; }
       clearInterval(timer);
       parentPort.postMessage(Math.max(peak, process.memoryUsage.rss()));
     });`,
    { eval: true },
  );
  const ask = <T>(m: string) => new Promise<T>((resolve) => {
    worker.once('message', (answer: T) => resolve(answer));
    worker.postMessage(m);
  });
  return {
    reset: () => ask<string>('reset').then(() => undefined),
    peak: () => ask<number>('peak').then(async (peak) => {
      await worker.terminate();
      return peak;
    }),
  };
}

interface MemoryFigures {
  /** RSS with the week's rows in memory, before rendering. */
  before: number;
  /** Highest RSS while rendering. */
  peak: number;
}

/** The first this many days of the week (7: all of it): to see whether memory grows with the rows. */
type Scope = number;

/**
 * Memory is measured in a fresh process per renderer: RSS rarely shrinks once grown, so measuring both
 * in one process would show the first one's high-water mark twice.
 */
function measureMemoryInChild(renderer: Renderer, scope: Scope = DAYS.length): Promise<MemoryFigures> {
  return new Promise((resolve, reject) => {
    const child = fork(__filename, ['--memory', renderer, String(scope)], { execArgv: [...process.execArgv, ...MEMORY_FLAGS], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    child.once('message', (m) => resolve(m as MemoryFigures));
    child.once('exit', (code) => (code === 0 ? undefined : reject(new Error(`memory measurement of ${renderer} exited with ${code}`))));
  });
}

async function memoryChild(renderer: Renderer, scope: Scope): Promise<void> {
  const week = makeWeek();
  const sets = week.sets.filter((s) => DAYS.indexOf(s.day) < scope);
  const sampler = startRssSampler();
  // The rows' garbage collected, and V8 given time to hand freed pages back, or "before" would count
  // memory released during the measurement and the figure could come out below zero (it still may,
  // by a few MB: then rendering needed nothing beyond what the process already held).
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((r) => setTimeout(r, 100));
  }
  await new Promise((r) => setTimeout(r, 1_000));
  gc();
  const before = process.memoryUsage.rss();
  await sampler.reset();
  const bytes = await RENDERERS[renderer](sets);
  const peak = await sampler.peak();
  process.send!({ before, peak, bytes } satisfies MemoryFigures & { bytes: number });
}

async function timed<T>(render: () => T | Promise<T>): Promise<{ seconds: number; output: T }> {
  gc();
  const t0 = performance.now();
  const output = await render();
  return { seconds: (performance.now() - t0) / 1000, output };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** The files a submission would send, read back and chained: what the stream path wrote. */
function readBack(files: { path: string }[]): string {
  return files.map((f) => fs.readFileSync(f.path, 'utf8')).join('');
}

export async function benchRender(): Promise<BenchResult[]> {
  const week = makeWeek();
  const ours: number[] = [];
  const join: number[] = [];
  const stream: number[] = [];
  const joinToFile: number[] = [];
  let bytes = 0;
  // The old path, once: its bytes are the reference, and its speed the "before" of this run.
  const old = await timed(() => renderWithStringify(week.sets));
  // Interleaved, so that drift (GC state, CPU frequency) hits all alike.
  for (let i = 0; i < RUNS; i++) {
    const j = await timed(() => renderByJoin(week.sets));
    const o = await timed(() => renderRecordSets(week.sets));
    if (o.output !== old.output) throw new Error('renderRecordSets and the csv-stringify renderer it replaced differ: the bytes changed');
    if (o.output !== j.output) throw new Error('the string-join baseline and renderRecordSets differ: the comparison would be unfair');
    join.push(j.seconds);
    ours.push(o.seconds);
    bytes = Buffer.byteLength(o.output);
    // The submission's path: streamed into files, against the join's string written whole.
    await inScratchDir(async (dir) => {
      const jf = await timed(() => fs.promises.writeFile(path.join(dir, 'join.csv'), renderByJoin(week.sets)));
      const streamDir = fs.mkdirSync(path.join(dir, 'stream'), { recursive: true })!;
      const sf = await timed(() => writeRecordSetFiles(week.sets, streamDir));
      joinToFile.push(jf.seconds);
      stream.push(sf.seconds);
      if (i === 0 && readBack(sf.output) !== old.output) throw new Error('the files written by writeRecordSetFiles differ from the csv-stringify renderer: the bytes changed');
    });
  }
  // Text the national week never has (non-ASCII, quotes, separators, nulls, rows that must be refused):
  // the new renderer must give the old one's bytes, or the same refusal.
  const difference = compareOnAdversarialSets(renderRecordSets, ADVERSARIAL_RUNS, 20260323);
  if (difference) throw new Error(`renderRecordSets and the csv-stringify renderer differ on ${difference}`);
  const files = planFiles(week.sets);
  const memory: Record<string, MemoryFigures> = {};
  // 3 days, not 1: a run that short ends before the garbage collector reaches its steady state.
  for (const [renderer, scope] of [['stream', 7], ['join', 7], ['ours', 7], ['stream', 3], ['join', 3]] as const) {
    memory[`${renderer}.${scope}`] = await measureMemoryInChild(renderer, scope);
  }

  const oursSeconds = median(ours);
  const joinSeconds = median(join);
  const oursRate = week.rows / oursSeconds;
  const joinRate = week.rows / joinSeconds;
  const oldRate = week.rows / old.seconds;
  const added = (m: MemoryFigures) => (m.peak - m.before) / MB;
  const scope = `${week.sets.length} record sets (${PRACTICES} practices × ${DAYS.length} days), ${week.rows} rows, ${(bytes / MB).toFixed(1)} MB`;
  const streamWeek = memory['stream.7']!;
  const joinWeek = memory['join.7']!;
  return [
    {
      name: 'render national week: rows/s',
      value: oursRate,
      unit: 'rows/s',
      baseline: joinRate,
      ratio: oursRate / joinRate,
      note: `renderRecordSets vs plain string join, byte-identical output (and to the old csv-stringify path, also on ${ADVERSARIAL_RUNS} adversarial samples); ${scope}; median of ${RUNS}; goal ≥ 0.6×`,
    },
    { name: 'render national week: time', value: oursSeconds, unit: 's', baseline: joinSeconds, ratio: oursSeconds / joinSeconds },
    {
      name: 'render national week: old csv-stringify path',
      value: oldRate,
      unit: 'rows/s',
      baseline: joinRate,
      ratio: oldRate / joinRate,
      note: 'the renderer before issue 13 (bench/render-stringify.ts), one run: the "before" of this run',
    },
    {
      name: 'render national week: into files',
      value: median(stream),
      unit: 's',
      baseline: median(joinToFile),
      ratio: median(stream) / median(joinToFile),
      note: `the submission's path (writeRecordSetFiles, streamed into ${files.length} file(s)) vs the join's string written whole; median of ${RUNS}`,
    },
    {
      name: 'render national week: peak RSS',
      value: streamWeek.peak / MB,
      unit: 'MB',
      baseline: joinWeek.peak / MB,
      ratio: streamWeek.peak / joinWeek.peak,
      note: `streamed into files vs the join's string; whole process, the week's rows included (${(streamWeek.before / MB).toFixed(0)} MB before rendering)`,
    },
    {
      name: 'render national week: RSS added',
      value: added(streamWeek),
      unit: 'MB',
      baseline: added(joinWeek),
      ratio: added(streamWeek) / added(joinWeek),
      note: "streamed into files vs the join's string; peak while rendering minus before; sampled every ~1 ms from a worker thread",
    },
    {
      name: 'render national week: RSS added, one string',
      value: added(memory['ours.7']!),
      unit: 'MB',
      baseline: added(joinWeek),
      ratio: added(memory['ours.7']!) / added(joinWeek),
      note: 'renderRecordSets (the whole output as one string, as the CLI renders) vs the join',
    },
    {
      name: 'render 7 days vs 3: RSS added, into files',
      value: added(streamWeek),
      unit: 'MB',
      baseline: added(memory['stream.3']!),
      // A ratio only when the smaller figure is clear of the measurement's noise (RSS moves ~10 MB either way).
      ...(added(memory['stream.3']!) > 10 ? { ratio: added(streamWeek) / added(memory['stream.3']!) } : {}),
      note: `the week vs its first 3 days (2.3× the rows); both within RSS's ~10 MB noise = does not grow with rows (the join: ${added(joinWeek).toFixed(1)} vs ${added(memory['join.3']!).toFixed(1)} MB)`,
    },
    { name: 'build rows from events', value: week.rows / week.buildSeconds, unit: 'rows/s', note: `${week.events} events → ${week.rows} rows (buildRow as of the end of each day)` },
    { name: 'national week files (50 MB limit)', value: files.length, unit: 'files', note: files.map((f) => `${(f.bytes / MB).toFixed(1)} MB`).join(', ') },
  ];
}

if (require.main === module) {
  const memoryOf = process.argv.indexOf('--memory');
  const run =
    memoryOf > 0
      ? memoryChild(process.argv[memoryOf + 1] as Renderer, Number(process.argv[memoryOf + 2] ?? DAYS.length))
      : benchRender().then((results) => console.log(formatResults(results)));
  run.catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
