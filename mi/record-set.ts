/**
 * A record set: one practice × one UTC day — the rows of every record of the practice with at least
 * one event that day, each as of the end of the day (0171.02 HR6: 00:00:00 to 23:59:59.999). A pure
 * function of the events, so the same events always give the same bytes, and a late event makes its
 * day's record set due again as a correction. Rows are in a fixed order (RR rows, then SR rows, each by
 * first event, then key); the spec allows any order, determinism needs one. Workflow-safe.
 */
import { utcDayOf, type HookEvent, type Side } from './events';
import { dayRefusal } from './formats';
import type { PracticeSettings } from './practices';
import { buildRow, firstEventAt, meshEvents } from './records';

/**
 * The row of one record as of the end of one day, as its transfer computed it: the one row shape of
 * the pipeline. Transfers hand these to reporting; a record set holds them without `day` and `seq`.
 */
export interface DayRow {
  /** YYYY-MM-DD (UTC): the day whose record set the row belongs to. */
  day: string;
  side: Side;
  key: string;
  /** The record's first event (canonical UTC instant): the row's place in the set. */
  firstEventAt: string;
  /** Full, as buildRow returns them (SR rows with SR29–SR33). */
  fields: string[];
  /** Number of events the row was built from: only a higher seq replaces a row. */
  seq: number;
}

/** A row inside a record set: the set gives the day, and its seq no longer matters. */
export type RecordSetRow = Omit<DayRow, 'day' | 'seq'>;

export interface RecordSet {
  practice: PracticeSettings;
  /** YYYY-MM-DD (UTC). */
  day: string;
  rows: RecordSetRow[];
}

/** The rows of one day's record set as sent to a submission: a record set without its practice. */
export type DayRecordSet = Omit<RecordSet, 'practice'>;

export interface RecordEvents {
  side: Side;
  key: string;
  events: readonly HookEvent[];
}

/** The last instant of a UTC day: rows of that day's record set count events up to here. */
export function endOfDay(day: string): string {
  return `${day}T23:59:59.999Z`;
}

function compareRows(a: RecordSetRow, b: RecordSetRow): number {
  if (a.side !== b.side) return a.side === 'RR' ? -1 : 1;
  if (a.firstEventAt !== b.firstEventAt) return a.firstEventAt < b.firstEventAt ? -1 : 1;
  return a.key < b.key ? -1 : a.key > b.key ? 1 : 0;
}

/** A record set from rows computed elsewhere (e.g. by transfer workflows), in the deterministic order. */
export function recordSetFromRows(practice: PracticeSettings, day: string, rows: readonly RecordSetRow[]): RecordSet {
  const badDay = dayRefusal('record set day', day);
  if (badDay) throw new Error(badDay);
  const seen = new Set<string>();
  for (const row of rows) {
    const id = `${row.side} ${row.key}`;
    if (seen.has(id)) throw new Error(`record set ${practice.ods} ${day}: two rows for ${id}`);
    seen.add(id);
  }
  return { practice, day, rows: [...rows].sort(compareRows) };
}

/**
 * The record set of `practice` for `day` from whole records: every record with an event on that day,
 * each row built from its events up to the end of the day. Records of other practices are an error.
 */
export function recordSet(practice: PracticeSettings, day: string, records: readonly RecordEvents[]): RecordSet {
  const upTo = endOfDay(day);
  const rows: RecordSetRow[] = [];
  for (const record of records) {
    const foreign = record.events.find((e) => e.practiceOds !== practice.ods);
    if (foreign) throw new Error(`record ${record.side} ${record.key} has an event of practice ${foreign.practiceOds}, not ${practice.ods}`);
    if (!meshEvents(record.events).some((e) => utcDayOf(e.occurredAt) === day)) continue;
    rows.push({ side: record.side, key: record.key, firstEventAt: firstEventAt(record.events, upTo)!, fields: buildRow(record.side, record.events, upTo) });
  }
  return recordSetFromRows(practice, day, rows);
}
