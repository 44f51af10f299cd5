/**
 * The state and every decision of one practice's reporting workflow, without Temporal: which rows it
 * holds, which closed days are due (empty days included, MI07), how due days are batched into
 * submissions, what a finished, rejected or vanished submission means for its days, when a failure is
 * retried, and what the Web UI shows. The workflow (workflows/reporting.ts) only wires messages,
 * timers and child starts to these methods; time comes in as `now` so tests need no server.
 */
import { dayRefusal, isDay } from '../mi/formats';
import type { DayRecordSet, DayRow } from '../mi/record-set';
import type {
  Cadence,
  DayState,
  EndedSubmission,
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
/** Signals after which a run continues as new, to keep its history small. */
const SIGNALS_PER_RUN = 2_000;

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

export class PracticeReporting {
  readonly state: ReportingState;
  readonly cadence: Cadence;
  readonly submitAfterMidnightMs: number;
  readonly correctionWindowDays: number;
  readonly retryAfterFailureMs: number;
  /** Signals taken by this run (not carried across continue-as-new). */
  private signalsThisRun = 0;
  /** The details text last shown, so only changes are shown again. */
  private shownDetails = '';

  constructor(
    readonly input: ReportingInput,
    { runTag = 'r0', now = Date.now() }: { runTag?: string; now?: number } = {},
  ) {
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

  get practiceOds(): string {
    return this.input.practiceOds;
  }

  /** Makes submission ids unique even if the workflow is ever started afresh (kept across runs). */
  get runTag(): string {
    return this.state.runTag;
  }

  // ---- messages ---------------------------------------------------------------------------------

  /** `rowsSignal`: changed rows from transfers. */
  rowsArrived(rows: DayRow[]): void {
    this.signalsThisRun++;
    this.addRows(rows);
  }

  /** `submissionFinishedSignal`: a submission this workflow started reports back. */
  submissionFinished(result: SubmissionResult, now: number): void {
    this.signalsThisRun++;
    this.finish(result, now);
  }

  /** `submissionRejectedSignal`: a delivered submission was refused afterwards (NACK, error report). */
  submissionRejected({ submissionId, reason }: SubmissionRejection, now: number): void {
    this.signalsThisRun++;
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

  // ---- the run ------------------------------------------------------------------------------------

  /** True when this run has taken enough signals to continue as new. */
  runIsLong(): boolean {
    return this.signalsThisRun >= SIGNALS_PER_RUN;
  }

  /** When the loop must wake next: the cadence point, or an earlier retry of failed days. */
  wakeAt(now: number): number {
    return Math.min(this.nextCadenceAt(now), this.state.retryAt ?? Infinity);
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

  /** Drops delivered, unchanged days older than the correction window. */
  prune(now: number): void {
    const oldest = dayOf(now - this.correctionWindowDays * DAY_MS);
    for (const [day, s] of Object.entries(this.state.days)) {
      if (day < oldest && s.deliveredVersion !== undefined && s.deliveredVersion >= s.version) {
        delete this.state.days[day];
        if (!this.state.prunedThrough || day > this.state.prunedThrough) this.state.prunedThrough = day;
      }
    }
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
    }
    this.failed(submissionId, delivered.days, reason, now);
  }
}

function emptyDay(): DayState {
  return { rows: {}, version: 0 };
}
