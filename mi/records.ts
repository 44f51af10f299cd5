/**
 * RR and SR rows from a record's events, by the contract's rules: a duplicate eventId changes nothing,
 * the later occurredAt wins within each field group, a failure block keeps its first failure unless a
 * fatal one comes, and RR2 stays empty until a request exists. Events are put in a total order
 * (instant, then eventId or content) before anything is decided, so arrival order never matters.
 * Pure and workflow-safe: transfer workflows call it on every accepted event.
 */
import {
  canonicalContent,
  normaliseEvent,
  sideOf,
  utcInstant,
  type EventOfType,
  type EventType,
  type HookEvent,
  type RegistrationType,
  type Side,
  isApiOnlyEventType,
} from './events';
import { RR_FIELDS, SR_FIELDS } from './fields';

/** A record's events, deduplicated and in their total order, each with its UTC instant. */
export interface MergedRecord {
  side: Side;
  practiceOds: string;
  /** Ascending by (instant, eventId or, without one, canonical content). */
  events: readonly OrderedEvent[];
}

export interface OrderedEvent {
  event: HookEvent;
  /** Canonical UTC instant (YYYY-MM-DDThh:mm:ss.sssZ): compares as a string. */
  at: string;
  /** The tie-breaker and duplicate identity. */
  id: string;
}

/**
 * Orders and deduplicates events. Duplicates are events with the same eventId, or without eventIds and
 * the same content. Two events with one eventId but different content are a conflict the pipeline
 * refuses (see sameEventContent); should such a pair reach here anyway, the one with the smaller
 * canonical content is kept, so the result still does not depend on arrival order.
 */
export function mergeEvents(events: readonly HookEvent[], upTo?: string): MergedRecord {
  const limit = upTo === undefined ? undefined : instantOf(upTo);
  const byId = new Map<string, OrderedEvent>();
  let side: Side | undefined;
  let practiceOds: string | undefined;
  for (const raw of events) {
    const event = normaliseEvent(raw);
    const eventSide = sideOf(event.type);
    if (side === undefined) {
      side = eventSide;
      practiceOds = event.practiceOds;
    } else if (eventSide !== side || event.practiceOds !== practiceOds) {
      throw new Error(`events of one record must share side and practice: ${eventSide} ${event.practiceOds} among ${side} ${practiceOds}`);
    }
    const at = instantOf(event.occurredAt);
    if (limit !== undefined && at > limit) continue;
    // Content is computed only where it decides something: identity without an eventId, or a clash.
    const id = event.eventId !== undefined ? `id:${event.eventId}` : `content:${canonicalContent(event, at)}`;
    const existing = byId.get(id);
    if (existing === undefined) byId.set(id, { event, at, id });
    else if (event.eventId !== undefined && canonicalContent(event, at) < canonicalContent(existing.event, existing.at)) {
      byId.set(id, { event, at, id });
    }
  }
  const ordered = [...byId.values()].sort(compareOrdered);
  return { side: side ?? 'RR', practiceOds: practiceOds ?? '', events: ordered };
}

function compareOrdered(a: OrderedEvent, b: OrderedEvent): number {
  if (a.at !== b.at) return a.at < b.at ? -1 : 1;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

function instantOf(iso: string): string {
  const utc = utcInstant(iso);
  if (utc === undefined) throw new Error(`not an ISO 8601 instant with a zone: ${JSON.stringify(iso).slice(0, 60)}`);
  return utc;
}

/** Same content, eventId aside: a second delivery with the same eventId must pass this, or it is a conflict. */
export function sameEventContent(a: HookEvent, b: HookEvent): boolean {
  return canonicalContent(a) === canonicalContent(b);
}

/**
 * The events MESH MI is built from: all but the API-only stages (transfer compatibility, documents,
 * ready to integrate, integration outcome, degrades). Such an event on a day of its own must not give
 * the record a row that day, nor move its first event, so MESH files stay as they were without them.
 */
export function meshEvents(events: readonly HookEvent[]): HookEvent[] {
  return events.filter((e) => !isApiOnlyEventType(e.type));
}

/** The UTC days on which the record has at least one MESH event, ascending. */
export function recordDays(events: readonly HookEvent[]): string[] {
  const days = new Set<string>();
  for (const e of meshEvents(events)) days.add(instantOf(e.occurredAt).slice(0, 10));
  return [...days].sort();
}

/** The earliest event's instant (canonical UTC), counting only events up to `upTo`; undefined if none. */
export function firstEventAt(events: readonly HookEvent[], upTo?: string): string | undefined {
  const limit = upTo === undefined ? undefined : instantOf(upTo);
  let first: string | undefined;
  for (const e of meshEvents(events)) {
    const at = instantOf(e.occurredAt);
    if ((limit === undefined || at <= limit) && (first === undefined || at < first)) first = at;
  }
  return first;
}

// ---- field groups -------------------------------------------------------------------------------

/**
 * What the fold keeps: the latest event of each type, and the two rule-bound blocks. Rows are read
 * from it, and so are a transfer's stage and outcome (mi/transfer.ts): one merge, one tie-break.
 */
export interface RecordFold {
  latest: { [T in EventType]?: EventOfType<T> };
  /** Each kept event's canonical instant, so timestamps are not parsed twice. */
  at: Map<HookEvent, string>;
  /** RR8–RR14 or SR15–SR21: first failure, unless a fatal one (the last fatal one) replaces it. */
  failure?: EventOfType<'request-failure'> | EventOfType<'extract-failure'>;
  /** RR4: from the latest event that names a target practice. */
  targetOds?: string;
  /** RR2: only a request (ehr-requested, or a failure at point 60/70) gives the row its conversation. */
  conversationId?: string;
}

/** Folds merged events, in their total order, into what rows and outcomes are read from. */
export function foldRecord(merged: MergedRecord): RecordFold {
  const f: RecordFold = { latest: {}, at: new Map() };
  for (const { event, at } of merged.events) {
    f.at.set(event, at);
    (f.latest as Record<string, HookEvent>)[event.type] = event;
    switch (event.type) {
      case 'request-failure':
      case 'extract-failure':
        if (event.fatal || f.failure === undefined) f.failure = event;
        if (event.type === 'request-failure' && (event.failurePoint === 60 || event.failurePoint === 70) && event.conversationId) {
          f.conversationId = event.conversationId;
        }
        break;
      case 'ehr-requested':
        f.conversationId = event.conversationId;
        if (event.targetOds) f.targetOds = event.targetOds;
        break;
      case 'registration':
        if (event.targetOds) f.targetOds = event.targetOds;
        break;
    }
  }
  return f;
}

const REGISTRATION_CODES: Record<RegistrationType, string> = { undetermined: '0', new: '1', returning: '2', internal: '3' };

const text = (value: string | number | undefined): string => (value === undefined ? '' : String(value));

/**
 * The full row of one record: RR 31 fields, SR 33 (SR29–SR33 included; record sets render 28 unless
 * the practice has placeholder columns). '' is null. Free text is complete here: cutting it to the
 * field's length and onto one line is the renderer's job. Only events with occurredAt <= upTo count.
 */
export function buildRow(side: Side, events: readonly HookEvent[], upTo?: string): string[] {
  const merged = mergeEvents(events, upTo);
  if (merged.events.length === 0) {
    throw new Error(`no events${upTo === undefined ? '' : ` up to ${upTo}`}: a row needs at least one`);
  }
  if (merged.side !== side) throw new Error(`buildRow(${side}) was given ${merged.side} events`);
  const f = foldRecord(merged);
  return side === 'RR' ? requesterRow(merged, f) : senderRow(merged, f);
}

/** The file's timestamp (UTC, no zone, no fraction) of an event, '' without one. */
function timeOf(f: RecordFold): (event: HookEvent | undefined) => string {
  return (event) => (event ? f.at.get(event)!.slice(0, 19) : '');
}

function requesterRow(merged: MergedRecord, f: RecordFold): string[] {
  const time = timeOf(f);
  const { registration, 'ehr-requested': requested, 'ehr-received': received } = f.latest;
  const { 'fragments-received': fragments, 'extract-acknowledged': ack, 'extract-ack-failure': ackFailure } = f.latest;
  const failure = f.failure as EventOfType<'request-failure'> | undefined;
  const row = [
    'RR',
    text(f.conversationId),
    merged.practiceOds,
    text(f.targetOds),
    time(registration),
    registration ? REGISTRATION_CODES[registration.registrationType] : '',
    text(registration?.registeringUser),
    text(failure?.failurePoint),
    time(failure),
    text(failure?.failedMessageId),
    text(failure?.failureType),
    text(failure?.errorCode),
    text(failure?.errorDescription),
    text(failure?.retries),
    text(requested?.requestMessageId),
    time(requested),
    time(received),
    text(received?.extractMessageId),
    received?.largeMessageReasons ? [...received.largeMessageReasons].sort((a, b) => a - b).join('') : '',
    text(received?.fragmentsTotal),
    text(fragments?.fragmentsReceived),
    text(ack?.ackStatus),
    text(ack?.ackCode),
    time(ack),
    text(ack?.ackMessageId),
    time(ackFailure),
    text(ackFailure?.failureType),
    text(ackFailure?.errorCode),
    text(ackFailure?.errorDescription),
    // RR30 belongs to the acknowledgement failure when there is one, else to the acknowledgement.
    ackFailure ? text(ackFailure.retries) : text(ack?.retries),
    text(ack?.actingUser),
  ];
  return checkedLength(row, RR_FIELDS.length);
}

function senderRow(merged: MergedRecord, f: RecordFold): string[] {
  const time = timeOf(f);
  const { 'request-received': request, 'request-acknowledged': ack, 'ehr-sent': sent } = f.latest;
  const { 'fragments-sent': fragments, 'conversation-closed': closed } = f.latest;
  const failure = f.failure as EventOfType<'extract-failure'> | undefined;
  const placeholders = sent?.placeholders;
  const row = [
    'SR',
    text(request?.requestMessageId),
    // The record's key: every SR event carries it.
    merged.events[0]!.event.conversationId!,
    text(request?.requestingOds),
    merged.practiceOds,
    request ? (request.requesterConfig ?? '0000000000') : '',
    time(request),
    time(ack),
    text(ack?.ackCode),
    text(ack?.ackMessageId),
    text(ack?.failureType),
    text(ack?.errorCode),
    text(ack?.errorDescription),
    text(ack?.retries),
    // "0 = No failure": known once the extract has gone without one (§3.4.4.2).
    failure ? String(failure.failurePoint) : sent ? '0' : '',
    time(failure),
    text(failure?.failedMessageId),
    text(failure?.failureType),
    text(failure?.errorCode),
    text(failure?.errorDescription),
    text(failure?.retries),
    text(sent?.extractMessageId),
    time(sent),
    sent ? (sent.largeMessaging ? '1' : '0') : '',
    text(fragments?.fragmentsTotal),
    text(fragments?.fragmentsAcceptedByTms),
    text(fragments?.fragmentsAcknowledged),
    time(closed),
    text(placeholders?.fileTypeUnsupported),
    text(placeholders?.deleted),
    text(placeholders?.notFound),
    text(placeholders?.locked),
    text(placeholders?.undetermined),
  ];
  return checkedLength(row, SR_FIELDS.length);
}

function checkedLength(row: string[], expected: number): string[] {
  if (row.length !== expected) throw new Error(`internal: row of ${row.length} fields, expected ${expected}`);
  return row;
}
