/**
 * One long-lived reporting workflow per practice. It holds the rows of the days it has not yet
 * delivered (and, for a while, of the days it has, so a late event can be answered with a complete
 * corrected record set), and at the practice's cadence starts a submission for every due day —
 * including days with no activity, which still get HR + FR (MI07). Delivered days leave its state
 * after the correction window; continue-as-new keeps the history small.
 */
import {
  allHandlersFinished,
  condition,
  continueAsNew,
  defineQuery,
  defineSignal,
  defineUpdate,
  ParentClosePolicy,
  patched,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  startChild,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type * as activities from '../activities';
import type { Side } from '../mi/events';
import { dayRefusal, isDay } from '../mi/formats';
import { reportingWorkflowId, submissionId } from './ids';
import { practiceOdsKey } from './search-attributes';
import { submissionWorkflow, type SubmissionOptions, type SubmissionResult } from './submission';

// ---- public API -------------------------------------------------------------------------------

/** A row of one record as of the end of one day, as the transfer workflow computed it. */
export interface ForwardedRow {
  day: string;
  side: Side;
  key: string;
  firstEventAt: string;
  fields: string[];
  /** Number of events the row was built from: only a higher seq replaces a row. */
  seq: number;
}

export const rowsSignal = defineSignal<[ForwardedRow[]]>('rows');
export const submissionFinishedSignal = defineSignal<[SubmissionResult]>('submissionFinished');
/** The Authority refused (NACK) or MESH reported on a submission that had already ended delivered. */
export const submissionRejectedSignal = defineSignal<[{ submissionId: string; reason: string }]>('submissionRejected');

export interface SubmitRequest {
  /** Specific closed days to (re)send; default: every due day. */
  days?: string[];
}
export interface SubmitResult {
  submissions: { submissionId: string; days: string[] }[];
}
/** Submit now, instead of waiting for the cadence. */
export const submitUpdate = defineUpdate<SubmitResult, [SubmitRequest]>('submit');

export interface ReportingView {
  practiceOds: string;
  cadence: Cadence;
  lastDeliveredDay?: string;
  pendingDays: string[];
  inFlight: { submissionId: string; days: string[] }[];
  recentFailures: { submissionId: string; days: string[]; reason: string }[];
  /** Rows that could not be taken (their day has left the correction window), most recent first. */
  recentWarnings: string[];
  nextSubmissionAt: string;
  retryAt?: string;
}
export const reportingQuery = defineQuery<ReportingView>('reporting');

export type Cadence = 'daily' | 'weekly';

export interface ReportingOptions {
  cadence?: Cadence;
  /** How long after 00:00 UTC the cadence fires. */
  submitAfterMidnightMs?: number;
  /** Delivered days are held this many days for corrections. */
  correctionWindowDays?: number;
  /** After a failed submission, its days are tried again after this long (doubling up to 12 h). */
  retryAfterFailureMs?: number;
  submission?: SubmissionOptions;
}

export interface ReportingInput {
  practiceOds: string;
  options?: ReportingOptions;
  /** First day to report (default: the day the workflow started). */
  firstDay?: string;
  /** Carried across continue-as-new. */
  state?: ReportingState;
}

interface DayState {
  rows: Record<string, ForwardedRow>;
  version: number;
  deliveredVersion?: number;
}

interface ReportingState {
  days: Record<string, DayState>;
  /** The first day this practice is reported for: earlier days without rows were never ours. */
  firstDay: string;
  /** Every day before this one has an entry in `days` or was delivered and aged out. */
  nextUncoveredDay: string;
  /** The latest day that left `days` after delivery: it can no longer be rebuilt completely. */
  prunedThrough?: string;
  lastDeliveredDay?: string;
  inFlight: Record<string, { days: Record<string, number> }>;
  /** Recently delivered submissions, so a late NACK can make their days due again. */
  recentDelivered: Record<string, { days: string[] }>;
  recentFailures: { submissionId: string; days: string[]; reason: string }[];
  recentWarnings: string[];
  consecutiveFailures: number;
  retryAt?: number;
  /** Makes submission ids unique even if this workflow is ever started afresh. */
  runTag: string;
  sequence: number;
}

const { findEndedSubmissions } = proxyActivities<ReturnType<typeof activities.createActivities>>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '5 seconds', maximumInterval: '5 minutes' },
});

// ---- dates --------------------------------------------------------------------------------------

const DAY_MS = 86_400_000;
const MAX_DAYS_PER_SUBMISSION = 31;
/** Keeps a submission's input (rows) far below Temporal's 2 MB payload limit. */
const MAX_SUBMISSION_ROW_BYTES = 1_000_000;

function dayOf(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}
function addDays(day: string, n: number): string {
  return dayOf(Date.parse(`${day}T00:00:00Z`) + n * DAY_MS);
}
/** The first real day from an impossible YYYY-MM-DD: 2026-02-30 → 2026-03-01. */
function firstRealDayFrom(day: string): string {
  if (isDay(day)) return day;
  const [y, m] = day.split('-').map(Number);
  const ms = Date.UTC(y!, m!, 1);
  return Number.isFinite(ms) ? dayOf(ms) : dayOf(Date.now());
}

// ---- the practice's reporting -------------------------------------------------------------------

export class PracticeReporting {
  readonly state: ReportingState;
  readonly cadence: Cadence;
  readonly submitAfterMidnightMs: number;
  readonly correctionWindowDays: number;

  readonly retryAfterFailureMs: number;

  constructor(
    readonly input: ReportingInput,
    runTag = 'r0',
  ) {
    const firstDay = input.firstDay ?? dayOf(Date.now());
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

  private warn(text: string): void {
    this.state.recentWarnings = [text, ...this.state.recentWarnings].slice(0, 20);
  }

  /** Days held that do not exist (2026-02-30): accepted before days were checked, they can never be rendered. */
  impossibleDays(): string[] {
    return Object.keys(this.state.days).filter((d) => !isDay(d));
  }

  /**
   * Drops impossible days, with a warning: each would fail every submission it is batched in, and so
   * the real days sent with it, for ever. Also moves an impossible first uncovered day to a real one.
   */
  dropImpossibleDays(): void {
    for (const day of this.impossibleDays()) {
      delete this.state.days[day];
      this.warn(`day ${day} dropped: not a calendar date, it can never be sent`);
    }
    if (!isDay(this.state.nextUncoveredDay)) this.state.nextUncoveredDay = firstRealDayFrom(this.state.nextUncoveredDay);
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

  addRows(rows: ForwardedRow[]): void {
    for (const row of rows) {
      const id = `${row.side}:${row.key}`;
      const refused = row.day < this.state.firstDay ? undefined : this.notRebuildable(row.day);
      if (refused) {
        // A record set built from this row alone would replace the complete one at the Authority.
        this.warn(`row of ${row.side} ${row.key} not taken: ${refused}`);
        continue;
      }
      const day = (this.state.days[row.day] ??= { rows: {}, version: 0 });
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

  requestDays(days: string[]): string[] {
    const busy = this.inFlightDays();
    const wanted = [...new Set(days)].filter((d) => !busy.has(d)).sort();
    for (const d of wanted) this.state.days[d] ??= { rows: {}, version: 0 };
    return wanted;
  }

  /** Makes sure every day up to `through` has an entry, so empty days are reported too. */
  private cover(through: string): void {
    while (this.state.nextUncoveredDay <= through) {
      this.state.days[this.state.nextUncoveredDay] ??= { rows: {}, version: 0 };
      this.state.nextUncoveredDay = addDays(this.state.nextUncoveredDay, 1);
    }
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

  finish(result: SubmissionResult): void {
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
      this.failed(result.submissionId, Object.keys(flight.days), result.reason ?? 'failed');
    }
  }

  /** A failure is listed for operators, and its days are tried again soon, not at the next cadence only. */
  private failed(submissionId: string, days: string[], reason: string): void {
    this.state.recentFailures = [{ submissionId, days, reason }, ...this.state.recentFailures].slice(0, 20);
    this.state.consecutiveFailures++;
    const delay = Math.min(12 * 3_600_000, this.retryAfterFailureMs * 2 ** (this.state.consecutiveFailures - 1));
    this.state.retryAt = Date.now() + delay;
  }

  /** A delivered submission was refused afterwards (business NACK, error report): its days are due again. */
  rejected(submissionId: string, reason: string): void {
    const delivered = this.state.recentDelivered[submissionId];
    if (!delivered) return this.warn(`${submissionId} was rejected (${reason}) but is not a recent delivered submission`);
    delete this.state.recentDelivered[submissionId];
    for (const day of delivered.days) {
      const s = this.state.days[day];
      if (s) delete s.deliveredVersion;
    }
    this.failed(submissionId, delivered.days, reason);
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
}

// ---- the workflow -------------------------------------------------------------------------------

export async function reportingWorkflow(input: ReportingInput): Promise<void> {
  const reporting = new PracticeReporting(input, `r${workflowInfo().firstExecutionRunId.replaceAll('-', '').slice(-6)}`);
  const ods = input.practiceOds;
  let signalsThisRun = 0;

  /**
   * The current details the Web UI shows: refreshed whenever the state changes (each signal, update
   * and wake), not only when the workflow wakes. Not a history command, so replay-safe.
   */
  let shownDetails = '';
  const showDetails = () => {
    const view = reporting.view(Date.now());
    const details =
      `Reporting for ${ods} (${reporting.cadence}): last delivered day ${view.lastDeliveredDay ?? 'none'}; ` +
      `${view.pendingDays.length} day(s) pending; ${view.inFlight.length} submission(s) in flight; next at ${view.nextSubmissionAt}`;
    if (details === shownDetails) return;
    shownDetails = details;
    setCurrentDetails(details);
  };

  /**
   * A run holding an impossible day (accepted before the submit validator checked days) drops it.
   * patched() only where there is one, so no other history gets a marker.
   */
  const dropImpossibleDays = () => {
    if ((reporting.impossibleDays().length || !isDay(reporting.state.nextUncoveredDay)) && patched('drop-impossible-days')) {
      reporting.dropImpossibleDays();
    }
  };

  const startSubmissions = async (days: string[]): Promise<SubmitResult> => {
    // Every batch is marked in flight before the first await, so a concurrent submit or cadence
    // turn cannot pick the same days.
    const planned = reporting.batches(days).map((batch) => {
      const id = submissionId(ods, batch[0]!, batch[batch.length - 1]!, reporting.state.runTag, ++reporting.state.sequence);
      const recordSets = batch.map((day) => ({
        day,
        rows: Object.values(reporting.state.days[day]?.rows ?? {}).map(({ side, key, firstEventAt, fields }) => ({ side, key, firstEventAt, fields })),
      }));
      reporting.state.inFlight[id] = { days: Object.fromEntries(batch.map((d) => [d, reporting.state.days[d]?.version ?? 0])) };
      return { id, batch, recordSets };
    });
    const started: SubmitResult['submissions'] = [];
    for (const { id, batch, recordSets } of planned) {
      try {
        // Abandoned, not terminated, when this run continues as new: the child reports back by signal.
        await startChild(submissionWorkflow, {
          workflowId: id,
          args: [{ submissionId: id, practiceOds: ods, reportingWorkflowId: reportingWorkflowId(ods), recordSets, options: input.options?.submission }],
          parentClosePolicy: ParentClosePolicy.ABANDON,
          staticSummary: `MI submission for ${ods}: ${batch[0]} to ${batch[batch.length - 1]}`,
        });
        started.push({ submissionId: id, days: batch });
      } catch (err) {
        reporting.finish({ submissionId: id, status: 'failed', reason: `could not start: ${(err as Error).message}`, files: [], days: batch });
      }
    }
    return { submissions: started };
  };

  /**
   * A submission ended from outside (terminated in the Web UI, timed out) never reports back; without
   * this its days would stay "in flight" for ever. One that did report back is no longer in flight.
   */
  const releaseEndedSubmissions = async () => {
    const inFlight = Object.keys(reporting.state.inFlight);
    if (!inFlight.length) return;
    for (const { submissionId: id, status } of await findEndedSubmissions({ submissionIds: inFlight })) {
      reporting.finish({ submissionId: id, status: 'failed', reason: `the submission workflow ended (${status}) without reporting back`, files: [], days: [] });
    }
  };

  setHandler(rowsSignal, (rows) => {
    signalsThisRun++;
    reporting.addRows(rows);
    showDetails();
  });
  setHandler(submissionFinishedSignal, (result) => {
    signalsThisRun++;
    reporting.finish(result);
    showDetails();
  });
  setHandler(submissionRejectedSignal, ({ submissionId: id, reason }) => {
    signalsThisRun++;
    reporting.rejected(id, reason);
    showDetails();
  });
  setHandler(
    submitUpdate,
    async (request) => {
      try {
        dropImpossibleDays();
        await releaseEndedSubmissions();
        if (!request.days?.length) return await startSubmissions(reporting.dueDays(Date.now()));
        // Named days are sent again even if delivered (an operator's replay); days in flight are skipped.
        return await startSubmissions(reporting.requestDays(request.days));
      } finally {
        showDetails();
      }
    },
    {
      validator: (request) => {
        const today = dayOf(Date.now());
        for (const day of request.days ?? []) {
          // A real calendar day (2026-02-30 is not one): an impossible day would fail every submission.
          const notADay = dayRefusal('day', day);
          if (notADay) throw new Error(notADay);
          if (day >= today) throw new Error(`day: ${day} is not over yet; allowed: days before ${today} (UTC)`);
          // Sending a day we cannot rebuild would replace the Authority's complete record set.
          const refused = reporting.notRebuildable(day);
          if (refused) throw new Error(`day: ${refused}`);
        }
      },
    },
  );
  setHandler(reportingQuery, () => reporting.view(Date.now()));

  upsertSearchAttributes([{ key: practiceOdsKey, value: ods }]);

  for (;;) {
    dropImpossibleDays();
    const now = Date.now();
    const nextAt = reporting.nextCadenceAt(now);
    showDetails();
    const wantsNewRun = () => signalsThisRun >= 2_000 || workflowInfo().continueAsNewSuggested;
    const wakeAt = Math.min(nextAt, reporting.state.retryAt ?? Infinity);
    await condition(wantsNewRun, Math.max(1, wakeAt - now));
    dropImpossibleDays();
    if (wantsNewRun()) {
      await condition(allHandlersFinished);
      reporting.prune(Date.now());
      return await continueAsNew<typeof reportingWorkflow>({ ...input, state: reporting.state });
    }
    if (reporting.state.retryAt !== undefined && Date.now() >= reporting.state.retryAt && Date.now() < nextAt) {
      // Failed days go out again well before the next cadence point (MI22: within 48 h).
      delete reporting.state.retryAt;
      await releaseEndedSubmissions();
      const due = reporting.dueDays(Date.now());
      if (due.length) await startSubmissions(due);
      continue;
    }
    if (Date.now() >= nextAt) {
      await releaseEndedSubmissions();
      const due = reporting.dueDays(Date.now());
      if (due.length) await startSubmissions(due);
      reporting.prune(Date.now());
    }
  }
}
