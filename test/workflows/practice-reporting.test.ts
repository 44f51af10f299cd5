/**
 * The plain class behind the reporting workflow, without a server: the reporting cadence, due days,
 * corrections and pruning of a practice, planning submissions, what finished, rejected and vanished
 * submissions mean, retries, the submit validator and the run's bookkeeping.
 */
import { describe, expect, it } from 'vitest';
import type { DayRow } from '../../mi/record-set';
import type { SubmissionResult } from '../../messages/submission';
import { PracticeReporting } from '../../workflows/practice-reporting';

const ods = 'A81001';
const row = (day: string, key: string, seq: number, value = 'x'): DayRow => ({
  day,
  side: 'RR',
  key,
  firstEventAt: `${day}T09:00:00.000Z`,
  fields: ['RR', value],
  seq,
});
const names = (first: string, last: string, sequence: number) => `sub-${first}-${last}-${sequence}`;
const result = (submissionId: string, status: SubmissionResult['status'], reason?: string): SubmissionResult => ({
  submissionId,
  status,
  ...(reason ? { reason } : {}),
  files: [],
  days: [],
});
/** Plans one submission of `days` and returns its id. */
const startOne = (r: PracticeReporting, days: string[]): string => {
  const planned = r.plan(days, names);
  expect(planned).toHaveLength(1);
  return planned[0]!.submissionId;
};

describe('PracticeReporting: cadence, due days and corrections', () => {
  it('daily: fires shortly after midnight UTC; weekly: only on Mondays', () => {
    const daily = new PracticeReporting({ practiceOds: ods, firstDay: '2026-11-20' });
    expect(new Date(daily.nextCadenceAt(Date.parse('2026-11-24T12:00:00Z'))).toISOString()).toBe('2026-11-25T00:05:00.000Z');
    expect(new Date(daily.nextCadenceAt(Date.parse('2026-11-24T00:01:00Z'))).toISOString()).toBe('2026-11-24T00:05:00.000Z');
    const weekly = new PracticeReporting({ practiceOds: ods, firstDay: '2026-11-20', options: { cadence: 'weekly' } });
    // 2026-11-24 is a Tuesday: the next Monday is 2026-11-30.
    expect(new Date(weekly.nextCadenceAt(Date.parse('2026-11-24T12:00:00Z'))).toISOString()).toBe('2026-11-30T00:05:00.000Z');
  });

  it('starts on the day it is created unless told a first day', () => {
    const r = new PracticeReporting({ practiceOds: ods }, { now: Date.parse('2026-11-20T15:00:00Z') });
    expect(r.state.firstDay).toBe('2026-11-20');
    expect(r.dueDays(Date.parse('2026-11-22T00:05:00Z'))).toEqual(['2026-11-20', '2026-11-21']);
  });

  it('every closed day is due once, empty ones included; a changed delivered day is due again', () => {
    const r = new PracticeReporting({ practiceOds: ods, firstDay: '2026-11-20' });
    r.addRows([row('2026-11-21', 'REG-1', 1)]);
    const now = Date.parse('2026-11-24T00:05:00Z');
    expect(r.dueDays(now)).toEqual(['2026-11-20', '2026-11-21', '2026-11-22', '2026-11-23']);
    const s1 = startOne(r, r.dueDays(now));
    expect(r.dueDays(now)).toEqual([]);
    r.submissionFinished(result(s1, 'delivered'), now);
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

  it('a row changed while its day is in flight makes the day due again after delivery', () => {
    const r = new PracticeReporting({ practiceOds: ods, firstDay: '2026-11-20' });
    const now = Date.parse('2026-11-21T00:05:00Z');
    r.addRows([row('2026-11-20', 'REG-1', 1)]);
    const s1 = startOne(r, r.dueDays(now));
    r.addRows([row('2026-11-20', 'REG-1', 2, 'later')]);
    expect(r.dueDays(now)).toEqual([]);
    r.submissionFinished(result(s1, 'delivered'), now);
    expect(r.dueDays(now)).toEqual(['2026-11-20']);
  });

  it('a failed submission keeps its days due and is listed; delivered days leave after the correction window', () => {
    const r = new PracticeReporting({ practiceOds: ods, firstDay: '2026-11-01', options: { correctionWindowDays: 3 } });
    const now = Date.parse('2026-11-10T00:05:00Z');
    const due = r.dueDays(now);
    const s1 = startOne(r, due);
    r.submissionFinished(result(s1, 'failed', 'MESH refused'), now);
    expect(r.view(now).recentFailures[0]).toMatchObject({ submissionId: s1, days: due, reason: 'MESH refused' });
    expect(r.dueDays(now)).toEqual(due);
    const s2 = startOne(r, due);
    r.submissionFinished(result(s2, 'delivered'), now);
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
    const s1 = startOne(r, r.dueDays(now));
    r.submissionFinished(result(s1, 'delivered'), now);
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
    const now = Date.parse('2026-11-24T12:00:00Z');
    const fail = () => {
      const id = startOne(r, ['2026-11-20']);
      r.submissionFinished(result(id, 'failed', 'x'), now);
      return r.state.retryAt! - now;
    };
    expect(fail()).toBe(3_600_000);
    expect(fail()).toBe(2 * 3_600_000);
    expect(fail()).toBe(4 * 3_600_000);
    for (let i = 0; i < 5; i++) fail();
    expect(fail()).toBe(12 * 3_600_000);
    r.submissionFinished(result(startOne(r, ['2026-11-20']), 'delivered'), now);
    expect(r.state.retryAt).toBeUndefined();
    expect(r.state.consecutiveFailures).toBe(0);
  });

  it('a NACK after delivery makes that submission\'s days due again', () => {
    const r = new PracticeReporting({ practiceOds: ods, firstDay: '2026-11-20' });
    const now = Date.parse('2026-11-22T00:05:00Z');
    const due = r.dueDays(now);
    const s1 = startOne(r, due);
    r.submissionFinished(result(s1, 'delivered'), now);
    expect(r.dueDays(now)).toEqual([]);
    r.submissionRejected({ submissionId: s1, reason: 'negative acknowledgement after delivery (code E01)' }, now);
    expect(r.dueDays(now)).toEqual(due);
    expect(r.view(now).recentFailures[0]).toMatchObject({ submissionId: s1, reason: /E01/ });
    // A rejection of a submission it does not know (or knows no longer) is only a warning.
    r.submissionRejected({ submissionId: 'unknown', reason: 'NACK' }, now);
    expect(r.view(now).recentWarnings[0]).toMatch(/unknown was rejected \(NACK\) but is not a recent delivered submission/);
  });
});

describe('PracticeReporting: planning and following submissions', () => {
  it('plans named submissions with their rows (without day and seq) and marks their days in flight', () => {
    const r = new PracticeReporting({ practiceOds: ods, firstDay: '2026-11-20' });
    r.addRows([row('2026-11-21', 'REG-1', 4)]);
    const now = Date.parse('2026-11-23T00:05:00Z');
    const [planned, ...rest] = r.plan(r.dueDays(now), names);
    expect(rest).toEqual([]);
    expect(planned).toEqual({
      submissionId: 'sub-2026-11-20-2026-11-22-1',
      days: ['2026-11-20', '2026-11-21', '2026-11-22'],
      recordSets: [
        { day: '2026-11-20', rows: [] },
        { day: '2026-11-21', rows: [{ side: 'RR', key: 'REG-1', firstEventAt: '2026-11-21T09:00:00.000Z', fields: ['RR', 'x'] }] },
        { day: '2026-11-22', rows: [] },
      ],
    });
    expect(r.inFlightIds()).toEqual(['sub-2026-11-20-2026-11-22-1']);
    expect(r.view(now).inFlight).toEqual([{ submissionId: planned!.submissionId, days: planned!.days }]);
    expect(r.plan(['2026-11-20'], names)[0]!.submissionId).toBe('sub-2026-11-20-2026-11-20-2');
  });

  it('a submission that could not start, or ended without reporting back, fails and its days stay due', () => {
    const r = new PracticeReporting({ practiceOds: ods, firstDay: '2026-11-20' });
    const now = Date.parse('2026-11-22T00:05:00Z');
    const [planned] = r.plan(r.dueDays(now), names);
    r.couldNotStart(planned!, 'already started', now);
    expect(r.view(now).recentFailures[0]).toMatchObject({ reason: 'could not start: already started' });
    expect(r.dueDays(now)).toEqual(['2026-11-20', '2026-11-21']);
    const s2 = startOne(r, r.dueDays(now));
    r.endedWithoutReport([{ submissionId: s2, status: 'terminated' }], now);
    expect(r.view(now).recentFailures[0]).toMatchObject({ submissionId: s2, reason: /ended \(terminated\) without reporting back/ });
    expect(r.inFlightIds()).toEqual([]);
    // Its report arriving after all changes nothing: it is no longer in flight.
    r.submissionFinished(result(s2, 'delivered'), now);
    expect(r.view(now).lastDeliveredDay).toBeUndefined();
    expect(r.state.consecutiveFailures).toBe(2);
  });

  it('submit: every due day, or the named ones again (even delivered), never days in flight', () => {
    const r = new PracticeReporting({ practiceOds: ods, firstDay: '2026-11-20' });
    const now = Date.parse('2026-11-23T00:05:00Z');
    expect(r.daysToSubmit({}, now)).toEqual(['2026-11-20', '2026-11-21', '2026-11-22']);
    const s1 = startOne(r, ['2026-11-20', '2026-11-21']);
    r.submissionFinished(result(s1, 'delivered'), now);
    startOne(r, ['2026-11-22']);
    expect(r.daysToSubmit({ days: ['2026-11-21', '2026-11-22', '2026-11-21'] }, now)).toEqual(['2026-11-21']);
  });

  it('the submit validator refuses impossible, unfinished and unrebuildable days', () => {
    const r = new PracticeReporting({ practiceOds: ods, firstDay: '2026-11-20' });
    const now = Date.parse('2026-11-23T12:00:00Z');
    expect(() => r.refuseSubmit({ days: ['2026-11-21'] }, now)).not.toThrow();
    expect(() => r.refuseSubmit({ days: ['2026-02-30'] }, now)).toThrow(/2026-02-30/);
    expect(() => r.refuseSubmit({ days: ['2026-11-23'] }, now)).toThrow('day: 2026-11-23 is not over yet; allowed: days before 2026-11-23 (UTC)');
    expect(() => r.refuseSubmit({ days: ['2026-11-19'] }, now)).toThrow(/before reporting for A81001 began/);
  });
});

describe('PracticeReporting: the run', () => {
  it('wakes at the cadence point, or earlier for a retry, which is then used up', () => {
    const r = new PracticeReporting({ practiceOds: ods, firstDay: '2026-11-20', options: { retryAfterFailureMs: 3_600_000 } });
    const now = Date.parse('2026-11-22T08:00:00Z');
    const nextAt = r.nextCadenceAt(now);
    expect(r.wakeAt(now)).toBe(nextAt);
    expect(r.turn(now, nextAt)).toBeUndefined();
    r.submissionFinished(result(startOne(r, ['2026-11-20']), 'failed', 'x'), now);
    expect(r.wakeAt(now)).toBe(now + 3_600_000);
    expect(r.turn(now + 3_600_000, nextAt)).toBe('retry');
    expect(r.state.retryAt).toBeUndefined();
    expect(r.turn(nextAt, nextAt)).toBe('cadence');
  });

  it('asks to continue as new after 2000 signals, counting signals only', () => {
    const r = new PracticeReporting({ practiceOds: ods, firstDay: '2026-11-20' });
    for (let i = 0; i < 1_999; i++) r.rowsArrived([]);
    r.addRows([]);
    expect(r.runIsLong()).toBe(false);
    r.submissionRejected({ submissionId: 'x', reason: 'y' }, 0);
    expect(r.runIsLong()).toBe(true);
    // A new run (continue-as-new carries the state, not the count) starts counting again.
    expect(new PracticeReporting({ practiceOds: ods, state: r.state }).runIsLong()).toBe(false);
  });

  it('shows its details only when they change', () => {
    const r = new PracticeReporting({ practiceOds: ods, firstDay: '2026-11-20' });
    const now = Date.parse('2026-11-22T08:00:00Z');
    expect(r.changedDetails(now)).toBe(
      'Reporting for A81001 (daily): last delivered day none; 2 day(s) pending; 0 submission(s) in flight; next at 2026-11-23T00:05:00.000Z',
    );
    expect(r.changedDetails(now)).toBeUndefined();
    startOne(r, r.dueDays(now));
    expect(r.changedDetails(now)).toMatch(/0 day\(s\) pending; 1 submission\(s\) in flight/);
  });
});
