/**
 * Checks an MI file against 0171.02, whoever wrote it: record order (HR, rows, FR, chained), CRLF
 * record endings, ASCII only (§2.3.1), field counts, quoting, formats, code lists, maximum lengths (in
 * bytes), and the footer's counts.
 * Every problem comes with its 1-based line, so operators can go straight to it. The rules are the
 * field table the renderer uses (fields.ts), so everything `render` writes passes.
 */
import { DATE_TIME_FORMAT, FIELDS, SR_FIELDS, SR_SPEC_FIELD_COUNT, type FieldDef, type RecordType } from './fields';
import { FORBIDDEN_CONTROL_RE } from './formats';

export interface CheckProblem {
  line: number;
  /** The field, as the spec numbers it (RR13), when the problem is one field's. */
  field?: string;
  message: string;
}

export interface CheckResult {
  problems: CheckProblem[];
  recordSets: number;
  rows: number;
}

/** Beyond this, a file is broken enough; the rest would only bury the first problems. */
const MAX_PROBLEMS = 1000;

interface ParsedField {
  value: string;
  quoted: boolean;
  /** Characters as written, quotes and doubled quotes included. */
  written: number;
}

/** One CSV line into fields: quoted fields may hold commas and doubled quotes; no line breaks here. */
function parseLine(line: string): { fields: ParsedField[] } | { error: string } {
  const fields: ParsedField[] = [];
  let i = 0;
  for (;;) {
    if (line[i] === '"') {
      let value = '';
      let j = i + 1;
      for (;;) {
        const q = line.indexOf('"', j);
        if (q < 0) return { error: `field ${fields.length + 1}: opening quote without a closing one` };
        value += line.slice(j, q);
        if (line[q + 1] === '"') {
          value += '"';
          j = q + 2;
          continue;
        }
        j = q + 1;
        break;
      }
      if (j < line.length && line[j] !== ',') return { error: `field ${fields.length + 1}: text after the closing quote` };
      fields.push({ value, quoted: true, written: j - i });
      if (j >= line.length) return { fields };
      i = j + 1;
    } else {
      const comma = line.indexOf(',', i);
      const value = comma < 0 ? line.slice(i) : line.slice(i, comma);
      if (value.includes('"')) return { error: `field ${fields.length + 1}: a double quote inside an unquoted field` };
      fields.push({ value, quoted: false, written: value.length });
      if (comma < 0) return { fields };
      i = comma + 1;
    }
  }
}

/** The text's length in the file: UTF-8 bytes (for an ASCII file, its characters). */
function utf8Bytes(text: string): number {
  let n = 0;
  for (const ch of text) {
    const c = ch.codePointAt(0)!;
    n += c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4;
  }
  return n;
}

const NON_ASCII_RE = /[^\x00-\x7F]/u;
const ASCII_ALLOWED = 'allowed: ASCII only (0171.02 §2.3.1)';

/**
 * "3 non-ASCII characters, the first "é" (U+00E9) at character 5" (or `at column`), or undefined for
 * ASCII text. Positions count characters (code points) from 1.
 */
function nonAscii(text: string, where: 'character' | 'column'): string | undefined {
  if (!NON_ASCII_RE.test(text)) return undefined;
  let count = 0;
  let first = '';
  let position = 0;
  let i = 0;
  for (const ch of text) {
    i++;
    if (ch.codePointAt(0)! < 0x80) continue;
    if (count++ === 0) {
      first = ch;
      position = i;
    }
  }
  const code = `U+${first.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;
  return `${count} non-ASCII character${count === 1 ? '' : 's'}, the first ${JSON.stringify(first)} (${code}) at ${where} ${position}; ${ASCII_ALLOWED}`;
}

interface OpenSet {
  line: number;
  ods: string;
  day: string;
  rr: number;
  sr: number;
  conversations: Set<string>;
}

export function checkFile(content: string): CheckResult {
  const problems: CheckProblem[] = [];
  let truncated = false;
  const report = (line: number, message: string, field?: string) => {
    if (problems.length >= MAX_PROBLEMS) {
      truncated = true;
      return;
    }
    problems.push(field ? { line, field, message: `${field}: ${message}` } : { line, message });
  };

  let recordSets = 0;
  let rows = 0;
  let open: OpenSet | undefined;
  const seenSets = new Map<string, number>();

  const lineRe = /\r\n|\r|\n/g;
  let start = 0;
  // A UTF-8 byte order mark (as some editors add) would hide the first record's type.
  if (content.startsWith('\uFEFF')) {
    report(1, 'byte order mark at the start of the file; allowed: none');
    start = lineRe.lastIndex = 1;
  }
  let lineNo = 0;
  let lastEnding = '';
  for (;;) {
    const m = lineRe.exec(content);
    const end = m ? m.index : content.length;
    if (!m && start === content.length) break;
    lineNo++;
    const line = content.slice(start, end);
    lastEnding = m ? m[0] : '';
    if (m && m[0] !== '\r\n') report(lineNo, `record ends with ${m[0] === '\n' ? 'LF' : 'CR'} alone; allowed: CRLF`);
    start = m ? m.index + m[0].length : content.length;
    checkLine(line, lineNo);
    if (!m) break;
  }
  if (lineNo === 0) report(1, 'empty file; allowed: one or more record sets (HR, rows, FR)');
  else if (lastEnding === '') report(lineNo, 'the last record does not end with CRLF');
  if (open) report(open.line, `record set ${open.ods} ${open.day} has no footer (FR)`);
  if (truncated) problems.push({ line: lineNo, message: `more than ${MAX_PROBLEMS} problems; the rest are not listed` });
  return { problems, recordSets, rows };

  function checkLine(line: string, n: number): void {
    if (line === '') {
      report(n, 'empty line; allowed: an HR, RR, SR or FR record');
      return;
    }
    const parsed = parseLine(line);
    if ('error' in parsed) {
      report(n, parsed.error);
      const where = nonAscii(line, 'column');
      if (where) report(n, where);
      return;
    }
    const fields = parsed.fields;
    const type = fields[0]!.value;
    if (type !== 'HR' && type !== 'RR' && type !== 'SR' && type !== 'FR') {
      report(n, `record type ${JSON.stringify(type.slice(0, 10))} is not allowed; allowed: HR, RR, SR, FR`);
      const where = nonAscii(line, 'column');
      if (where) report(n, where);
      return;
    }
    if (type === 'HR') {
      if (open) report(n, `header (HR) inside record set ${open.ods} ${open.day} (line ${open.line}); its footer (FR) is missing`);
      recordSets++;
      checkFields('HR', FIELDS.HR, fields, n);
      const ods = fields[1]?.value ?? '';
      const day = fields[5]?.value ?? '';
      open = { line: n, ods, day, rr: 0, sr: 0, conversations: new Set() };
      const id = `${ods} ${day}`;
      const earlier = seenSets.get(id);
      if (earlier !== undefined) report(n, `record set ${id} appears twice (first at line ${earlier}); ODS + date identify a record set`);
      else seenSets.set(id, n);
      return;
    }
    if (!open) {
      report(n, `${type} record outside a record set; allowed: a header (HR) first`);
      return;
    }
    if (type === 'FR') {
      checkFields('FR', FIELDS.FR, fields, n);
      const [, rr, sr, ods, day] = fields.map((f) => f.value);
      if (rr !== String(open.rr)) report(n, `${JSON.stringify(rr)} RR records counted, but the record set has ${open.rr}`, 'FR2');
      if (sr !== String(open.sr)) report(n, `${JSON.stringify(sr)} SR records counted, but the record set has ${open.sr}`, 'FR3');
      if (ods !== open.ods) report(n, `${JSON.stringify(ods)} differs from the header's practice ${JSON.stringify(open.ods)} (line ${open.line})`, 'FR4');
      if (day !== open.day) report(n, `${JSON.stringify(day)} differs from the header's day ${JSON.stringify(open.day)} (line ${open.line})`, 'FR5');
      open = undefined;
      return;
    }
    rows++;
    if (type === 'RR') {
      open.rr++;
      checkFields('RR', FIELDS.RR, fields, n);
      if (fields[2] && fields[2].value !== open.ods) report(n, `${JSON.stringify(fields[2].value)} differs from the header's practice ${JSON.stringify(open.ods)}`, 'RR3');
    } else {
      open.sr++;
      // SR29–SR33 are an opt-in extension: 28 or 33 fields.
      const defs = fields.length === SR_FIELDS.length ? SR_FIELDS : SR_FIELDS.slice(0, SR_SPEC_FIELD_COUNT);
      checkFields('SR', defs, fields, n);
      if (fields[4] && fields[4].value !== open.ods) report(n, `${JSON.stringify(fields[4].value)} differs from the header's practice ${JSON.stringify(open.ods)}`, 'SR5');
      const conversation = fields[2]?.value;
      if (conversation) {
        if (open.conversations.has(conversation)) report(n, `conversation ${conversation} has a second SR row in this record set`, 'SR3');
        open.conversations.add(conversation);
      }
    }
    // Rows are as of the end of their day: nothing in them can be later.
    const dayEnd = `${open.day}T23:59:59`;
    const defs = FIELDS[type];
    fields.forEach((f, i) => {
      if (defs[i]?.format === DATE_TIME_FORMAT && f.value.length === 19 && f.value > dayEnd) {
        report(n, `${f.value} is after the record set's day ${open!.day}`, defs[i]!.id);
      }
    });
  }

  function checkFields(type: RecordType, defs: readonly FieldDef[], fields: ParsedField[], n: number): void {
    if (fields.length !== defs.length) {
      const expected = type === 'SR' ? `${SR_SPEC_FIELD_COUNT} (or ${SR_FIELDS.length} with placeholder columns)` : String(defs.length);
      report(n, `${type} record has ${fields.length} fields; allowed: ${expected}`);
      // The fields cannot be named, but a non-ASCII byte is still worth pointing at.
      fields.forEach((f, i) => {
        const where = nonAscii(f.value, 'character');
        if (where) report(n, `field ${i + 1}: ${where}`);
      });
      return;
    }
    defs.forEach((def, i) => {
      const f = fields[i]!;
      const label = `${def.id}`;
      if (f.value === '') {
        if (f.quoted) report(n, 'null is written as nothing, not as ""', label);
        if (def.mandatory) report(n, `missing; allowed: ${def.format.allowed}`, label);
        return;
      }
      const where = nonAscii(f.value, 'character');
      if (where) report(n, where, label);
      if (def.quoted && !f.quoted) report(n, `${JSON.stringify(f.value.slice(0, 60))} must be in double quotes`, label);
      if (!def.quoted && f.quoted) report(n, `${JSON.stringify(f.value.slice(0, 60))} must not be in double quotes`, label);
      // Bytes as written (quotes and doubled quotes included): in an ASCII file, its characters.
      const length = def.quoted ? f.written - f.value.length + utf8Bytes(f.value) : utf8Bytes(f.value);
      const unit = where ? 'bytes' : 'characters';
      if (length > def.max) report(n, `${length} ${unit}${def.quoted ? ' (quotes included)' : ''}; allowed: at most ${def.max}`, label);
      if (FORBIDDEN_CONTROL_RE.test(f.value)) report(n, 'contains a control character', label);
      else if (!def.format.test(f.value)) report(n, `${JSON.stringify(f.value.slice(0, 60))} is not allowed; allowed: ${def.format.allowed}`, label);
    });
  }
}
