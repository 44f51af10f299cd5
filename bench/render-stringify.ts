/**
 * The renderer as it was before issue 13: csv-stringify over prepared records, quoting switched on per
 * value. Kept here only as the reference the bench compares bytes with, so that the faster renderer
 * in mi/csv.ts is proven byte-identical to the old path on a national week, not just on the unit tests.
 * Not used by the service.
 */
import { stringify } from 'csv-stringify/sync';
import { syntheticPractice } from '../demo/traffic';
import { toAscii } from '../mi/ascii';
import { fitQuotedText, fitSoftware, footerFields, headerFields } from '../mi/csv';
import { FIELDS, QUOTED_POSITIONS, SR_SPEC_FIELD_COUNT, type RecordType } from '../mi/fields';
import type { RecordSet, RecordSetRow } from '../mi/record-set';

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

const RECORDS_PER_BATCH = 1000;

/** renderRecordSets of mi/csv.ts before issue 13 (the distinctness check left out: the bench's sets are distinct). */
export function renderWithStringify(sets: readonly RecordSet[]): string {
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

// ---- adversarial record sets: the two renderers must agree on text the national week never has ----

/** Field values as hostile as rows can get: non-ASCII, quotes, separators, line breaks, invisible characters, long text, nulls. */
function valueArbitrary(fc: typeof import('fast-check'), wild: boolean) {
  const nasty = fc.constantFrom('', '"', '""', ',', '\r\n', '\n', '\t', 'é', 'ü', 'ß', '\u200B', '\u00AD', '😀', '中', '–', '“x”', '…', '\u00A0', 'a"b', 'x,y', '½');
  const text = fc.array(fc.oneof(nasty, fc.string({ maxLength: 8 }), fc.string({ unit: 'binary', maxLength: 8 })), { maxLength: 40 }).map((parts) => parts.join(''));
  const plain = fc.oneof(fc.constant(''), fc.stringMatching(/^[A-Z0-9:T.-]{1,20}$/));
  // Not text at all, as a row read from elsewhere may carry (only where the field is not quoted).
  const notText = fc.constantFrom<unknown>(null, undefined, true, false, 0, 42, 1.5, new Date(0), {}, []);
  if (!wild) return fc.oneof({ weight: 150, arbitrary: plain }, { weight: 1, arbitrary: text }, { weight: 1, arbitrary: notText }) as import('fast-check').Arbitrary<string>;
  return fc.oneof(plain, text, fc.string({ unit: 'grapheme', maxLength: 150 }));
}

/** Renders with both and returns the first difference, in words (undefined when they agree, errors included). */
export function compareOnAdversarialSets(render: (sets: readonly RecordSet[]) => string, runs: number, seed: number): string | undefined {
  // fast-check is a devDependency: the bench runs where tests run.
  const fc = require('fast-check') as typeof import('fast-check');
  const recordArbitrary = (side: 'RR' | 'SR', count: number) =>
    fc.tuple(...Array.from({ length: count }, (_, i) => valueArbitrary(fc, QUOTED_POSITIONS[side].includes(i)))).map((fields) => {
      fields[0] = side;
      return fields;
    });
  const setArbitrary = fc.record({
    placeholderColumns: fc.boolean(),
    software: fc.oneof(fc.constant('DEMO SUPPLIER LTD_Demo Clinical_3.2.1'), valueArbitrary(fc, true).map((s) => `S_${s}_1.0`), valueArbitrary(fc, true)),
    rows: fc.array(fc.oneof(recordArbitrary('RR', FIELDS.RR.length), recordArbitrary('SR', FIELDS.SR.length), recordArbitrary('SR', SR_SPEC_FIELD_COUNT)), { maxLength: 6 }),
  });
  const outcome = (f: () => string) => {
    try {
      return `ok ${f()}`;
    } catch (err) {
      return `error ${(err as Error).message}`;
    }
  };
  const samples = fc.sample(fc.array(setArbitrary, { minLength: 1, maxLength: 4 }), { seed, numRuns: runs });
  for (const [n, sample] of samples.entries()) {
    const sets: RecordSet[] = sample.map((s, i) => ({
      practice: syntheticPractice(`Z${String(i).padStart(5, '0')}`, '200000000101', { software: s.software, placeholderColumns: s.placeholderColumns }),
      day: '2026-03-23',
      rows: s.rows.map((fields, r) => ({ side: fields[0] as 'RR' | 'SR', key: `K${r}`, firstEventAt: '2026-03-23T00:00:00.000Z', fields })),
    }));
    const ours = outcome(() => render(sets));
    const old = outcome(() => renderWithStringify(sets));
    if (ours !== old) return `sample ${n} (seed ${seed}): new ${JSON.stringify(ours.slice(0, 300))} vs old ${JSON.stringify(old.slice(0, 300))}`;
  }
  return undefined;
}
