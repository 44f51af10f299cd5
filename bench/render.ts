/**
 * Rendering a national week of MI: about 130k RR and SR rows over 6,300 practices × 7 days (44,100
 * record sets), the volume the docs give for England. Measures the renderer (mi/csv.ts, csv-stringify)
 * against a plain string-join renderer of the same rows that produces the very same bytes — the ratio
 * to beat — plus building the rows from events, and peak memory (RSS sampled from a worker thread while
 * the main thread renders, each renderer in a fresh process).
 *
 *   npx tsx bench/render.ts        (or npm run bench, which runs every bench)
 */
import { fork } from 'node:child_process';
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
import { formatResults, type BenchResult } from './result';

const PRACTICES = Number(process.env.BENCH_RENDER_PRACTICES ?? 6300);
const DAYS = ['2026-03-23', '2026-03-24', '2026-03-25', '2026-03-26', '2026-03-27', '2026-03-28', '2026-03-29'];
const RUNS = Number(process.env.BENCH_RENDER_RUNS ?? 3);
const MB = 1_000_000;

// ---- a deterministic national week --------------------------------------------------------------


interface Week {
  sets: RecordSet[];
  rows: number;
  events: number;
  buildSeconds: number;
}

function makeWeek(): Week {
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
function renderByJoin(sets: readonly RecordSet[]): string {
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

const RENDERERS = { ours: renderRecordSets, join: renderByJoin } as const;
type Renderer = keyof typeof RENDERERS;

/** Samples the process's RSS every millisecond or so from another thread while this one renders. */
function startRssSampler(): { peak(): Promise<number> } {
  const worker = new Worker(
    `const { parentPort } = require('node:worker_threads');
     let peak = process.memoryUsage.rss();
     const timer = setInterval(() => { peak = Math.max(peak, process.memoryUsage.rss()); }, 1);
     parentPort.once('message', () => { clearInterval(timer); parentPort.postMessage(Math.max(peak, process.memoryUsage.rss())); });`,
    { eval: true },
  );
  return {
    peak: () =>
      new Promise((resolve) => {
        worker.once('message', (peak: number) => void worker.terminate().then(() => resolve(peak)));
        worker.postMessage('peak');
      }),
  };
}

interface MemoryFigures {
  /** RSS with the week's rows in memory, before rendering. */
  before: number;
  /** Highest RSS while rendering. */
  peak: number;
}

/**
 * Memory is measured in a fresh process per renderer: RSS rarely shrinks once grown, so measuring both
 * in one process would show the first one's high-water mark twice.
 */
function measureMemoryInChild(renderer: Renderer): Promise<MemoryFigures> {
  return new Promise((resolve, reject) => {
    const child = fork(__filename, ['--memory', renderer], { execArgv: process.execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    child.once('message', (m) => resolve(m as MemoryFigures));
    child.once('exit', (code) => (code === 0 ? undefined : reject(new Error(`memory measurement of ${renderer} exited with ${code}`))));
  });
}

async function memoryChild(renderer: Renderer): Promise<void> {
  const week = makeWeek();
  gc();
  const before = process.memoryUsage.rss();
  const sampler = startRssSampler();
  await new Promise((r) => setTimeout(r, 20)); // let the sampler start
  const output = RENDERERS[renderer](week.sets);
  const peak = await sampler.peak();
  process.send!({ before, peak, bytes: output.length } satisfies MemoryFigures & { bytes: number });
}

function timed(render: () => string): { seconds: number; output: string } {
  gc();
  const t0 = performance.now();
  const output = render();
  return { seconds: (performance.now() - t0) / 1000, output };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export async function benchRender(): Promise<BenchResult[]> {
  const week = makeWeek();
  const ours: number[] = [];
  const join: number[] = [];
  let bytes = 0;
  // Interleaved, so that drift (GC state, CPU frequency) hits both alike.
  for (let i = 0; i < RUNS; i++) {
    const j = timed(() => renderByJoin(week.sets));
    const o = timed(() => renderRecordSets(week.sets));
    if (o.output !== j.output) throw new Error('the string-join baseline and renderRecordSets differ: the comparison would be unfair');
    join.push(j.seconds);
    ours.push(o.seconds);
    bytes = Buffer.byteLength(o.output);
  }
  const files = planFiles(week.sets);
  const oursMemory = await measureMemoryInChild('ours');
  const joinMemory = await measureMemoryInChild('join');

  const oursSeconds = median(ours);
  const joinSeconds = median(join);
  const oursRate = week.rows / oursSeconds;
  const joinRate = week.rows / joinSeconds;
  const added = (m: MemoryFigures) => (m.peak - m.before) / MB;
  const scope = `${week.sets.length} record sets (${PRACTICES} practices × ${DAYS.length} days), ${week.rows} rows, ${(bytes / MB).toFixed(1)} MB`;
  return [
    {
      name: 'render national week: rows/s',
      value: oursRate,
      unit: 'rows/s',
      baseline: joinRate,
      ratio: oursRate / joinRate,
      note: `csv-stringify vs plain string join, byte-identical output; ${scope}; median of ${RUNS}`,
    },
    { name: 'render national week: time', value: oursSeconds, unit: 's', baseline: joinSeconds, ratio: oursSeconds / joinSeconds },
    {
      name: 'render national week: peak RSS',
      value: oursMemory.peak / MB,
      unit: 'MB',
      baseline: joinMemory.peak / MB,
      ratio: oursMemory.peak / joinMemory.peak,
      note: `whole process, the week's rows included (${(oursMemory.before / MB).toFixed(0)} MB before rendering)`,
    },
    {
      name: 'render national week: RSS added',
      value: added(oursMemory),
      unit: 'MB',
      baseline: added(joinMemory),
      ratio: added(oursMemory) / added(joinMemory),
      note: 'peak while rendering minus before; sampled every ~1 ms from a worker thread',
    },
    { name: 'build rows from events', value: week.rows / week.buildSeconds, unit: 'rows/s', note: `${week.events} events → ${week.rows} rows (buildRow as of the end of each day)` },
    { name: 'national week files (50 MB limit)', value: files.length, unit: 'files', note: files.map((f) => `${(f.bytes / MB).toFixed(1)} MB`).join(', ') },
  ];
}

if (require.main === module) {
  const memoryOf = process.argv.indexOf('--memory');
  const run = memoryOf > 0 ? memoryChild(process.argv[memoryOf + 1] as Renderer) : benchRender().then((results) => console.log(formatResults(results)));
  run.catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
