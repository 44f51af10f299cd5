/**
 * The transfer concern's public API: what starts a transfer workflow (and carries its record across
 * continue-as-new), the update that records one hook event, the query that shows the record, its
 * result, and the activities the workflow runs. Imported alike by the workflow, the activities and
 * every client; the wire names ('transferWorkflow', 'recordEvent', 'transfer') are fixed by saved
 * histories and running workflows. The rules themselves (outcome, stage, deadlines, refusals,
 * duplicates) are the domain core's: mi/transfer.ts.
 */
import { defineQuery, defineUpdate } from '@temporalio/workflow';
import type { FieldWarning, Side } from '../mi/events';
import type { Outputs } from '../mi/outputs';
import type { ApiEndpoint } from '../mi/registrations-api';
import type { ApiEvent } from '../mi/registrations-api-mapping';
import type { IdentifiedEvent, TransferOutcome, TransferStage } from '../mi/transfer';
import type { ReportingActivities } from './reporting';

export type { TransferOutcome, TransferStage } from '../mi/transfer';

// ---- the workflow -------------------------------------------------------------------------------

/** The workflow type clients start (update-with-start) and find in visibility. */
export const transferWorkflowType = 'transferWorkflow';

/** A hook event as the update carries it: the client has given it its eventId. */
export type StoredEvent = IdentifiedEvent;

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
  /**
   * Where this transfer's MI goes (the practice's `outputs`, else GP2GP_OUTPUTS), fixed for the run:
   * `mesh` (rows to the reporting workflow), `api` (events posted to the GP Registrations MI API) or
   * `both`. Undefined (runs started before issue 12) = mesh.
   */
  outputs?: Outputs;
  /**
   * Rows of a day still open wait in the transfer until this many ms after that day's midnight (UTC),
   * then go to the reporting workflow with the practice's other transfers (mi/hand-over.ts);
   * undefined (runs started before, or GP2GP_HAND_OVER_AT=immediate): with each event. Carried with
   * the input, so a run keeps the rule it began with.
   */
  handOverAtMs?: number;
  /**
   * With handOverAtMs: the practices' slots spread this long after the point (mi/hand-over.ts); all
   * transfers of one practice share its slot. Undefined: no spread.
   */
  handOverSpreadMs?: number;
  /** reportingSystemSupplier of the API's events (GP2GP_REPORTING_SYSTEM_SUPPLIER); with outputs api or both. */
  reportingSystemSupplier?: string;
  /**
   * Events after which a run continues as new (default 2,000). Lowered only to prove continue-as-new
   * in tests (test/month.test.ts, GP2GP_TRANSFER_EVENTS_PER_RUN); carried with the input.
   */
  eventsPerRun?: number;
}

export interface TransferInput {
  side: Side;
  practiceOds: string;
  key: string;
  /** Carried across continue-as-new. */
  events?: StoredEvent[];
  /** Carried across continue-as-new: the first day whose rows still have to be forwarded. */
  unforwardedFrom?: string | undefined;
  /** Carried across continue-as-new: which API events were posted, and a failed post. */
  apiDelivery?: ApiDeliveryState;
  /**
   * Whether Temporal still holds a closed run of this record, as the client that started this run
   * learnt it: false when the start was allowed under the REJECT_DUPLICATE reuse policy (no earlier
   * run: nothing to restore, no visibility lookup), true when it was refused and the run started
   * anew. Absent on runs started by earlier versions, which always look.
   */
  reopened?: boolean;
  options?: TransferOptions;
}

export interface TransferResult {
  events: StoredEvent[];
  outcome: TransferOutcome;
  /** With outputs api or both: what was posted (a reopened record does not post it again). */
  apiDelivery?: ApiDeliveryState;
}

// ---- delivery to the GP Registrations MI API ---------------------------------------------------------

/** A post the API refused (a 4xx other than 429): kept, and later posts of the transfer wait behind it. */
export interface ApiPostFailure {
  /** The API event's id (mi/registrations-api-mapping.ts). */
  id: string;
  endpoint: ApiEndpoint;
  /** The API's answer (status and message), or why the post could not be made. */
  reason: string;
  /** When it failed (ISO). */
  at: string;
}

export interface ApiDeliveryState {
  /** Ids of the API events the API accepted (2xx), in posting order. */
  posted: string[];
  failed?: ApiPostFailure;
}

/** GP2GP_ApiDelivery: ok (all posted), pending (posts to make), failed (a post refused; see `failed`). */
export type ApiDeliveryStatus = 'ok' | 'pending' | 'failed';

export interface ApiDeliveryView {
  status: ApiDeliveryStatus;
  /** API events posted (accepted by the API). */
  posted: number;
  /** API events still to post (including the failed one and those waiting behind it). */
  pending: number;
  /** The post in flight (retrying 429 / 5xx / network faults), if any. */
  inFlight?: { id: string; endpoint: ApiEndpoint };
  failed?: ApiPostFailure;
}

/** The workflow's signature, for typed starts without importing the workflow file. */
export type TransferWorkflow = (input: TransferInput) => Promise<TransferResult>;

// ---- messages -----------------------------------------------------------------------------------

export interface RecordEventResult {
  outcome: 'accepted' | 'duplicate';
  eventId: string;
}

/** Records one hook event; refused by the validator with the contract's error when malformed. */
export const recordEventUpdate = defineUpdate<RecordEventResult, [StoredEvent]>('recordEvent');

/** Accepted but worth a look (e.g. a NACK code 0083.08 does not list), with the event it came from. */
export type TransferWarning = FieldWarning & { eventId: string };

export interface TransferView {
  side: Side;
  practiceOds: string;
  key: string;
  stage: TransferStage;
  outcome: TransferOutcome;
  events: StoredEvent[];
  /** Days on which the record has events, each with its row as of the end of that day. */
  rows: { day: string; fields: string[] }[];
  /** True while some accepted event's rows have not yet reached the reporting workflow. */
  forwarding: boolean;
  /** While rows of a day still open wait for its hand-over point: that instant (ISO 8601, UTC). */
  rowsHeldUntil?: string;
  /** What was accepted but is worth a look, by event. */
  warnings: TransferWarning[];
  /** Where the record's MI goes (undefined: mesh, a run started before issue 12). */
  outputs?: Outputs;
  /** With outputs api or both: its posts to the GP Registrations MI API. */
  apiDelivery?: ApiDeliveryView;
}
export const transferQuery = defineQuery<TransferView>('transfer');

export interface ReplayApiPostsResult {
  /** The failed post cleared (it is posted again now, then those waiting behind it), if there was one. */
  replayed?: ApiPostFailure;
  /** API events still to post. */
  pending: number;
}
/**
 * Clears a failed API post so it and the posts waiting behind it are tried again (after the cause —
 * e.g. the API key — is fixed). Refused when the transfer does not report to the API.
 */
export const replayApiPostsUpdate = defineUpdate<ReplayApiPostsResult, []>('replayApiPosts');

// ---- activities ---------------------------------------------------------------------------------

/** A run of a transfer workflow: the one asking, so it is never its own previous run. */
export interface RestorePreviousRecordInput {
  workflowId: string;
  runId: string;
}

/** The last completed run of a transfer: its events and, with outputs api or both, what it posted. */
export interface PreviousRun {
  events: StoredEvent[];
  apiDelivery?: ApiDeliveryState;
}

export interface PostApiEventInput {
  practiceOds: string;
  event: ApiEvent;
}

export interface PostApiEventResult {
  /** The API's HTTP status (2xx). */
  status: number;
}

/** The activity type a refused post (4xx other than 429, missing settings) fails with: never retried. */
export const API_POST_REFUSED = 'ApiPostRefused';
/** The activity type of an attempt whose answer was lost after sending (retried: the API may repeat it). */
export const API_ANSWER_LOST = 'ApiAnswerLost';

/** Activities of the transfer workflow (local ones, except postApiEvent). */
export interface TransferActivities extends Pick<ReportingActivities, 'forwardRows'> {
  /**
   * The events of the last completed run of this transfer workflow, so a record reopened by a late
   * event keeps its history; empty for a record seen for the first time.
   */
  restorePreviousRecord(input: RestorePreviousRecordInput): Promise<StoredEvent[]>;
  /** restorePreviousRecord for a record that reports to the API: its events and what it posted. */
  restorePreviousRun(input: RestorePreviousRecordInput): Promise<PreviousRun>;
  /**
   * Posts one API event to the GP Registrations MI API (a regular activity, retried with capped
   * backoff on 429, 5xx, resets and timeouts; a refusal fails with type API_POST_REFUSED and the API's message).
   */
  postApiEvent(input: PostApiEventInput): Promise<PostApiEventResult>;
}
