/**
 * The reporting concern's public API: what starts a practice's reporting workflow (and carries its
 * state across continue-as-new), the rows transfers hand it, the submit update, its view, what its
 * submissions report back, and the activities of the concern. Imported alike by workflows, activities
 * and clients; the wire names ('rows', 'submissionFinished', 'submissionRejected', 'submit',
 * 'reporting') are fixed by saved histories and running workflows.
 */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { Side } from '../mi/events';
import type { OutcomeClass, TransferSummary } from '../mi/outcomes';
import type { DayRow } from '../mi/record-set';
import type { SubmissionOptions, SubmissionResult } from './submission';

// ---- the workflow -------------------------------------------------------------------------------

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
  /**
   * Signals after which a run continues as new at once, quiet or not (default: SIGNALS_PER_RUN once
   * quiet, SIGNALS_PER_RUN_BEFORE_SHORT_RUNS at the latest). Set only to prove continue-as-new in tests
   * (test/month.test.ts, GP2GP_REPORTING_SIGNALS_PER_RUN); carried with the input.
   */
  signalsPerRun?: number;
  /**
   * How long a run past SIGNALS_PER_RUN waits without a signal before it continues as new (default
   * QUIET_BEFORE_NEW_RUN_MS); carried with the input. 0 in the bench that measures runs.
   */
  quietBeforeNewRunMs?: number;
}

/**
 * Signals after which a reporting run continues as new, once the practice is quiet. Short, because a
 * reporting workflow evicted from a worker's cache — at national scale nearly every one between two
 * hand-overs — replays its whole run to take the next signal, about a millisecond of worker CPU per
 * signal already in the run (`npm run bench -- reporting-replay`).
 */
export const SIGNALS_PER_RUN = 50;
/**
 * Only once quiet: a run continued as new while signals keep coming has its completion refused for
 * each signal that arrives meanwhile and is replayed to try again (a busy practice's backfill measured
 * 4× the p99 acceptance latency so). A quiet workflow is also the one a worker evicts.
 */
export const QUIET_BEFORE_NEW_RUN_MS = 60_000;
/**
 * The limit, quiet or not, of every run: runs that began before short runs (patch
 * reporting-short-runs) are held to it alone, so they replay as they ran.
 */
export const SIGNALS_PER_RUN_BEFORE_SHORT_RUNS = 2_000;

/** The workflow type the worker registers (workflows/index.ts): fixed by running workflows. */
export const reportingWorkflowType = 'reportingWorkflow';
/** The reporting workflow's signature, so starts are type-checked without importing the workflow. */
export type ReportingWorkflow = (input: ReportingInput) => Promise<void>;

export interface ReportingInput {
  practiceOds: string;
  options?: ReportingOptions;
  /** First day to report (default: the day the workflow started). */
  firstDay?: string;
  /** Carried across continue-as-new. */
  state?: ReportingState;
}

/** The rows held for one day, and which version of them was last delivered. */
export interface DayState {
  /** By `${side}:${key}`. */
  rows: Record<string, DayRow>;
  version: number;
  deliveredVersion?: number;
}

/** All of a practice's reporting state: owned by PracticeReporting, carried across continue-as-new. */
export interface ReportingState {
  days: Record<string, DayState>;
  /** The first day this practice is reported for: earlier days without rows were never ours. */
  firstDay: string;
  /** Every day before this one has an entry in `days` or was delivered and aged out. */
  nextUncoveredDay: string;
  /** The latest day that left `days` after delivery: it can no longer be rebuilt completely. */
  prunedThrough?: string;
  lastDeliveredDay?: string;
  /** Submissions started and not yet finished, with the version of each of their days. */
  inFlight: Record<string, { days: Record<string, number> }>;
  /** Recently delivered submissions, so a late NACK can make their days due again. */
  recentDelivered: Record<string, { days: string[] }>;
  recentFailures: SubmissionFailure[];
  recentWarnings: string[];
  consecutiveFailures: number;
  retryAt?: number;
  /** Makes submission ids unique even if this workflow is ever started afresh. */
  runTag: string;
  sequence: number;
  // Issue 15 (the console): optional, so state carried from earlier runs still starts a run.
  /** Transfers not yet counted for good, by `${side}:${key}`: the latest summary of each. */
  transfers?: Record<string, TransferSummary>;
  /** Transfers counted for good (judged), per request day and role, by `${day}:${side}`. */
  outcomeDays?: Record<string, OutcomeTally>;
  /** What the console's calendar needs of each closed day, kept longer than `days`. */
  calendar?: Record<string, CalendarRecord>;
  /** Transfers (`${side}:${key}`) whose post to the GP Registrations MI API failed and waits for a replay. */
  apiPostsFailed?: string[];
}

/** Counts of one request day and role. */
export interface OutcomeTally {
  counts: Partial<Record<OutcomeClass, number>>;
  /** Per INTEGRATION_TIME_BUCKET_HOURS bucket. */
  integrationTimes: number[];
}

/** One day's deliveries, for the calendar. */
export interface CalendarRecord {
  /** Deliveries that carried a version of the day newer than the one delivered before (1: delivered, 2+: corrected). */
  deliveries: number;
  /** The version of the day last delivered. */
  lastVersion?: number;
  /** The latest submission that carried the day. */
  submissionId?: string;
  /** That submission failed (or was refused after delivery) and the day is not delivered since. */
  failed?: boolean;
}

export interface SubmissionFailure {
  submissionId: string;
  days: string[];
  reason: string;
}

// ---- messages -----------------------------------------------------------------------------------

/**
 * Changed rows from a transfer: only a row with a higher seq replaces the one held. The second
 * argument (issue 15) carries the transfers' outcome summaries; histories from before it have one.
 */
export const rowsSignal = defineSignal<[DayRow[], TransferSummary[]?]>('rows');

/** A submission this workflow started has ended (sent by the submission workflow, or by an operator). */
export const submissionFinishedSignal = defineSignal<[SubmissionResult]>('submissionFinished');

export interface SubmissionRejection {
  submissionId: string;
  reason: string;
}
/** The Authority refused (NACK) or MESH reported on a submission that had already ended delivered. */
export const submissionRejectedSignal = defineSignal<[SubmissionRejection]>('submissionRejected');

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
  recentFailures: SubmissionFailure[];
  /** Rows that could not be taken (their day has left the correction window), most recent first. */
  recentWarnings: string[];
  nextSubmissionAt: string;
  retryAt?: string;
}
export const reportingQuery = defineQuery<ReportingView>('reporting');

/** What the console shows of one closed day of a practice (issue 15). */
export type CalendarState = 'delivered' | 'corrected' | 'failed' | 'pending' | 'in-flight' | 'not-reported';
export interface CalendarDay {
  day: string;
  state: CalendarState;
  /** The latest submission that carried the day, for a link to it in the Web UI. */
  submissionId?: string;
}

/** Counts of the transfers that started (were requested) on one day, for one role. */
export interface OutcomeDay {
  day: string;
  side: Side;
  counts: Partial<Record<OutcomeClass, number>>;
  /** Request-to-integration times, counted per INTEGRATION_TIME_BUCKET_HOURS bucket. */
  integrationTimes: number[];
}

export interface ConsoleRequest {
  /** Closed days in the calendar, most recent last (default 14, at most OUTCOME_RETENTION_DAYS). */
  calendarDays?: number;
  /**
   * The caller's time (ISO 8601). In a query, the workflow's clock is the time of its last task, which
   * for an idle practice can be days old (a weekly cadence wakes once a week): judged classes, overdue
   * counts and "yesterday" would lag. A query changes nothing, so the caller's clock is safe to use.
   */
  now?: string;
}

/** Outcome counts and calendar days are kept this long: 8 full weeks and the current one. */
export const OUTCOME_RETENTION_DAYS = 63;

/** A practice's picture for the console and `gp2gp-mi outcomes`: kept by its reporting workflow. */
export interface PracticeConsoleView {
  practiceOds: string;
  /** When the view was taken (the workflow's time). */
  asOf: string;
  calendar: CalendarDay[];
  /** Per request day and role, within the retained window (at least 8 weeks), oldest first. */
  outcomes: OutcomeDay[];
  /** Transfers past a protocol deadline and not yet settled. */
  overdueTransfers: number;
  /**
   * Transfers with a failed post to the GP Registrations MI API waiting for a replay (records that are
   * transfers: a registration whose post failed before any request is listed by `gp2gp-mi api failed`).
   */
  apiPostsFailed: number;
  /** Submissions that failed and whose days are not delivered since. */
  failingSubmissions: number;
}
export const consoleQuery = defineQuery<PracticeConsoleView, [ConsoleRequest?]>('console');

/**
 * The counter the reporting workflow adds to as it counts transfers for good (labels side, outcome):
 * named here, with the concern, because workflows emit it themselves (observability/metric-names.ts
 * lists it with the others).
 */
export const TRANSFERS_JUDGED_METRIC = 'gp2gp_transfers_judged';

// ---- activities ---------------------------------------------------------------------------------

export interface ForwardRowsInput {
  practiceOds: string;
  rows: DayRow[];
  /** The transfers' outcome summaries (issue 15); rows and summaries travel in one signal. */
  summaries?: TransferSummary[];
  /**
   * Rows held for the day's hand-over point, going at the practice's slot: its other transfers are
   * handing over in the same moment, so the worker waits a moment for them to share the signal.
   */
  atHandOverPoint?: boolean;
}

export interface FindEndedSubmissionsInput {
  submissionIds: string[];
}

/** A submission workflow that is no longer running; status e.g. 'terminated', 'timed_out', 'not found'. */
export interface EndedSubmission {
  submissionId: string;
  status: string;
}

export interface ReportingActivities {
  /** Hands changed rows to the practice's reporting workflow (`rowsSignal`), starting it if needed. */
  forwardRows(input: ForwardRowsInput): Promise<void>;
  /** Which of these submission workflows ended without a word (terminated, timed out, cancelled)? */
  findEndedSubmissions(input: FindEndedSubmissionsInput): Promise<EndedSubmission[]>;
}
