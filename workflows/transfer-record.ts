/**
 * The state of one transfer workflow run and every decision it takes: which events it takes and how
 * it answers them, which rows still have to reach the reporting workflow, what it shows (query,
 * search attributes, details), when it goes quiet and completes, and what it carries across
 * continue-as-new. The rules of a transfer come from the domain core (mi/transfer.ts); Temporal is
 * left to workflows/transfer.ts, so this class is tested without a server (test/workflows/).
 */
import { utcDayOf, type Side } from '../mi/events';
import type { DayRow } from '../mi/record-set';
import { recordDays } from '../mi/records';
import {
  deliveryOf,
  eventRefusal,
  isFinalOutcome,
  nextTransferDeadline,
  rowsByDay,
  rowsFrom,
  transferOutcome,
  transferProgress,
  transferWarnings,
  type TransferOutcome,
  type TransferProgress,
  type TransferStage,
} from '../mi/transfer';
import { transferSummary, type TransferSummary } from '../mi/outcomes';
import { reportsToMesh } from '../mi/outputs';
import { apiEventsOf, type ApiEvent } from '../mi/registrations-api-mapping';
import { handOverPoint, practiceSlotOffset } from '../mi/hand-over';
import type { ForwardRowsInput } from '../messages/reporting';
import type {
  ApiDeliveryState,
  ApiDeliveryStatus,
  ApiDeliveryView,
  ApiPostFailure,
  PreviousRun,
  RecordEventResult,
  ReplayApiPostsResult,
  StoredEvent,
  TransferInput,
  TransferResult,
  TransferView,
  TransferWarning,
} from '../messages/transfer';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const DEFAULT_FINAL_QUIET_MS = 14 * DAY;
const DEFAULT_IDLE_MS = 60 * DAY;
/** Event-history guard well inside Temporal's suggested 4k events. */
const MAX_EVENTS_PER_RUN = 2_000;
/** A forward this soon after its practice's slot is the slot's hand-over (the worker waits for the others). */
const SLOT_WINDOW_MS = 60_000;
/** A run whose only update was refused holds nothing: it ends soon instead of idling for weeks. */
const EMPTY_RUN_MS = 60_000;

/** What a recorded event answers: the update's result, or the conflict it must fail with. */
export type Recorded = RecordEventResult | { outcome: 'conflict'; message: string };

/** The record's search attribute values (workflows/search-attributes.ts names them). */
export interface TransferAttributes {
  practiceOds: string;
  side: Side;
  stage: TransferStage;
  outcome: TransferOutcome;
  days: string[];
  registrationId?: string;
  conversationId?: string;
  /** GP2GP_ApiDelivery: only for a record that reports to the API. */
  apiDelivery?: ApiDeliveryStatus;
}

/** What changed in what the record shows since it was last asked; each part only when it changed. */
export interface TransferShown {
  details?: string;
  attributes?: TransferAttributes;
}

export interface RunStart {
  /** Epoch ms of the run's start: until a first event, the quiet period counts from here. */
  now: number;
  /** The run was continued from an earlier one (its events, if any, came in the input). */
  continued?: boolean;
  /**
   * The record posts its API events (outputs api or both, and the run is of a version that does:
   * the workflow decides, behind its patch, so earlier histories replay unchanged).
   */
  api?: boolean;
  /**
   * A change of the record's outcome summary alone (a failed API post, or its replay) is forwarded
   * too, not only with the next event's rows: on runs of a version that does (the workflow decides,
   * behind its patch, so earlier histories replay unchanged).
   */
  summaryForwards?: boolean;
}

/** One transfer record (RR or SR) and the state of the run that holds it. */
export class TransferRecord {
  readonly side: Side;
  readonly practiceOds: string;
  readonly key: string;
  readonly events: StoredEvent[] = [];
  private readonly byId = new Map<string, StoredEvent>();
  private progressOfEvents: TransferProgress | undefined;
  /** The first day whose rows still have to be forwarded; undefined when all have been. */
  private unforwardedFrom: string | undefined;
  private forwardInFlight = false;
  /**
   * False while a fresh run (not continued) may be a reopened record whose earlier events are still
   * to be restored: rows forwarded before would lose them, and answers would misjudge duplicates.
   */
  private restoredFlag: boolean;
  private lastEventArrival: number;
  private eventsThisRun = 0;
  private shownDetails = '';
  private shownAttributes = '';
  /** Rows go to the reporting workflow (outputs mesh or both; runs before issue 12: always). */
  readonly reportsToMesh: boolean;
  /** API events are posted (outputs api or both, on a run of a version that does). */
  readonly reportsToApi: boolean;
  private readonly posted = new Set<string>();
  private postedOrder: string[] = [];
  private apiFailure: ApiPostFailure | undefined;
  private apiInFlightEvent: ApiEvent | undefined;
  private apiEventsOfEvents: ApiEvent[] | undefined;
  /** The outcome summary of the events (null: not a transfer yet), until the next event. */
  private summaryOfEvents: TransferSummary | null | undefined;
  /** The summary reporting last got (JSON; '' for none), so an unchanged one is not forwarded alone. */
  private forwardedSummary = '';
  /** Whether the summary reporting last got noted a failed API post: a change of that is not held. */
  private forwardedApiFailure = false;
  /** The run is ending (quiet): rows held for their day's hand-over point go now. Until the next event. */
  private holdReleased = false;
  private readonly summaryForwards: boolean;

  constructor(
    private readonly input: TransferInput,
    start: RunStart = { now: 0, continued: false },
  ) {
    this.side = input.side;
    this.practiceOds = input.practiceOds;
    this.key = input.key;
    for (const e of input.events ?? []) this.hold(e);
    this.reportsToMesh = reportsToMesh(input.options?.outputs);
    this.reportsToApi = start.api === true;
    if (this.reportsToApi && input.apiDelivery) this.restoreApiDelivery(input.apiDelivery);
    this.unforwardedFrom = input.unforwardedFrom;
    // Nothing to restore when the client saw no earlier run (reopened false) or the run continues one.
    this.restoredFlag = input.events !== undefined || start.continued === true || input.reopened === false;
    this.lastEventArrival = start.now;
    this.summaryForwards = start.summaryForwards === true && this.reportsToMesh;
    // A continued run's events were forwarded by the run before, or are held (input.unforwardedFrom)
    // and go with their summary at the hand-over point.
    if (input.events) this.noteForwardedSummary();
  }

  // ---- events -----------------------------------------------------------------------------------

  /** The validator's answer: why this update cannot be an event of this record, or undefined. */
  refusal(input: unknown, now: number): string | undefined {
    return eventRefusal(this, input, { now, maxEventAgeDays: this.input.options?.maxEventAgeDays }, (id) => this.byId.get(id));
  }

  /** An update arrived (counted even before it is answered: it is in this run's history). */
  arrived(now: number): void {
    this.lastEventArrival = now;
    this.eventsThisRun++;
    this.holdReleased = false;
  }

  /**
   * Whether an update waits (a workflow tick at least) before it is recorded: while events may still be
   * restored, and always on runs started by earlier versions (no `reopened` in the input), whose
   * histories were made so.
   */
  get waitsBeforeRecording(): boolean {
    return !this.restoredFlag || this.input.reopened === undefined;
  }

  /** True once the earlier events of a reopened record are back: only then can an event be judged. */
  get restored(): boolean {
    return this.restoredFlag;
  }

  /** The earlier run's events: its rows were forwarded then, so they are not forwarded again. */
  restore(events: readonly StoredEvent[]): void {
    for (const e of events) this.hold(e);
    this.restoredFlag = true;
    // Forwarded by the run that took them, summary included.
    this.noteForwardedSummary();
  }

  /** restore() for a record that reports to the API: the earlier run's events and what it posted. */
  restoreRun(previous: PreviousRun): void {
    if (previous.apiDelivery) this.restoreApiDelivery(previous.apiDelivery);
    this.restore(previous.events);
  }

  /** Records an event that passed the validator: new, a duplicate, or a conflict with the one held. */
  record(event: StoredEvent): Recorded {
    const delivery = deliveryOf(this.byId.get(event.eventId), event);
    if (delivery.is === 'conflict') return { outcome: 'conflict', message: delivery.message };
    if (delivery.is === 'duplicate') return { outcome: 'duplicate', eventId: event.eventId };
    this.hold(event);
    const day = utcDayOf(event.occurredAt);
    if (this.reportsToMesh && (this.unforwardedFrom === undefined || day < this.unforwardedFrom)) this.unforwardedFrom = day;
    return { outcome: 'accepted', eventId: event.eventId };
  }

  private hold(event: StoredEvent): void {
    if (this.byId.has(event.eventId)) return;
    this.byId.set(event.eventId, event);
    this.events.push(event);
    this.progressOfEvents = undefined;
    this.apiEventsOfEvents = undefined;
    this.summaryOfEvents = undefined;
  }

  // ---- forwarding rows --------------------------------------------------------------------------

  /** Rows or a summary reporting has not got yet, whether due now or held for the hand-over point. */
  get hasUnforwarded(): boolean {
    return this.unforwardedFrom !== undefined || this.summaryChanged();
  }

  /**
   * While the rows waiting are all of a day still before its hand-over point (TransferOptions
   * .handOverAtMs): that point (epoch ms); else undefined. A failed API post, or its clearing, is not
   * held: operators see it on the console at once. Nothing is held once the run is ending.
   */
  heldUntil(now: number): number | undefined {
    const at = this.input.options?.handOverAtMs;
    const from = this.unforwardedFrom;
    if (at === undefined || from === undefined || this.holdReleased || this.apiFailureUnforwarded()) return undefined;
    const point = this.slotOf(from, at);
    return now < point ? point : undefined;
  }

  /** The hand-over instant of `day`'s rows: the point plus this practice's slot (mi/hand-over.ts). */
  private slotOf(day: string, atMs: number): number {
    return handOverPoint(day, atMs, practiceSlotOffset(this.practiceOds, this.input.options?.handOverSpreadMs ?? 0));
  }

  /** A failed API post, or its clearing, that reporting has not been told of: never held. */
  private apiFailureUnforwarded(): boolean {
    return this.summaryForwards && (this.apiFailure !== undefined) !== this.forwardedApiFailure;
  }

  /**
   * The practice's slot has just come for rows of today held for it: the day's hand-over, which the
   * practice's other transfers are making in the same moment. Not for rows that go at once (a late
   * event, a failed API post, a run ending) nor long after the slot.
   */
  private atHandOverPoint(now: number): boolean {
    const at = this.input.options?.handOverAtMs;
    const from = this.unforwardedFrom;
    if (at === undefined || from === undefined || this.holdReleased || this.apiFailureUnforwarded()) return false;
    if (from !== utcDayOf(new Date(now).toISOString())) return false;
    const slot = this.slotOf(from, at);
    return now >= slot && now - slot < SLOT_WINDOW_MS;
  }

  /** Something to hand over now: rows and summary not held for their day's hand-over point. */
  forwardDue(now: number): boolean {
    return this.hasUnforwarded && this.heldUntil(now) === undefined;
  }

  /** The run is ending: what is held goes now, not at the hand-over point (until another event comes). */
  releaseHeld(): void {
    this.holdReleased = true;
  }

  /**
   * What to forward now, or undefined if nothing is due: the rows of every day an accepted event
   * changed, and the record's outcome summary (once it is a transfer) with every forward, so reporting
   * always holds the latest; a forward of the summary alone only when it changed without an event.
   */
  startForwarding(now: number): ForwardRowsInput | undefined {
    if (!this.forwardDue(now)) return undefined;
    const atPoint = this.atHandOverPoint(now);
    const from = this.unforwardedFrom;
    this.unforwardedFrom = undefined;
    this.forwardInFlight = true;
    const summary = this.summary();
    this.noteForwardedSummary(summary);
    return {
      practiceOds: this.practiceOds,
      rows: from === undefined ? [] : this.rowsFrom(from),
      ...(summary ? { summaries: [summary] } : {}),
      ...(atPoint ? { atHandOverPoint: true } : {}),
    };
  }

  private noteForwardedSummary(summary = this.summary()): void {
    this.forwardedSummary = summaryKey(summary);
    this.forwardedApiFailure = summary?.apiPostFailed === true;
  }

  /**
   * The record's outcome summary for reporting's counts (mi/outcomes.ts), or undefined while it is no
   * transfer. A failed API post waiting for a replay is part of it.
   */
  summary(): TransferSummary | undefined {
    if (this.summaryOfEvents === undefined) this.summaryOfEvents = transferSummary(this.side, this.key, this.events) ?? null;
    const base = this.summaryOfEvents;
    if (base === null) return undefined;
    return this.apiFailure ? { ...base, apiPostFailed: true } : base;
  }

  /** The summary changed since reporting last got it, with no event to carry it (see RunStart). */
  private summaryChanged(): boolean {
    return this.summaryForwards && this.restoredFlag && summaryKey(this.summary()) !== this.forwardedSummary;
  }

  forwarded(): void {
    this.forwardInFlight = false;
  }

  rowsFrom(fromDay: string): DayRow[] {
    return rowsFrom(this.side, this.key, this.events, fromDay);
  }

  // ---- posting API events (GP Registrations MI API) ----------------------------------------------

  private restoreApiDelivery(state: ApiDeliveryState): void {
    for (const id of state.posted) this.markPosted(id);
    if (state.failed) this.apiFailure = state.failed;
  }

  private markPosted(id: string): void {
    if (this.posted.has(id)) return;
    this.posted.add(id);
    this.postedOrder.push(id);
  }

  /** The API events the record's events imply, in posting order (mi/registrations-api-mapping.ts). */
  apiEvents(): ApiEvent[] {
    if (!this.reportsToApi) return [];
    return (this.apiEventsOfEvents ??= apiEventsOf(this.side, this.events, {
      reportingSystemSupplier: this.input.options?.reportingSystemSupplier ?? '',
    }));
  }

  private unposted(): ApiEvent[] {
    return this.apiEvents().filter((e) => !this.posted.has(e.id));
  }

  /**
   * The next API event to post, if one may be posted now: once the earlier events are restored, one at
   * a time, in order, and none while a failed post waits for a replay (order is kept per transfer).
   */
  nextApiPost(): ApiEvent | undefined {
    if (!this.reportsToApi || !this.restoredFlag || this.apiFailure || this.apiInFlightEvent) return undefined;
    return this.unposted()[0];
  }

  /** Takes the next API event to post (see nextApiPost) and marks it in flight. */
  startApiPost(): ApiEvent | undefined {
    const next = this.nextApiPost();
    this.apiInFlightEvent = next;
    return next;
  }

  apiPosted(id: string): void {
    this.markPosted(id);
    if (this.apiInFlightEvent?.id === id) this.apiInFlightEvent = undefined;
  }

  /** The API refused the post (or it could not be made): kept with the reason; later posts wait. */
  apiPostFailed(event: Pick<ApiEvent, 'id' | 'endpoint'>, reason: string, at: string): void {
    this.apiFailure = { id: event.id, endpoint: event.endpoint, reason, at };
    if (this.apiInFlightEvent?.id === event.id) this.apiInFlightEvent = undefined;
  }

  get apiInFlight(): boolean {
    return this.apiInFlightEvent !== undefined;
  }

  /** Posts still owed: in flight, failed, or not yet made. The run does not complete meanwhile. */
  get apiOutstanding(): boolean {
    if (!this.reportsToApi) return false;
    return this.apiInFlightEvent !== undefined || this.apiFailure !== undefined || this.unposted().length > 0;
  }

  /** Why a replay cannot be asked of this record, or undefined. */
  replayRefusal(): string | undefined {
    if (!this.reportsToApi) return `this ${this.side} record of ${this.practiceOds} does not report to the GP Registrations MI API (outputs ${this.input.options?.outputs ?? 'mesh'})`;
    return undefined;
  }

  /** Clears a failed post so it, and the posts waiting behind it, are tried again. */
  replayApiPosts(): ReplayApiPostsResult {
    const replayed = this.apiFailure;
    this.apiFailure = undefined;
    return { ...(replayed ? { replayed } : {}), pending: this.unposted().length };
  }

  apiStatus(): ApiDeliveryStatus | undefined {
    if (!this.reportsToApi) return undefined;
    if (this.apiFailure) return 'failed';
    return this.apiOutstanding ? 'pending' : 'ok';
  }

  apiDeliveryState(): ApiDeliveryState {
    return { posted: [...this.postedOrder], ...(this.apiFailure ? { failed: this.apiFailure } : {}) };
  }

  apiDeliveryView(): ApiDeliveryView | undefined {
    const status = this.apiStatus();
    if (status === undefined) return undefined;
    const inFlight = this.apiInFlightEvent;
    return {
      status,
      posted: this.posted.size,
      pending: this.unposted().length,
      ...(inFlight ? { inFlight: { id: inFlight.id, endpoint: inFlight.endpoint } } : {}),
      ...(this.apiFailure ? { failed: this.apiFailure } : {}),
    };
  }

  // ---- what the record says ---------------------------------------------------------------------

  private progress(): TransferProgress {
    return (this.progressOfEvents ??= transferProgress(this.side, this.events));
  }

  stage(): TransferStage {
    return this.progress().stage;
  }

  outcome(now: number): TransferOutcome {
    return transferOutcome(this.progress(), now);
  }

  isFinal(now: number): boolean {
    return isFinalOutcome(this.outcome(now));
  }

  /** The next protocol deadline at which the outcome may change by itself, if any. */
  nextDeadline(now: number): number | undefined {
    return nextTransferDeadline(this.progress(), now);
  }

  days(): string[] {
    return recordDays(this.events);
  }

  /** Derived, never stored: nothing new reaches history. */
  warnings(): TransferWarning[] {
    return transferWarnings(this.events);
  }

  view(now: number): TransferView {
    const held = this.heldUntil(now);
    return {
      side: this.side,
      practiceOds: this.practiceOds,
      key: this.key,
      stage: this.stage(),
      outcome: this.outcome(now),
      events: this.events,
      rows: rowsByDay(this.side, this.events),
      forwarding: this.forwardInFlight || this.unforwardedFrom !== undefined || !this.restoredFlag,
      ...(held !== undefined ? { rowsHeldUntil: new Date(held).toISOString() } : {}),
      warnings: this.warnings(),
      ...(this.input.options?.outputs ? { outputs: this.input.options.outputs } : {}),
      ...(this.reportsToApi ? { apiDelivery: this.apiDeliveryView() } : {}),
    };
  }

  /**
   * What to show since the last call: the details (for people) whenever they change, the search
   * attributes only on a real change — the forwarding state is in the details only, so forwarding
   * adds nothing to history.
   */
  shown(now: number): TransferShown {
    const out: TransferShown = {};
    const conversationId = this.side === 'SR' ? this.key : this.events.find((e) => 'conversationId' in e && e.conversationId)?.conversationId;
    const warnings = this.warnings();
    const details =
      `${this.side} record of ${this.practiceOds}: ${this.events.length} events, stage ${this.stage()}, ` +
      `outcome ${this.outcome(now)}` +
      this.forwardingDetails(now) +
      (warnings.length ? `; warning: ${warnings.map((w) => w.message).join('; ')}` : '') +
      this.apiDetails();
    if (details !== this.shownDetails) {
      this.shownDetails = details;
      out.details = details;
    }
    const apiDelivery = this.apiStatus();
    const attributes = JSON.stringify([this.stage(), this.outcome(now), this.days(), conversationId ?? null, ...(apiDelivery ? [apiDelivery] : [])]);
    if (attributes !== this.shownAttributes) {
      this.shownAttributes = attributes;
      out.attributes = {
        practiceOds: this.practiceOds,
        side: this.side,
        stage: this.stage(),
        outcome: this.outcome(now),
        days: this.days(),
        ...(this.side === 'RR' ? { registrationId: this.key } : {}),
        ...(conversationId ? { conversationId } : {}),
        ...(apiDelivery ? { apiDelivery } : {}),
      };
    }
    return out;
  }

  private forwardingDetails(now: number): string {
    if (!this.unforwardedFrom) return '; all rows forwarded';
    const held = this.heldUntil(now);
    if (held === undefined) return `; forwarding rows from ${this.unforwardedFrom}`;
    return `; rows of ${this.unforwardedFrom} held until ${new Date(held).toISOString().slice(11, 16)} UTC (hand-over point)`;
  }

  // ---- the run's end ----------------------------------------------------------------------------

  /** The API part of the details: only for a record that reports to the API. */
  private apiDetails(): string {
    const v = this.apiDeliveryView();
    if (!v) return '';
    if (v.failed) return `; API post FAILED (${v.failed.endpoint}): ${v.failed.reason} — replay with gp2gp-mi api replay`;
    return `; API: ${v.posted} posted${v.pending ? `, ${v.pending} to post` : ''}`;
  }

  /** Time for a new run: this one has taken many updates, or Temporal suggests it. */
  shouldContinueAsNew(suggested: boolean): boolean {
    return this.eventsThisRun >= (this.input.options?.eventsPerRun ?? MAX_EVENTS_PER_RUN) || suggested;
  }

  /**
   * The next run's input: the events travel with it, and rows held for their day's hand-over point
   * (unforwardedFrom); only once every row due has been forwarded.
   */
  continueAsNewInput(now: number): TransferInput | undefined {
    if (this.forwardDue(now) || this.forwardInFlight || this.apiInFlightEvent) return undefined;
    return {
      ...this.input,
      events: this.events,
      unforwardedFrom: this.unforwardedFrom,
      ...(this.reportsToApi ? { apiDelivery: this.apiDeliveryState() } : {}),
    };
  }

  /**
   * When the run may complete: a quiet period after the last event — short for an empty run (its
   * only update was refused), long for a final record (a late event reopens it), longest otherwise.
   */
  quietUntil(now: number): number {
    const quietFor =
      this.events.length === 0
        ? EMPTY_RUN_MS
        : this.isFinal(now)
          ? (this.input.options?.finalQuietMs ?? DEFAULT_FINAL_QUIET_MS)
          : (this.input.options?.idleMs ?? DEFAULT_IDLE_MS);
    return this.lastEventArrival + quietFor;
  }

  /** The next instant the run must wake by itself: the end of its quiet period or a protocol deadline. */
  wakeAt(now: number): number {
    return Math.min(this.quietUntil(now), this.nextDeadline(now) ?? Infinity, this.heldUntil(now) ?? Infinity);
  }

  result(now: number): TransferResult {
    return { events: this.events, outcome: this.outcome(now), ...(this.reportsToApi ? { apiDelivery: this.apiDeliveryState() } : {}) };
  }
}

function summaryKey(summary: TransferSummary | undefined): string {
  return summary ? JSON.stringify(summary) : '';
}
