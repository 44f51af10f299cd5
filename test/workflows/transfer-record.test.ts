/**
 * The plain class behind the transfer workflow, without a server: protocol timers and outcomes (0068),
 * which events it takes and how it answers them, forwarding, restoring a reopened record, what it
 * shows, and when a run ends or continues as new.
 */
import { describe, expect, it } from 'vitest';
import type { StoredEvent, TransferInput } from '../../messages/transfer';
import { practiceSlotOffset } from '../../mi/hand-over';
import { TransferRecord } from '../../workflows/transfer-record';

const H = 3_600_000;
const D = 24 * H;
const ods = 'A81001';
const conversationId = '2F1C3B4A-5D6E-4F70-8192-A3B4C5D6E7F8';
const rr = (type: string, occurredAt: string, extra: Record<string, unknown> = {}) =>
  ({ type, practiceOds: ods, registrationId: 'REG-1', occurredAt, eventId: `${type}-${occurredAt}`, ...extra }) as unknown as StoredEvent;
const sr = (type: string, occurredAt: string, extra: Record<string, unknown> = {}) =>
  ({ type, practiceOds: ods, conversationId, occurredAt, eventId: `${type}-${occurredAt}`, ...extra }) as unknown as StoredEvent;
const record = (side: 'RR' | 'SR', events: StoredEvent[], extra: Partial<TransferInput> = {}, now = 0) =>
  new TransferRecord({ side, practiceOds: ods, key: side === 'RR' ? 'REG-1' : conversationId, events, ...extra }, { now });

const t0 = Date.parse('2026-11-01T09:00:00Z');
const iso = (ms: number) => new Date(ms).toISOString();
const registration = rr('registration', iso(t0), { registrationType: 'new', registeringUser: 'L1' });

describe('TransferRecord: outcomes and protocol timers (0068)', () => {
  it('a registration without a request is "registered", and never overdue', () => {
    const r = record('RR', [registration]);
    expect(r.outcome(t0 + 30 * D)).toBe('registered');
    expect(r.nextDeadline(t0 + H)).toBeUndefined();
    expect(r.isFinal(t0 + 30 * D)).toBe(false);
  });

  it('watches the 24 h extract and the 8-day integration windows', () => {
    const events = [registration, rr('ehr-requested', iso(t0 + 5 * 60_000), { conversationId, requestMessageId: conversationId })];
    const requested = record('RR', events);
    expect(requested.outcome(t0 + H)).toBe('in-progress');
    expect(requested.nextDeadline(t0 + H)).toBe(t0 + 5 * 60_000 + D);
    expect(requested.outcome(t0 + 2 * D)).toBe('extract-overdue');

    const received = record('RR', [...events, rr('ehr-received', iso(t0 + H), { conversationId, extractMessageId: conversationId })]);
    expect(received.outcome(t0 + 7 * D)).toBe('in-progress');
    expect(received.nextDeadline(t0 + 2 * D)).toBe(t0 + H + 8 * D);
    expect(received.outcome(t0 + 9 * D)).toBe('integration-overdue');

    const late = record('RR', [
      ...received.events,
      rr('extract-acknowledged', iso(t0 + 10 * D), { conversationId, ackStatus: 1, ackCode: '0', actingUser: 'SYSTEM' }),
    ]);
    expect(late.outcome(t0 + 10 * D)).toBe('integrated-late');
    expect(late.isFinal(t0 + 10 * D)).toBe(true);
  });

  it('a NACK is "rejected" and a fatal failure "failed"; both are final', () => {
    const nack = record('RR', [rr('extract-acknowledged', iso(t0), { conversationId, ackStatus: 7, ackCode: '30', actingUser: 'SYSTEM' })]);
    expect(nack.outcome(t0)).toBe('rejected');
    const fatal = record('SR', [sr('extract-failure', iso(t0), { failurePoint: 30, failureType: 2, fatal: true })]);
    expect(fatal.outcome(t0)).toBe('failed');
    expect(fatal.isFinal(t0)).toBe(true);
  });

  it('lists NACK codes outside 0083.08 among its warnings, each with its event; a known code is no warning', () => {
    const unknown = rr('extract-acknowledged', iso(t0), { conversationId, ackStatus: 2, ackCode: '50', actingUser: 'SYSTEM' });
    const r = record('RR', [unknown]);
    expect(r.outcome(t0)).toBe('rejected');
    expect(r.warnings()).toEqual([{ eventId: unknown.eventId, field: 'ackCode', value: '50', message: expect.stringMatching(/^ackCode: "50" is not a NACK code of 0083.08/) }]);
    expect(record('SR', [sr('request-acknowledged', iso(t0), { ackCode: '06' })]).warnings()).toEqual([]);
  });

  it('the sender side: sent, overdue integration, closed', () => {
    const sent = record('SR', [
      sr('request-received', iso(t0), { requestMessageId: conversationId, requestingOds: 'B82002' }),
      sr('ehr-sent', iso(t0 + H), { extractMessageId: conversationId, largeMessaging: false }),
    ]);
    expect(sent.outcome(t0 + 2 * H)).toBe('sent');
    expect(sent.outcome(t0 + 9 * D)).toBe('integration-overdue');
    expect(sent.record(sr('conversation-closed', iso(t0 + 2 * D)))).toEqual({ outcome: 'accepted', eventId: `conversation-closed-${iso(t0 + 2 * D)}` });
    expect(sent.outcome(t0 + 9 * D)).toBe('closed');
  });

  it('two acknowledgements at one instant: the outcome follows the rows\' order, the stage the protocol\'s, not arrival', () => {
    const ack = rr('extract-acknowledged', iso(t0), { conversationId, ackStatus: 1, ackCode: '0', actingUser: 'SYSTEM', eventId: 'b' });
    const nack = rr('extract-acknowledged', iso(t0), { conversationId, ackStatus: 7, ackCode: '30', actingUser: 'SYSTEM', eventId: 'a' });
    const oneWay = record('RR', [ack, nack]);
    const otherWay = record('RR', [nack, ack]);
    // Ties go to the larger eventId, as in the row (RR23 = '0').
    expect(oneWay.outcome(t0)).toBe('integrated');
    expect(otherWay.outcome(t0)).toBe('integrated');
    expect(otherWay.view(t0).rows[0]!.fields[22]).toBe('0');
    // Two types at one instant: the later protocol stage, whatever the eventIds or the arrival.
    const received = rr('ehr-received', iso(t0), { conversationId, extractMessageId: conversationId, eventId: 'z' });
    expect(record('RR', [received, ack]).stage()).toBe('extract-acknowledged');
    expect(record('RR', [ack, received]).stage()).toBe('extract-acknowledged');
  });
});

describe('TransferRecord: what it takes and how it answers', () => {
  const now = t0 + H;

  it('a second delivery of an eventId is a duplicate with the same content, a conflict with other content', () => {
    const r = record('RR', [registration]);
    expect(r.record(registration)).toEqual({ outcome: 'duplicate', eventId: registration.eventId });
    expect(r.events).toHaveLength(1);
    const other = { ...registration, registeringUser: 'L2' } as StoredEvent;
    expect(r.refusal(other, now)).toMatch(/was already used for a different event/);
    expect(r.record(other)).toEqual({ outcome: 'conflict', message: expect.stringMatching(/was already used for a different event/) });
    expect(r.hasUnforwarded).toBe(false);
  });

  it('refuses what the hook contract refuses, events of another record, without an eventId, or older than the correction window', () => {
    const r = record('RR', [], { options: { maxEventAgeDays: 3 } });
    expect(r.refusal(registration, now)).toBeUndefined();
    expect(r.refusal({ ...registration, registrationType: 'odd' }, now)).toMatch(/registrationType/);
    expect(r.refusal({ ...registration, registrationId: 'REG-2' }, now)).toMatch(/belongs to RR A81001\/REG-2, not to this transfer/);
    const { eventId: _, ...withoutId } = registration;
    expect(r.refusal(withoutId, now)).toMatch(/^eventId: missing/);
    expect(r.refusal(registration, t0 + 5 * D)).toMatch(/older than the 3-day correction window/);
  });

  it('forwards the rows of the earliest changed day and later; shows "forwarding" until done', () => {
    const r = record('RR', [registration]);
    expect(r.startForwarding(Date.now())).toBeUndefined();
    r.record(rr('ehr-requested', iso(t0 + 2 * D), { conversationId, requestMessageId: conversationId }));
    r.record(rr('ehr-received', iso(t0 + 3 * D), { conversationId, extractMessageId: conversationId }));
    expect(r.view(now).forwarding).toBe(true);
    const batch = r.startForwarding(Date.now())!;
    expect(batch.practiceOds).toBe(ods);
    expect(batch.rows.map((row) => [row.day, row.seq])).toEqual([
      ['2026-11-03', 3],
      ['2026-11-04', 3],
    ]);
    expect(r.hasUnforwarded).toBe(false);
    expect(r.view(now).forwarding).toBe(true);
    r.forwarded();
    expect(r.view(now).forwarding).toBe(false);
  });

  it('a fresh run waits for the earlier events of a reopened record; a continued one has them', () => {
    const fresh = new TransferRecord({ side: 'RR', practiceOds: ods, key: 'REG-1' }, { now });
    expect(fresh.restored).toBe(false);
    expect(fresh.view(now).forwarding).toBe(true);
    fresh.restore([registration]);
    expect(fresh.restored).toBe(true);
    expect(fresh.hasUnforwarded).toBe(false);
    expect(fresh.record(registration).outcome).toBe('duplicate');
    expect(new TransferRecord({ side: 'RR', practiceOds: ods, key: 'REG-1' }, { now, continued: true }).restored).toBe(true);
  });
});

describe('TransferRecord: what it shows, and the end of a run', () => {
  it('search attributes only on a real change; details whenever they change', () => {
    const r = record('RR', [registration]);
    const first = r.shown(t0);
    expect(first.attributes).toEqual({ practiceOds: ods, side: 'RR', stage: 'registration', outcome: 'registered', days: ['2026-11-01'], registrationId: 'REG-1' });
    expect(first.details).toBe('RR record of A81001: 1 events, stage registration, outcome registered; all rows forwarded');
    expect(r.shown(t0)).toEqual({});
    r.record(rr('ehr-requested', iso(t0 + H), { conversationId, requestMessageId: conversationId }));
    const second = r.shown(t0 + H);
    expect(second.attributes).toMatchObject({ stage: 'ehr-requested', outcome: 'in-progress', conversationId });
    r.startForwarding(Date.now());
    expect(r.shown(t0 + H)).toEqual({ details: expect.stringContaining('all rows forwarded') });
  });

  it('a run goes quiet after its last event: soon when empty, later when final, latest otherwise', () => {
    const options = { finalQuietMs: 2 * D, idleMs: 5 * D };
    expect(record('RR', [], { options }, t0).quietUntil(t0)).toBe(t0 + 60_000);
    const open = record('RR', [registration], { options }, t0);
    expect(open.quietUntil(t0)).toBe(t0 + 5 * D);
    open.arrived(t0 + H);
    expect(open.quietUntil(t0 + H)).toBe(t0 + H + 5 * D);
    const done = record('SR', [sr('conversation-closed', iso(t0))], { options }, t0);
    expect(done.quietUntil(t0)).toBe(t0 + 2 * D);
    const requested = record('RR', [registration, rr('ehr-requested', iso(t0), { conversationId, requestMessageId: conversationId })], { options }, t0);
    expect(requested.wakeAt(t0)).toBe(t0 + D);
  });

  it('continues as new only once every row is forwarded, carrying its events', () => {
    const r = record('RR', [registration], { unforwardedFrom: '2026-11-01' });
    expect(r.shouldContinueAsNew(false)).toBe(false);
    expect(r.shouldContinueAsNew(true)).toBe(true);
    expect(r.continueAsNewInput(Date.now())).toBeUndefined();
    r.startForwarding(Date.now());
    r.forwarded();
    expect(r.continueAsNewInput(Date.now())).toMatchObject({ side: 'RR', practiceOds: ods, key: 'REG-1', events: [registration], unforwardedFrom: undefined });
    expect(r.result(t0)).toEqual({ events: [registration], outcome: 'registered' });
  });
});

describe('TransferRecord: the outcome summary handed to reporting (issue 15)', () => {
  const requested = rr('ehr-requested', iso(t0 + H), { conversationId, requestMessageId: conversationId });

  it('goes with every forward once the record is a transfer; a registration alone has none', () => {
    const r = record('RR', [], {}, t0);
    r.restore([]);
    r.record(registration);
    expect(r.startForwarding(Date.now())).not.toHaveProperty('summaries');
    r.forwarded();
    r.record(requested);
    const batch = r.startForwarding(Date.now())!;
    expect(batch.rows.map((row) => row.day)).toEqual(['2026-11-01']);
    expect(batch.summaries).toEqual([{ side: 'RR', key: 'REG-1', startedAt: iso(t0 + H), overdueSince: iso(t0 + H + D), seq: 2 }]);
    r.forwarded();
    // A re-sent event forwards nothing; no deadline, only events change a summary.
    r.record(requested);
    expect(r.startForwarding(Date.now())).toBeUndefined();
  });

  it('an API-only event changes no row on a later day, but its summary goes in the same forward', () => {
    const r = record('RR', [registration, requested], {}, t0);
    r.record(rr('integration-outcome', iso(t0 + 2 * D), { conversationId, outcome: 'INTEGRATED' }));
    const batch = r.startForwarding(Date.now())!;
    expect(batch.rows).toEqual([]);
    expect(batch.summaries).toEqual([{ side: 'RR', key: 'REG-1', startedAt: iso(t0 + H), settled: 'integrated-3d', integratedAfterMs: 2 * D - H, seq: 3 }]);
  });

  it('a record of the sender side: its summary from the request received', () => {
    const r = record('SR', [], {}, t0);
    r.restore([]);
    r.record(sr('request-received', iso(t0), { requestMessageId: conversationId, requestingOds: 'B82002' }));
    r.record(sr('conversation-closed', iso(t0 + D)));
    expect(r.startForwarding(Date.now())!.summaries).toEqual([{ side: 'SR', key: conversationId, startedAt: iso(t0), settled: 'integrated-3d', integratedAfterMs: D, seq: 2 }]);
  });
});

describe('TransferRecord: rows of a day still open wait for its hand-over point (issue 13)', () => {
  const at = (23 * 60 + 50) * 60_000; // 23:50 UTC
  const point = Date.parse('2026-11-01T23:50:00Z');
  const requested = rr('ehr-requested', iso(t0 + H), { conversationId, requestMessageId: conversationId });
  const holding = (extra: Partial<TransferInput> = {}) => record('RR', [], { reopened: false, options: { handOverAtMs: at }, ...extra }, t0);

  it('holds an open day\'s rows and summary until the point, wakes for it, then hands them over together', () => {
    const r = holding();
    r.record(registration);
    r.record(requested);
    expect(r.hasUnforwarded).toBe(true);
    expect(r.heldUntil(t0 + 2 * H)).toBe(point);
    expect(r.forwardDue(t0 + 2 * H)).toBe(false);
    expect(r.startForwarding(t0 + 2 * H)).toBeUndefined();
    expect(r.wakeAt(t0 + 2 * H)).toBe(point);
    expect(r.view(t0 + 2 * H)).toMatchObject({ forwarding: true, rowsHeldUntil: '2026-11-01T23:50:00.000Z' });
    expect(r.shown(t0 + 2 * H).details).toContain('rows of 2026-11-01 held until 23:50 UTC');
    const batch = r.startForwarding(point)!;
    expect(batch.rows.map((row) => [row.day, row.seq])).toEqual([['2026-11-01', 2]]);
    expect(batch.summaries).toHaveLength(1);
    r.forwarded();
    expect(r.hasUnforwarded).toBe(false);
    expect(r.view(point).rowsHeldUntil).toBeUndefined();
  });

  it('with a spread, waits for its practice\'s slot, the same for every transfer of the practice; hands over marked as the point\'s', () => {
    const spread = { handOverAtMs: at, handOverSpreadMs: 9 * 60_000 };
    const offset = practiceSlotOffset(ods, spread.handOverSpreadMs);
    const r = holding({ options: spread });
    r.record(registration);
    expect(r.heldUntil(t0)).toBe(point + offset);
    const other = new TransferRecord({ side: 'SR', practiceOds: ods, key: conversationId, reopened: false, options: spread }, { now: t0 });
    other.record(sr('request-received', iso(t0), { requestMessageId: conversationId, requestingOds: 'B23456' }));
    expect(other.heldUntil(t0)).toBe(point + offset);
    // Late rows are not the point's; rows handed over at the slot on their own day are.
    expect(r.startForwarding(point + offset - 1)).toBeUndefined();
    expect(r.startForwarding(point + offset)).toMatchObject({ atHandOverPoint: true });
    const late = holding({ options: spread });
    late.record(registration);
    expect(late.startForwarding(t0 + D)).not.toHaveProperty('atHandOverPoint');
  });

  it('a late event (its day past the point) goes at once, with whatever waited', () => {
    const r = holding();
    r.record(rr('registration', iso(Date.parse('2026-11-02T08:00:00Z')), { registrationType: 'new', registeringUser: 'L1' }));
    expect(r.heldUntil(Date.parse('2026-11-02T09:00:00Z'))).toBe(Date.parse('2026-11-02T23:50:00Z'));
    r.record(rr('ehr-requested', iso(t0), { conversationId, requestMessageId: conversationId }));
    expect(r.forwardDue(Date.parse('2026-11-02T09:00:00Z'))).toBe(true);
    expect(r.startForwarding(Date.parse('2026-11-02T09:00:00Z'))!.rows.map((row) => row.day)).toEqual(['2026-11-01', '2026-11-02']);
  });

  it('an event after the point of its own day is late too', () => {
    const r = holding();
    r.record(rr('registration', '2026-11-01T23:55:00.000Z', { registrationType: 'new', registeringUser: 'L1' }));
    expect(r.forwardDue(Date.parse('2026-11-01T23:56:00Z'))).toBe(true);
  });

  it('without the option (runs begun before, or GP2GP_HAND_OVER_AT=immediate) nothing is held', () => {
    const r = record('RR', [], { reopened: false }, t0);
    r.record(registration);
    expect(r.heldUntil(t0)).toBeUndefined();
    expect(r.forwardDue(t0)).toBe(true);
    expect(r.wakeAt(t0)).toBe(r.quietUntil(t0));
  });

  it('a run ending releases what it holds; the next event is held again', () => {
    const r = holding();
    r.record(registration);
    r.releaseHeld();
    expect(r.forwardDue(t0 + H)).toBe(true);
    r.startForwarding(t0 + H);
    r.forwarded();
    r.arrived(t0 + 2 * H);
    r.record(requested);
    expect(r.heldUntil(t0 + 2 * H)).toBe(point);
  });

  it('continues as new with its rows still held, and the next run hands them over at the point', () => {
    const r = holding();
    r.record(registration);
    const next = r.continueAsNewInput(t0 + H)!;
    expect(next).toMatchObject({ unforwardedFrom: '2026-11-01', options: { handOverAtMs: at } });
    const continued = new TransferRecord(next, { now: t0 + H, continued: true });
    expect(continued.heldUntil(t0 + H)).toBe(point);
    expect(continued.startForwarding(point)!.rows.map((row) => row.day)).toEqual(['2026-11-01']);
    // Past the point, nothing may be carried that is due.
    const late = holding();
    late.record(registration);
    expect(late.continueAsNewInput(point)).toBeUndefined();
  });
});
