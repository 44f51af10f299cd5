/**
 * The plain classes behind the workflows, without a server: protocol timers and outcomes of a
 * transfer, and the reporting cadence, due days, corrections and pruning of a practice.
 */
import { describe, expect, it } from 'vitest';
import { PracticeReporting, type ForwardedRow } from '../../workflows/reporting';
import { TransferRecord, type StoredEvent } from '../../workflows/transfer';

const H = 3_600_000;
const D = 24 * H;
const ods = 'A81001';
const conversationId = '2F1C3B4A-5D6E-4F70-8192-A3B4C5D6E7F8';
const rr = (type: string, occurredAt: string, extra: Record<string, unknown> = {}) =>
  ({ type, practiceOds: ods, registrationId: 'REG-1', occurredAt, eventId: `${type}-${occurredAt}`, ...extra }) as unknown as StoredEvent;
const sr = (type: string, occurredAt: string, extra: Record<string, unknown> = {}) =>
  ({ type, practiceOds: ods, conversationId, occurredAt, eventId: `${type}-${occurredAt}`, ...extra }) as unknown as StoredEvent;

describe('TransferRecord: outcomes and protocol timers (0068)', () => {
  const t0 = Date.parse('2026-11-01T09:00:00Z');
  const iso = (ms: number) => new Date(ms).toISOString();

  it('a registration without a request is "registered", and never overdue', () => {
    const r = new TransferRecord('RR', ods, 'REG-1', [rr('registration', iso(t0), { registrationType: 'new', registeringUser: 'L1' })]);
    expect(r.outcome(t0 + 30 * D)).toBe('registered');
    expect(r.nextDeadline(t0 + H)).toBeUndefined();
    expect(r.isFinal(t0 + 30 * D)).toBe(false);
  });

  it('watches the 24 h extract and the 8-day integration windows', () => {
    const events = [
      rr('registration', iso(t0), { registrationType: 'new', registeringUser: 'L1' }),
      rr('ehr-requested', iso(t0 + 5 * 60_000), { conversationId, requestMessageId: conversationId }),
    ];
    const requested = new TransferRecord('RR', ods, 'REG-1', events);
    expect(requested.outcome(t0 + H)).toBe('in-progress');
    expect(requested.nextDeadline(t0 + H)).toBe(t0 + 5 * 60_000 + D);
    expect(requested.outcome(t0 + 2 * D)).toBe('extract-overdue');

    const received = new TransferRecord('RR', ods, 'REG-1', [...events, rr('ehr-received', iso(t0 + H), { conversationId, extractMessageId: conversationId })]);
    expect(received.outcome(t0 + 7 * D)).toBe('in-progress');
    expect(received.nextDeadline(t0 + 2 * D)).toBe(t0 + H + 8 * D);
    expect(received.outcome(t0 + 9 * D)).toBe('integration-overdue');

    const late = new TransferRecord('RR', ods, 'REG-1', [
      ...received.events,
      rr('extract-acknowledged', iso(t0 + 10 * D), { conversationId, ackStatus: 1, ackCode: '0', actingUser: 'SYSTEM' }),
    ]);
    expect(late.outcome(t0 + 10 * D)).toBe('integrated-late');
    expect(late.isFinal(t0 + 10 * D)).toBe(true);
  });

  it('a NACK is "rejected" and a fatal failure "failed"; both are final', () => {
    const nack = new TransferRecord('RR', ods, 'REG-1', [rr('extract-acknowledged', iso(t0), { conversationId, ackStatus: 7, ackCode: '30', actingUser: 'SYSTEM' })]);
    expect(nack.outcome(t0)).toBe('rejected');
    const fatal = new TransferRecord('SR', ods, conversationId, [sr('extract-failure', iso(t0), { failurePoint: 30, failureType: 2, fatal: true })]);
    expect(fatal.outcome(t0)).toBe('failed');
    expect(fatal.isFinal(t0)).toBe(true);
  });

  it('lists NACK codes outside 0083.08 among its warnings, each with its event; a known code is no warning', () => {
    const unknown = rr('extract-acknowledged', iso(t0), { conversationId, ackStatus: 2, ackCode: '50', actingUser: 'SYSTEM' });
    const r = new TransferRecord('RR', ods, 'REG-1', [unknown]);
    expect(r.outcome(t0)).toBe('rejected');
    expect(r.warnings()).toEqual([{ eventId: unknown.eventId, field: 'ackCode', value: '50', message: expect.stringMatching(/^ackCode: "50" is not a NACK code of 0083.08/) }]);
    expect(new TransferRecord('SR', ods, conversationId, [sr('request-acknowledged', iso(t0), { ackCode: '06' })]).warnings()).toEqual([]);
  });

  it('the sender side: sent, overdue integration, closed', () => {
    const sent = new TransferRecord('SR', ods, conversationId, [
      sr('request-received', iso(t0), { requestMessageId: conversationId, requestingOds: 'B82002' }),
      sr('ehr-sent', iso(t0 + H), { extractMessageId: conversationId, largeMessaging: false }),
    ]);
    expect(sent.outcome(t0 + 2 * H)).toBe('sent');
    expect(sent.outcome(t0 + 9 * D)).toBe('integration-overdue');
    sent.add(sr('conversation-closed', iso(t0 + 2 * D)));
    expect(sent.outcome(t0 + 9 * D)).toBe('closed');
  });

  it('ignores a duplicate event id', () => {
    const e = rr('registration', iso(t0), { registrationType: 'new', registeringUser: 'L1' });
    const r = new TransferRecord('RR', ods, 'REG-1', [e]);
    expect(r.add(e)).toBe(false);
    expect(r.events).toHaveLength(1);
  });
});

describe('PracticeReporting: cadence, due days and corrections', () => {
  const row = (day: string, key: string, seq: number, value = 'x'): ForwardedRow => ({
    day,
    side: 'RR',
    key,
    firstEventAt: `${day}T09:00:00.000Z`,
    fields: ['RR', value],
    seq,
  });

  it('daily: fires shortly after midnight UTC; weekly: only on Mondays', () => {
    const daily = new PracticeReporting({ practiceOds: ods, firstDay: '2026-11-20' });
    expect(new Date(daily.nextCadenceAt(Date.parse('2026-11-24T12:00:00Z'))).toISOString()).toBe('2026-11-25T00:05:00.000Z');
    expect(new Date(daily.nextCadenceAt(Date.parse('2026-11-24T00:01:00Z'))).toISOString()).toBe('2026-11-24T00:05:00.000Z');
    const weekly = new PracticeReporting({ practiceOds: ods, firstDay: '2026-11-20', options: { cadence: 'weekly' } });
    // 2026-11-24 is a Tuesday: the next Monday is 2026-11-30.
    expect(new Date(weekly.nextCadenceAt(Date.parse('2026-11-24T12:00:00Z'))).toISOString()).toBe('2026-11-30T00:05:00.000Z');
  });

  it('every closed day is due once, empty ones included; a changed delivered day is due again', () => {
    const r = new PracticeReporting({ practiceOds: ods, firstDay: '2026-11-20' });
    r.addRows([row('2026-11-21', 'REG-1', 1)]);
    const now = Date.parse('2026-11-24T00:05:00Z');
    expect(r.dueDays(now)).toEqual(['2026-11-20', '2026-11-21', '2026-11-22', '2026-11-23']);
    r.state.inFlight['s1'] = { days: { '2026-11-20': 0, '2026-11-21': 1, '2026-11-22': 0, '2026-11-23': 0 } };
    expect(r.dueDays(now)).toEqual([]);
    r.finish({ submissionId: 's1', status: 'delivered', files: [], days: [] });
    expect(r.dueDays(now)).toEqual([]);
    expect(r.view(now).lastDeliveredDay).toBe('2026-11-23');
    // The same row again (a duplicate event) changes nothing; a changed row makes its day due again.
    r.addRows([row('2026-11-21', 'REG-1', 2)]);
    expect(r.dueDays(now)).toEqual([]);
    r.addRows([row('2026-11-21', 'REG-1', 3, 'changed')]);
    expect(r.dueDays(now)).toEqual(['2026-11-21']);
    // An older forward arriving late never replaces a newer row.
    r.addRows([row('2026-11-21', 'REG-1', 1, 'stale')]);
    expect(r.state.days['2026-11-21']!.rows['RR:REG-1']!.fields).toEqual(['RR', 'changed']);
  });

  it('a failed submission keeps its days due and is listed; delivered days leave after the correction window', () => {
    const r = new PracticeReporting({ practiceOds: ods, firstDay: '2026-11-01', options: { correctionWindowDays: 3 } });
    const now = Date.parse('2026-11-10T00:05:00Z');
    const due = r.dueDays(now);
    r.state.inFlight['s1'] = { days: Object.fromEntries(due.map((d) => [d, 0])) };
    r.finish({ submissionId: 's1', status: 'failed', reason: 'MESH refused', files: [], days: due });
    expect(r.view(now).recentFailures[0]).toMatchObject({ submissionId: 's1', reason: 'MESH refused' });
    expect(r.dueDays(now)).toEqual(due);
    r.state.inFlight['s2'] = { days: Object.fromEntries(due.map((d) => [d, 0])) };
    r.finish({ submissionId: 's2', status: 'delivered', files: [], days: due });
    r.prune(now);
    expect(Object.keys(r.state.days).sort()).toEqual(['2026-11-07', '2026-11-08', '2026-11-09']);
  });

  it('splits a long catch-up into submissions of at most 31 days', () => {
    const r = new PracticeReporting({ practiceOds: ods, firstDay: '2026-09-01' });
    const due = r.dueDays(Date.parse('2026-11-24T00:05:00Z'));
    const batches = r.batches(due);
    expect(due).toHaveLength(84);
    expect(batches.map((b) => b.length)).toEqual([31, 31, 22]);
    expect(batches.flat()).toEqual(due);
  });

  it('never rebuilds a pruned day from a late row alone, and says so', () => {
    const r = new PracticeReporting({ practiceOds: ods, firstDay: '2026-11-01', options: { correctionWindowDays: 3 } });
    r.addRows([row('2026-11-02', 'REG-1', 1), row('2026-11-02', 'REG-2', 1)]);
    const now = Date.parse('2026-11-10T00:05:00Z');
    const due = r.dueDays(now);
    r.state.inFlight['s1'] = { days: Object.fromEntries(due.map((d) => [d, r.state.days[d]!.version])) };
    r.finish({ submissionId: 's1', status: 'delivered', files: [], days: due });
    r.prune(now);
    expect(r.state.days['2026-11-02']).toBeUndefined();
    r.addRows([row('2026-11-02', 'REG-2', 2, 'late')]);
    expect(r.state.days['2026-11-02']).toBeUndefined();
    expect(r.view(now).recentWarnings[0]).toMatch(/REG-2 not taken: day 2026-11-02 was delivered and has left the 3-day correction window/);
    expect(r.notRebuildable('2026-11-02')).toMatch(/can no longer be rebuilt/);
    expect(new PracticeReporting({ practiceOds: ods, firstDay: '2026-11-01' }).notRebuildable('2026-10-31')).toMatch(/before reporting for A81001 began/);
    expect(r.notRebuildable('2026-11-08')).toBeUndefined();
  });

  it('a failure arms a retry well before the next cadence, backing off; delivery clears it', () => {
    const r = new PracticeReporting({ practiceOds: ods, firstDay: '2026-11-20', options: { cadence: 'weekly', retryAfterFailureMs: 3_600_000 } });
    const fail = (id: string) => {
      r.state.inFlight[id] = { days: { '2026-11-20': 0 } };
      const before = Date.now();
      r.finish({ submissionId: id, status: 'failed', reason: 'x', files: [], days: [] });
      return r.state.retryAt! - before;
    };
    expect(fail('s1')).toBeGreaterThanOrEqual(3_600_000);
    expect(fail('s2')).toBeGreaterThanOrEqual(2 * 3_600_000);
    expect(fail('s3')).toBeLessThanOrEqual(4 * 3_600_000 + 1_000);
    r.state.inFlight['s4'] = { days: { '2026-11-20': 0 } };
    r.finish({ submissionId: 's4', status: 'delivered', files: [], days: [] });
    expect(r.state.retryAt).toBeUndefined();
    expect(r.state.consecutiveFailures).toBe(0);
  });

  it('a NACK after delivery makes that submission\'s days due again', () => {
    const r = new PracticeReporting({ practiceOds: ods, firstDay: '2026-11-20' });
    const now = Date.parse('2026-11-22T00:05:00Z');
    const due = r.dueDays(now);
    r.state.inFlight['s1'] = { days: Object.fromEntries(due.map((d) => [d, 0])) };
    r.finish({ submissionId: 's1', status: 'delivered', files: [], days: due });
    expect(r.dueDays(now)).toEqual([]);
    r.rejected('s1', 'negative acknowledgement after delivery (code E01)');
    expect(r.dueDays(now)).toEqual(due);
    expect(r.view(now).recentFailures[0]).toMatchObject({ submissionId: 's1', reason: /E01/ });
  });
});

