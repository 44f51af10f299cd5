/**
 * One GP2GP transfer as seen by one practice: the RR record of a registration (requester side) or the
 * SR record of an EHR request (sender side). Hook events arrive as Updates (update-with-start, so the
 * first event starts it); the validator refuses bad events before anything reaches history. Every
 * accepted event changes the rows of its day and of later days the record has events on; those rows
 * are forwarded to the practice's reporting workflow by an activity, in order, before this workflow
 * may finish, so no accepted event is lost between the two.
 */
import {
  ApplicationFailure,
  allHandlersFinished,
  condition,
  continueAsNew,
  defineQuery,
  defineUpdate,
  proxyLocalActivities,
  setCurrentDetails,
  setHandler,
  sleep,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import { eventWarnings, recordKeyOf, utcDayOf, validateEvent, type FieldProblem, type FieldWarning, type HookEvent, type Side } from '../mi/events';
import { buildRow, firstEventAt, recordDays, sameEventContent } from '../mi/records';
import { endOfDay } from '../mi/record-set';
import type * as activities from '../activities';
import {
  conversationIdKey,
  miDaysKey,
  outcomeKey,
  practiceOdsKey,
  registrationIdKey,
  sideKey,
  stageKey,
} from './search-attributes';
import type { ForwardedRow } from './reporting';

// ---- public API -------------------------------------------------------------------------------

export type StoredEvent = HookEvent & { eventId: string };

export interface RecordEventResult {
  outcome: 'accepted' | 'duplicate';
  eventId: string;
}

/** Records one hook event; refused by the validator with the contract's error when malformed. */
export const recordEventUpdate = defineUpdate<RecordEventResult, [StoredEvent]>('recordEvent');

export interface TransferView {
  side: Side;
  practiceOds: string;
  key: string;
  stage: string;
  outcome: TransferOutcome;
  events: StoredEvent[];
  /** Days on which the record has events, each with its row as of the end of that day. */
  rows: { day: string; fields: string[] }[];
  /** True while some accepted event's rows have not yet reached the reporting workflow. */
  forwarding: boolean;
  /** What was accepted but is worth a look (e.g. a NACK code 0083.08 does not list), by event. */
  warnings: TransferWarning[];
}
export type TransferWarning = FieldWarning & { eventId: string };
export const transferQuery = defineQuery<TransferView>('transfer');

export interface TransferInput {
  side: Side;
  practiceOds: string;
  key: string;
  /** Carried across continue-as-new. */
  events?: StoredEvent[];
  /** Carried across continue-as-new: the first day whose rows still have to be forwarded. */
  unforwardedFrom?: string | undefined;
  options?: TransferOptions;
}

export interface TransferOptions {
  /** A final record completes after this long without events (a later event reopens it). */
  finalQuietMs?: number;
  /** An unfinished record completes after this long without events, to keep histories bounded. */
  idleMs?: number;
  /**
   * Events of days older than this are refused: their record sets have left the reporting workflow
   * (the correction window), and a correction built without them would be incomplete.
   */
  maxEventAgeDays?: number;
}

/** The refusal for an event too old to be reported correctly, or undefined. */
export function eventAgeRefusal(occurredAt: string, now: number, maxEventAgeDays: number | undefined): FieldProblem | undefined {
  if (maxEventAgeDays === undefined) return undefined;
  const oldest = new Date(now - maxEventAgeDays * 86_400_000).toISOString().slice(0, 10);
  if (utcDayOf(occurredAt) >= oldest) return undefined;
  const allowed = `${oldest} or later (UTC); older days can no longer be corrected`;
  return {
    field: 'occurredAt',
    value: occurredAt,
    allowed,
    message: `occurredAt: ${occurredAt} is older than the ${maxEventAgeDays}-day correction window; allowed: ${allowed}`,
  };
}

export interface TransferResult {
  events: StoredEvent[];
  outcome: TransferOutcome;
}

export type TransferOutcome =
  | 'registered'
  | 'in-progress'
  | 'extract-overdue'
  | 'integration-overdue'
  | 'integrated'
  | 'integrated-late'
  | 'rejected'
  | 'failed'
  | 'sent'
  | 'closed';

// ---- the record ---------------------------------------------------------------------------------

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const DEFAULT_FINAL_QUIET_MS = 14 * DAY;
const DEFAULT_IDLE_MS = 60 * DAY;
/** 0068: integration is due within 8 days of the extract; the sender then starts the paper process. */
const INTEGRATION_WINDOW_MS = 8 * DAY;
/** 0068: the extract must be sent within 24 hours of the request. */
const EXTRACT_WINDOW_MS = DAY;
/** Event-history guard well inside Temporal's suggested 4k events. */
const MAX_EVENTS_PER_RUN = 2_000;
const EMPTY_RUN_MS = 60_000;

// A local activity: forwarding runs inside the workflow task that accepted the event, so each event
// costs one workflow task instead of two plus an activity task (measured: bench/ingest.ts).
const { forwardRows } = proxyLocalActivities<ReturnType<typeof activities.createActivities>>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1 second', maximumInterval: '1 minute' },
});
// Runs once per new run, usually finding nothing: a local activity keeps that cheap.
const { restorePreviousRecord } = proxyLocalActivities<ReturnType<typeof activities.createActivities>>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds' },
});

function at(iso: string): number {
  return Date.parse(iso);
}

/** Holds the events of one record and answers everything derived from them. */
export class TransferRecord {
  readonly events: StoredEvent[];
  private readonly byId = new Map<string, StoredEvent>();

  constructor(
    readonly side: Side,
    readonly practiceOds: string,
    readonly key: string,
    events: StoredEvent[],
  ) {
    this.events = [];
    for (const e of events) this.add(e);
  }

  /** Refusal text for an event that cannot belong here, or undefined. */
  refusal(input: unknown, maxEventAgeDays?: number): string | undefined {
    const result = validateEvent(input, { now: new Date() });
    if (!result.ok) return result.message;
    const event = result.event;
    const tooOld = eventAgeRefusal(event.occurredAt, Date.now(), maxEventAgeDays);
    if (tooOld) return tooOld.message;
    const { side, practiceOds, key } = recordKeyOf(event);
    if (side !== this.side || practiceOds !== this.practiceOds || key !== this.key) {
      return `event belongs to ${side} ${practiceOds}/${key}, not to this transfer (${this.side} ${this.practiceOds}/${this.key})`;
    }
    const eventId = (input as { eventId?: unknown }).eventId;
    if (typeof eventId !== 'string' || eventId === '') return 'eventId: missing; the client assigns one before sending';
    return this.conflict(input as StoredEvent);
  }

  /** Refusal text when the eventId was already used for different content. */
  conflict(event: StoredEvent): string | undefined {
    const earlier = this.byId.get(event.eventId);
    return earlier && !sameEventContent(earlier, event)
      ? `eventId: ${event.eventId} was already used for a different event; allowed: a new eventId for new content`
      : undefined;
  }

  /** Adds an event; returns false for a duplicate. */
  add(event: StoredEvent): boolean {
    if (this.byId.has(event.eventId)) return false;
    this.byId.set(event.eventId, event);
    this.events.push(event);
    return true;
  }

  days(): string[] {
    return recordDays(this.events);
  }

  rowOf(day: string): string[] {
    return buildRow(this.side, this.events, endOfDay(day));
  }

  forwardedRows(fromDay: string): ForwardedRow[] {
    return this.days()
      .filter((day) => day >= fromDay)
      .map((day) => ({
        day,
        side: this.side,
        key: this.key,
        firstEventAt: firstEventAt(this.events, endOfDay(day))!,
        fields: this.rowOf(day),
        seq: this.events.length,
      }));
  }

  /** The warnings of the accepted events (derived, never stored: nothing new reaches history). */
  warnings(): TransferWarning[] {
    return this.events.flatMap((e) => eventWarnings(e).map((w) => ({ eventId: e.eventId, ...w })));
  }

  private latest(type: HookEvent['type']): StoredEvent | undefined {
    let found: StoredEvent | undefined;
    for (const e of this.events) if (e.type === type && (!found || at(e.occurredAt) > at(found.occurredAt))) found = e;
    return found;
  }

  stage(): string {
    let latest: StoredEvent | undefined;
    for (const e of this.events) if (!latest || at(e.occurredAt) >= at(latest.occurredAt)) latest = e;
    return latest?.type ?? 'none';
  }

  outcome(now: number): TransferOutcome {
    if (this.side === 'RR') {
      const ack = this.latest('extract-acknowledged') as Extract<StoredEvent, { type: 'extract-acknowledged' }> | undefined;
      const extract = this.latest('ehr-received');
      if (ack) {
        if (String(ack.ackCode) !== '0') return 'rejected';
        return extract && at(ack.occurredAt) - at(extract.occurredAt) > INTEGRATION_WINDOW_MS ? 'integrated-late' : 'integrated';
      }
      if (this.events.some((e) => e.type === 'request-failure' && (e as { fatal?: boolean }).fatal)) return 'failed';
      if (extract) return now - at(extract.occurredAt) > INTEGRATION_WINDOW_MS ? 'integration-overdue' : 'in-progress';
      const requested = this.latest('ehr-requested');
      if (!requested) return 'registered';
      return now - at(requested.occurredAt) > EXTRACT_WINDOW_MS ? 'extract-overdue' : 'in-progress';
    }
    if (this.latest('conversation-closed')) return 'closed';
    if (this.events.some((e) => e.type === 'extract-failure' && (e as { fatal?: boolean }).fatal)) return 'failed';
    const ack = this.latest('request-acknowledged') as Extract<StoredEvent, { type: 'request-acknowledged' }> | undefined;
    if (ack && String(ack.ackCode) !== '0') return 'rejected';
    const sent = this.latest('ehr-sent');
    if (sent) return now - at(sent.occurredAt) > INTEGRATION_WINDOW_MS ? 'integration-overdue' : 'sent';
    const request = this.latest('request-received');
    if (request && now - at(request.occurredAt) > EXTRACT_WINDOW_MS) return 'extract-overdue';
    return 'in-progress';
  }

  isFinal(now: number): boolean {
    return ['integrated', 'integrated-late', 'rejected', 'failed', 'closed'].includes(this.outcome(now));
  }

  /** The next protocol deadline at which the outcome may change by itself, if any. */
  nextDeadline(now: number): number | undefined {
    const candidates: number[] = [];
    const push = (e: StoredEvent | undefined, window: number) => {
      if (e && at(e.occurredAt) + window > now) candidates.push(at(e.occurredAt) + window);
    };
    if (this.side === 'RR') {
      push(this.latest('ehr-requested'), EXTRACT_WINDOW_MS);
      push(this.latest('ehr-received'), INTEGRATION_WINDOW_MS);
    } else {
      push(this.latest('request-received'), EXTRACT_WINDOW_MS);
      push(this.latest('ehr-sent'), INTEGRATION_WINDOW_MS);
    }
    return candidates.length ? Math.min(...candidates) : undefined;
  }
}

// ---- the workflow -------------------------------------------------------------------------------

export async function transferWorkflow(input: TransferInput): Promise<TransferResult> {
  const record = new TransferRecord(input.side, input.practiceOds, input.key, input.events ?? []);
  const finalQuietMs = input.options?.finalQuietMs ?? DEFAULT_FINAL_QUIET_MS;
  const idleMs = input.options?.idleMs ?? DEFAULT_IDLE_MS;
  let unforwardedFrom: string | undefined = input.unforwardedFrom;
  let lastEventArrival = Date.now();
  let eventsThisRun = 0;
  let forwardInFlight = false;
  // A fresh run (not continued) may be a reopened record: its earlier events must be restored
  // before any row is forwarded, or rows would lose them. Updates are accepted meanwhile.
  let restored = input.events !== undefined || workflowInfo().continuedFromExecutionRunId !== undefined;

  setHandler(
    recordEventUpdate,
    async (event) => {
      lastEventArrival = Date.now();
      eventsThisRun++;
      // A reopened record answers only once its earlier events are back, so "duplicate" and
      // "conflict" are judged against all of them.
      await condition(() => restored);
      const conflict = record.conflict(event);
      if (conflict) throw ApplicationFailure.nonRetryable(conflict, 'ConflictingEvent');
      if (!record.add(event)) return { outcome: 'duplicate', eventId: event.eventId };
      const day = utcDayOf(event.occurredAt);
      if (unforwardedFrom === undefined || day < unforwardedFrom) unforwardedFrom = day;
      return { outcome: 'accepted', eventId: event.eventId };
    },
    {
      validator: (event) => {
        const refusal = record.refusal(event, input.options?.maxEventAgeDays);
        if (refusal) throw new Error(refusal);
      },
      description: 'Record one GP2GP stage event (the hook event contract)',
    },
  );
  setHandler(transferQuery, () => ({
    side: record.side,
    practiceOds: record.practiceOds,
    key: record.key,
    stage: record.stage(),
    outcome: record.outcome(Date.now()),
    events: record.events,
    rows: record.days().map((day) => ({ day, fields: record.rowOf(day) })),
    forwarding: forwardInFlight || unforwardedFrom !== undefined || !restored,
    warnings: record.warnings(),
  }));

  let shown = '';
  let upserted = '';
  const searchAttributes = () => {
    const conversationId = record.side === 'SR' ? record.key : record.events.find((e) => 'conversationId' in e && e.conversationId)?.conversationId;
    const warnings = record.warnings();
    const details =
      `${record.side} record of ${record.practiceOds}: ${record.events.length} events, stage ${record.stage()}, ` +
      `outcome ${record.outcome(Date.now())}` +
      (unforwardedFrom ? `; forwarding rows from ${unforwardedFrom}` : '; all rows forwarded') +
      (warnings.length ? `; warning: ${warnings.map((w) => w.message).join('; ')}` : '');
    if (details !== shown) {
      shown = details;
      setCurrentDetails(details);
    }
    // Only real changes reach history (and visibility): the forwarding state is in the details only.
    const attributes = JSON.stringify([record.stage(), record.outcome(Date.now()), record.days(), conversationId ?? null]);
    if (attributes === upserted) return;
    upserted = attributes;
    upsertSearchAttributes([
      { key: practiceOdsKey, value: record.practiceOds },
      { key: sideKey, value: record.side },
      { key: stageKey, value: record.stage() },
      { key: outcomeKey, value: record.outcome(Date.now()) },
      { key: miDaysKey, value: record.days() },
      ...(record.side === 'RR' ? [{ key: registrationIdKey, value: record.key }] : []),
      ...(conversationId ? [{ key: conversationIdKey, value: conversationId as string }] : []),
    ]);
  };

  if (!restored) {
    // The earlier run forwarded the rows of its events before it completed: only the rows that new
    // events change are forwarded again (re-sending older days would rebuild them from one record).
    for (const e of await restorePreviousRecord({ workflowId: workflowInfo().workflowId, runId: workflowInfo().runId })) record.add(e);
    restored = true;
  }

  let timer: { at: number; fired: boolean; done: Promise<void> } | undefined;
  for (;;) {
    if (unforwardedFrom !== undefined) {
      const from = unforwardedFrom;
      unforwardedFrom = undefined;
      searchAttributes();
      // Retried without limit: rows must reach the reporting workflow, however long it takes.
      forwardInFlight = true;
      await forwardRows({ practiceOds: record.practiceOds, rows: record.forwardedRows(from) });
      forwardInFlight = false;
      continue;
    }
    searchAttributes();

    if (eventsThisRun >= MAX_EVENTS_PER_RUN || workflowInfo().continueAsNewSuggested) {
      await condition(allHandlersFinished);
      if (unforwardedFrom === undefined) {
        return await continueAsNew<typeof transferWorkflow>({ ...input, events: record.events, unforwardedFrom });
      }
      continue;
    }

    const now = Date.now();
    // A run whose only update was refused holds nothing: it ends soon instead of idling for weeks.
    const quietFor = record.events.length === 0 ? EMPTY_RUN_MS : record.isFinal(now) ? finalQuietMs : idleMs;
    const quietUntil = lastEventArrival + quietFor;
    const deadline = Math.min(quietUntil, record.nextDeadline(now) ?? Infinity);
    // One timer per quiet period, not a timer started and cancelled per event: a timer that fires
    // before the (moved) deadline just wakes the loop, which arms the next one; a deadline earlier
    // than the armed timer arms its own.
    if (!timer || timer.fired || timer.at > deadline) {
      const armed = { at: deadline, fired: false, done: sleep(Math.max(1, deadline - now)) };
      void armed.done.then(() => (armed.fired = true));
      timer = armed;
    }
    const armed = timer;
    await Promise.race([condition(() => unforwardedFrom !== undefined || armed.fired), armed.done]);
    if (unforwardedFrom !== undefined) continue;
    if (Date.now() >= quietUntil) {
      await condition(allHandlersFinished);
      if (unforwardedFrom !== undefined) continue;
      searchAttributes();
      return { events: record.events, outcome: record.outcome(Date.now()) };
    }
  }
}
