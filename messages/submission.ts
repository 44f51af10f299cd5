/**
 * The submission concern's public API: what starts a submission workflow, what it answers, the notices
 * the inbox signals to it, and the activities it calls. Imported alike by the workflow, the activities
 * and every client; the wire names ('deliveryNotice', 'submission') are fixed by saved histories.
 */
import { defineQuery, defineSignal } from '@temporalio/workflow';
import type { DayRecordSet } from '../mi/record-set';

// ---- the workflow -------------------------------------------------------------------------------

export interface SubmissionOptions {
  /** First wait before tracking a sent message; doubles up to trackingMaxIntervalMs. */
  trackingIntervalMs?: number;
  trackingMaxIntervalMs?: number;
  /** Give up waiting for acknowledgement after this long (default: MESH's 5-day expiry). */
  deliveryDeadlineMs?: number;
}

/** The workflow type the worker registers (workflows/index.ts): fixed by running workflows. */
export const submissionWorkflowType = 'submissionWorkflow';

export interface SubmissionInput {
  submissionId: string;
  practiceOds: string;
  reportingWorkflowId: string;
  recordSets: DayRecordSet[];
  options?: SubmissionOptions | undefined;
}

export type SubmissionStatus = 'sending' | 'awaiting-acknowledgement' | 'delivered' | 'failed';

export interface SentFile {
  fileName: string;
  localId: string;
  messageId: string;
  bytes: number;
  rows: number;
  acknowledged?: boolean;
}

/** The workflow's result, also signalled to the reporting workflow (`submissionFinishedSignal`). */
export interface SubmissionResult {
  submissionId: string;
  status: 'delivered' | 'failed';
  reason?: string;
  files: SentFile[];
  days: string[];
}

// ---- messages -----------------------------------------------------------------------------------

/** What the inbox found about one of our messages: an error REPORT or a business (N)ACK. */
export interface DeliveryNotice {
  kind: 'error-report' | 'ack' | 'nack';
  messageId: string;
  code?: string;
  description?: string;
}
export const deliveryNoticeSignal = defineSignal<[DeliveryNotice]>('deliveryNotice');

export interface SubmissionView {
  submissionId: string;
  practiceOds: string;
  days: string[];
  status: SubmissionStatus;
  reason?: string;
  files: SentFile[];
}
export const submissionQuery = defineQuery<SubmissionView>('submission');

// ---- activities ---------------------------------------------------------------------------------

export interface SendSubmissionFilesInput {
  submissionId: string;
  practiceOds: string;
  recordSets: DayRecordSet[];
}

export interface TrackMessagesInput {
  messageIds: string[];
}

/** MESH's tracking status of one sent message ('unknown' when MESH does not know it). */
export interface TrackedMessage {
  messageId: string;
  status: string;
  description?: string;
}

export interface SubmissionActivities {
  /** Renders the record sets into files and sends each over MESH once (a retry finds what was sent). */
  sendSubmissionFiles(input: SendSubmissionFilesInput): Promise<SentFile[]>;
  /** MESH's tracking of sent messages, one answer per id. */
  trackMessages(input: TrackMessagesInput): Promise<TrackedMessage[]>;
}
