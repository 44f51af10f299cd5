/**
 * A transfer's rules beyond its rows: which events a record takes (the hook contract, the correction
 * window, its own key, one content per eventId), when a second delivery is a duplicate, the stage the
 * record has reached, its outcome against the protocol's deadlines (0068: the extract within 24 hours
 * of the request, integration within 8 days of the extract) and when that outcome next changes by
 * itself. Everything is read from the same merge and fold as the rows (mi/records.ts), so ties in
 * occurredAt are broken the same way for both and arrival order never matters. Pure and workflow-safe.
 */
import { eventWarnings, recordKeyOf, utcDayOf, validateEvent, type EventType, type FieldProblem, type FieldWarning, type HookEvent, type RecordKey, type Side } from './events';
import { endOfDay, type DayRow } from './record-set';
import { buildRow, firstEventAt, foldRecord, mergeEvents, recordDays, sameEventContent, type OrderedEvent } from './records';

/** An event as a transfer holds it: with its eventId (the client assigns one from the content if absent). */
export type IdentifiedEvent = HookEvent & { eventId: string };

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

/** The type of the record's latest event, or 'none' before any. */
export type TransferStage = EventType | 'none';

const DAY_MS = 86_400_000;
/** 0068: the extract must be sent within 24 hours of the request. */
export const EXTRACT_WINDOW_MS = DAY_MS;
/** 0068: integration is due within 8 days of the extract; the sender then starts the paper process. */
export const INTEGRATION_WINDOW_MS = 8 * DAY_MS;

const FINAL_OUTCOMES: ReadonlySet<TransferOutcome> = new Set(['integrated', 'integrated-late', 'rejected', 'failed', 'closed']);

// ---- which events a transfer takes ----------------------------------------------------------------

/** The refusal for an event too old to be reported correctly, or undefined. */
export function eventAgeRefusal(occurredAt: string, now: number, maxEventAgeDays: number | undefined): FieldProblem | undefined {
  if (maxEventAgeDays === undefined) return undefined;
  const oldest = new Date(now - maxEventAgeDays * DAY_MS).toISOString().slice(0, 10);
  if (utcDayOf(occurredAt) >= oldest) return undefined;
  const allowed = `${oldest} or later (UTC); older days can no longer be corrected`;
  return {
    field: 'occurredAt',
    value: occurredAt,
    allowed,
    message: `occurredAt: ${occurredAt} is older than the ${maxEventAgeDays}-day correction window; allowed: ${allowed}`,
  };
}

/**
 * The duplicate rule. An eventId the record already holds is a duplicate when it comes with the same
 * content (the answer is "duplicate" and nothing changes) and a conflict when it comes with other
 * content. Without an eventId an event gets one from its content (mi/event-id.ts), so the same content
 * is the same event either way.
 */
export type Delivery = { is: 'new' } | { is: 'duplicate' } | { is: 'conflict'; message: string };

export function deliveryOf(held: HookEvent | undefined, event: IdentifiedEvent): Delivery {
  if (held === undefined) return { is: 'new' };
  if (sameEventContent(held, event)) return { is: 'duplicate' };
  return { is: 'conflict', message: `eventId: ${event.eventId} was already used for a different event; allowed: a new eventId for new content` };
}

export interface TransferRules {
  /** Epoch ms: what "now" is for the contract's checks and the correction window. */
  now: number;
  /** Events of days older than this are refused (undefined: no limit). */
  maxEventAgeDays?: number | undefined;
}

/**
 * Why `input` cannot be recorded on this record, or undefined: it must meet the hook contract, fall
 * inside the correction window, belong to this record, carry an eventId, and not reuse an eventId the
 * record holds for other content. `held` finds the record's event of an eventId.
 */
export function eventRefusal(record: RecordKey, input: unknown, rules: TransferRules, held: (eventId: string) => HookEvent | undefined): string | undefined {
  const result = validateEvent(input, { now: new Date(rules.now) });
  if (!result.ok) return result.message;
  const event = result.event;
  const tooOld = eventAgeRefusal(event.occurredAt, rules.now, rules.maxEventAgeDays);
  if (tooOld) return tooOld.message;
  const { side, practiceOds, key } = recordKeyOf(event);
  if (side !== record.side || practiceOds !== record.practiceOds || key !== record.key) {
    return `event belongs to ${side} ${practiceOds}/${key}, not to this transfer (${record.side} ${record.practiceOds}/${record.key})`;
  }
  const eventId = (input as { eventId?: unknown }).eventId;
  if (typeof eventId !== 'string' || eventId === '') return 'eventId: missing; the client assigns one before sending';
  const delivery = deliveryOf(held(eventId), input as IdentifiedEvent);
  return delivery.is === 'conflict' ? delivery.message : undefined;
}

// ---- stage, outcome, deadlines ----------------------------------------------------------------------

/** What a record's stage, outcome and deadlines depend on, read from its merged, folded events. */
export interface TransferProgress {
  side: Side;
  stage: TransferStage;
  /** Epoch ms of the latest event of each type (latest by the merge order). */
  latestAt: { [T in EventType]?: number };
  /** The code of the latest acknowledgement: of the extract (RR), of the request (SR). */
  ackCode?: string;
  /** A fatal failure ends the transfer (the failure block keeps the last fatal one). */
  fatalFailure: boolean;
}

/**
 * Stage ties: two events of different types at one instant (a registration and its request in the same
 * second) are ordered by where they stand in the protocol, not by their eventIds (content hashes,
 * arbitrary); the same type at one instant falls back to the merge order, as the rows do.
 */
const STAGE_ORDER: readonly EventType[] = [
  // requester (RR)
  'registration', 'transfer-compatibility', 'ehr-requested', 'request-failure', 'ehr-received', 'fragments-received',
  'document-received', 'degrades-identified', 'ready-to-integrate', 'integration-outcome', 'extract-ack-failure', 'extract-acknowledged',
  // sender (SR)
  'request-received', 'request-acknowledged', 'ehr-sent', 'fragments-sent', 'extract-failure', 'conversation-closed',
];

function stageEvent(ordered: readonly OrderedEvent[]): OrderedEvent | undefined {
  const last = ordered.at(-1);
  if (!last) return undefined;
  let chosen = last;
  for (let i = ordered.length - 2; i >= 0 && ordered[i]!.at === last.at; i--) {
    if (STAGE_ORDER.indexOf(ordered[i]!.event.type) > STAGE_ORDER.indexOf(chosen.event.type)) chosen = ordered[i]!;
  }
  return chosen;
}

export function transferProgress(side: Side, events: readonly HookEvent[]): TransferProgress {
  const merged = mergeEvents(events);
  if (merged.events.length > 0 && merged.side !== side) throw new Error(`transferProgress(${side}) was given ${merged.side} events`);
  const f = foldRecord(merged);
  const latestAt: TransferProgress['latestAt'] = {};
  for (const [type, event] of Object.entries(f.latest) as [EventType, HookEvent][]) latestAt[type] = Date.parse(f.at.get(event)!);
  const ack = side === 'RR' ? f.latest['extract-acknowledged'] : f.latest['request-acknowledged'];
  return {
    side,
    stage: stageEvent(merged.events)?.event.type ?? 'none',
    latestAt,
    ...(ack ? { ackCode: String(ack.ackCode) } : {}),
    fatalFailure: Boolean(f.failure?.fatal),
  };
}

export function transferOutcome(p: TransferProgress, now: number): TransferOutcome {
  const at = p.latestAt;
  if (p.side === 'RR') {
    const extract = at['ehr-received'];
    const ack = at['extract-acknowledged'];
    if (ack !== undefined) {
      if (p.ackCode !== '0') return 'rejected';
      return extract !== undefined && ack - extract > INTEGRATION_WINDOW_MS ? 'integrated-late' : 'integrated';
    }
    if (p.fatalFailure) return 'failed';
    if (extract !== undefined) return now - extract > INTEGRATION_WINDOW_MS ? 'integration-overdue' : 'in-progress';
    const requested = at['ehr-requested'];
    if (requested === undefined) return 'registered';
    return now - requested > EXTRACT_WINDOW_MS ? 'extract-overdue' : 'in-progress';
  }
  if (at['conversation-closed'] !== undefined) return 'closed';
  if (p.fatalFailure) return 'failed';
  if (at['request-acknowledged'] !== undefined && p.ackCode !== '0') return 'rejected';
  const sent = at['ehr-sent'];
  if (sent !== undefined) return now - sent > INTEGRATION_WINDOW_MS ? 'integration-overdue' : 'sent';
  const request = at['request-received'];
  if (request !== undefined && now - request > EXTRACT_WINDOW_MS) return 'extract-overdue';
  return 'in-progress';
}

/** An outcome no deadline can change; only a later event can (it reopens the record). */
export function isFinalOutcome(outcome: TransferOutcome): boolean {
  return FINAL_OUTCOMES.has(outcome);
}

/** The next protocol deadline (epoch ms) after `now` at which the outcome may change by itself, if any. */
export function nextTransferDeadline(p: TransferProgress, now: number): number | undefined {
  const [requested, extracted] = p.side === 'RR' ? (['ehr-requested', 'ehr-received'] as const) : (['request-received', 'ehr-sent'] as const);
  const candidates = [
    p.latestAt[requested] === undefined ? undefined : p.latestAt[requested]! + EXTRACT_WINDOW_MS,
    p.latestAt[extracted] === undefined ? undefined : p.latestAt[extracted]! + INTEGRATION_WINDOW_MS,
  ].filter((t): t is number => t !== undefined && t > now);
  return candidates.length ? Math.min(...candidates) : undefined;
}

// ---- what a transfer shows and forwards -------------------------------------------------------------

/** The warnings of accepted events (e.g. a NACK code 0083.08 does not list), each with its event. */
export function transferWarnings(events: readonly IdentifiedEvent[]): (FieldWarning & { eventId: string })[] {
  return events.flatMap((e) => eventWarnings(e).map((w) => ({ eventId: e.eventId, ...w })));
}

/** The record's row as of the end of each day it has events on. */
export function rowsByDay(side: Side, events: readonly HookEvent[]): { day: string; fields: string[] }[] {
  return recordDays(events).map((day) => ({ day, fields: buildRow(side, events, endOfDay(day)) }));
}

/**
 * The rows a transfer hands to reporting: of `fromDay` and every later day it has events on, each
 * with the number of events it was built from, so that only a newer row replaces one held.
 */
export function rowsFrom(side: Side, key: string, events: readonly HookEvent[], fromDay: string): DayRow[] {
  return recordDays(events)
    .filter((day) => day >= fromDay)
    .map((day) => ({
      day,
      side,
      key,
      firstEventAt: firstEventAt(events, endOfDay(day))!,
      fields: buildRow(side, events, endOfDay(day)),
      seq: events.length,
    }));
}
