/**
 * How a transfer turned out, judged as NHS England's own dashboards judge it (the PRM data platform):
 * 14 days after the request, a transfer is integrated within 3 days, within 8 days, integrated late,
 * a technical failure (a fatal error code 6, 7, 10, 14, 23, 24, 30 or 99, or a failed integration), a
 * process failure (neither integrated nor failed technically by then), and until then still in
 * progress. For both roles: the requesting practice (RR records) and the sending practice (SR).
 *
 * One function serves the console, `gp2gp-mi outcomes` and the metrics. A transfer hands reporting a
 * TransferSummary (a pure function of its events) so that counts need neither the events nor
 * visibility queries; the judgement at 14 days needs only the summary and the time. Pure and
 * workflow-safe.
 *
 * The rules (0171.02, 0068, 0083.08 and the Authority's classes in ../shared/docs/gp2gp-mi.md):
 * - **A transfer** is an RR record with an `ehr-requested` or a `request-failure` (a registration
 *   alone is no transfer), or an SR record with a `request-received`. Its clock starts at the first
 *   of those events in the merge order (mi/records.ts), so an RR whose request failed before any
 *   `ehr-requested` starts at the failure. Events can only move the start earlier, never later.
 * - **Only events up to the judgement instant** (start + 14 days) count: the Authority judges then.
 * - **RR integrated**: the later (merge order) of the latest `extract-acknowledged` and the latest
 *   `integration-outcome` decides: an ACK (ackCode "0") or a successful outcome (see
 *   INTEGRATION_SUCCEEDED) is an integration at its time; a NACK or a failed outcome (REJECTED,
 *   FAILED_TO_INTEGRATE) is a failed integration, a technical failure. An acknowledgement decides
 *   before a fatal failure does, as the transfer's own outcome (mi/transfer.ts) reads it: an ACK is the
 *   proof that the record arrived.
 * - **SR integrated**: `conversation-closed` with no fatal failure and no NACK of the request. The
 *   sender closes the conversation on any end, so here a failure decides first.
 * - **Failures**: a fatal failure (RR8–RR14, SR15–SR21 as the rows keep it) whose errorCode is 6, 7,
 *   10, 14, 23, 24, 30 or 99 (also written 06, 007 …) is a technical failure; any other fatal failure
 *   is a process failure. A NACK of the request (SR9) ends the transfer the same way, its code
 *   deciding which.
 * - **Time** to integration = integration − start: ≤ 3 days integrated-3d, ≤ 8 days integrated-8d,
 *   else integrated-late. Nothing settled by the judgement instant is a process failure from then on;
 *   before it, in progress.
 * - **Overdue**: while unsettled, the first protocol deadline (0068: the extract 24 h after the
 *   request, integration 8 days after the extract) the transfer misses or will miss, unless it falls
 *   after the judgement instant.
 */
import { recordKeyOf, type EventOfType, type HookEvent, type IntegrationOutcome, type Side } from './events';
import { foldRecord, mergeEvents, type OrderedEvent } from './records';
import { EXTRACT_WINDOW_MS, INTEGRATION_WINDOW_MS } from './transfer';

export const OUTCOME_CLASSES = [
  'integrated-3d',
  'integrated-8d',
  'integrated-late',
  'technical-failure',
  'process-failure',
  'in-progress',
] as const;
export type OutcomeClass = (typeof OUTCOME_CLASSES)[number];

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
/** The Authority classifies each transfer this long after its request. */
export const JUDGEMENT_MS = 14 * DAY_MS;
const WITHIN_3D_MS = 3 * DAY_MS;
const WITHIN_8D_MS = 8 * DAY_MS;

/**
 * Upper bounds (hours, each included in its bucket, so they agree with the classes' "≤ 3 days", "≤ 8
 * days") of the request-to-integration time buckets the console plots: ≤ 1 h, ≤ 1 day, ≤ 3 days,
 * ≤ 8 days, ≤ 14 days, later.
 */
export const INTEGRATION_TIME_BUCKET_HOURS = [1, 24, 72, 192, 336, Infinity] as const;

/** What reporting keeps of one transfer to count it; a pure function of the transfer's events. */
export interface TransferSummary {
  side: Side;
  /** The record's key, as in DayRow (registrationId for RR, conversationId for SR). */
  key: string;
  /** Canonical UTC instant the 14-day clock starts: the request (RR ehr-requested, SR request-received). */
  startedAt: string;
  /** The class its events up to the judgement instant settle it in; absent while undecided. */
  settled?: Exclude<OutcomeClass, 'in-progress'>;
  /** Request to integration (ms), when it was integrated before the judgement instant. */
  integratedAfterMs?: number;
  /** The first protocol deadline (extract 24 h, integration 8 days) missed while undecided. */
  overdueSince?: string;
  /** A post to the GP Registrations MI API has failed and waits for a replay. */
  apiPostFailed?: boolean;
  /**
   * The number of events it was built from (as DayRow.seq): a summary replaces a held one of the same
   * record only with a seq at least as high, so a late hand-over never undoes a newer one.
   */
  seq?: number;
}

/** 0083.08 codes the Authority counts as technical failures. */
const TECHNICAL_FAILURE_CODES: ReadonlySet<number> = new Set([6, 7, 10, 14, 23, 24, 30, 99]);

/** True for an error or NACK code the Authority counts as a technical failure, however zero-padded. */
export function isTechnicalFailureCode(code: string | undefined): boolean {
  return code !== undefined && /^\d{1,8}$/.test(code) && TECHNICAL_FAILURE_CODES.has(Number(code));
}

/**
 * Which integration outcomes (the API's) are an integration. Suppressed records and records filed as
 * an attachment did arrive and were kept; an internal transfer moved the record within one system.
 * A rejection or a failure to integrate is a failed integration (a technical failure). Typed over
 * every outcome, so a new one must be decided here.
 */
const INTEGRATION_SUCCEEDED: Record<IntegrationOutcome, boolean> = {
  INTEGRATED: true,
  INTEGRATED_AND_SUPPRESSED: true,
  SUPPRESSED_AND_REACTIVATED: true,
  FILED_AS_ATTACHMENT: true,
  INTERNAL_TRANSFER: true,
  REJECTED: false,
  FAILED_TO_INTEGRATE: false,
};

/** The event the transfer's clock starts at: the first request (or, RR, a failure before any). */
function startEvent(side: Side, ordered: readonly OrderedEvent[]): OrderedEvent | undefined {
  return side === 'RR'
    ? ordered.find((o) => o.event.type === 'ehr-requested' || o.event.type === 'request-failure')
    : ordered.find((o) => o.event.type === 'request-received');
}

function integratedClass(afterMs: number): 'integrated-3d' | 'integrated-8d' | 'integrated-late' {
  return afterMs <= WITHIN_3D_MS ? 'integrated-3d' : afterMs <= WITHIN_8D_MS ? 'integrated-8d' : 'integrated-late';
}

function failureClass(code: string | undefined): 'technical-failure' | 'process-failure' {
  return isTechnicalFailureCode(code) ? 'technical-failure' : 'process-failure';
}

type Settlement = { settled: Exclude<OutcomeClass, 'in-progress'>; integratedAt?: string };

/**
 * The summary that reporting counts the record by, or undefined while the record is not (yet) a
 * transfer. Events in any order, duplicated or in other zones give the same summary (the merge of the
 * rows). `extra.apiPostFailed` is the transfer's own state, not in its events.
 */
export function transferSummary(
  side: Side,
  key: string,
  events: readonly HookEvent[],
  extra: { apiPostFailed?: boolean } = {},
): TransferSummary | undefined {
  const all = mergeEvents(events);
  if (all.events.length === 0) return undefined;
  if (all.side !== side) throw new Error(`transferSummary(${side}) was given ${all.side} events`);
  const start = startEvent(side, all.events);
  if (!start) return undefined;
  const startMs = Date.parse(start.at);
  const judgementAt = startMs + JUDGEMENT_MS;
  const cutoff = new Date(judgementAt).toISOString();
  // Canonical instants compare as strings (mi/records.ts): the same cut as mergeEvents(events, cutoff).
  const judged = all.events.filter((o) => o.at <= cutoff);
  const f = foldRecord({ ...all, events: judged });
  const fatal = f.failure?.fatal ? f.failure : undefined;

  let settlement: Settlement | undefined;
  if (side === 'RR') {
    let verdict: OrderedEvent | undefined;
    for (const o of judged) if (o.event.type === 'extract-acknowledged' || o.event.type === 'integration-outcome') verdict = o;
    if (verdict) {
      const e = verdict.event as EventOfType<'extract-acknowledged'> | EventOfType<'integration-outcome'>;
      const succeeded = e.type === 'extract-acknowledged' ? e.ackCode === '0' : INTEGRATION_SUCCEEDED[e.outcome];
      settlement = succeeded ? { settled: integratedClass(Math.max(0, Date.parse(verdict.at) - startMs)), integratedAt: verdict.at } : { settled: 'technical-failure' };
    } else if (fatal) {
      settlement = { settled: failureClass(fatal.errorCode) };
    }
  } else {
    const ack = f.latest['request-acknowledged'];
    const closed = f.latest['conversation-closed'];
    if (fatal) settlement = { settled: failureClass(fatal.errorCode) };
    else if (ack && ack.ackCode !== '0') settlement = { settled: failureClass(ack.ackCode) };
    else if (closed) {
      const at = f.at.get(closed)!;
      settlement = { settled: integratedClass(Math.max(0, Date.parse(at) - startMs)), integratedAt: at };
    }
  }

  const summary: TransferSummary = { side, key, startedAt: start.at };
  if (settlement) {
    summary.settled = settlement.settled;
    if (settlement.integratedAt !== undefined) summary.integratedAfterMs = Math.max(0, Date.parse(settlement.integratedAt) - startMs);
  } else {
    const overdue = firstDeadline(side, f, startMs);
    if (overdue < judgementAt) summary.overdueSince = new Date(overdue).toISOString();
  }
  if (extra.apiPostFailed) summary.apiPostFailed = true;
  summary.seq = all.events.length;
  return summary;
}

/**
 * The first protocol deadline an unsettled transfer misses (or will miss, if nothing comes): read from
 * the latest request and extract, as the transfer's own outcome reads them (mi/transfer.ts).
 */
function firstDeadline(side: Side, f: ReturnType<typeof foldRecord>, startMs: number): number {
  const request = side === 'RR' ? f.latest['ehr-requested'] : f.latest['request-received'];
  const extract = side === 'RR' ? f.latest['ehr-received'] : f.latest['ehr-sent'];
  const requestedAt = request ? Date.parse(f.at.get(request)!) : startMs;
  const extractDue = requestedAt + EXTRACT_WINDOW_MS;
  if (!extract) return extractDue;
  const extractedAt = Date.parse(f.at.get(extract)!);
  return extractedAt > extractDue ? extractDue : extractedAt + INTEGRATION_WINDOW_MS;
}

/** The instant (epoch ms) the transfer is judged: its class cannot change after it. */
export function judgedAt(summary: Pick<TransferSummary, 'startedAt'>): number {
  return Date.parse(summary.startedAt) + JUDGEMENT_MS;
}

/** The transfer's class at `now` (epoch ms). */
export function outcomeAt(summary: TransferSummary, now: number): OutcomeClass {
  if (summary.settled) return summary.settled;
  return now >= judgedAt(summary) ? 'process-failure' : 'in-progress';
}

/** True while the transfer is in progress and past a protocol deadline at `now`. */
export function isOverdue(summary: TransferSummary, now: number): boolean {
  return summary.overdueSince !== undefined && outcomeAt(summary, now) === 'in-progress' && Date.parse(summary.overdueSince) <= now;
}

/** The index in INTEGRATION_TIME_BUCKET_HOURS of a request-to-integration time. */
export function integrationTimeBucket(ms: number): number {
  const hours = Math.max(0, ms) / HOUR_MS;
  const i = INTEGRATION_TIME_BUCKET_HOURS.findIndex((bound) => hours <= bound);
  return i < 0 ? INTEGRATION_TIME_BUCKET_HOURS.length - 1 : i;
}

// ---- counting -------------------------------------------------------------------------------------

export type OutcomeCounts = Record<OutcomeClass, number>;

/** Every class at zero: counts always carry all six, so two reports compare as they are. */
export function emptyOutcomeCounts(): OutcomeCounts {
  return Object.fromEntries(OUTCOME_CLASSES.map((c) => [c, 0])) as OutcomeCounts;
}

/** Adds `more` into `into` (missing classes count 0); returns `into`. */
export function addOutcomeCounts(into: OutcomeCounts, more: Partial<Record<OutcomeClass, number>>): OutcomeCounts {
  for (const c of OUTCOME_CLASSES) into[c] += more[c] ?? 0;
  return into;
}

/** One practice's counts: in all and per role. */
export interface PracticeOutcomes {
  practiceOds: string;
  outcomes: OutcomeCounts;
  bySide: Record<Side, OutcomeCounts>;
}

export interface ClassifyOptions {
  /** Only transfers whose request day (UTC, YYYY-MM-DD) is this day or later. */
  sinceDay?: string;
}

/**
 * The offline classification: every record of `events` (any practices, any order) judged at `now`,
 * counted per practice and role. What `gp2gp-mi outcomes --json` and the console must agree with.
 * Only practices with at least one transfer appear, ordered by ODS code.
 */
export function classifyRecords(events: readonly HookEvent[], now: number, options: ClassifyOptions = {}): PracticeOutcomes[] {
  const records = new Map<string, { side: Side; practiceOds: string; key: string; events: HookEvent[] }>();
  for (const event of events) {
    const k = recordKeyOf(event);
    const id = `${k.practiceOds}|${k.side}|${k.key}`;
    let record = records.get(id);
    if (!record) records.set(id, (record = { ...k, events: [] }));
    record.events.push(event);
  }
  const practices = new Map<string, PracticeOutcomes>();
  for (const record of records.values()) {
    const summary = transferSummary(record.side, record.key, record.events);
    if (!summary) continue;
    if (options.sinceDay !== undefined && summary.startedAt.slice(0, 10) < options.sinceDay) continue;
    let p = practices.get(record.practiceOds);
    if (!p) {
      p = { practiceOds: record.practiceOds, outcomes: emptyOutcomeCounts(), bySide: { RR: emptyOutcomeCounts(), SR: emptyOutcomeCounts() } };
      practices.set(record.practiceOds, p);
    }
    const c = outcomeAt(summary, now);
    p.outcomes[c]++;
    p.bySide[record.side][c]++;
  }
  return [...practices.values()].sort((a, b) => (a.practiceOds < b.practiceOds ? -1 : a.practiceOds > b.practiceOds ? 1 : 0));
}
