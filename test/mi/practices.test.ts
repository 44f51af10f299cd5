/** Practice settings: the example file loads; every bad field is named with its index. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadPractices, parsePractices } from '../../mi/practices';
import { PRACTICE } from './support';

const EXAMPLE = path.join(__dirname, '..', '..', 'examples', 'practices.json');

describe('practice settings', () => {
  it('examples/practices.json has three valid demo practices', () => {
    const practices = loadPractices(EXAMPLE);
    expect(practices.map((p) => p.ods)).toEqual(['A12345', 'B23456', 'C34567']);
    expect(practices[1]).toMatchObject({ placeholderColumns: true });
  });

  it('names every bad field of every practice, with what is allowed', () => {
    const json = {
      practices: [
        PRACTICE,
        { ...PRACTICE, ods: 'B23456', asid: 'has space', maxAttachments: 10000 },
        { ...PRACTICE, ods: 'C34567', applicationStatus: '1111', largeMessageFactorA: 12.345, colour: 'red' },
        { ...PRACTICE, software: 'NoUnderscores' },
      ],
    };
    let message = '';
    try {
      parsePractices(json);
    } catch (err) {
      message = (err as Error).message;
    }
    const [first, ...parts] = message.split('\n  ');
    expect(first).toBe('bad practice settings:');
    expect(parts.map((p) => p.split(':')[0])).toEqual([
      'practices[1].asid',
      'practices[1].maxAttachments',
      'practices[2].colour',
      'practices[2].applicationStatus',
      'practices[2].largeMessageFactorA',
      'practices[3].software',
      'practices[3].ods',
    ]);
    expect(parts[0]).toBe('practices[1].asid: "has space" is not allowed; allowed: an ASID: 1 to 20 letters, digits or "-"');
    expect(parts[4]).toBe('practices[2].largeMessageFactorA: 12.345 is not allowed; allowed: a positive number that renders in 4 characters or fewer (as 5.0 or 0.25)');
    expect(parts[6]).toBe('practices[3].ods: "A12345" is not allowed; allowed: an ODS code not already used by practices[0]');
  });

  it('missing fields, and a file that is not {"practices": [...]}', () => {
    const { asid: _asid, ...withoutAsid } = PRACTICE;
    expect(() => parsePractices({ practices: [withoutAsid] })).toThrow(/practices\[0\]\.asid: missing; allowed: an ASID/);
    expect(() => parsePractices([PRACTICE])).toThrow('practices: missing; allowed: a JSON object {"practices": [ … ]}');
    expect(() => parsePractices({ practices: [PRACTICE], extra: 1 })).toThrow(/extra: is an unknown field/);
    // A setting earlier versions accepted but never used is refused with what to do about it.
    expect(() => parsePractices({ practices: [{ ...PRACTICE, mailbox: 'X26DEMO002' }] })).toThrow(
      /practices\[0\]\.mailbox: is no longer a practice setting \(it was never used: every practice's MI is sent from the mailbox MESH_MAILBOX\); remove it/,
    );
  });

  it('a supplier and version that leave the product no room are refused (the product is what gets cut)', () => {
    expect(() => parsePractices({ practices: [{ ...PRACTICE, software: `${'S'.repeat(60)}_P_${'9'.repeat(40)}` }] })).toThrow(/practices\[0\]\.software/);
    expect(parsePractices({ practices: [{ ...PRACTICE, software: `S_${'P'.repeat(200)}_1.0` }] })).toHaveLength(1);
  });

  it('software is judged as it is rendered, in ASCII: transliteration may lengthen it or add a double quote', () => {
    expect(parsePractices({ practices: [{ ...PRACTICE, software: 'Ärzte Systeme, GmbH_Praxis; Plus_4.1' }] })).toHaveLength(1);
    // 93 characters as given; "ß" is "ss" in the file, so supplier and version alone take 143.
    expect(() => parsePractices({ practices: [{ ...PRACTICE, software: `${'ß'.repeat(50)}_P_${'9'.repeat(40)}` }] })).toThrow(/practices\[0\]\.software: .* allowed: Supplier_Product_Version/);
    expect(() => parsePractices({ practices: [{ ...PRACTICE, software: 'S_P_„1.0“' }] })).toThrow(/practices\[0\]\.software/);
  });

  it('loadPractices names the file in its errors', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mi-practices-'));
    const file = path.join(dir, 'practices.json');
    fs.writeFileSync(file, '{ not json');
    expect(() => loadPractices(file)).toThrow(new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: `));
    fs.writeFileSync(file, JSON.stringify({ practices: [{ ...PRACTICE, ods: 'x' }] }));
    expect(() => loadPractices(file)).toThrow(/practices\.json: bad practice settings:\n  practices\[0\]\.ods/);
  });
});
