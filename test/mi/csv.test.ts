/**
 * Rendering the file: quoting exactly where 0171.02 quotes, CRLF, free text on one line and within
 * its length, header decimals as in §3.4.1, SR placeholder columns only when configured, and files that
 * chain record sets, split only after a footer, with names free of spaces and patient data.
 */
import { describe, expect, it } from 'vitest';
import { checkFile } from '../../mi/check';
import { fitQuotedText, fitSoftware, planFiles, renderFiles, renderRecordSets } from '../../mi/csv';
import type { HookEvent } from '../../mi/events';
import { recordSet, recordSetFromRows, type RecordSet } from '../../mi/record-set';
import { buildRow } from '../../mi/records';
import { PRACTICE } from './support';

const CONV = 'C2ACE0E0-D575-4272-BD27-0FF081C37440';
const MSG = '58E88CD9-0565-4BA2-8BD0-463D6209CCBE';

function failureRecord(description: string) {
  const events = [
    { type: 'request-failure', practiceOds: 'A12345', registrationId: 'REG-1', occurredAt: '2026-03-27T10:00:00Z', failurePoint: 40, failureType: 3, fatal: true, errorCode: '24', errorDescription: description } as HookEvent,
  ];
  return { side: 'RR' as const, key: 'REG-1', events };
}
const lineOf = (set: RecordSet, n: number) => renderRecordSets([set]).split('\r\n')[n]!;

describe('renderRecordSets', () => {
  it('an empty day is HR + FR, each ended by CRLF (MI07)', () => {
    expect(renderRecordSets([recordSet(PRACTICE, '2026-03-27', [])])).toBe(
      'HR,A12345,200000000101,"DEMO SUPPLIER LTD_Demo Clinical_3.2.1",111110000000000,2026-03-27,5.0,99,5.0,1.0,1.0\r\nFR,0,0,A12345,2026-03-27\r\n',
    );
    expect(renderRecordSets([])).toBe('');
  });

  it('header decimals as the spec example writes them: 5 → 5.0, fractions as they are', () => {
    const practice = { ...PRACTICE, maxMessageSizeMb: 4.5, maxAttachmentSizeMb: 100, largeMessageFactorA: 0.75, largeMessageFactorB: 2 };
    expect(lineOf(recordSet(practice, '2026-03-27', []), 0).split(',').slice(6)).toEqual(['4.5', '99', '100.0', '0.75', '2.0']);
  });

  it('quotes RR13 only when it has a value; nothing else is quoted, even a comma-free text field', () => {
    const withText = lineOf(recordSet(PRACTICE, '2026-03-27', [failureRecord('SDS lookup, zero results')]), 1);
    expect(withText).toBe('RR,,A12345,,,,,40,2026-03-27T10:00:00,,3,24,"SDS lookup, zero results",,,,,,,,,,,,,,,,,,');
    const withoutText = { ...failureRecord('x'), events: [{ ...failureRecord('x').events[0]!, errorDescription: undefined } as HookEvent] };
    expect(lineOf(recordSet(PRACTICE, '2026-03-27', [withoutText]), 1)).toBe('RR,,A12345,,,,,40,2026-03-27T10:00:00,,3,24,,,,,,,,,,,,,,,,,,,');
  });

  it('free text goes on one line, inner quotes doubled, cut to 100 characters quotes included', () => {
    const line = lineOf(recordSet(PRACTICE, '2026-03-27', [failureRecord('first line\r\nsecond "quoted"\tline\nend')]), 1);
    expect(line.split(',')[12]).toBe('"first line second ""quoted"" line end"');
    const long = lineOf(recordSet(PRACTICE, '2026-03-27', [failureRecord('é'.repeat(150))]), 1);
    expect(long.split(',')[12]).toBe(`"${'e'.repeat(98)}"`);
  });

  it('fitQuotedText never splits a doubled quote, and a character without an ASCII form is one "?"', () => {
    expect(fitQuotedText(`${'a'.repeat(97)}"b`, 100)).toBe('a'.repeat(97));
    expect(fitQuotedText(`${'a'.repeat(97)}😀😀`, 100)).toBe(`${'a'.repeat(97)}?`);
    expect(fitQuotedText('short', 100)).toBe('short');
  });

  it('HR4 over 100 characters: the product is cut, never the version', () => {
    const software = `BIG SUPPLIER LTD_${'Product '.repeat(20)}_10.2.3 build 4711`;
    const fitted = fitSoftware(software);
    expect(fitted.length).toBe(98);
    expect(fitted.startsWith('BIG SUPPLIER LTD_Product Product')).toBe(true);
    expect(fitted.endsWith('_10.2.3 build 4711')).toBe(true);
    const line = lineOf(recordSet({ ...PRACTICE, software }, '2026-03-27', []), 0);
    expect(line.split(',')[3]).toBe(`"${fitted}"`);
  });

  it('SR rows have 28 fields, or 33 for a practice with placeholder columns', () => {
    const sent = { type: 'ehr-sent', practiceOds: 'A12345', conversationId: CONV, occurredAt: '2026-03-27T10:00:00Z', extractMessageId: MSG, largeMessaging: true, placeholders: { fileTypeUnsupported: 1, deleted: 0, notFound: 2, locked: 0, undetermined: 3 } } as HookEvent;
    const record = { side: 'SR' as const, key: CONV, events: [sent] };
    expect(lineOf(recordSet(PRACTICE, '2026-03-27', [record]), 1).split(',')).toHaveLength(28);
    const wide = lineOf(recordSet({ ...PRACTICE, placeholderColumns: true }, '2026-03-27', [record]), 1).split(',');
    expect(wide).toHaveLength(33);
    expect(wide.slice(28)).toEqual(['1', '0', '2', '0', '3']);
  });

  it('refuses a corrupted row rather than quoting a field the spec does not quote', () => {
    const fields = buildRow('RR', failureRecord('x').events);
    fields[11] = '24,25';
    const set = recordSetFromRows(PRACTICE, '2026-03-27', [{ side: 'RR', key: 'REG-1', firstEventAt: '2026-03-27T10:00:00.000Z', fields }]);
    expect(() => renderRecordSets([set])).toThrow(/RR12 "24,25" would need quoting; it is not a quoted field/);
    const short = recordSetFromRows(PRACTICE, '2026-03-27', [{ side: 'RR', key: 'REG-1', firstEventAt: '2026-03-27T10:00:00.000Z', fields: fields.slice(0, 30) }]);
    expect(() => renderRecordSets([short])).toThrow(/30 fields, expected 31/);
  });

  it('refuses the same practice and day twice in one file (MI10)', () => {
    const set = recordSet(PRACTICE, '2026-03-27', []);
    expect(() => renderRecordSets([set, set])).toThrow(/record set A12345 2026-03-27 appears twice/);
  });
});

describe('ASCII files (0171.02 §2.3.1)', () => {
  const ASCII = /^[\x00-\x7F]*$/;
  const at = '2026-03-27T10:00:00Z';
  const rr = (type: string, extra: Record<string, unknown>) => ({ type, practiceOds: 'A12345', registrationId: 'REG-1', occurredAt: at, ...extra }) as HookEvent;
  const sr = (type: string, extra: Record<string, unknown>) => ({ type, practiceOds: 'A12345', conversationId: CONV, occurredAt: at, ...extra }) as HookEvent;

  it('free text is transliterated: RR13 of a German GP system, SR13, SR20 and RR29 alike', () => {
    const text = 'Praxis Müller: Zugriff verweigert – café';
    const set = recordSet(PRACTICE, '2026-03-27', [
      { side: 'RR', key: 'REG-1', events: [rr('request-failure', { failurePoint: 40, failureType: 3, fatal: true, errorCode: '24', errorDescription: text }), rr('extract-ack-failure', { failureType: 1, errorCode: 'E1', errorDescription: '“Größe” … ½\u00a0Straße' })] },
      { side: 'SR', key: CONV, events: [sr('request-acknowledged', { ackCode: '06', failureType: 1, errorCode: '06', errorDescription: 'Ærø — naïve' }), sr('extract-failure', { failurePoint: 40, failureType: 1, fatal: true, errorDescription: 'Łódź 中 😀 e\u0301' })] },
    ]);
    const content = renderRecordSets([set]);
    expect(content).toMatch(ASCII);
    const [rrLine, srLine] = content.split('\r\n').slice(1, 3);
    expect(rrLine).toContain(',"Praxis Muller: Zugriff verweigert - cafe",');
    expect(rrLine).toContain(',"""Grosse"" ... 1/2 Strasse",');
    expect(srLine).toContain(',"AEro - naive",');
    expect(srLine).toContain(',"Lodz ? ? e",');
    expect(checkFile(content).problems).toEqual([]);
  });

  it('HR4 from practice settings is transliterated too', () => {
    const line = lineOf(recordSet({ ...PRACTICE, software: 'Ärzte Systeme, GmbH_Praxis; Plus_4.1' }, '2026-03-27', []), 0);
    expect(line).toBe('HR,A12345,200000000101,"Arzte Systeme, GmbH_Praxis; Plus_4.1",111110000000000,2026-03-27,5.0,99,5.0,1.0,1.0');
  });

  it('lengths count the final ASCII bytes: 120 × é fills RR13 with 98 × e, 100 bytes quotes included', () => {
    const content = renderRecordSets([recordSet(PRACTICE, '2026-03-27', [failureRecord('é'.repeat(120))])]);
    const field = content.split('\r\n')[1]!.split(',')[12]!;
    expect(field).toBe(`"${'e'.repeat(98)}"`);
    expect(Buffer.byteLength(field)).toBe(100);
    // Cut after transliteration: "ß" becomes "ss", and the limit counts both.
    expect(fitQuotedText(`${'a'.repeat(97)}ß`, 100)).toBe(`${'a'.repeat(97)}s`);
    expect(fitSoftware(`S_${'Ü'.repeat(200)}_1.0`)).toBe(`S_${'U'.repeat(92)}_1.0`);
  });

  it('the events keep the full original text: only rendering changes', () => {
    const record = failureRecord('Zugriff verweigert – café');
    expect(buildRow('RR', record.events)[12]).toBe('Zugriff verweigert – café');
  });
});

describe('planFiles and renderFiles', () => {
  const practices = ['A12345', 'B23456', 'C34567'].map((ods) => ({ ...PRACTICE, ods }));
  const days = ['2026-03-23', '2026-03-24', '2026-03-25'];
  const sets = practices.flatMap((p) => days.map((day) => recordSet(p, day, [])));

  it('one file when everything fits, named with organisation codes and dates only', () => {
    const files = planFiles(sets, { supplierTag: 'DEMO', createdAt: new Date('2026-03-30T02:00:00Z') });
    expect(files).toHaveLength(1);
    expect(files[0]!.fileName).toBe('GP2GP_MI_DEMO_MULTI_20260323_20260325_20260330T020000Z_1of1.csv');
    expect(files[0]!.recordSets).toHaveLength(9);
    expect(planFiles(sets.slice(0, 3))[0]!.fileName).toBe('GP2GP_MI_A12345_20260323_20260325_1of1.csv');
  });

  it('splits only after a footer, never over the limit, every file valid on its own', () => {
    const oneSet = Buffer.byteLength(renderRecordSets([sets[0]!]));
    const files = renderFiles(sets, { maxBytes: oneSet * 2 + 10 });
    expect(files.map((f) => f.fileName)).toEqual([1, 2, 3, 4, 5].map((n) => expect.stringMatching(new RegExp(`_${n}of5\\.csv$`))));
    for (const f of files) {
      expect(f.bytes).toBeLessThanOrEqual(oneSet * 2 + 10);
      expect(Buffer.byteLength(f.content)).toBe(f.bytes);
      expect(f.content.endsWith('\r\n')).toBe(true);
      expect(f.content.split('\r\n').filter(Boolean).at(-1)).toMatch(/^FR,/);
      expect(f.fileName).not.toMatch(/\s/);
      expect(checkFile(f.content).problems).toEqual([]);
    }
    expect(files.map((f) => f.content).join('')).toBe(renderRecordSets(sets));
  });

  it('a single record set over the limit cannot be split: refused', () => {
    expect(() => planFiles(sets, { maxBytes: 50 })).toThrow(/alone is \d+ bytes, over the 50-byte file limit/);
  });

  it('refuses a supplier tag that would put spaces or separators into file names', () => {
    expect(() => planFiles(sets, { supplierTag: 'My Supplier' })).toThrow(/supplierTag: "My Supplier" is not allowed/);
  });
});
