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
}

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

export interface TransferResult {
  events: StoredEvent[];
  outcome: TransferOutcome;
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
  /** What was accepted but is worth a look, by event. */
  warnings: TransferWarning[];
}
export const transferQuery = defineQuery<TransferView>('transfer');

// ---- activities ---------------------------------------------------------------------------------

/** A run of a transfer workflow: the one asking, so it is never its own previous run. */
export interface RestorePreviousRecordInput {
  workflowId: string;
  runId: string;
}

/** Local activities of the transfer workflow. */
export interface TransferActivities extends Pick<ReportingActivities, 'forwardRows'> {
  /**
   * The events of the last completed run of this transfer workflow, so a record reopened by a late
   * event keeps its history; empty for a record seen for the first time.
   */
  restorePreviousRecord(input: RestorePreviousRecordInput): Promise<StoredEvent[]>;
}
