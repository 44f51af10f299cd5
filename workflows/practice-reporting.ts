/**
 * The state and every decision of one practice's reporting workflow, without Temporal: which rows it
 * holds, which closed days are due (empty days included, MI07), how due days are batched into
 * submissions, what a finished, rejected or vanished submission means for its days, when a failure is
 * retried, and what the Web UI shows; and, for the operators' console (issue 15), the practice's
 * transfer outcomes as the Authority judges them and a calendar of its days. The workflow
 * (workflows/reporting.ts) only wires messages, timers and child starts to these methods; time comes
 * in as `now` so tests need no server.
 *
 * Outcomes. Each transfer hands its summary (mi/outcomes.ts) with its rows; the latest one of each
 * transfer is held until its judgement instant (request + 14 days) and a grace of 2 days for late
 * events has passed, then counted for good per request day and role (its class cannot change after
 * the judgement) and dropped. A summary that arrives after its transfer's fold point (an event more
 * than 2 days late for a judged transfer) is ignored: the rule depends only on the summary's start and
 * the workflow's time at arrival, never on when a fold last ran, so replays and queries agree.
 * Counts and the calendar are kept 9 weeks (8 full weeks for the console's weekly plots).
 *
 * Size, at ~15 transfers per practice and day: ~16 days of pending summaries ≈ 240 × ~170 bytes ≈ 40
 * KB; 63 days × 2 roles of counts ≈ 15 KB; 63 calendar days ≈ 5 KB — small beside the rows held for
 * the correction window, and all of it bounded by time, not by traffic over the service's life.
 */
import { dayRefusal, isDay } from '../mi/formats';
import { integrationTimeBucket, INTEGRATION_TIME_BUCKET_HOURS, isOverdue, judgedAt, outcomeAt, OUTCOME_CLASSES, type OutcomeClass, type TransferSummary } from '../mi/outcomes';
import type { Side } from '../mi/events';
import type { DayRecordSet, DayRow } from '../mi/record-set';
import { OUTCOME_RETENTION_DAYS, QUIET_BEFORE_NEW_RUN_MS, SIGNALS_PER_RUN, SIGNALS_PER_RUN_BEFORE_SHORT_RUNS } from '../messages/reporting';
import type {
  Cadence,
  CalendarDay,
  CalendarRecord,
  ConsoleRequest,
  DayState,
  EndedSubmission,
  OutcomeDay,
  OutcomeTally,
  PracticeConsoleView,
  ReportingInput,
  ReportingState,
  ReportingView,
  SubmissionRejection,
  SubmitRequest,
} from '../messages/reporting';
import type { SubmissionResult } from '../messages/submission';

const DAY_MS = 86_400_000;
const MAX_DAYS_PER_SUBMISSION = 31;
/** Keeps a submission's input (rows) far below Temporal's 2 MB payload limit. */
const MAX_SUBMISSION_ROW_BYTES = 1_000_000;
/** A judged transfer is counted for good this long after its judgement instant (late events). */
export const OUTCOME_GRACE_MS = 2 * DAY_MS;
const DEFAULT_CALENDAR_DAYS = 14;

function dayOf(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}
function addDays(day: string, n: number): string {
  return dayOf(Date.parse(`${day}T00:00:00Z`) + n * DAY_MS);
}
/** The first real day from an impossible YYYY-MM-DD: 2026-02-30 → 2026-03-01. */
function firstRealDayFrom(day: string, now: number): string {
  if (isDay(day)) return day;
  const [y, m] = day.split('-').map(Number);
  const ms = Date.UTC(y!, m!, 1);
  return Number.isFinite(ms) ? dayOf(ms) : dayOf(now);
}

/** A submission planned by `plan`: already in flight, to be started as a child workflow. */
export interface PlannedSubmission {
  submissionId: string;
  days: string[];
  recordSets: DayRecordSet[];
}

/** What the wake-up of the workflow's loop is for. */
export type Turn = 'retry' | 'cadence';

/** Transfers counted for good since last asked, for the workflow's metrics. */
export interface JudgedCount {
  side: Side;
  outcome: OutcomeClass;
  count: number;
}

/** When a transfer is counted for good, and a summary of it no longer taken. */
export function foldPointOf(summary: Pick<TransferSummary, 'startedAt'>): number {
  return judgedAt(summary) + OUTCOME_GRACE_MS;
}

export class PracticeReporting {
  readonly state: ReportingState;
  readonly cadence: Cadence;
  readonly submitAfterMidnightMs: number;
  readonly correctionWindowDays: number;
  readonly retryAfterFailureMs: number;
  /** Runs are short (SIGNALS_PER_RUN) unless the workflow says this run began before they were. */
  private shortRuns: boolean;
  /** Signals taken by this run (not carried across continue-as-new). */
  private signalsThisRun = 0;
  /** Workflow time of this run's last signal (not carried: a new run starts quiet). */
  private lastSignalAt = -Infinity;
  /** The details text last shown, so only changes are shown again. */
  private shownDetails = '';
  /** Transfers counted for good and not yet taken by the workflow's metrics (not state: not carried). */
  private judged = new Map<string, JudgedCount>();
  /**
   * No held transfer reaches its fold point before this (epoch ms; never later than the earliest):
   * a fold walks every held transfer, so a signal folds only when one can be due. Derived from the
   * state, not carried.
   */
  private nextFoldAt = -Infinity;

  constructor(
    readonly input: ReportingInput,
    { runTag = 'r0', now = Date.now(), shortRuns = true }: { runTag?: string; now?: number; shortRuns?: boolean } = {},
  ) {
    this.shortRuns = shortRuns;
    const firstDay = input.firstDay ?? dayOf(now);
    this.state = input.state ?? {
      days: {},
      firstDay,
      nextUncoveredDay: firstDay,
      inFlight: {},
      recentDelivered: {},
      recentFailures: [],
      recentWarnings: [],
      consecutiveFailures: 0,
      runTag,
      sequence: 0,
    };
    this.retryAfterFailureMs = input.options?.retryAfterFailureMs ?? 3_600_000;
    this.cadence = input.options?.cadence ?? 'daily';
    this.submitAfterMidnightMs = input.options?.submitAfterMidnightMs ?? 5 * 60_000;
    this.correctionWindowDays = input.options?.correctionWindowDays ?? 14;
  }

  /** Signals after which this run continues as new, quiet or not. */
  get signalsPerRun(): number {
    return this.input.options?.signalsPerRun ?? SIGNALS_PER_RUN_BEFORE_SHORT_RUNS;
  }

  /** From now on this run also ends once quiet past SIGNALS_PER_RUN (a run that began before, once patched). */
  useShortRuns(): void {
    this.shortRuns = true;
  }

  /** Whether this run keeps short runs (and so may wake earlier than it last planned). */
  get usesShortRuns(): boolean {
    return this.shortRuns;
  }

  /** When this run, past SIGNALS_PER_RUN, has been quiet long enough to continue as new. */
  private quietRunEndsAt(): number {
    if (!this.shortRuns || this.input.options?.signalsPerRun !== undefined || this.signalsThisRun < SIGNALS_PER_RUN) return Infinity;
    // Signals counted without a time (unit tests) start no quiet period.
    if (!Number.isFinite(this.lastSignalAt)) return Infinity;
    return this.lastSignalAt + (this.input.options?.quietBeforeNewRunMs ?? QUIET_BEFORE_NEW_RUN_MS);
  }

  private signalled(now: number | undefined): void {
    this.signalsThisRun++;
    if (now !== undefined) this.lastSignalAt = now;
  }

  get practiceOds(): string {
    return this.input.practiceOds;
  }

  /** Makes submission ids unique even if the workflow is ever started afresh (kept across runs). */
  get runTag(): string {
    return this.state.runTag;
  }

  // ---- messages ---------------------------------------------------------------------------------

  /** `rowsSignal`: changed rows from transfers, and their outcome summaries (`now` needed with them). */
  rowsArrived(rows: DayRow[], summaries?: TransferSummary[], now?: number): void {
    this.signalled(now);
    this.addRows(rows);
    if (summaries?.length) {
      if (now === undefined) throw new Error('internal: summaries need the time they arrived');
      this.addSummaries(summaries, now);
    }
  }

  /** `submissionFinishedSignal`: a submission this workflow started reports back. */
  submissionFinished(result: SubmissionResult, now: number): void {
    this.signalled(now);
    this.finish(result, now);
  }

  /** `submissionRejectedSignal`: a delivered submission was refused afterwards (NACK, error report). */
  submissionRejected({ submissionId, reason }: SubmissionRejection, now: number): void {
    this.signalled(now);
    this.rejected(submissionId, reason, now);
  }

  /**
   * The `submit` validator: refuses (throws) a request naming a day that is not a real calendar day,
   * is not over yet, or can no longer be rebuilt completely.
   */
  refuseSubmit(request: SubmitRequest, now: number): void {
    const today = dayOf(now);
    for (const day of request.days ?? []) {
      // A real calendar day (2026-02-30 is not one): an impossible day would fail every submission.
      const notADay = dayRefusal('day', day);
      if (notADay) throw new Error(notADay);
      if (day >= today) throw new Error(`day: ${day} is not over yet; allowed: days before ${today} (UTC)`);
      // Sending a day we cannot rebuild would replace the Authority's complete record set.
      const refused = this.notRebuildable(day);
      if (refused) throw new Error(`day: ${refused}`);
    }
  }

  /**
   * The days a `submit` sends: every due day, or the named ones — sent again even if delivered (an
   * operator's replay); days in flight are skipped.
   */
  daysToSubmit(request: SubmitRequest, now: number): string[] {
    return request.days?.length ? this.requestDays(request.days) : this.dueDays(now);
  }

  view(now: number): ReportingView {
    return {
      practiceOds: this.input.practiceOds,
      cadence: this.cadence,
      ...(this.state.lastDeliveredDay ? { lastDeliveredDay: this.state.lastDeliveredDay } : {}),
      pendingDays: this.pendingDays(dayOf(now - DAY_MS)),
      inFlight: Object.entries(this.state.inFlight).map(([id, f]) => ({ submissionId: id, days: Object.keys(f.days) })),
      recentFailures: this.state.recentFailures,
      recentWarnings: this.state.recentWarnings,
      nextSubmissionAt: new Date(this.nextCadenceAt(now)).toISOString(),
      ...(this.state.retryAt ? { retryAt: new Date(this.state.retryAt).toISOString() } : {}),
    };
  }

  /** The one-line summary the Web UI shows, or undefined when it has not changed since last shown. */
  changedDetails(now: number): string | undefined {
    const view = this.view(now);
    const details =
      `Reporting for ${this.input.practiceOds} (${this.cadence}): last delivered day ${view.lastDeliveredDay ?? 'none'}; ` +
      `${view.pendingDays.length} day(s) pending; ${view.inFlight.length} submission(s) in flight; next at ${view.nextSubmissionAt}`;
    if (details === this.shownDetails) return undefined;
    this.shownDetails = details;
    return details;
  }

  // ---- the console (issue 15) --------------------------------------------------------------------

  /** `consoleQuery`: the practice's calendar and outcomes at `now`, without changing state. */
  consoleView(now: number, request: ConsoleRequest = {}): PracticeConsoleView {
    const wanted = Math.floor(request.calendarDays ?? DEFAULT_CALENDAR_DAYS);
    const count = Number.isFinite(wanted) ? Math.min(OUTCOME_RETENTION_DAYS, Math.max(1, wanted)) : DEFAULT_CALENDAR_DAYS;
    const yesterday = dayOf(now - DAY_MS);
    const context = this.calendarContext(yesterday);
    const calendar: CalendarDay[] = [];
    for (let i = count - 1; i >= 0; i--) calendar.push(this.calendarDay(addDays(yesterday, -i), context));
    const failing = new Set<string>();
    const known = new Set([...Object.keys(this.state.calendar ?? {}), ...context.pending]);
    for (const day of known) {
      if (day > yesterday) continue;
      const d = this.calendarDay(day, context);
      if (d.state === 'failed' && d.submissionId) failing.add(d.submissionId);
    }
    const pending = Object.values(this.state.transfers ?? {});
    return {
      practiceOds: this.input.practiceOds,
      asOf: new Date(now).toISOString(),
      calendar,
      outcomes: this.outcomeDays(now),
      overdueTransfers: pending.filter((t) => isOverdue(t, now)).length,
      apiPostsFailed: this.state.apiPostsFailed?.length ?? 0,
      failingSubmissions: failing.size,
    };
  }

  /** What every calendar day is read against: days in flight (with their submission) and days due. */
  private calendarContext(through: string): { busy: Map<string, string>; pending: Set<string> } {
    const busy = new Map<string, string>();
    for (const [id, f] of Object.entries(this.state.inFlight)) for (const day of Object.keys(f.days)) busy.set(day, id);
    return { busy, pending: new Set(this.pendingDays(through)) };
  }

  /**
   * One closed day: in flight; failed (its latest submission failed, or was refused after delivery,
   * and it is not delivered since); pending (due: never delivered, or changed since); corrected
   * (delivered again after a change); delivered; not reported (before the practice's first day, with
   * no rows).
   */
  private calendarDay(day: string, { busy, pending }: { busy: Map<string, string>; pending: Set<string> }): CalendarDay {
    const rec = this.state.calendar?.[day];
    const withId = (state: CalendarDay['state'], submissionId = rec?.submissionId): CalendarDay => ({ day, state, ...(submissionId ? { submissionId } : {}) });
    const inFlight = busy.get(day);
    if (inFlight) return withId('in-flight', inFlight);
    if (rec?.failed) return withId('failed');
    if (pending.has(day)) {
      // A day failed before the calendar was kept (state of an earlier version): its failure says so.
      const failure = rec ? undefined : this.state.recentFailures.find((f) => f.days.includes(day));
      return failure ? withId('failed', failure.submissionId) : withId('pending');
    }
    if ((rec?.deliveries ?? 0) >= 2) return withId('corrected');
    const held = this.state.days[day];
    const pruned = this.state.prunedThrough !== undefined && day <= this.state.prunedThrough && day >= this.state.firstDay;
    if ((rec?.deliveries ?? 0) >= 1 || held?.deliveredVersion !== undefined || pruned) return withId('delivered');
    return day < this.state.firstDay ? withId('not-reported') : withId('pending');
  }

  /** Counts per request day and role: those counted for good, and the held transfers as they stand at `now`. */
  private outcomeDays(now: number): OutcomeDay[] {
    const tallies = new Map<string, OutcomeTally>();
    const tallyOf = (id: string) => {
      let t = tallies.get(id);
      if (!t) tallies.set(id, (t = { counts: {}, integrationTimes: INTEGRATION_TIME_BUCKET_HOURS.map(() => 0) }));
      return t;
    };
    for (const [id, folded] of Object.entries(this.state.outcomeDays ?? {})) {
      const t = tallyOf(id);
      for (const c of OUTCOME_CLASSES) if (folded.counts[c]) t.counts[c] = (t.counts[c] ?? 0) + folded.counts[c]!;
      folded.integrationTimes.forEach((n, i) => (t.integrationTimes[i]! += n));
    }
    for (const summary of Object.values(this.state.transfers ?? {})) tally(tallyOf(tallyId(summary)), summary, now);
    return [...tallies.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([id, t]) => ({ day: id.slice(0, 10), side: id.slice(11) as Side, counts: t.counts, integrationTimes: t.integrationTimes }));
  }

  // ---- transfer outcomes ----------------------------------------------------------------------------

  /**
   * Takes the transfers' summaries: each replaces the one held of its transfer unless older (seq); one
   * past its fold point is ignored (see the file's comment). A failed API post is noted whatever the
   * transfer's age: it waits for an operator however old it is. An older summary arriving late (a
   * delayed hand-over) is ignored for both: it would note a failure since cleared, or clear one since
   * noted. Not a command: the list only feeds the console, so no patch guards the change.
   */
  addSummaries(summaries: readonly TransferSummary[], now: number): void {
    const transfers = (this.state.transfers ??= {});
    for (const summary of summaries) {
      const id = `${summary.side}:${summary.key}`;
      const held = transfers[id];
      if (held && (held.seq ?? 0) > (summary.seq ?? 0)) continue;
      this.noteApiPost(id, summary.apiPostFailed === true);
      if (foldPointOf(summary) <= now) continue;
      transfers[id] = summary;
      this.nextFoldAt = Math.min(this.nextFoldAt, foldPointOf(summary));
    }
    this.foldJudged(now);
  }

  private noteApiPost(id: string, failed: boolean): void {
    const list = this.state.apiPostsFailed ?? [];
    const has = list.includes(id);
    if (failed && !has) this.state.apiPostsFailed = [...list, id];
    else if (!failed && has) this.state.apiPostsFailed = list.filter((x) => x !== id);
  }

  /** Counts for good the held transfers past their fold point, and drops them. */
  foldJudged(now: number): void {
    const transfers = this.state.transfers;
    if (!transfers || now < this.nextFoldAt) return;
    let next = Infinity;
    for (const [id, summary] of Object.entries(transfers)) {
      const foldPoint = foldPointOf(summary);
      if (foldPoint > now) {
        next = Math.min(next, foldPoint);
        continue;
      }
      const key = tallyId(summary);
      const days = (this.state.outcomeDays ??= {});
      const t = (days[key] ??= { counts: {}, integrationTimes: INTEGRATION_TIME_BUCKET_HOURS.map(() => 0) });
      const outcome = tally(t, summary, now);
      delete transfers[id];
      const metric = `${summary.side}:${outcome}`;
      const j = this.judged.get(metric) ?? { side: summary.side, outcome, count: 0 };
      j.count++;
      this.judged.set(metric, j);
    }
    this.nextFoldAt = next;
  }

  /** Transfers counted for good since the last call (for metrics; not carried across runs). */
  takeJudged(): JudgedCount[] {
    const out = [...this.judged.values()];
    this.judged.clear();
    return out;
  }

  // ---- the run ------------------------------------------------------------------------------------

  /**
   * True when this run should continue as new at `now`: it has taken signalsPerRun signals, or (short
   * runs) SIGNALS_PER_RUN and none for the quiet period since.
   */
  runIsLong(now = -Infinity): boolean {
    return this.signalsThisRun >= this.signalsPerRun || now >= this.quietRunEndsAt();
  }

  /** When the loop must wake next: the cadence point, an earlier retry of failed days, or a grown run's quiet end. */
  wakeAt(now: number): number {
    return Math.min(this.nextCadenceAt(now), this.state.retryAt ?? Infinity, this.quietRunEndsAt());
  }

  /**
   * What a wake-up at `now` is for, given the cadence point `nextAt` it waited for: failed days going
   * out again well before the next cadence point (MI22: within 48 h; the retry is then used up), the
   * cadence itself, or nothing (woken early).
   */
  turn(now: number, nextAt: number): Turn | undefined {
    if (this.state.retryAt !== undefined && now >= this.state.retryAt && now < nextAt) {
      delete this.state.retryAt;
      return 'retry';
    }
    return now >= nextAt ? 'cadence' : undefined;
  }

  /** The next cadence point after now. */
  nextCadenceAt(now: number): number {
    let t = Date.parse(`${dayOf(now)}T00:00:00Z`) + this.submitAfterMidnightMs;
    for (;;) {
      const isMonday = new Date(t).getUTCDay() === 1;
      if (t > now && (this.cadence === 'daily' || isMonday)) return t;
      t += DAY_MS;
    }
  }

  // ---- rows and days ------------------------------------------------------------------------------

  private warn(text: string): void {
    this.state.recentWarnings = [text, ...this.state.recentWarnings].slice(0, 20);
  }

  /** Days held that do not exist (2026-02-30): accepted before days were checked, they can never be rendered. */
  impossibleDays(): string[] {
    return Object.keys(this.state.days).filter((d) => !isDay(d));
  }

  /** True when `dropImpossibleDays` has something to do. */
  holdsImpossibleDays(): boolean {
    return this.impossibleDays().length > 0 || !isDay(this.state.nextUncoveredDay);
  }

  /**
   * Drops impossible days, with a warning: each would fail every submission it is batched in, and so
   * the real days sent with it, for ever. Also moves an impossible first uncovered day to a real one.
   */
  dropImpossibleDays(now: number): void {
    for (const day of this.impossibleDays()) {
      delete this.state.days[day];
      this.warn(`day ${day} dropped: not a calendar date, it can never be sent`);
    }
    if (!isDay(this.state.nextUncoveredDay)) this.state.nextUncoveredDay = firstRealDayFrom(this.state.nextUncoveredDay, now);
  }

  /** Why a day cannot be (re)built from what is held, or undefined. */
  notRebuildable(day: string): string | undefined {
    if (this.state.days[day]) return undefined;
    if (this.state.prunedThrough && day <= this.state.prunedThrough) {
      return `day ${day} was delivered and has left the ${this.correctionWindowDays}-day correction window; its complete record set can no longer be rebuilt`;
    }
    if (day < this.state.firstDay) return `day ${day} is before reporting for ${this.input.practiceOds} began (${this.state.firstDay}) and has no rows`;
    return undefined;
  }

  addRows(rows: DayRow[]): void {
    for (const row of rows) {
      const id = `${row.side}:${row.key}`;
      const refused = row.day < this.state.firstDay ? undefined : this.notRebuildable(row.day);
      if (refused) {
        // A record set built from this row alone would replace the complete one at the Authority.
        this.warn(`row of ${row.side} ${row.key} not taken: ${refused}`);
        continue;
      }
      const day = (this.state.days[row.day] ??= emptyDay());
      const existing = day.rows[id];
      if (existing && existing.seq >= row.seq) continue;
      // An identical row (e.g. a re-sent duplicate event) does not make a delivered day due again.
      if (existing && JSON.stringify(existing.fields) === JSON.stringify(row.fields) && existing.firstEventAt === row.firstEventAt) {
        existing.seq = row.seq;
        continue;
      }
      day.rows[id] = row;
      day.version++;
    }
  }

  /** The calendar's record of a day, made on first use. */
  private calendarRecord(day: string): CalendarRecord {
    return ((this.state.calendar ??= {})[day] ??= { deliveries: 0 });
  }

  private inFlightDays(): Set<string> {
    return new Set(Object.values(this.state.inFlight).flatMap((s) => Object.keys(s.days)));
  }

  /** Closed days (before today) that were never delivered or changed since; covers them first. */
  dueDays(now: number): string[] {
    const through = dayOf(now - DAY_MS);
    this.cover(through);
    return this.pendingDays(through);
  }

  /** Days up to `through` still to deliver, without changing state (safe in a query). */
  pendingDays(through: string): string[] {
    const busy = this.inFlightDays();
    const pending = Object.entries(this.state.days)
      .filter(([day, s]) => day <= through && !busy.has(day) && (s.deliveredVersion === undefined || s.version > s.deliveredVersion))
      .map(([day]) => day);
    for (let day = this.state.nextUncoveredDay; day <= through; day = addDays(day, 1)) {
      if (!this.state.days[day]) pending.push(day);
    }
    return pending.sort();
  }

  /** Named days to send, whatever their state, except those in flight. */
  requestDays(days: string[]): string[] {
    const busy = this.inFlightDays();
    const wanted = [...new Set(days)].filter((d) => !busy.has(d)).sort();
    for (const d of wanted) this.state.days[d] ??= emptyDay();
    return wanted;
  }

  /** Makes sure every day up to `through` has an entry, so empty days are reported too. */
  private cover(through: string): void {
    while (this.state.nextUncoveredDay <= through) {
      this.state.days[this.state.nextUncoveredDay] ??= emptyDay();
      this.state.nextUncoveredDay = addDays(this.state.nextUncoveredDay, 1);
    }
  }

  /**
   * Drops delivered, unchanged days older than the correction window; counts for good the judged
   * transfers; drops counts and calendar days older than the retention.
   */
  prune(now: number): void {
    const oldest = dayOf(now - this.correctionWindowDays * DAY_MS);
    for (const [day, s] of Object.entries(this.state.days)) {
      if (day < oldest && s.deliveredVersion !== undefined && s.deliveredVersion >= s.version) {
        delete this.state.days[day];
        if (!this.state.prunedThrough || day > this.state.prunedThrough) this.state.prunedThrough = day;
      }
    }
    this.foldJudged(now);
    const retained = dayOf(now - OUTCOME_RETENTION_DAYS * DAY_MS);
    for (const id of Object.keys(this.state.outcomeDays ?? {})) if (id.slice(0, 10) < retained) delete this.state.outcomeDays![id];
    for (const day of Object.keys(this.state.calendar ?? {})) if (day < retained) delete this.state.calendar![day];
  }

  // ---- submissions --------------------------------------------------------------------------------

  /** Groups days into submissions that stay within the per-submission limits. */
  batches(days: string[]): string[][] {
    const batches: string[][] = [];
    let current: string[] = [];
    let bytes = 0;
    for (const day of days) {
      const dayBytes = Object.values(this.state.days[day]?.rows ?? {}).reduce((n, r) => n + r.fields.join(',').length + 100, 0);
      if (current.length && (current.length >= MAX_DAYS_PER_SUBMISSION || bytes + dayBytes > MAX_SUBMISSION_ROW_BYTES)) {
        batches.push(current);
        current = [];
        bytes = 0;
      }
      current.push(day);
      bytes += dayBytes;
    }
    if (current.length) batches.push(current);
    return batches;
  }

  /**
   * Batches the days into submissions, each named by `nameOf` and marked in flight at once (so a
   * concurrent submit or cadence turn cannot pick the same days), with the record sets to send.
   */
  plan(days: string[], nameOf: (firstDay: string, lastDay: string, sequence: number) => string): PlannedSubmission[] {
    return this.batches(days).map((batch) => {
      const submissionId = nameOf(batch[0]!, batch[batch.length - 1]!, ++this.state.sequence);
      const recordSets = batch.map((day) => ({
        day,
        rows: Object.values(this.state.days[day]?.rows ?? {}).map(({ side, key, firstEventAt, fields }) => ({ side, key, firstEventAt, fields })),
      }));
      this.state.inFlight[submissionId] = { days: Object.fromEntries(batch.map((d) => [d, this.state.days[d]?.version ?? 0])) };
      for (const day of batch) this.calendarRecord(day).submissionId = submissionId;
      return { submissionId, days: batch, recordSets };
    });
  }

  /** A planned submission's child workflow could not be started: it failed, its days stay due. */
  couldNotStart(planned: PlannedSubmission, message: string, now: number): void {
    this.finish({ submissionId: planned.submissionId, status: 'failed', reason: `could not start: ${message}`, files: [], days: planned.days }, now);
  }

  /** Submissions in flight, to ask whether any ended without reporting back. */
  inFlightIds(): string[] {
    return Object.keys(this.state.inFlight);
  }

  /**
   * Submissions that ended from outside (terminated in the Web UI, timed out) never report back;
   * without this their days would stay "in flight" for ever. One that did report back is no longer
   * in flight, so it is not failed twice.
   */
  endedWithoutReport(ended: EndedSubmission[], now: number): void {
    for (const { submissionId, status } of ended) {
      this.finish({ submissionId, status: 'failed', reason: `the submission workflow ended (${status}) without reporting back`, files: [], days: [] }, now);
    }
  }

  private finish(result: SubmissionResult, now: number): void {
    const flight = this.state.inFlight[result.submissionId];
    if (!flight) return; // already handled (signals may be re-sent)
    delete this.state.inFlight[result.submissionId];
    if (result.status === 'delivered') {
      for (const [day, version] of Object.entries(flight.days)) {
        const s = this.state.days[day];
        if (s) s.deliveredVersion = Math.max(s.deliveredVersion ?? -1, version);
        if (!this.state.lastDeliveredDay || day > this.state.lastDeliveredDay) this.state.lastDeliveredDay = day;
        // Only a newer version counts as another delivery: a forced replay of the same is no correction.
        const rec = this.calendarRecord(day);
        if (rec.lastVersion === undefined || version > rec.lastVersion) {
          rec.deliveries++;
          rec.lastVersion = version;
        }
        rec.submissionId = result.submissionId;
        delete rec.failed;
      }
      this.state.recentDelivered[result.submissionId] = { days: Object.keys(flight.days) };
      const ids = Object.keys(this.state.recentDelivered);
      for (const old of ids.slice(0, Math.max(0, ids.length - 50))) delete this.state.recentDelivered[old];
      this.state.consecutiveFailures = 0;
      delete this.state.retryAt;
    } else {
      this.failed(result.submissionId, Object.keys(flight.days), result.reason ?? 'failed', now);
    }
  }

  /** A failure is listed for operators, and its days are tried again soon, not at the next cadence only. */
  private failed(submissionId: string, days: string[], reason: string, now: number): void {
    for (const day of days) {
      const rec = this.calendarRecord(day);
      rec.submissionId = submissionId;
      rec.failed = true;
    }
    this.state.recentFailures = [{ submissionId, days, reason }, ...this.state.recentFailures].slice(0, 20);
    this.state.consecutiveFailures++;
    const delay = Math.min(12 * 3_600_000, this.retryAfterFailureMs * 2 ** (this.state.consecutiveFailures - 1));
    this.state.retryAt = now + delay;
  }

  /** A delivered submission was refused afterwards (business NACK, error report): its days are due again. */
  private rejected(submissionId: string, reason: string, now: number): void {
    const delivered = this.state.recentDelivered[submissionId];
    if (!delivered) return this.warn(`${submissionId} was rejected (${reason}) but is not a recent delivered submission`);
    delete this.state.recentDelivered[submissionId];
    for (const day of delivered.days) {
      const s = this.state.days[day];
      if (s) delete s.deliveredVersion;
      // The refused delivery does not count: the next one of the same version does.
      const rec = this.calendarRecord(day);
      rec.deliveries = Math.max(0, rec.deliveries - 1);
      delete rec.lastVersion;
    }
    this.failed(submissionId, delivered.days, reason, now);
  }
}

function emptyDay(): DayState {
  return { rows: {}, version: 0 };
}

/** Where a transfer is counted: its request day and role. */
function tallyId(summary: TransferSummary): string {
  return `${summary.startedAt.slice(0, 10)}:${summary.side}`;
}

/** Counts one transfer, as it stands at `now`, into `t`; returns its class. */
function tally(t: OutcomeTally, summary: TransferSummary, now: number): OutcomeClass {
  const outcome = outcomeAt(summary, now);
  t.counts[outcome] = (t.counts[outcome] ?? 0) + 1;
  if (summary.integratedAfterMs !== undefined) t.integrationTimes[integrationTimeBucket(summary.integratedAfterMs)]!++;
  return outcome;
}
