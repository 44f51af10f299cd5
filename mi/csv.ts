/**
 * The MI file's bytes (0171.02 §2–3): record sets chained HR, rows, FR; CRLF after every record; the
 * quoted fields (HR4, RR13, RR29, SR13, SR20) in double quotes when they have a value and empty when
 * null; no other field quoted; free text on one line and within its maximum length; every field in
 * ASCII (§2.3.1: see ascii.ts), lengths counted after transliteration. csv-stringify does
 * the CSV mechanics: quoting is switched on per value (a quoted field reaches it as a small object that
 * its object cast turns into a quoted value), so nothing else is ever quoted. Not workflow code: the
 * send activity and the CLI render, workflows only hand over rows.
 */
import { stringify } from 'csv-stringify/sync';
import { toAscii } from './ascii';
import { FIELDS, QUOTED_POSITIONS, SR_SPEC_FIELD_COUNT, type RecordType } from './fields';
import { formatDecimal, oneLine } from './formats';
import type { PracticeSettings } from './practices';
import type { RecordSet, RecordSetRow } from './record-set';

/** MI21: DTS/MESH take files up to 50 MB; the decimal megabyte is the safe reading. */
export const MAX_FILE_BYTES = 50_000_000;

/** A quoted field's text on its way to csv-stringify (only quoted fields are ever objects). */
interface QuotedText {
  quotedText: string;
}

const STRINGIFY_OPTIONS = {
  record_delimiter: '\r\n',
  eof: true,
  cast: {
    object: (value: Record<string, unknown>) => ({ value: (value as unknown as QuotedText).quotedText, quoted: true }),
  },
} as const;

// ---- field values -------------------------------------------------------------------------------

/**
 * Free text as it goes into a quoted field of `max` characters (quotes included): on one line, in
 * ASCII, and cut so that, with inner quotes doubled as CSV requires, it fits. The cut comes after
 * transliteration, so the limit counts the bytes written (one per ASCII character).
 */
export function fitQuotedText(text: string, max: number): string {
  const line = toAscii(oneLine(text));
  const room = max - 2;
  if (line.length <= room && !line.includes('"')) return line;
  let used = 0;
  let out = '';
  for (const ch of line) {
    const cost = ch === '"' ? 2 : 1;
    if (used + cost > room) break;
    used += cost;
    out += ch;
  }
  return out;
}

/** HR4 "Supplier_Product_Version" in ASCII within 98 characters: "truncate product NOT version". */
export function fitSoftware(software: string, max = 100): string {
  const room = max - 2;
  const line = toAscii(oneLine(software));
  if (line.length <= room) return line;
  const first = line.indexOf('_');
  const last = line.lastIndexOf('_');
  const supplier = line.slice(0, first);
  const product = line.slice(first + 1, last);
  const version = line.slice(last + 1);
  const productRoom = room - supplier.length - version.length - 2;
  if (productRoom < 1) return fitQuotedText(line, max);
  return `${supplier}_${product.slice(0, productRoom)}_${version}`;
}

/** HR1–HR11 of a practice's record set for a day. */
export function headerFields(practice: PracticeSettings, day: string): string[] {
  return [
    'HR',
    practice.ods,
    practice.asid,
    practice.software,
    practice.applicationStatus,
    day,
    formatDecimal(practice.maxMessageSizeMb),
    String(practice.maxAttachments),
    formatDecimal(practice.maxAttachmentSizeMb),
    formatDecimal(practice.largeMessageFactorA),
    formatDecimal(practice.largeMessageFactorB),
  ];
}

/** FS1–FS5: the counts of RR and SR rows, the practice and the day again. */
export function footerFields(set: RecordSet): string[] {
  let rr = 0;
  for (const row of set.rows) if (row.side === 'RR') rr++;
  return ['FR', String(rr), String(set.rows.length - rr), set.practice.ods, set.day];
}

/**
 * A record as csv-stringify gets it: quoted fields with a value become QuotedText, in ASCII and cut to
 * fit. Other fields are codes and identifiers that validation keeps ASCII; one that is not (a row or
 * setting from elsewhere) is transliterated too, so no field can put a non-ASCII byte into a file. Any
 * other field that would need quoting (a comma, quote or line break) is a corrupted row: refused here
 * rather than quietly quoted against the spec.
 */
function prepare(type: RecordType, fields: readonly string[], context: string): (string | QuotedText)[] {
  const defs = FIELDS[type];
  const count = type === 'SR' && fields.length === SR_SPEC_FIELD_COUNT ? SR_SPEC_FIELD_COUNT : defs.length;
  if (fields.length !== count) throw new Error(`${context}: ${fields.length} fields, expected ${count}`);
  const out: (string | QuotedText)[] = fields.slice();
  const quoted = QUOTED_POSITIONS[type];
  for (let i = 0; i < fields.length; i++) {
    const value = fields[i]!;
    if (value === '') continue;
    if (quoted.includes(i)) {
      const max = defs[i]!.max;
      out[i] = { quotedText: type === 'HR' ? fitSoftware(value, max) : fitQuotedText(value, max) };
    } else if (/[",\r\n\u0080-\uFFFF]/.test(value)) {
      const ascii = toAscii(value);
      if (/[",\r\n]/.test(ascii)) {
        throw new Error(`${context}: ${defs[i]!.id} ${JSON.stringify(value.slice(0, 60))} would need quoting; it is not a quoted field`);
      }
      out[i] = ascii;
    }
  }
  return out;
}

function rowRecord(set: RecordSet, row: RecordSetRow): (string | QuotedText)[] {
  const fields = row.side === 'SR' && !set.practice.placeholderColumns ? row.fields.slice(0, SR_SPEC_FIELD_COUNT) : row.fields;
  return prepare(row.side, fields, `record set ${set.practice.ods} ${set.day}, ${row.side} ${row.key}`);
}

function recordsOf(set: RecordSet): (string | QuotedText)[][] {
  const context = `record set ${set.practice.ods} ${set.day}`;
  return [
    prepare('HR', headerFields(set.practice, set.day), `${context} header`),
    ...set.rows.map((row) => rowRecord(set, row)),
    prepare('FR', footerFields(set), `${context} footer`),
  ];
}

function checkDistinct(sets: readonly RecordSet[]): void {
  const seen = new Set<string>();
  for (const set of sets) {
    const id = `${set.practice.ods} ${set.day}`;
    // MI10: ODS + date identify a record set; twice in one file, which one replaces which is anyone's guess.
    if (seen.has(id)) throw new Error(`record set ${id} appears twice`);
    seen.add(id);
  }
}

// ---- rendering ----------------------------------------------------------------------------------

/** The record sets chained, in the order given: HR, rows, FR for each; CRLF after every record. */
export function renderRecordSets(sets: readonly RecordSet[]): string {
  checkDistinct(sets);
  // In batches: csv-stringify's per-record garbage of one batch can go before the next is prepared,
  // which keeps the peak near the size of the output instead of several times it.
  const parts: string[] = [];
  let batch: (string | QuotedText)[][] = [];
  for (const set of sets) {
    for (const record of recordsOf(set)) batch.push(record);
    if (batch.length >= RECORDS_PER_BATCH) {
      parts.push(stringify(batch, STRINGIFY_OPTIONS));
      batch = [];
    }
  }
  if (batch.length > 0) parts.push(stringify(batch, STRINGIFY_OPTIONS));
  return parts.join('');
}

const RECORDS_PER_BATCH = 1000;

/** Each record set's own text, rendered in one pass (one csv-stringify call for all of them). */
function renderEach(sets: readonly RecordSet[]): string[] {
  const all = renderRecordSets(sets);
  if (all === '') return [];
  // Every record is one line (free text was put on one line), so lines map back to record sets.
  const lines = all.split('\r\n');
  const out: string[] = [];
  let at = 0;
  for (const set of sets) {
    const count = set.rows.length + 2;
    out.push(lines.slice(at, at + count).join('\r\n') + '\r\n');
    at += count;
  }
  return out;
}

export interface PlanOptions {
  /** Largest file, in bytes (default 50,000,000). */
  maxBytes?: number;
  /** The supplier's short name for file names, letters, digits and "-". */
  supplierTag?: string;
  /** Put into file names, so that successive submissions of the same days have distinct names. */
  createdAt?: Date;
}

export interface PlannedFile {
  fileName: string;
  recordSets: RecordSet[];
  bytes: number;
}

export interface RenderedFile {
  fileName: string;
  content: string;
  bytes: number;
  recordSets: RecordSet[];
}

const compactDay = (day: string) => day.replaceAll('-', '');
const compactInstant = (date: Date) => date.toISOString().slice(0, 19).replace(/[-:]/g, '') + 'Z';

/**
 * File names: GP2GP_MI[_<supplierTag>]_<ODS or MULTI>_<first day>_<last day>[_<created>]_<n>of<N>.csv,
 * days as YYYYMMDD and created as YYYYMMDDThhmmssZ — organisation codes and dates only (MI24), no
 * spaces (the Authority's loader once lost 46,201 files to spaces), and distinct within a submission.
 */
export function fileNameOf(sets: readonly RecordSet[], part: number, parts: number, options: PlanOptions = {}): string {
  const tag = options.supplierTag;
  if (tag !== undefined && !/^[A-Za-z0-9-]{1,30}$/.test(tag)) {
    throw new Error(`supplierTag: ${JSON.stringify(tag)} is not allowed; allowed: 1 to 30 letters, digits or "-"`);
  }
  const odsCodes = new Set(sets.map((s) => s.practice.ods));
  const days = sets.map((s) => s.day).sort();
  const scope = odsCodes.size === 1 ? [...odsCodes][0]! : 'MULTI';
  return [
    'GP2GP_MI',
    ...(tag ? [tag] : []),
    scope,
    compactDay(days[0]!),
    compactDay(days[days.length - 1]!),
    ...(options.createdAt ? [compactInstant(options.createdAt)] : []),
    `${part}of${parts}`,
  ].join('_') + '.csv';
}

function plan(sets: readonly RecordSet[], options: PlanOptions): { file: PlannedFile; texts: string[] }[] {
  const maxBytes = options.maxBytes ?? MAX_FILE_BYTES;
  const texts = renderEach(sets);
  const groups: { sets: RecordSet[]; texts: string[]; bytes: number }[] = [];
  let current: (typeof groups)[number] | undefined;
  sets.forEach((set, i) => {
    const text = texts[i]!;
    const bytes = Buffer.byteLength(text, 'utf8');
    if (bytes > maxBytes) throw new Error(`record set ${set.practice.ods} ${set.day} alone is ${bytes} bytes, over the ${maxBytes}-byte file limit`);
    // MI21: files are split only after a footer, i.e. between record sets.
    if (!current || current.bytes + bytes > maxBytes) {
      current = { sets: [], texts: [], bytes: 0 };
      groups.push(current);
    }
    current.sets.push(set);
    current.texts.push(text);
    current.bytes += bytes;
  });
  return groups.map((g, i) => ({
    file: { fileName: fileNameOf(g.sets, i + 1, groups.length, options), recordSets: g.sets, bytes: g.bytes },
    texts: g.texts,
  }));
}

/** How record sets go into files: in the order given, each file as full as the byte limit allows. */
export function planFiles(sets: readonly RecordSet[], options: PlanOptions = {}): PlannedFile[] {
  return plan(sets, options).map((p) => p.file);
}

/** The files of planFiles with their content. */
export function renderFiles(sets: readonly RecordSet[], options: PlanOptions = {}): RenderedFile[] {
  return plan(sets, options).map(({ file, texts }) => ({ fileName: file.fileName, content: texts.join(''), bytes: file.bytes, recordSets: file.recordSets }));
}
