/**
 * The MI file's bytes (0171.02 §2–3): record sets chained HR, rows, FR; CRLF after every record; the
 * quoted fields (HR4, RR13, RR29, SR13, SR20) in double quotes when they have a value and empty when
 * null; no other field quoted; free text on one line and within its maximum length; every field in
 * ASCII (§2.3.1: see ascii.ts), lengths counted after transliteration. Not workflow code: the send
 * activity and the CLI render, workflows only hand over rows.
 *
 * The CSV mechanics are written out here rather than left to csv-stringify (which rendered these bytes
 * until issue 13): the format needs only "join with commas, quote five known fields, double their
 * quotes", every other field that would need quoting is refused, and csv-stringify's per-field option
 * handling cost 3.5× a plain join for a national week. bench/render.ts checks, on a national week,
 * that the bytes are identical to the csv-stringify renderer's (kept there as bench/render-stringify.ts).
 * Record sets are rendered one at a time, so a caller can stream them into a file (see
 * renderFileParts) instead of holding the whole output.
 */
import { toAscii } from './ascii';
import { FIELDS, QUOTED_POSITIONS, SR_SPEC_FIELD_COUNT, type RecordType } from './fields';
import { formatDecimal, oneLine } from './formats';
import type { PracticeSettings } from './practices';
import type { RecordSet } from './record-set';

/** MI21: DTS/MESH take files up to 50 MB; the decimal megabyte is the safe reading. */
export const MAX_FILE_BYTES = 50_000_000;

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

/** Per record type, whether each position is a quoted field (an array lookup per field, not a search). */
const QUOTED: Readonly<Record<RecordType, readonly boolean[]>> = {
  HR: quotedMask('HR'),
  RR: quotedMask('RR'),
  SR: quotedMask('SR'),
  FR: quotedMask('FR'),
};

function quotedMask(type: RecordType): boolean[] {
  return FIELDS[type].map((_, i) => QUOTED_POSITIONS[type].includes(i));
}

/** A character that a field must not carry as it is: CSV specials, or not ASCII. */
const NOT_PLAIN_RE = /[",\r\n\u0080-\uFFFF]/;
const CSV_SPECIAL_RE = /[",\r\n]/;

/**
 * A field that is not text (a row from elsewhere, e.g. read from JSON). Written as csv-stringify's
 * default casts wrote it, so that even such a row gives the bytes it gave before: nothing for null,
 * undefined and false, 1 for true, numbers as they print, a Date as its milliseconds, and nothing for
 * any other object (the old renderer took an object for its own quoted-field wrapper, and found no
 * text in it). Anything else (a function, a symbol) is refused.
 */
function nonText(value: unknown, context: string, id: string): string {
  if (value === null || value === undefined || value === false) return '';
  if (value === true) return '1';
  if (typeof value === 'number' || typeof value === 'bigint') return String(value);
  if (value instanceof Date) return String(value.getTime());
  if (typeof value === 'object') return '';
  throw new Error(`${context}: ${id} is not text`);
}

/**
 * One record's line (without its CRLF): quoted fields with a value in quotes, in ASCII and cut to fit
 * (inner quotes doubled); a quoted field that fits to nothing (e.g. only invisible characters) is
 * left empty, unquoted. Other fields are codes and identifiers that validation keeps ASCII; one that
 * is not (a row or setting from elsewhere) is transliterated too, so no field can put a non-ASCII
 * byte into a file. Any other field that would need quoting (a comma, quote or line break) is a
 * corrupted row: refused here rather than quietly quoted against the spec.
 */
function recordLine(type: RecordType, fields: readonly string[], count: number, context: string): string {
  const defs = FIELDS[type];
  const expected = type === 'SR' && count === SR_SPEC_FIELD_COUNT ? SR_SPEC_FIELD_COUNT : defs.length;
  if (count !== expected) throw new Error(`${context}: ${count} fields, expected ${expected}`);
  const quoted = QUOTED[type];
  // Built as an array and joined: V8 joins flat strings fast, while a line grown by += is a chain of
  // pieces that joining the record sets later would have to walk (that cost 2.5× the rendering).
  const out = new Array<string>(count);
  for (let i = 0; i < count; i++) {
    let value = fields[i] as unknown;
    if (value === '') {
      out[i] = '';
      continue;
    }
    if (quoted[i]) {
      // Not text in a quoted field fails in oneLine, as it always did.
      const text = type === 'HR' ? fitSoftware(value as string, defs[i]!.max) : fitQuotedText(value as string, defs[i]!.max);
      out[i] = text === '' ? '' : `"${text.includes('"') ? text.replaceAll('"', '""') : text}"`;
      continue;
    }
    if (typeof value !== 'string') value = nonText(value, context, defs[i]!.id);
    const text = value as string;
    if (NOT_PLAIN_RE.test(text)) {
      const ascii = toAscii(text);
      if (CSV_SPECIAL_RE.test(ascii)) {
        throw new Error(`${context}: ${defs[i]!.id} ${JSON.stringify(text.slice(0, 60))} would need quoting; it is not a quoted field`);
      }
      out[i] = ascii;
    } else out[i] = text;
  }
  return out.join(',');
}

/**
 * One record set's text: HR, its rows, FR, CRLF after each. SR rows lose SR29–SR33 unless the
 * practice takes the placeholder columns.
 */
export function renderRecordSet(set: RecordSet): string {
  const context = `record set ${set.practice.ods} ${set.day}`;
  const lines = new Array<string>(set.rows.length + 3);
  const header = headerFields(set.practice, set.day);
  lines[0] = recordLine('HR', header, header.length, `${context} header`);
  const placeholders = set.practice.placeholderColumns;
  for (let r = 0; r < set.rows.length; r++) {
    const row = set.rows[r]!;
    const count = row.side === 'SR' && !placeholders ? Math.min(row.fields.length, SR_SPEC_FIELD_COUNT) : row.fields.length;
    lines[r + 1] = recordLine(row.side, row.fields, count, `${context}, ${row.side} ${row.key}`);
  }
  const footer = footerFields(set);
  lines[set.rows.length + 1] = recordLine('FR', footer, footer.length, `${context} footer`);
  // The last element is empty: the join puts the CRLF after every record, the last one included.
  lines[set.rows.length + 2] = '';
  return lines.join('\r\n');
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
  const parts: string[] = new Array(sets.length);
  for (let i = 0; i < sets.length; i++) parts[i] = renderRecordSet(sets[i]!);
  return parts.join('');
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

/** One rendered record set on its way into a file. */
export interface FilePart {
  /** The file it goes into, 1-based. */
  file: number;
  set: RecordSet;
  text: string;
  /** Its size in the file. */
  bytes: number;
}

/**
 * The record sets rendered one at a time, in the order given, each with the file it goes into: each
 * file as full as the byte limit allows, split only after a footer (MI21). A caller can write each
 * text as it comes, so memory does not grow with the number of rows; only the file names have to
 * wait for the end, since they carry the number of files (fileNameOf). Throws before yielding anything
 * if a record set appears twice.
 */
export function* renderFileParts(sets: readonly RecordSet[], options: PlanOptions = {}): Generator<FilePart, void, undefined> {
  const maxBytes = options.maxBytes ?? MAX_FILE_BYTES;
  checkDistinct(sets);
  let file = 0;
  let used = 0;
  for (const set of sets) {
    const text = renderRecordSet(set);
    // Every byte is ASCII (see recordLine), so the length is the size; Buffer.byteLength says so anyway.
    const bytes = Buffer.byteLength(text, 'utf8');
    if (bytes > maxBytes) throw new Error(`record set ${set.practice.ods} ${set.day} alone is ${bytes} bytes, over the ${maxBytes}-byte file limit`);
    if (file === 0 || used + bytes > maxBytes) {
      file++;
      used = 0;
    }
    used += bytes;
    yield { file, set, text, bytes };
  }
}

/** The files' record sets and sizes as renderFileParts splits them, each text handed to `take`. */
function plan(sets: readonly RecordSet[], options: PlanOptions, take: (file: number, text: string) => void): PlannedFile[] {
  const groups: { recordSets: RecordSet[]; bytes: number }[] = [];
  for (const part of renderFileParts(sets, options)) {
    const group = (groups[part.file - 1] ??= { recordSets: [], bytes: 0 });
    group.recordSets.push(part.set);
    group.bytes += part.bytes;
    take(part.file, part.text);
  }
  return groups.map((g, i) => ({ fileName: fileNameOf(g.recordSets, i + 1, groups.length, options), recordSets: g.recordSets, bytes: g.bytes }));
}

/** How record sets go into files: in the order given, each file as full as the byte limit allows. */
export function planFiles(sets: readonly RecordSet[], options: PlanOptions = {}): PlannedFile[] {
  return plan(sets, options, () => {});
}

/** The files of planFiles with their content, in memory (renderFileParts streams them instead). */
export function renderFiles(sets: readonly RecordSet[], options: PlanOptions = {}): RenderedFile[] {
  const texts: string[][] = [];
  const files = plan(sets, options, (file, text) => (texts[file - 1] ??= []).push(text));
  return files.map((f, i) => ({ fileName: f.fileName, content: texts[i]!.join(''), bytes: f.bytes, recordSets: f.recordSets }));
}
