/**
 * Transfer outcomes as the Authority judges them, 14 days after the request (mi/outcomes.ts): which
 * records are transfers, the classes and their boundaries, both roles, what the judgement instant
 * cuts off, overdue deadlines, and that arrival order never matters (seeded properties; FC_SEED=random
 * explores anew, OUTCOME_RUNS runs more).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { HookEvent, Side } from '../../mi/events';
import {
  classifyRecords,
  emptyOutcomeCounts,
  INTEGRATION_TIME_BUCKET_HOURS,
  integrationTimeBucket,
  isOverdue,
  isTechnicalFailureCode,
  JUDGEMENT_MS,
  OUTCOME_CLASSES,
  outcomeAt,
  transferSummary,
  type TransferSummary,
} from '../../mi/outcomes';
import { anyRecordArb, inPlusOne } from './support';

const H = 3_600_000;
const D = 24 * H;
const ods = 'A12345';
const conversationId = '2F1C3B4A-5D6E-4F70-8192-A3B4C5D6E7F8';
const t0 = Date.parse('2026-11-01T09:00:00Z');
const iso = (ms: number) => new Date(ms).toISOString();

const rr = (type: string, at: number, extra: Record<string, unknown> = {}, key = 'REG-1', practiceOds = ods) =>
  ({ type, practiceOds, registrationId: key, occurredAt: iso(at), ...extra }) as unknown as HookEvent;
const sr = (type: string, at: number, extra: Record<string, unknown> = {}, key = conversationId, practiceOds = ods) =>
  ({ type, practiceOds, conversationId: key, occurredAt: iso(at), ...extra }) as unknown as HookEvent;

const registration = rr('registration', t0 - H, { registrationType: 'new', registeringUser: 'L1' });
const requested = (at = t0, key = 'REG-1', practiceOds = ods) =>
  rr('ehr-requested', at, { conversationId, requestMessageId: conversationId }, key, practiceOds);
const received = (at: number) => rr('ehr-received', at, { extractMessageId: conversationId });
const ack = (at: number, ackCode = '0') => rr('extract-acknowledged', at, { ackStatus: ackCode === '0' ? 1 : 7, ackCode, actingUser: 'SYSTEM' });
const outcome = (at: number, value: string) => rr('integration-outcome', at, { outcome: value });
const requestFailure = (at: number, fatal: boolean, errorCode?: string) =>
  rr('request-failure', at, { failurePoint: 30, failureType: 1, fatal, ...(errorCode ? { errorCode } : {}) });
const requestReceived = (at = t0) => sr('request-received', at, { requestMessageId: conversationId, requestingOds: 'B23456' });

const summaryRR = (events: HookEvent[]) => transferSummary('RR', 'REG-1', events);
const summarySR = (events: HookEvent[]) => transferSummary('SR', conversationId, events);
/** The class at the judgement instant, when it is final. */
const judged = (s: TransferSummary | undefined) => outcomeAt(s!, Date.parse(s!.startedAt) + JUDGEMENT_MS);

describe('which records are transfers, and when their clock starts', () => {
  it('a registration alone is no transfer; an RR with a request, or a request failure, is', () => {
    expect(summaryRR([registration])).toBeUndefined();
    expect(summaryRR([registration, requested()])).toMatchObject({ side: 'RR', key: 'REG-1', startedAt: iso(t0) });
    // A request that failed before any ehr-requested starts the clock at the failure.
    expect(summaryRR([registration, requestFailure(t0 + H, false)])!.startedAt).toBe(iso(t0 + H));
    expect(summaryRR([registration, requestFailure(t0 - 30 * 60_000, false), requested()])!.startedAt).toBe(iso(t0 - 30 * 60_000));
    // A failure after the request does not move it.
    expect(summaryRR([requested(), requestFailure(t0 + H, true, '30')])!.startedAt).toBe(iso(t0));
  });

  it('an SR record is a transfer from its request-received', () => {
    expect(summarySR([sr('request-acknowledged', t0, { ackCode: '0' })])).toBeUndefined();
    expect(summarySR([requestReceived()])).toMatchObject({ side: 'SR', key: conversationId, startedAt: iso(t0) });
  });

  it('the start is the first request in the merge order (a later re-request does not restart it)', () => {
    expect(summaryRR([requested(t0 + 2 * D), requested(t0)])!.startedAt).toBe(iso(t0));
  });

  it('refuses events of the other side', () => {
    expect(() => transferSummary('SR', 'REG-1', [requested()])).toThrow(/was given RR events/);
  });
});

describe('the classes (RR)', () => {
  const base = [registration, requested(), received(t0 + H)];

  it('integration time from the request: ≤ 3 days, ≤ 8 days, later; the boundaries included', () => {
    expect(summaryRR([...base, ack(t0 + 3 * D)])).toMatchObject({ settled: 'integrated-3d', integratedAfterMs: 3 * D });
    expect(summaryRR([...base, ack(t0 + 3 * D + 1000)])!.settled).toBe('integrated-8d');
    expect(summaryRR([...base, ack(t0 + 8 * D)])!.settled).toBe('integrated-8d');
    expect(summaryRR([...base, ack(t0 + 8 * D + 1000)])!.settled).toBe('integrated-late');
    expect(summaryRR([...base, ack(t0 + 14 * D)])).toMatchObject({ settled: 'integrated-late', integratedAfterMs: 14 * D });
  });

  it('counts only events up to the judgement instant: an integration after it is a process failure', () => {
    const late = summaryRR([...base, ack(t0 + 14 * D + 1000)])!;
    expect(late.settled).toBeUndefined();
    expect(outcomeAt(late, t0 + 14 * D - 1)).toBe('in-progress');
    expect(outcomeAt(late, t0 + 14 * D)).toBe('process-failure');
    expect(outcomeAt(late, t0 + 60 * D)).toBe('process-failure');
  });

  it('a NACK or a failed integration outcome is a technical failure; a successful outcome an integration', () => {
    expect(summaryRR([...base, ack(t0 + D, '30')])!.settled).toBe('technical-failure');
    expect(summaryRR([...base, ack(t0 + D, '11')])!.settled).toBe('technical-failure');
    expect(summaryRR([...base, outcome(t0 + D, 'REJECTED')])!.settled).toBe('technical-failure');
    expect(summaryRR([...base, outcome(t0 + D, 'FAILED_TO_INTEGRATE')])!.settled).toBe('technical-failure');
    for (const ok of ['INTEGRATED', 'INTEGRATED_AND_SUPPRESSED', 'SUPPRESSED_AND_REACTIVATED', 'FILED_AS_ATTACHMENT', 'INTERNAL_TRANSFER']) {
      expect(summaryRR([...base, outcome(t0 + 5 * D, ok)]), ok).toMatchObject({ settled: 'integrated-8d', integratedAfterMs: 5 * D });
    }
  });

  it('the later of the acknowledgement and the integration outcome decides', () => {
    expect(summaryRR([...base, ack(t0 + D, '30'), outcome(t0 + 2 * D, 'INTEGRATED')])!.settled).toBe('integrated-3d');
    expect(summaryRR([...base, outcome(t0 + D, 'INTEGRATED'), ack(t0 + 2 * D, '30')])!.settled).toBe('technical-failure');
    expect(summaryRR([...base, ack(t0 + D), ack(t0 + 2 * D, '06')])!.settled).toBe('technical-failure');
  });

  it('a fatal failure: technical with codes 6, 7, 10, 14, 23, 24, 30, 99 (zero-padded or not), else a process failure', () => {
    for (const code of ['06', '6', '07', '10', '14', '23', '24', '30', '99', '0099']) {
      expect(summaryRR([requested(), requestFailure(t0 + H, true, code)])!.settled, code).toBe('technical-failure');
    }
    for (const code of ['11', '19', '25', 'SEF001', '400', undefined]) {
      expect(summaryRR([requested(), requestFailure(t0 + H, true, code)])!.settled, String(code)).toBe('process-failure');
    }
    // Not fatal: the transfer goes on.
    expect(summaryRR([requested(), requestFailure(t0 + H, false, '06')])!.settled).toBeUndefined();
    // An ACK is the proof the record arrived, as the transfer's own outcome reads it.
    expect(summaryRR([requested(), requestFailure(t0 + H, true, '06'), ack(t0 + D)])!.settled).toBe('integrated-3d');
  });

  it('the same codes decide in isTechnicalFailureCode', () => {
    expect(['6', '06', '007', '10', '14', '23', '24', '30', '99'].every(isTechnicalFailureCode)).toBe(true);
    expect(['5', '60', 'A6', '', '6.0', undefined].some(isTechnicalFailureCode)).toBe(false);
  });
});

describe('the classes (SR)', () => {
  const base = [requestReceived(), sr('request-acknowledged', t0 + 60_000, { ackCode: '0' }), sr('ehr-sent', t0 + H, { extractMessageId: conversationId, largeMessaging: false })];

  it('a closed conversation without failure is an integration, timed from the request', () => {
    expect(summarySR([...base, sr('conversation-closed', t0 + 2 * D)])).toMatchObject({ settled: 'integrated-3d', integratedAfterMs: 2 * D });
    expect(summarySR([...base, sr('conversation-closed', t0 + 10 * D)])!.settled).toBe('integrated-late');
  });

  it('a fatal failure decides before the close; a NACK of the request ends it by its code', () => {
    const failure = (code: string) => sr('extract-failure', t0 + 2 * H, { failurePoint: 30, failureType: 2, fatal: true, errorCode: code });
    expect(summarySR([...base, failure('10'), sr('conversation-closed', t0 + D)])!.settled).toBe('technical-failure');
    expect(summarySR([...base, failure('SEF001'), sr('conversation-closed', t0 + D)])!.settled).toBe('process-failure');
    expect(summarySR([requestReceived(), sr('request-acknowledged', t0 + H, { ackCode: '06' })])!.settled).toBe('technical-failure');
    expect(summarySR([requestReceived(), sr('request-acknowledged', t0 + H, { ackCode: '19' })])!.settled).toBe('process-failure');
  });

  it('unsettled until judged: in progress, then a process failure', () => {
    const s = summarySR(base)!;
    expect(outcomeAt(s, t0 + 5 * D)).toBe('in-progress');
    expect(judged(s)).toBe('process-failure');
  });
});

describe('overdue transfers (0068 deadlines)', () => {
  it('the extract 24 h after the request, integration 8 days after the extract; a late extract stays overdue from 24 h', () => {
    expect(summaryRR([requested()])!.overdueSince).toBe(iso(t0 + D));
    expect(summaryRR([requested(), received(t0 + H)])!.overdueSince).toBe(iso(t0 + H + 8 * D));
    expect(summaryRR([requested(), received(t0 + 2 * D)])!.overdueSince).toBe(iso(t0 + D));
    expect(summarySR([requestReceived(), sr('ehr-sent', t0 + H, { extractMessageId: conversationId, largeMessaging: false })])!.overdueSince).toBe(iso(t0 + H + 8 * D));
    // However late the extract came, the missed deadline is the first one.
    expect(summaryRR([requested(), received(t0 + 7 * D)])!.overdueSince).toBe(iso(t0 + D));
    expect(summaryRR([requested(), received(t0 + 20 * H)])!.overdueSince).toBe(iso(t0 + 20 * H + 8 * D));
    expect(summaryRR([requested(), received(t0 + 20 * H), ack(t0 + 2 * D)])!.overdueSince).toBeUndefined();
  });

  it('is overdue only in progress and from the deadline', () => {
    const s = summaryRR([requested()])!;
    expect(isOverdue(s, t0 + D - 1)).toBe(false);
    expect(isOverdue(s, t0 + D)).toBe(true);
    expect(isOverdue(s, t0 + 14 * D)).toBe(false);
  });

  it('carries a failed API post and the number of events', () => {
    expect(transferSummary('RR', 'REG-1', [registration, requested()], { apiPostFailed: true })).toMatchObject({ apiPostFailed: true, seq: 2 });
    expect(summaryRR([requested()])!.apiPostFailed).toBeUndefined();
  });
});

describe('integration time buckets', () => {
  it('each bound belongs to its bucket', () => {
    expect(INTEGRATION_TIME_BUCKET_HOURS).toHaveLength(6);
    expect([0, H, H + 1, D, 3 * D, 3 * D + 1, 8 * D, 14 * D, 14 * D + 1, 400 * D].map(integrationTimeBucket)).toEqual([0, 0, 1, 1, 2, 3, 3, 4, 5, 5]);
  });
});

describe('classifyRecords: the offline classification', () => {
  const now = t0 + 15 * D;
  const events: HookEvent[] = [
    // A12345: RR integrated in 2 days, RR unsettled (judged: process failure), SR technical failure.
    requested(t0, 'REG-1'),
    { ...ack(t0 + 2 * D), registrationId: 'REG-1' } as HookEvent,
    requested(t0, 'REG-2'),
    rr('registration', t0, { registrationType: 'new', registeringUser: 'L1' }, 'REG-3'),
    requestReceived(),
    sr('extract-failure', t0 + H, { failurePoint: 30, failureType: 2, fatal: true, errorCode: '99' }),
    // B23456: one RR in progress (requested a day ago), one whose request was 20 days before now.
    requested(now - D, 'REG-9', 'B23456'),
    requested(now - 20 * D, 'REG-8', 'B23456'),
  ];

  it('groups by practice and role, judged at now, all classes present', () => {
    const counts = classifyRecords(events, now);
    expect(counts.map((p) => p.practiceOds)).toEqual(['A12345', 'B23456']);
    expect(counts[0]).toEqual({
      practiceOds: 'A12345',
      outcomes: { ...emptyOutcomeCounts(), 'integrated-3d': 1, 'process-failure': 1, 'technical-failure': 1 },
      bySide: {
        RR: { ...emptyOutcomeCounts(), 'integrated-3d': 1, 'process-failure': 1 },
        SR: { ...emptyOutcomeCounts(), 'technical-failure': 1 },
      },
    });
    expect(counts[1]!.outcomes).toEqual({ ...emptyOutcomeCounts(), 'in-progress': 1, 'process-failure': 1 });
    expect(Object.keys(counts[1]!.outcomes)).toEqual([...OUTCOME_CLASSES]);
  });

  it('counts only transfers requested on or after sinceDay', () => {
    const since = iso(now - 2 * D).slice(0, 10);
    expect(classifyRecords(events, now, { sinceDay: since })).toEqual([
      { practiceOds: 'B23456', outcomes: { ...emptyOutcomeCounts(), 'in-progress': 1 }, bySide: { RR: { ...emptyOutcomeCounts(), 'in-progress': 1 }, SR: emptyOutcomeCounts() } },
    ]);
  });
});

// ---- properties -------------------------------------------------------------------------------------

const SEED = process.env.FC_SEED === 'random' ? {} : { seed: Number(process.env.FC_SEED ?? 20261215) };
const RUNS = { numRuns: Number(process.env.OUTCOME_RUNS ?? 100), ...SEED };

/**
 * The shared generators put every event within 28 hours (many ties); stretched by a factor, the same
 * records span weeks, so every class and the judgement instant are reached, ties kept.
 */
const BASE = Date.parse('2026-03-27T22:00:00Z');
const stretchedRecordArb = fc.tuple(anyRecordArb, fc.constantFrom(1, 6, 12, 20)).map(([r, k]) => ({
  ...r,
  events: r.events.map((e) => ({ ...e, occurredAt: iso(BASE + (Date.parse(e.occurredAt) - BASE) * k) }) as HookEvent),
}));
const nowArb = fc.integer({ min: BASE, max: BASE + 40 * D });

describe('outcomes do not depend on arrival, and the judgement is final', () => {
  it('shuffling, duplicating or re-sending events in another zone never changes the summary', () => {
    fc.assert(
      fc.property(
        stretchedRecordArb.chain((r) => fc.tuple(fc.constant(r), fc.shuffledSubarray(r.events, { minLength: r.events.length, maxLength: r.events.length }), fc.array(fc.tuple(fc.nat(r.events.length - 1), fc.boolean()), { maxLength: 4 }))),
        ([{ side, key, events }, shuffled, copies]) => {
          const stream = [...shuffled];
          for (const [which, otherZone] of copies) {
            const copy = structuredClone(events[which]!);
            stream.push(otherZone ? ({ ...copy, occurredAt: inPlusOne(copy.occurredAt) } as HookEvent) : copy);
          }
          const expected = transferSummary(side, key, events);
          const got = transferSummary(side, key, stream);
          // seq counts distinct events, which duplicates do not add to.
          expect(got).toEqual(expected);
        },
      ),
      RUNS,
    );
  });

  it('a class once decided never changes with time; events after the judgement instant change nothing', () => {
    fc.assert(
      fc.property(stretchedRecordArb, nowArb, nowArb, fc.array(fc.integer({ min: 1, max: 30 * D }), { maxLength: 3 }), ({ side, key, events }, a, b, laterOffsets) => {
        const summary = transferSummary(side, key as string, events);
        if (!summary) return;
        const [early, late] = a <= b ? [a, b] : [b, a];
        const first = outcomeAt(summary, early);
        if (first !== 'in-progress') expect(outcomeAt(summary, late)).toBe(first);
        const judgement = Date.parse(summary.startedAt) + JUDGEMENT_MS;
        // Copies of its events moved after the judgement instant (new eventIds): the same summary.
        const later = laterOffsets.map((offset, i) => ({ ...events[i % events.length]!, eventId: `late-${i}`, occurredAt: iso(judgement + offset) }) as HookEvent);
        const withLater = transferSummary(side, key as string, [...events, ...later])!;
        expect({ ...withLater, seq: summary.seq }).toEqual(summary);
      }),
      RUNS,
    );
  });

  it('classifyRecords counts each transfer once, as outcomeAt classes it', () => {
    fc.assert(
      fc.property(fc.array(stretchedRecordArb, { minLength: 1, maxLength: 4 }), nowArb, (records, now) => {
        // Each record a practice of its own, so records of one side never merge.
        const all = records.flatMap((r, i) => r.events.map((e) => ({ ...e, practiceOds: `P${i}0000` }) as HookEvent));
        const counts = classifyRecords(all, now);
        const expected = new Map<string, string>();
        records.forEach((r, i) => {
          const s = transferSummary(r.side as Side, r.key as string, r.events);
          if (s) expected.set(`P${i}0000`, outcomeAt(s, now));
        });
        expect(counts.map((p) => p.practiceOds)).toEqual([...expected.keys()].sort());
        for (const p of counts) {
          const c = expected.get(p.practiceOds)!;
          expect(p.outcomes).toEqual({ ...emptyOutcomeCounts(), [c]: 1 });
        }
      }),
      RUNS,
    );
  });
});
