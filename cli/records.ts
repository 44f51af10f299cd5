/**
 * `gp2gp-mi render` and `gp2gp-mi check`: the MI file offline, from a file of hook events, and a check
 * of any MI file against 0171.02 — for operators reproducing or inspecting what was (or will be) sent,
 * with no Temporal and no MESH involved. Both use the same domain core as the pipeline.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Command } from 'commander';
import { checkFile } from '../mi/check';
import { renderRecordSets } from '../mi/csv';
import { withEventId } from '../mi/event-id';
import { recordKeyOf, utcDayOf, validateEvent, type HookEvent } from '../mi/events';
import { isDay } from '../mi/formats';
import { loadPractices } from '../mi/practices';
import { recordSet, type RecordEvents, type RecordSet } from '../mi/record-set';
import { sameEventContent } from '../mi/records';
import { CommandError, UsageError } from './exit-codes';

/** Guards against a typo such as --from 2016 … --to 2026 rendering ten years for every practice. */
const MAX_DAYS = 366;
const DAY_MS = 86_400_000;

function daysBetween(from: string, to: string): string[] {
  const days: string[] = [];
  for (let ms = Date.parse(`${from}T00:00:00Z`); ms <= Date.parse(`${to}T00:00:00Z`); ms += DAY_MS) {
    days.push(new Date(ms).toISOString().slice(0, 10));
  }
  return days;
}

interface LoadedEvents {
  /** practice ODS → record ("RR key" / "SR key") → events */
  byPractice: Map<string, Map<string, RecordEvents & { events: HookEvent[] }>>;
  count: number;
}

/**
 * Reads hook events, one JSON object per line (blank lines allowed). Every bad line is reported with
 * its number, and any bad line stops the command before anything is written.
 */
function readEvents(file: string): LoadedEvents {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new UsageError(`${file}: ${(err as Error).message}`);
  }
  const problems: string[] = [];
  const firstLineOf = new Map<string, { line: number; event: HookEvent }>();
  const byPractice: LoadedEvents['byPractice'] = new Map();
  let count = 0;
  const now = new Date();
  text.split(/\r?\n/).forEach((line, i) => {
    const lineNo = i + 1;
    if (line.trim() === '') return;
    let json: unknown;
    try {
      json = JSON.parse(line);
    } catch (err) {
      problems.push(`${file}:${lineNo}: not JSON (${(err as Error).message})`);
      return;
    }
    const result = validateEvent(json, { now });
    if (!result.ok) {
      problems.push(`${file}:${lineNo}: ${result.message}`);
      return;
    }
    const event = withEventId(result.event);
    const earlier = firstLineOf.get(event.eventId);
    if (earlier) {
      if (!sameEventContent(earlier.event, event)) {
        problems.push(`${file}:${lineNo}: eventId: ${JSON.stringify(event.eventId)} was already used on line ${earlier.line} for a different event; allowed: a new eventId for new content`);
      }
      return; // a duplicate changes nothing
    }
    firstLineOf.set(event.eventId, { line: lineNo, event });
    count++;
    const { side, practiceOds, key } = recordKeyOf(event);
    let records = byPractice.get(practiceOds);
    if (!records) byPractice.set(practiceOds, (records = new Map()));
    const recordId = `${side} ${key}`;
    let record = records.get(recordId);
    if (!record) records.set(recordId, (record = { side, key, events: [] }));
    record.events.push(event);
  });
  if (problems.length > 0) {
    for (const p of problems) console.error(p);
    throw new UsageError(`${problems.length} bad line${problems.length === 1 ? '' : 's'} in ${file}; nothing written`);
  }
  return { byPractice, count };
}

/** Writes next to the target, then renames: readers see the old file or the whole new one. */
function writeAtomically(file: string, content: string): void {
  const temp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
  try {
    fs.writeFileSync(temp, content, { encoding: 'utf8', flag: 'wx' });
    fs.renameSync(temp, file);
  } catch (err) {
    fs.rmSync(temp, { force: true });
    throw new CommandError(`${file}: ${(err as Error).message}`);
  }
}

interface RenderOptions {
  events: string;
  practices: string;
  from: string;
  to: string;
  practice?: string;
  out?: string;
}

function render(options: RenderOptions): void {
  for (const [name, value] of [['--from', options.from], ['--to', options.to]] as const) {
    if (!isDay(value)) throw new UsageError(`${name}: ${JSON.stringify(value)} is not allowed; allowed: a date YYYY-MM-DD`);
  }
  if (options.from > options.to) throw new UsageError(`--from ${options.from} is after --to ${options.to}`);
  const days = daysBetween(options.from, options.to);
  if (days.length > MAX_DAYS) throw new UsageError(`${days.length} days from --from to --to; allowed: at most ${MAX_DAYS}`);

  let practices;
  try {
    practices = loadPractices(options.practices);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  if (options.practice !== undefined) {
    practices = practices.filter((p) => p.ods === options.practice);
    if (practices.length === 0) throw new UsageError(`--practice: ${JSON.stringify(options.practice)} is not in ${options.practices}`);
  }
  practices.sort((a, b) => (a.ods < b.ods ? -1 : a.ods > b.ods ? 1 : 0));

  const loaded = readEvents(options.events);
  const configured = new Set(practices.map((p) => p.ods));
  const ignored = [...loaded.byPractice.keys()].filter((ods) => !configured.has(ods)).sort();

  const sets: RecordSet[] = [];
  for (const practice of practices) {
    // Each record goes to the record sets of the days it has events on.
    const byDay = new Map<string, RecordEvents[]>();
    for (const record of loaded.byPractice.get(practice.ods)?.values() ?? []) {
      for (const day of new Set(record.events.map((e) => utcDayOf(e.occurredAt)))) {
        const list = byDay.get(day);
        if (list) list.push(record);
        else byDay.set(day, [record]);
      }
    }
    for (const day of days) sets.push(recordSet(practice, day, byDay.get(day) ?? []));
  }
  const content = renderRecordSets(sets);
  if (options.out) writeAtomically(options.out, content);
  else process.stdout.write(content);

  const rows = sets.reduce((n, s) => n + s.rows.length, 0);
  const bytes = Buffer.byteLength(content, 'utf8');
  console.error(
    `${sets.length} record set${sets.length === 1 ? '' : 's'} (${practices.length} practice${practices.length === 1 ? '' : 's'} × ${days.length} day${days.length === 1 ? '' : 's'}), ` +
      `${rows} row${rows === 1 ? '' : 's'}, ${bytes} bytes${options.out ? ` written to ${options.out}` : ''}`,
  );
  if (ignored.length > 0 && options.practice === undefined) {
    console.error(`events of practices not in ${options.practices} were left out: ${ignored.join(', ')}`);
  }
  if (bytes > 50_000_000) console.error('note: over 50 MB — MESH/DTS will not take this as one file (MI21); narrow the range or use --practice');
}

function check(file: string): void {
  let content: string;
  try {
    content = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new UsageError(`${file}: ${(err as Error).message}`);
  }
  const result = checkFile(content);
  for (const p of result.problems) console.log(`${file}:${p.line}: ${p.message}`);
  const summary = `${result.recordSets} record set${result.recordSets === 1 ? '' : 's'}, ${result.rows} row${result.rows === 1 ? '' : 's'}`;
  if (result.problems.length > 0) {
    throw new CommandError(`${file}: ${result.problems.length} problem${result.problems.length === 1 ? '' : 's'} (${summary})`);
  }
  console.log(`${file}: ok, ${summary}`);
}

export function registerRecordCommands(program: Command): void {
  program
    .command('render')
    .description('Render the MI record sets (0171.02 CSV) of every configured practice and day from a file of hook events, offline')
    .requiredOption('--events <file>', 'hook events, one JSON object per line')
    .requiredOption('--practices <file>', 'practice settings, {"practices": [ … ]}')
    .requiredOption('--from <YYYY-MM-DD>', 'first UTC day')
    .requiredOption('--to <YYYY-MM-DD>', 'last UTC day (inclusive)')
    .option('--practice <ODS>', 'only this practice')
    .option('--out <file>', 'write the file (atomically) instead of printing it')
    .action((options: RenderOptions) => render(options));

  program
    .command('check')
    .description('Check an MI file against 0171.02 and print each problem with its line number')
    .argument('<file>', 'the MI file (CSV)')
    .action((file: string) => check(file));
}
