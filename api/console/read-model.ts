/**
 * The console's read model, in the HTTP API's process. Counts come from each practice's reporting
 * workflow (its `console` query: state the workflow keeps durably), never from visibility, which is
 * rate-limited and eventually consistent; visibility serves only the search box.
 *
 * Two ways in, so that 6,300 practices never become a request storm:
 *   - a page of the calendar (≤ 50 practices) asks for just those views, a few at a time, through a
 *     short-lived cache (`viewTtlMs`): reloading a page or many operators looking at once cost one
 *     query per practice per TTL;
 *   - the service-wide figures come from a background sweep that asks every practice in turn at a
 *     bounded rate (`sweepPerSecond`) and keeps the latest view of each (without its calendar); the
 *     figures are computed from those views, so they are as fresh as one sweep round.
 * Stopping it (the API's close) ends the sweep and leaves no timer behind.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { ConsoleRequest, PracticeConsoleView } from '../../messages/reporting';
import { OUTCOME_CLASSES, type OutcomeClass } from '../../mi/outcomes';
import { outcomesReport } from '../../client/outcomes';
import { mapConcurrent } from '../../client/concurrency';

/** What the console needs from the pipeline: the practices, one practice's view, and the search. */
export interface ConsoleSource {
  /** ODS codes of the practices this service reports for (its practices file), in file order. */
  practices(): readonly string[];
  /** False for a practice that reports to the GP Registrations MI API only: it has no reporting workflow. */
  hasReporting(ods: string): boolean;
  /** True when some practice reports to the GP Registrations MI API (its failed posts are worth a tile). */
  reportsToApi(): boolean;
  /** One practice's console view (the reporting workflow's `console` query). */
  practiceConsole(ods: string, request: ConsoleRequest): Promise<PracticeConsoleView>;
  /** Transfer records by GP2GP conversation ID or registration ID (visibility: the search box only). */
  findTransfers(search: TransferSearch): Promise<FoundTransfer[]>;
}

export type TransferSearch = { kind: 'conversation'; id: string } | { kind: 'registration'; id: string };

export interface FoundTransfer {
  workflowId: string;
  side: string;
  practiceOds: string;
  conversationId?: string;
  registrationId?: string;
  stage?: string;
  outcome?: string;
  /** Temporal's execution status: RUNNING, COMPLETED, … */
  status: string;
}

export interface ReadModelOptions {
  /** How long a fetched practice view is served again before it is asked for anew. */
  viewTtlMs?: number;
  /** Practices asked at once (a calendar page, the sweep). */
  concurrency?: number;
  /** Practices the sweep asks per second, at most. */
  sweepPerSecond?: number;
  /** Shortest time between the starts of two sweep rounds. */
  sweepIntervalMs?: number;
  /**
   * The sweep asks only while the console is looked at: it pauses once the service-wide figures or a
   * calendar page have not been asked for this long, and resumes at the next ask.
   */
  sweepIdleAfterMs?: number;
  /** Closed days in the calendar. */
  calendarDays?: number;
  /** The clock (tests). */
  now?: () => Date;
}

/** One practice's row of the calendar: its view, or why there is none. */
export type PracticeRow =
  | { practiceOds: string; ok: true; view: PracticeConsoleView }
  | { practiceOds: string; ok: false; error: string };

interface CachedView {
  at: number;
  row: Promise<PracticeRow>;
}

export interface SweepState {
  /** Practices asked in the current (or last) round, and how many there are. */
  done: number;
  total: number;
  /** Start and end of the last complete round (undefined before the first has ended). */
  lastRoundStartedAt?: string;
  lastRoundEndedAt?: string;
  /** Practices whose view could not be read in their latest attempt. */
  failing: number;
  /** True while the sweep waits for someone to look at the console (see `sweepIdleAfterMs`). */
  paused?: boolean;
}

/** Weeks (Monday, UTC) → counts per class: the weekly plots. */
export interface WeekCounts {
  week: string;
  counts: Record<OutcomeClass, number>;
}

export type SideFilter = 'both' | 'RR' | 'SR';

export interface ServiceSummary {
  practices: number;
  /** Practices whose view the sweep holds (0 until its first round has reached any). */
  practicesSwept: number;
  sweep: SweepState;
  /** Transfers requested since the day of now − 7 days, as `gp2gp-mi outcomes --since 7d` counts them (outcomesReport). */
  lastWeek: { since: string; asOf: string; totals: Record<string, number> };
  failingSubmissions: number;
  overdueTransfers: number;
  /** Present only when some practice reports to the GP Registrations MI API. */
  apiPostsFailed?: number;
  weekly: Record<SideFilter, WeekCounts[]>;
  /** Counts per INTEGRATION_TIME_BUCKET_HOURS bucket, over the retained window. */
  integrationTimes: Record<SideFilter, number[]>;
}

const DAY_MS = 86_400_000;

/** The Monday (UTC) of a day's week, as YYYY-MM-DD. */
export function weekOf(day: string): string {
  const t = Date.parse(`${day}T00:00:00Z`);
  const weekday = (new Date(t).getUTCDay() + 6) % 7; // Monday 0 … Sunday 6
  return new Date(t - weekday * DAY_MS).toISOString().slice(0, 10);
}

const emptyCounts = (): Record<OutcomeClass, number> => Object.fromEntries(OUTCOME_CLASSES.map((c) => [c, 0])) as Record<OutcomeClass, number>;

/** Weekly counts per class and the integration-time distribution of some practices' views. */
export function plotsOf(views: readonly Pick<PracticeConsoleView, 'outcomes'>[]): Pick<ServiceSummary, 'weekly' | 'integrationTimes'> {
  const weeks: Record<SideFilter, Map<string, Record<OutcomeClass, number>>> = { both: new Map(), RR: new Map(), SR: new Map() };
  const times: Record<SideFilter, number[]> = { both: [], RR: [], SR: [] };
  for (const view of views) {
    for (const day of view.outcomes) {
      const week = weekOf(day.day);
      for (const filter of ['both', day.side] as const) {
        let counts = weeks[filter].get(week);
        if (!counts) weeks[filter].set(week, (counts = emptyCounts()));
        for (const c of OUTCOME_CLASSES) counts[c] += day.counts[c] ?? 0;
        day.integrationTimes.forEach((n, i) => (times[filter][i] = (times[filter][i] ?? 0) + n));
      }
    }
  }
  const sorted = (m: Map<string, Record<OutcomeClass, number>>) => [...m].sort(([a], [b]) => a.localeCompare(b)).map(([week, counts]) => ({ week, counts }));
  return {
    weekly: { both: sorted(weeks.both), RR: sorted(weeks.RR), SR: sorted(weeks.SR) },
    integrationTimes: times,
  };
}

export class ConsoleReadModel {
  private readonly viewTtlMs: number;
  private readonly concurrency: number;
  private readonly sweepPerSecond: number;
  private readonly sweepIntervalMs: number;
  private readonly calendarDays: number;
  private readonly now: () => Date;
  private readonly cache = new Map<string, CachedView>();
  /** The sweep's latest view of each practice, without its calendar (the totals need only counts). */
  private readonly swept = new Map<string, PracticeConsoleView>();
  private readonly sweepFailures = new Set<string>();
  private sweepState: SweepState = { done: 0, total: 0, failing: 0 };
  /** Bumped whenever `swept` changes, so the summary is computed once per change. */
  private version = 0;
  private summaryMemo: { version: number; day: string; summary: ServiceSummary } | undefined;
  private abort: AbortController | undefined;
  private sweeping: Promise<void> | undefined;
  private readonly sweepIdleAfterMs: number;
  /** When the console last asked for figures (ms); the sweep runs while this is recent. */
  private lastAskedAt = Number.NEGATIVE_INFINITY;
  private readonly waiting = new Set<() => void>();

  constructor(
    readonly source: ConsoleSource,
    options: ReadModelOptions = {},
  ) {
    this.viewTtlMs = options.viewTtlMs ?? 30_000;
    this.concurrency = Math.max(1, options.concurrency ?? 8);
    this.sweepPerSecond = Math.max(0.1, options.sweepPerSecond ?? 20);
    this.sweepIntervalMs = options.sweepIntervalMs ?? 60_000;
    this.sweepIdleAfterMs = options.sweepIdleAfterMs ?? 10 * 60_000;
    this.calendarDays = options.calendarDays ?? 14;
    this.now = options.now ?? (() => new Date());
  }

  /** One practice's row, from the cache while it is fresh. A failed read is cached as briefly as a view. */
  row(ods: string): Promise<PracticeRow> {
    const t = Date.now();
    const cached = this.cache.get(ods);
    if (cached && t - cached.at < this.viewTtlMs) return cached.row;
    if (!this.source.hasReporting(ods)) {
      return Promise.resolve({ practiceOds: ods, ok: false, error: 'reports to the GP Registrations MI API only: no reporting workflow, so no calendar or counts' });
    }
    const row = this.source.practiceConsole(ods, { calendarDays: this.calendarDays }).then(
      (view): PracticeRow => {
        this.keep(ods, view);
        return { practiceOds: ods, ok: true, view };
      },
      (err: unknown): PracticeRow => ({ practiceOds: ods, ok: false, error: describeError(err) }),
    );
    this.cache.set(ods, { at: t, row });
    // Expired entries go when they are replaced or when the cache outgrows the practices.
    if (this.cache.size > this.source.practices().length + 100) this.pruneCache(t);
    return row;
  }

  /** Rows of some practices (a calendar page), a few at a time. */
  rows(odsList: readonly string[]): Promise<PracticeRow[]> {
    return mapConcurrent(odsList, this.concurrency, (ods) => this.row(ods));
  }

  /**
   * The console is being looked at: the sweep runs (or resumes) until it has not been for
   * `sweepIdleAfterMs`. Without it a supplier's thousands of practices would be queried day and night
   * (20 queries a second on the workers, whoever watches).
   */
  asked(): void {
    this.lastAskedAt = Date.now();
    for (const wake of [...this.waiting]) wake();
  }

  /** A page of the calendar: practices whose ODS code starts with `prefix`, `pageSize` at a time. */
  async calendarPage(options: { page: number; pageSize: number; prefix?: string }): Promise<{ total: number; page: number; pages: number; pageSize: number; days: string[]; rows: PracticeRow[] }> {
    this.asked();
    const prefix = (options.prefix ?? '').toUpperCase();
    const matching = this.source.practices().filter((ods) => ods.startsWith(prefix));
    const pages = Math.max(1, Math.ceil(matching.length / options.pageSize));
    const page = Math.min(Math.max(1, options.page), pages);
    const rows = await this.rows(matching.slice((page - 1) * options.pageSize, page * options.pageSize));
    const days = new Set<string>();
    for (const r of rows) if (r.ok) for (const c of r.view.calendar) days.add(c.day);
    return { total: matching.length, page, pages, pageSize: options.pageSize, days: [...days].sort(), rows };
  }

  /** The service at a glance and its plots, from the sweep's views (as fresh as its last round). */
  summary(): ServiceSummary {
    this.asked();
    const now = this.now();
    const day = now.toISOString().slice(0, 10);
    // Within a day the window of "the last 7 days" does not move, so a memo per sweep change is exact.
    if (this.summaryMemo && this.summaryMemo.version === this.version && this.summaryMemo.day === day) {
      return { ...this.summaryMemo.summary, sweep: { ...this.sweepState } };
    }
    const views = [...this.swept.values()];
    // As `gp2gp-mi outcomes --since 7d` counts: the same function over the same views.
    const report = outcomesReport(views, { sinceDays: 7, now });
    let failingSubmissions = 0;
    let overdueTransfers = 0;
    let apiPostsFailed = 0;
    for (const v of views) {
      failingSubmissions += v.failingSubmissions;
      overdueTransfers += v.overdueTransfers;
      apiPostsFailed += v.apiPostsFailed;
    }
    const summary: ServiceSummary = {
      practices: this.source.practices().length,
      practicesSwept: views.length,
      sweep: { ...this.sweepState },
      lastWeek: { since: report.since, asOf: report.asOf, totals: { ...report.totals } },
      failingSubmissions,
      overdueTransfers,
      ...(this.source.reportsToApi() ? { apiPostsFailed } : {}),
      ...plotsOf(views),
    };
    this.summaryMemo = { version: this.version, day, summary };
    return summary;
  }

  /** Starts the background sweep (once); `stop` ends it. */
  start(): void {
    if (this.sweeping) return;
    this.abort = new AbortController();
    const signal = this.abort.signal;
    this.sweeping = this.sweepLoop(signal).catch((err: unknown) => {
      if (!signal.aborted) throw err;
    });
  }

  /** Ends the sweep and waits for what it is asking to finish: no timer is left behind. */
  async stop(): Promise<void> {
    this.abort?.abort();
    await this.sweeping;
    this.sweeping = undefined;
  }

  /** Resolves once the console has been asked for figures recently (at once if it has). */
  private async wanted(signal: AbortSignal): Promise<void> {
    while (!signal.aborted && Date.now() - this.lastAskedAt >= this.sweepIdleAfterMs) {
      if (this.sweepState.paused !== true) this.sweepState = { ...this.sweepState, paused: true };
      await new Promise<void>((resolve) => {
        const done = () => {
          signal.removeEventListener('abort', done);
          this.waiting.delete(done);
          resolve();
        };
        this.waiting.add(done);
        signal.addEventListener('abort', done, { once: true });
      });
    }
    if (this.sweepState.paused) this.sweepState = { ...this.sweepState, paused: false };
  }

  private async sweepLoop(signal: AbortSignal): Promise<void> {
    const spacingMs = 1000 / this.sweepPerSecond;
    while (!signal.aborted) {
      await this.wanted(signal);
      if (signal.aborted) return;
      const roundStart = Date.now();
      // A practice without a reporting workflow has nothing to count: not asked, not "failing".
      const practices = this.source.practices().filter((ods) => this.source.hasReporting(ods));
      this.sweepState = { ...this.sweepState, done: 0, total: practices.length };
      const startedAt = new Date(roundStart).toISOString();
      let next = 0;
      let done = 0;
      let slot = roundStart;
      // At most `concurrency` in flight, and a new one only every `spacingMs`: a steady, bounded load.
      // A round pauses where it is when nobody is looking any more, and goes on when someone is.
      const lane = async () => {
        for (let i = next++; i < practices.length && !signal.aborted; i = next++) {
          await this.wanted(signal);
          slot = Math.max(slot + spacingMs, Date.now());
          const wait = slot - Date.now();
          if (wait > 0) await sleep(wait, undefined, { signal }).catch(() => undefined);
          if (signal.aborted) return;
          await this.row(practices[i]!).then((row) => {
            if (row.ok) this.sweepFailures.delete(row.practiceOds);
            else this.sweepFailures.add(row.practiceOds);
          });
          this.sweepState = { ...this.sweepState, done: ++done, failing: this.sweepFailures.size };
        }
      };
      await Promise.all(Array.from({ length: Math.min(this.concurrency, Math.max(1, practices.length)) }, lane));
      if (signal.aborted) return;
      // Practices no longer configured drop out of the totals.
      const known = new Set(practices);
      for (const ods of this.swept.keys()) {
        if (!known.has(ods)) {
          this.swept.delete(ods);
          this.version++;
        }
      }
      this.sweepState = { ...this.sweepState, lastRoundStartedAt: startedAt, lastRoundEndedAt: new Date().toISOString() };
      const rest = roundStart + this.sweepIntervalMs - Date.now();
      if (rest > 0) await sleep(rest, undefined, { signal });
    }
  }

  /** Keeps a fresh view for the totals; whoever fetched it (a page or the sweep), the newest wins. */
  private keep(ods: string, view: PracticeConsoleView): void {
    const held = this.swept.get(ods);
    if (held && held.asOf > view.asOf) return;
    this.swept.set(ods, { ...view, calendar: [] });
    this.version++;
  }

  private pruneCache(t: number): void {
    for (const [ods, entry] of this.cache) if (t - entry.at >= this.viewTtlMs) this.cache.delete(ods);
  }
}

/** A reason fit for an operator's screen: the error's message, without stack or payloads. */
function describeError(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  if (/not found/i.test(message)) return 'no reporting workflow for this practice (is the worker running with it?)';
  return message.split('\n')[0]!.slice(0, 200);
}
