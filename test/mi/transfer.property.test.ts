/**
 * "Events may arrive late, twice, or out of order" holds for a transfer's stage, outcome and deadlines
 * as it does for its rows (records.property.test.ts): shuffling, duplicating or re-sending events in
 * another zone never changes them, at any time. And they are read from the same merge as the row, so
 * a tie in occurredAt is broken the same way for both.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { HookEvent, Side } from '../../mi/events';
import { buildRow } from '../../mi/records';
import { nextTransferDeadline, transferOutcome, transferProgress } from '../../mi/transfer';
import { anyRecordArb, inPlusOne } from './support';

const RUNS = { numRuns: 400 };
/** Instants around the generated events (2026-03-27 22:00 to 2026-03-29 02:00) and well after. */
const nowArb = fc.integer({ min: Date.parse('2026-03-27T00:00:00Z'), max: Date.parse('2026-04-20T00:00:00Z') });

/** Everything a transfer derives from its events at `now`. */
function said(side: Side, events: readonly HookEvent[], now: number) {
  const progress = transferProgress(side, events);
  return { stage: progress.stage, outcome: transferOutcome(progress, now), nextDeadline: nextTransferDeadline(progress, now) };
}

const shuffledRecordArb = anyRecordArb.chain((r) =>
  fc.tuple(fc.constant(r), fc.shuffledSubarray(r.events, { minLength: r.events.length, maxLength: r.events.length })),
);

describe('a transfer\'s stage, outcome and deadlines do not depend on arrival', () => {
  it('shuffling the events never changes them', () => {
    fc.assert(
      fc.property(shuffledRecordArb, nowArb, ([{ side, events }, shuffled], now) => {
        expect(said(side, shuffled, now)).toEqual(said(side, events, now));
      }),
      RUNS,
    );
  });

  it('delivering events twice, or again with the instant in another zone, never changes them', () => {
    fc.assert(
      fc.property(
        anyRecordArb.chain((r) =>
          fc.tuple(
            fc.constant(r),
            fc.array(fc.tuple(fc.nat(r.events.length - 1), fc.nat(r.events.length), fc.boolean()), { minLength: 1, maxLength: 10 }),
          ),
        ),
        nowArb,
        ([{ side, events }, copies], now) => {
          const stream = [...events];
          for (const [which, where, otherZone] of copies) {
            const copy = structuredClone(events[which]!);
            stream.splice(where, 0, otherZone ? ({ ...copy, occurredAt: inPlusOne(copy.occurredAt) } as HookEvent) : copy);
          }
          expect(said(side, stream, now)).toEqual(said(side, events, now));
        },
      ),
      RUNS,
    );
  });

  it('the outcome reads the acknowledgement the row reports, however ties fall', () => {
    fc.assert(
      fc.property(shuffledRecordArb, nowArb, ([{ side, events }, shuffled], now) => {
        const row = buildRow(side, events);
        // RR23 (extract ack code) or SR9 (request ack code); '' without an acknowledgement.
        const ackCode = side === 'RR' ? row[22] : row[8];
        const progress = transferProgress(side, shuffled);
        expect(progress.ackCode ?? '').toBe(ackCode);
        const outcome = transferOutcome(progress, now);
        if (side === 'RR' && ackCode !== '') expect(outcome === 'rejected').toBe(ackCode !== '0');
        if (side === 'SR' && ackCode !== '' && ackCode !== '0' && outcome !== 'closed' && outcome !== 'failed') expect(outcome).toBe('rejected');
      }),
      RUNS,
    );
  });

  it('the stage is the type of the event the merge puts last, whatever arrived last', () => {
    fc.assert(
      fc.property(shuffledRecordArb, ([{ side, events }, shuffled]) => {
        const latest = Math.max(...events.map((e) => Date.parse(e.occurredAt)));
        const stage = transferProgress(side, shuffled).stage;
        expect(events.some((e) => e.type === stage && Date.parse(e.occurredAt) === latest)).toBe(true);
      }),
      RUNS,
    );
  });
});

describe('a transfer\'s stage when events share an instant', () => {
  const at = '2026-03-27T09:00:00Z';
  const registration = { type: 'registration', practiceOds: 'A12345', registrationId: 'REG-1', occurredAt: at, registrationType: 'new', registeringUser: 'L12345' };
  const requested = {
    type: 'ehr-requested',
    practiceOds: 'A12345',
    registrationId: 'REG-1',
    conversationId: '3F2504E0-4F89-11D3-9A0C-0305E82C3301',
    occurredAt: at,
    requestMessageId: '5A2504E0-4F89-11D3-9A0C-0305E82C3301',
    senderOds: 'B23456',
  };

  it('is the later stage of the protocol, whatever the eventIds', () => {
    for (const [reg, req] of [['z-reg', 'a-req'], ['a-reg', 'z-req']]) {
      const events = [{ ...registration, eventId: reg }, { ...requested, eventId: req }] as unknown as HookEvent[];
      expect(transferProgress('RR', events).stage).toBe('ehr-requested');
      expect(transferProgress('RR', [...events].reverse()).stage).toBe('ehr-requested');
    }
  });
});
