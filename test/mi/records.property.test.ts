/**
 * "Events may arrive late, twice, or out of order": shuffling, duplicating or re-sending a record's
 * events (with the same instant written in another zone) never changes its row, and a row as of an
 * instant depends only on the events up to it.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkFile } from '../../mi/check';
import { renderRecordSets } from '../../mi/csv';
import { utcInstant, validateEvent, type HookEvent } from '../../mi/events';
import { recordSet } from '../../mi/record-set';
import { buildRow, recordDays } from '../../mi/records';
import { anyRecordArb, CONVERSATION_IDS, inPlusOne, instantArb, PRACTICE, recordEventsArb } from './support';

const RUNS = { numRuns: 400 };

describe('rows do not depend on arrival', () => {
  it('the generators make valid events only', () => {
    fc.assert(
      fc.property(anyRecordArb, ({ events }) => {
        for (const e of events) expect(validateEvent(e, { now: new Date('2027-01-01T00:00:00Z') })).toMatchObject({ ok: true });
      }),
      { numRuns: 100 },
    );
  });

  it('shuffling the events never changes the row', () => {
    fc.assert(
      fc.property(
        anyRecordArb.chain((r) => fc.tuple(fc.constant(r), fc.shuffledSubarray(r.events, { minLength: r.events.length, maxLength: r.events.length }))),
        ([{ side, events }, shuffled]) => {
          expect(buildRow(side, shuffled)).toEqual(buildRow(side, events));
        },
      ),
      RUNS,
    );
  });

  it('delivering events twice (copies, anywhere in the stream) never changes the row', () => {
    fc.assert(
      fc.property(
        anyRecordArb.chain((r) =>
          fc.tuple(fc.constant(r), fc.array(fc.tuple(fc.nat(r.events.length - 1), fc.nat(r.events.length)), { minLength: 1, maxLength: 10 })),
        ),
        ([{ side, events }, copies]) => {
          const stream = [...events];
          for (const [which, where] of copies) stream.splice(where, 0, structuredClone(events[which]!));
          expect(buildRow(side, stream)).toEqual(buildRow(side, events));
        },
      ),
      RUNS,
    );
  });

  it('a re-delivery with the instant in another zone (and fields in another order) is the same event', () => {
    fc.assert(
      fc.property(anyRecordArb, fc.nat(), ({ side, events }, pick) => {
        const original = events[pick % events.length]!;
        const again = Object.fromEntries(Object.entries({ ...original, occurredAt: inPlusOne(original.occurredAt) }).reverse()) as unknown as HookEvent;
        expect(buildRow(side, [...events, again])).toEqual(buildRow(side, events));
      }),
      RUNS,
    );
  });

  it('a row as of an instant is the row of the events up to that instant', () => {
    fc.assert(
      fc.property(anyRecordArb, instantArb, ({ side, events }, upTo) => {
        const before = events.filter((e) => utcInstant(e.occurredAt)! <= utcInstant(upTo)!);
        if (before.length === 0) expect(() => buildRow(side, events, upTo)).toThrow(/no events up to/);
        else expect(buildRow(side, events, upTo)).toEqual(buildRow(side, before));
      }),
      RUNS,
    );
  });

  it('render writes what check accepts, for any events of several records over several days', () => {
    fc.assert(
      fc.property(
        fc.tuple(recordEventsArb('RR', 'REG-1'), recordEventsArb('RR', 'REG-2'), recordEventsArb('SR', CONVERSATION_IDS[0]!), recordEventsArb('SR', CONVERSATION_IDS[1]!)),
        fc.boolean(),
        (lists, placeholderColumns) => {
          const records = [
            { side: 'RR' as const, key: 'REG-1', events: lists[0] },
            { side: 'RR' as const, key: 'REG-2', events: lists[1] },
            { side: 'SR' as const, key: CONVERSATION_IDS[0]!, events: lists[2] },
            { side: 'SR' as const, key: CONVERSATION_IDS[1]!, events: lists[3] },
          ];
          const days = [...new Set(records.flatMap((r) => recordDays(r.events)))].sort();
          const practice = { ...PRACTICE, placeholderColumns };
          const file = renderRecordSets(days.map((day) => recordSet(practice, day, records)));
          expect(checkFile(file).problems).toEqual([]);
        },
      ),
      { numRuns: 200 },
    );
  });
});
