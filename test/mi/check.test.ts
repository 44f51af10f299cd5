/**
 * The checker: a valid file passes; each deliberately broken file is refused with the right line and,
 * where it is one field's fault, the field named as the spec numbers it.
 */
import { describe, expect, it } from 'vitest';
import { checkFile, type CheckProblem } from '../../mi/check';

const HR = 'HR,A12345,200000000101,"DEMO SUPPLIER LTD_Demo Clinical_3.2.1",111110000000000,2026-03-27,5.0,99,5.0,1.0,1.0';
const RR =
  'RR,C2ACE0E0-D575-4272-BD27-0FF081C37440,A12345,B23456,2026-03-27T13:14:24,1,1234567890,60,2026-03-27T13:22:07,58E88CD9-0565-4BA2-8BD0-463D6244DF56,3,6,"Patient not at surgery",0,58E88CD9-0565-4BA2-8BD0-463D34053B8E,2026-03-27T13:15:24,,,,,,,,,,,,,,,';
const SR =
  'SR,B2ACE0E0-D575-4272-BD27-0FF081C37440,C2ACE0E0-D575-4272-BD27-0FF081C37440,B23456,A12345,1000000000,2026-03-27T13:14:27,2026-03-27T13:21:54,06,58E88CD9-0565-4BA2-8BD0-463D6209CCBE,1,06,"Patient not at surgery",0,,,,,,,,,,,,,,';
const FR = 'FR,1,1,A12345,2026-03-27';
const HR2 = HR.replace('2026-03-27', '2026-03-28');
const FR2 = 'FR,0,0,A12345,2026-03-28';

const file = (...lines: string[]) => lines.map((l) => `${l}\r\n`).join('');
const at = (problems: CheckProblem[]) => problems.map((p) => [p.line, p.field ?? null]);

/** Replaces field n (1-based) of a record line. */
function withField(line: string, n: number, value: string): string {
  const fields = line.split(',');
  fields[n - 1] = value;
  return fields.join(',');
}

describe('checkFile', () => {
  it('accepts a valid file of chained record sets, and counts them', () => {
    expect(checkFile(file(HR, RR, SR, FR, HR2, FR2))).toEqual({ problems: [], recordSets: 2, rows: 2 });
  });

  it('accepts SR rows with the five placeholder columns', () => {
    expect(checkFile(file(HR, `${SR},1,0,2,0,0`, 'FR,0,1,A12345,2026-03-27')).problems).toEqual([]);
  });

  it('footer counts, practice and day must match the record set', () => {
    const r = checkFile(file(HR, RR, SR, 'FR,2,0,B23456,2026-03-28'));
    expect(at(r.problems)).toEqual([
      [4, 'FR2'],
      [4, 'FR3'],
      [4, 'FR4'],
      [4, 'FR5'],
    ]);
    expect(r.problems[0]!.message).toBe('FR2: "2" RR records counted, but the record set has 1');
  });

  it('record order: rows outside a record set, a header before the footer, a missing footer', () => {
    const emptyFooter = 'FR,0,0,A12345,2026-03-27';
    expect(at(checkFile(file(RR, HR, emptyFooter)).problems)).toEqual([[1, null]]);
    expect(checkFile(file(RR, HR, emptyFooter)).problems[0]!.message).toBe('RR record outside a record set; allowed: a header (HR) first');
    expect(at(checkFile(file(HR, RR, HR2, FR2)).problems)).toEqual([[3, null]]);
    expect(checkFile(file(HR, RR)).problems.map((p) => p.message)).toEqual(['record set A12345 2026-03-27 has no footer (FR)']);
    expect(checkFile(file(HR, RR)).problems[0]!.line).toBe(1);
  });

  it('record endings: CRLF only, and after the last record too', () => {
    expect(checkFile(`${HR}\r\n${FR2.replace('0,0,A12345,2026-03-28', '0,0,A12345,2026-03-27')}\n`).problems).toEqual([{ line: 2, message: 'record ends with LF alone; allowed: CRLF' }]);
    expect(checkFile(`${HR}\r\nFR,0,0,A12345,2026-03-27`).problems).toEqual([{ line: 2, message: 'the last record does not end with CRLF' }]);
    expect(at(checkFile(`${HR}\r\n\r\nFR,0,0,A12345,2026-03-27\r\n`).problems)).toEqual([[2, null]]);
    expect(checkFile('').problems).toEqual([{ line: 1, message: 'empty file; allowed: one or more record sets (HR, rows, FR)' }]);
  });

  it('a byte order mark is reported, and the file still checked', () => {
    expect(checkFile(`\uFEFF${file(HR, RR, SR, FR)}`).problems).toEqual([{ line: 1, message: 'byte order mark at the start of the file; allowed: none' }]);
  });

  it('HR4 must have the Supplier_Product_Version form', () => {
    const r = checkFile(file(HR.replace('"DEMO SUPPLIER LTD_Demo Clinical_3.2.1"', '"Demo Clinical 3.2.1"'), 'FR,0,0,A12345,2026-03-27'));
    expect(r.problems.map((p) => p.field)).toEqual(['HR4']);
  });

  it('field counts', () => {
    const r = checkFile(file(HR, `${RR},`, SR.slice(0, SR.lastIndexOf(',')), FR));
    expect(r.problems.map((p) => [p.line, p.message])).toEqual([
      [2, 'RR record has 32 fields; allowed: 31'],
      [3, 'SR record has 27 fields; allowed: 28 (or 33 with placeholder columns)'],
    ]);
  });

  it('quoting: text fields quoted when they have a value, nothing else quoted, null never ""', () => {
    const unquoted = RR.replace('"Patient not at surgery"', 'Patient not at surgery');
    const quotedCode = withField(RR, 12, '"6"');
    const emptyQuotes = withField(RR, 13, '""');
    const r = checkFile(file(HR, unquoted, quotedCode, emptyQuotes, SR, 'FR,3,1,A12345,2026-03-27'));
    expect(r.problems.map((p) => [p.line, p.field, p.message])).toEqual([
      [2, 'RR13', 'RR13: "Patient not at surgery" must be in double quotes'],
      [3, 'RR12', 'RR12: "6" must not be in double quotes'],
      [4, 'RR13', 'RR13: null is written as nothing, not as ""'],
    ]);
  });

  it('formats and code lists, each on its line and field', () => {
    const lines = [
      HR.replace('111110000000000', '111113000000000'), // HR5 byte 6 = 3
      withField(RR, 8, '15'), // RR8 failure point
      withField(RR, 5, '2026-03-27 13:14:24'), // RR5 not the file's timestamp form
      withField(RR, 2, 'c2ace0e0-d575-4272-bd27-0ff081c37440'), // lower case GUID
      withField(SR, 9, '00'), // SR9: 0 is the ACK, NACKs are 01 to 99
      withField(withField(SR, 6, '3000000000'), 3, 'D3BDF1F1-E686-4383-8E38-1AA092D48551'), // SR6
      `FR,3,2,A12345,2026-03-27`,
    ];
    const r = checkFile(file(...lines));
    expect(at(r.problems)).toEqual([
      [1, 'HR5'],
      [2, 'RR8'],
      [3, 'RR5'],
      [4, 'RR2'],
      [5, 'SR9'],
      [6, 'SR6'],
    ]);
    expect(r.problems[1]!.message).toBe('RR8: "15" is not allowed; allowed: one of 0, 10, 20, 30, 40, 50, 60, 70');
  });

  it('every NACK code 01–99 is allowed in RR23 and SR9, not only those of 0083.08', () => {
    const rr = withField(withField(RR, 22, '2'), 23, '50');
    expect(checkFile(file(HR, rr, withField(SR, 9, '01'), FR)).problems).toEqual([]);
  });

  it('maximum lengths, quotes included', () => {
    const long = withField(RR, 13, `"${'x'.repeat(99)}"`);
    const r = checkFile(file(HR, long, 'FR,1,0,A12345,2026-03-27'));
    expect(r.problems).toEqual([{ line: 2, field: 'RR13', message: 'RR13: 101 characters (quotes included); allowed: at most 100' }]);
  });

  it('files are ASCII: every non-ASCII character is a problem, with its line, field and position', () => {
    const r = checkFile(
      file(
        HR.replace('DEMO SUPPLIER LTD', 'Ärzte Systeme GmbH'),
        withField(RR, 13, '"Praxis Müller – café"'),
        RR.replace('A12345', 'A12345\u00a0'),
        FR.replace('1,1', '2,0'),
      ),
    );
    expect(r.problems.map((p) => [p.line, p.field ?? null, p.message])).toEqual([
      [1, 'HR4', 'HR4: 1 non-ASCII character, the first "Ä" (U+00C4) at character 1; allowed: ASCII only (0171.02 §2.3.1)'],
      [2, 'RR13', 'RR13: 3 non-ASCII characters, the first "ü" (U+00FC) at character 9; allowed: ASCII only (0171.02 §2.3.1)'],
      [3, 'RR3', 'RR3: 1 non-ASCII character, the first "\u00a0" (U+00A0) at character 7; allowed: ASCII only (0171.02 §2.3.1)'],
      [3, 'RR3', 'RR3: "A12345\u00a0" is not allowed; allowed: an ODS code: 3 to 10 upper-case letters or digits'],
      [3, 'RR3', 'RR3: "A12345\u00a0" differs from the header\'s practice "A12345"'],
    ]);
    // A line that cannot be read as a record still has its non-ASCII character found.
    expect(checkFile(file(HR, 'RR,"é', FR)).problems.filter((p) => /non-ASCII/.test(p.message))).toEqual([
      { line: 2, message: '1 non-ASCII character, the first "é" (U+00E9) at column 5; allowed: ASCII only (0171.02 §2.3.1)' },
    ]);
  });

  it('lengths count bytes: 98 × é in quotes is 198 bytes, over RR13\'s 100', () => {
    const r = checkFile(file(HR, withField(RR, 13, `"${'é'.repeat(98)}"`), 'FR,1,0,A12345,2026-03-27'));
    expect(r.problems.map((p) => p.message)).toEqual([
      'RR13: 98 non-ASCII characters, the first "é" (U+00E9) at character 1; allowed: ASCII only (0171.02 §2.3.1)',
      'RR13: 198 bytes (quotes included); allowed: at most 100',
    ]);
  });

  it('mandatory fields, the practice repeated in rows, and timestamps after the day', () => {
    const r = checkFile(
      file(
        HR,
        withField(RR, 3, ''), // RR3 mandatory
        withField(RR, 3, 'B23456'), // not the header's practice
        withField(RR, 16, '2026-03-28T00:00:01'), // after the record set's day
        'FR,3,0,A12345,2026-03-27',
      ),
    );
    expect(r.problems.map((p) => [p.line, p.field, p.message])).toEqual([
      [2, 'RR3', 'RR3: missing; allowed: an ODS code: 3 to 10 upper-case letters or digits'],
      [2, 'RR3', 'RR3: "" differs from the header\'s practice "A12345"'],
      [3, 'RR3', 'RR3: "B23456" differs from the header\'s practice "A12345"'],
      [4, 'RR16', "RR16: 2026-03-28T00:00:01 is after the record set's day 2026-03-27"],
    ]);
  });

  it('the same practice and day twice, and the same conversation twice in a record set', () => {
    const r = checkFile(file(HR, FR2.replace('2026-03-28', '2026-03-27'), HR, SR, SR, 'FR,0,2,A12345,2026-03-27'));
    expect(r.problems.map((p) => [p.line, p.message])).toEqual([
      [3, 'record set A12345 2026-03-27 appears twice (first at line 1); ODS + date identify a record set'],
      [5, 'SR3: conversation C2ACE0E0-D575-4272-BD27-0FF081C37440 has a second SR row in this record set'],
    ]);
  });

  it('unreadable records: unknown record types and broken quotes', () => {
    const r = checkFile(file(HR, 'XX,1,2', withField(RR, 13, '"open'), 'RR,a"b', FR));
    expect(r.problems.map((p) => [p.line, p.message])).toEqual([
      [2, 'record type "XX" is not allowed; allowed: HR, RR, SR, FR'],
      [3, 'field 13: opening quote without a closing one'],
      [4, 'field 2: a double quote inside an unquoted field'],
      [5, 'FR2: "1" RR records counted, but the record set has 0'],
      [5, 'FR3: "1" SR records counted, but the record set has 0'],
    ]);
  });
});
