/**
 * The plain class behind the reporting workflow, without a server: the reporting cadence, due days,
 * corrections and pruning of a practice, planning submissions, what finished, rejected and vanished
 * submissions mean, retries, the submit validator and the run's bookkeeping.
 */
import { describe, expect, it } from 'vitest';
import type { DayRow } from '../../mi/record-set';
import type { SubmissionResult } from '../../messages/submission';
import type { TransferSummary } from '../../mi/outcomes';
import { OUTCOME_RETENTION_DAYS, QUIET_BEFORE_NEW_RUN_MS, SIGNALS_PER_RUN, SIGNALS_PER_RUN_BEFORE_SHORT_RUNS } from '../../messages/reporting';
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

  it(`continues as new once quiet after ${SIGNALS_PER_RUN} signals, at once after ${SIGNALS_PER_RUN_BEFORE_SHORT_RUNS}`, () => {
    const t = Date.parse('2026-11-21T12:00:00Z');
    const r = new PracticeReporting({ practiceOds: ods, firstDay: '2026-11-20' });
    const cadence = r.nextCadenceAt(t);
    for (let i = 0; i < SIGNALS_PER_RUN - 1; i++) r.rowsArrived([], [], t);
    expect(r.runIsLong(t + 3_600_000)).toBe(false);
    expect(r.wakeAt(t)).toBe(cadence);
    // The last of them a submission's report: every signal counts, and moves the quiet period on.
    r.submissionRejected({ submissionId: 'x', reason: 'y' }, t + 1_000);
    expect(r.runIsLong(t + 1_000)).toBe(false);
    expect(r.wakeAt(t + 1_000)).toBe(t + 1_000 + QUIET_BEFORE_NEW_RUN_MS);
    expect(r.runIsLong(t + 1_000 + QUIET_BEFORE_NEW_RUN_MS - 1)).toBe(false);
    expect(r.runIsLong(t + 1_000 + QUIET_BEFORE_NEW_RUN_MS)).toBe(true);
    // Another signal starts the quiet period again.
    r.rowsArrived([], [], t + 30_000);
    expect(r.runIsLong(t + 1_000 + QUIET_BEFORE_NEW_RUN_MS)).toBe(false);
    expect(r.wakeAt(t + 30_000)).toBe(t + 30_000 + QUIET_BEFORE_NEW_RUN_MS);
    // However busy, a run ends at the old limit.
    for (let i = SIGNALS_PER_RUN + 1; i < SIGNALS_PER_RUN_BEFORE_SHORT_RUNS - 1; i++) r.rowsArrived([], [], t + 30_000);
    expect(r.runIsLong(t + 30_000)).toBe(false);
    r.rowsArrived([], [], t + 30_000);
    expect(r.runIsLong(t + 30_000)).toBe(true);
    // A new run (continue-as-new carries the state, not the count) starts counting again.
    expect(new PracticeReporting({ practiceOds: ods, state: r.state }).runIsLong(t + 86_400_000)).toBe(false);
  });

  it('holds a run that began before short runs to the old limit alone until told to use short ones', () => {
    const t = Date.parse('2026-11-21T12:00:00Z');
    const r = new PracticeReporting({ practiceOds: ods, firstDay: '2026-11-20' }, { shortRuns: false });
    for (let i = 0; i < SIGNALS_PER_RUN; i++) r.rowsArrived([], [], t);
    expect(r.runIsLong(t + 3_600_000)).toBe(false);
    expect(r.wakeAt(t)).toBe(r.nextCadenceAt(t));
    expect(r.usesShortRuns).toBe(false);
    r.useShortRuns();
    expect(r.runIsLong(t + QUIET_BEFORE_NEW_RUN_MS)).toBe(true);
  });

  it('with an explicit limit continues as new at it, quiet or not; the quiet period can be set', () => {
    const t = Date.parse('2026-11-21T12:00:00Z');
    const limited = new PracticeReporting({ practiceOds: ods, options: { signalsPerRun: 7 } });
    for (let i = 0; i < 6; i++) limited.rowsArrived([], [], t);
    expect(limited.runIsLong(t + 86_400_000)).toBe(false);
    limited.rowsArrived([], [], t);
    expect(limited.runIsLong(t)).toBe(true);
    const eager = new PracticeReporting({ practiceOds: ods, options: { quietBeforeNewRunMs: 0 } });
    for (let i = 0; i < SIGNALS_PER_RUN - 1; i++) eager.rowsArrived([], [], t);
    expect(eager.runIsLong(t)).toBe(false);
    eager.rowsArrived([], [], t);
    expect(eager.runIsLong(t)).toBe(true);
    // Signals without a time (as here and in older tests) start no quiet period.
    const untimed = new PracticeReporting({ practiceOds: ods, options: { quietBeforeNewRunMs: 0 } });
    for (let i = 0; i < SIGNALS_PER_RUN; i++) untimed.rowsArrived([]);
    expect(untimed.runIsLong(t)).toBe(false);
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

describe('PracticeReporting: transfer outcomes for the console (issue 15)', () => {
  const H = 3_600_000;
  const D = 24 * H;
  const t0 = Date.parse('2026-11-02T09:00:00Z');
  const iso = (ms: number) => new Date(ms).toISOString();
  const summary = (key: string, startedAt: number, extra: Partial<TransferSummary> = {}): TransferSummary => ({
    side: 'RR',
    key,
    startedAt: iso(startedAt),
    seq: 2,
    ...extra,
  });
  const integrated = (key: string, startedAt: number, afterMs: number, extra: Partial<TransferSummary> = {}) =>
    summary(key, startedAt, { settled: afterMs <= 3 * D ? 'integrated-3d' : 'integrated-8d', integratedAfterMs: afterMs, seq: 4, ...extra });
  const reporting = () => new PracticeReporting({ practiceOds: ods, firstDay: '2026-11-01' });
  const buckets = (i: number) => [0, 1, 2, 3, 4, 5].map((b) => (b === i ? 1 : 0));

  it('counts the transfers held per request day and role, as they stand at the time asked', () => {
    const r = reporting();
    r.rowsArrived([], [summary('REG-1', t0), integrated('REG-2', t0 + H, 2 * H), { ...summary('C1', t0), side: 'SR' }], t0 + 2 * H);
    const early = r.consoleView(t0 + 2 * H).outcomes;
    expect(early).toEqual([
      { day: '2026-11-02', side: 'RR', counts: { 'in-progress': 1, 'integrated-3d': 1 }, integrationTimes: buckets(1) },
      { day: '2026-11-02', side: 'SR', counts: { 'in-progress': 1 }, integrationTimes: buckets(-1) },
    ]);
    // At the judgement instant the unsettled ones are process failures; nothing has changed in state.
    expect(r.consoleView(t0 + 14 * D).outcomes[0]!.counts).toEqual({ 'process-failure': 1, 'integrated-3d': 1 });
    expect(Object.keys(r.state.transfers!)).toHaveLength(3);
  });

  it('keeps the newest summary of each transfer: a later seq replaces it, an older one does not', () => {
    const r = reporting();
    r.rowsArrived([], [integrated('REG-1', t0, 5 * D)], t0 + 5 * D);
    r.rowsArrived([], [summary('REG-1', t0)], t0 + 5 * D);
    expect(r.state.transfers!['RR:REG-1']!.settled).toBe('integrated-8d');
    r.rowsArrived([], [integrated('REG-1', t0, 2 * D, { seq: 5 })], t0 + 5 * D);
    expect(r.state.transfers!['RR:REG-1']!.settled).toBe('integrated-3d');
  });

  it('folds a transfer that arrives after a fold found nothing due, once it is due (the earliest fold point is kept)', () => {
    const r = reporting();
    // A fold with only a later transfer held remembers its fold point...
    r.rowsArrived([], [summary('REG-LATE', t0 + 5 * D)], t0 + H);
    r.foldJudged(t0 + 2 * H);
    // ...and an earlier transfer arriving since brings it forward.
    r.rowsArrived([], [summary('REG-EARLY', t0)], t0 + 3 * H);
    r.foldJudged(t0 + 16 * D);
    expect(Object.keys(r.state.transfers!)).toEqual(['RR:REG-LATE']);
    expect(r.takeJudged()).toEqual([{ side: 'RR', outcome: 'process-failure', count: 1 }]);
    r.foldJudged(t0 + 21 * D);
    expect(r.state.transfers).toEqual({});
  });

  it('counts a transfer for good 2 days after its judgement, then ignores late summaries of it', () => {
    const r = reporting();
    r.rowsArrived([], [summary('REG-1', t0), integrated('REG-2', t0, 5 * D)], t0 + H);
    const before = r.consoleView(t0 + 16 * D - 1).outcomes;
    r.foldJudged(t0 + 16 * D - 1);
    expect(Object.keys(r.state.transfers!)).toHaveLength(2);
    expect(r.takeJudged()).toEqual([]);
    r.foldJudged(t0 + 16 * D);
    expect(r.state.transfers).toEqual({});
    expect(r.state.outcomeDays).toEqual({ '2026-11-02:RR': { counts: { 'process-failure': 1, 'integrated-8d': 1 }, integrationTimes: buckets(3) } });
    expect(r.takeJudged()).toEqual([
      { side: 'RR', outcome: 'process-failure', count: 1 },
      { side: 'RR', outcome: 'integrated-8d', count: 1 },
    ]);
    expect(r.takeJudged()).toEqual([]);
    // The view does not depend on when the fold ran.
    expect(r.consoleView(t0 + 16 * D - 1).outcomes).toEqual(before);
    // A summary arriving after its fold point (an event far too late) is ignored, whether or not the
    // fold has run: counting it again would count the transfer twice.
    r.rowsArrived([], [integrated('REG-1', t0, D, { seq: 9 })], t0 + 16 * D);
    expect(r.state.transfers).toEqual({});
    const other = reporting();
    other.rowsArrived([], [integrated('REG-3', t0, D)], t0 + 16 * D);
    expect(other.state.transfers).toEqual({});
    expect(other.consoleView(t0 + 16 * D).outcomes).toEqual([]);
  });

  it('keeps counts and calendar days 9 weeks', () => {
    const r = reporting();
    r.rowsArrived([], [summary('REG-1', t0)], t0);
    r.prune(t0 + 20 * D);
    expect(Object.keys(r.state.outcomeDays!)).toEqual(['2026-11-02:RR']);
    r.prune(t0 + OUTCOME_RETENTION_DAYS * D);
    expect(Object.keys(r.state.outcomeDays!)).toEqual(['2026-11-02:RR']);
    r.prune(t0 + (OUTCOME_RETENTION_DAYS + 1) * D);
    expect(r.state.outcomeDays).toEqual({});
  });

  it('counts overdue transfers and failed API posts; a failed post is noted whatever the transfer\'s age', () => {
    const r = reporting();
    r.rowsArrived([], [summary('REG-1', t0, { overdueSince: iso(t0 + D) }), summary('REG-2', t0, { apiPostFailed: true })], t0 + H);
    expect(r.consoleView(t0 + H)).toMatchObject({ overdueTransfers: 0, apiPostsFailed: 1 });
    expect(r.consoleView(t0 + 2 * D)).toMatchObject({ overdueTransfers: 1, apiPostsFailed: 1 });
    // Past the judgement it is a process failure, no longer overdue.
    expect(r.consoleView(t0 + 15 * D)).toMatchObject({ overdueTransfers: 0 });
    r.rowsArrived([], [summary('OLD-1', t0 - 40 * D, { apiPostFailed: true })], t0 + H);
    expect(r.consoleView(t0 + H).apiPostsFailed).toBe(2);
    r.rowsArrived([], [summary('OLD-1', t0 - 40 * D), summary('REG-2', t0)], t0 + H);
    expect(r.consoleView(t0 + H).apiPostsFailed).toBe(0);
    expect(r.state.transfers!['RR:OLD-1']).toBeUndefined();
  });

  it('a summary older than the one held (seq) changes no failed API post either way', () => {
    const r = reporting();
    r.rowsArrived([], [summary('REG-1', t0, { seq: 5, apiPostFailed: true }), summary('REG-2', t0, { seq: 5 })], t0 + H);
    // Late copies of earlier summaries: REG-1 before its post failed, REG-2 while one had failed.
    r.rowsArrived([], [summary('REG-1', t0, { seq: 3 }), summary('REG-2', t0, { seq: 4, apiPostFailed: true })], t0 + H);
    expect(r.state.apiPostsFailed).toEqual(['RR:REG-1']);
    // The same seq again (a re-sent hand-over) is taken as it comes.
    r.rowsArrived([], [summary('REG-1', t0, { seq: 5 })], t0 + H);
    expect(r.state.apiPostsFailed).toEqual([]);
  });

  it('the calendar: not reported, pending, in flight, failed, delivered, corrected — with the submission', () => {
    const r = reporting();
    const now = Date.parse('2026-11-05T00:05:00Z');
    const calendar = (at = now, calendarDays = 5) => r.consoleView(at, { calendarDays }).calendar;
    expect(calendar()).toEqual([
      { day: '2026-10-31', state: 'not-reported' },
      { day: '2026-11-01', state: 'pending' },
      { day: '2026-11-02', state: 'pending' },
      { day: '2026-11-03', state: 'pending' },
      { day: '2026-11-04', state: 'pending' },
    ]);
    expect(r.dueDays(now)).toEqual(['2026-11-01', '2026-11-02', '2026-11-03', '2026-11-04']);
    const s1 = startOne(r, ['2026-11-01', '2026-11-02']);
    const s2 = startOne(r, ['2026-11-03', '2026-11-04']);
    expect(calendar().slice(1).map((d) => [d.state, d.submissionId])).toEqual([
      ['in-flight', s1],
      ['in-flight', s1],
      ['in-flight', s2],
      ['in-flight', s2],
    ]);
    r.submissionFinished(result(s1, 'delivered'), now);
    r.submissionFinished(result(s2, 'failed', 'MESH refused'), now);
    expect(calendar().slice(1).map((d) => [d.state, d.submissionId])).toEqual([
      ['delivered', s1],
      ['delivered', s1],
      ['failed', s2],
      ['failed', s2],
    ]);
    expect(r.consoleView(now).failingSubmissions).toBe(1);
    // A forced replay of an unchanged day is no correction; a changed day delivered again is.
    const replay = startOne(r, ['2026-11-01']);
    r.submissionFinished(result(replay, 'delivered'), now);
    expect(calendar()[1]).toEqual({ day: '2026-11-01', state: 'delivered', submissionId: replay });
    r.addRows([row('2026-11-02', 'REG-1', 1)]);
    expect(calendar()[2]).toMatchObject({ state: 'pending', submissionId: s1 });
    const s3 = startOne(r, ['2026-11-02', '2026-11-03', '2026-11-04']);
    r.submissionFinished(result(s3, 'delivered'), now);
    expect(calendar().slice(2)).toEqual([
      { day: '2026-11-02', state: 'corrected', submissionId: s3 },
      { day: '2026-11-03', state: 'delivered', submissionId: s3 },
      { day: '2026-11-04', state: 'delivered', submissionId: s3 },
    ]);
    expect(r.consoleView(now).failingSubmissions).toBe(0);
    // Refused after delivery (a NACK): failed again, and the refused delivery does not count.
    r.submissionRejected({ submissionId: s3, reason: 'NACK' }, now);
    expect(calendar()[2]).toEqual({ day: '2026-11-02', state: 'failed', submissionId: s3 });
    const s4 = startOne(r, ['2026-11-02', '2026-11-03', '2026-11-04']);
    r.submissionFinished(result(s4, 'delivered'), now);
    expect(calendar().slice(2).map((d) => d.state)).toEqual(['corrected', 'delivered', 'delivered']);
    // Days that left the correction window stay in the calendar.
    r.prune(Date.parse('2026-11-30T00:05:00Z'));
    expect(r.state.days['2026-11-02']).toBeUndefined();
    expect(calendar(Date.parse('2026-11-06T00:05:00Z'), 6).slice(1, 5).map((d) => d.state)).toEqual(['delivered', 'corrected', 'delivered', 'delivered']);
  });

  it('the calendar has 14 days by default, 1 to 63 on request, most recent last', () => {
    const r = reporting();
    const now = Date.parse('2026-11-20T12:00:00Z');
    const days = (calendarDays?: number) => r.consoleView(now, calendarDays === undefined ? {} : { calendarDays }).calendar.map((d) => d.day);
    expect(days()).toHaveLength(14);
    expect(days().at(-1)).toBe('2026-11-19');
    expect(days(0)).toEqual(['2026-11-19']);
    expect(days(1000)).toHaveLength(OUTCOME_RETENTION_DAYS);
    expect(days(Number.NaN)).toHaveLength(14);
  });

  it('works on state carried from a run before the console: delivered and failed days read from it', () => {
    const old = new PracticeReporting({ practiceOds: ods, firstDay: '2026-11-01' });
    const now = Date.parse('2026-11-04T00:05:00Z');
    old.dueDays(now);
    const s1 = startOne(old, ['2026-11-01']);
    old.submissionFinished(result(s1, 'delivered'), now);
    const s2 = startOne(old, ['2026-11-02']);
    old.submissionFinished(result(s2, 'failed', 'x'), now);
    const { calendar: _c, transfers: _t, outcomeDays: _o, apiPostsFailed: _a, ...earlier } = old.state;
    const r = new PracticeReporting({ practiceOds: ods, state: structuredClone(earlier) });
    expect(r.consoleView(now, { calendarDays: 3 }).calendar).toEqual([
      { day: '2026-11-01', state: 'delivered' },
      { day: '2026-11-02', state: 'failed', submissionId: s2 },
      { day: '2026-11-03', state: 'pending' },
    ]);
    expect(r.consoleView(now)).toMatchObject({ outcomes: [], overdueTransfers: 0, apiPostsFailed: 0, failingSubmissions: 1 });
    r.rowsArrived([row('2026-11-03', 'REG-1', 1)]);
    r.rowsArrived([], [summary('REG-1', t0)], now);
    expect(r.consoleView(now).outcomes).toHaveLength(1);
  });
});
