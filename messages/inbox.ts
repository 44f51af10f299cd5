/**
 * The inbox concern's public API: what starts the inbox workflow of one of our MESH mailboxes (and
 * carries what it could not route across continue-as-new), its query and signal, and the activities
 * it calls. Imported alike by the workflow, the activities and clients; the wire names ('inbox',
 * 'pollNow') are fixed by saved histories and running workflows.
 */
import { defineQuery, defineSignal } from '@temporalio/workflow';

// ---- the workflow -------------------------------------------------------------------------------

/** A message in our inbox, classified by the poll activity (metadata only: no bodies in history). */
export interface InboxItem {
  messageId: string;
  kind: 'error-report' | 'ack' | 'nack' | 'other';
  /** The submission workflow the message is about, when known. */
  submissionId?: string;
  /** Our message the notice is about. */
  aboutMessageId?: string;
  code?: string;
  description?: string;
  workflowId?: string;
  sender?: string;
}

/** A message the inbox could not route, kept visible (query, details) rather than dropped. */
export interface UnroutedMessage extends InboxItem {
  reason: string;
  receivedAt: string;
}

export interface InboxOptions {
  /** Longest wait between polls (default 5 minutes, MESH's guidance); a full page polls again at once. */
  pollIntervalMs?: number;
  /** Messages per poll (default 500, MESH's page). */
  pageSize?: number;
  /**
   * Polls after which a run continues as new (default 500). Lowered only to prove continue-as-new in
   * tests (test/month.test.ts, GP2GP_INBOX_POLLS_PER_RUN); carried with the input.
   */
  pollsPerRun?: number;
}

/** The workflow type the worker registers (workflows/index.ts): fixed by running workflows. */
export const inboxWorkflowType = 'inboxWorkflow';
/** The inbox workflow's signature, so its start is type-checked without importing the workflow. */
export type InboxWorkflow = (input: InboxInput) => Promise<void>;

export interface InboxInput {
  mailbox: string;
  options?: InboxOptions;
  /** Carried across continue-as-new. */
  unrouted?: UnroutedMessage[];
  unroutedDropped?: number;
}

export interface InboxView {
  mailbox: string;
  lastPollAt?: string;
  /** Messages routed in this run. */
  routed: number;
  /** Most recent first, at most 200. */
  unrouted: UnroutedMessage[];
  /** Unrouted messages no longer kept (beyond the 200 most recent). */
  unroutedDropped: number;
}

// ---- messages -----------------------------------------------------------------------------------

export const inboxQuery = defineQuery<InboxView>('inbox');
/** Poll now instead of waiting for the interval (for operators: `temporal workflow signal --name pollNow`). */
export const pollNowSignal = defineSignal('pollNow');

// ---- activities ---------------------------------------------------------------------------------

export interface PollInboxInput {
  maxResults: number;
}

/** One page of the inbox; `full` when there may be more waiting. */
export interface InboxPage {
  items: InboxItem[];
  full: boolean;
}

export interface AcknowledgeMessagesInput {
  messageIds: string[];
}

export interface InboxActivities {
  /** One page of our inbox (our workflow's messages only), each message classified; bodies stay in the activity. */
  pollInbox(input: PollInboxInput): Promise<InboxPage>;
  /** Acknowledges (removes) messages from our inbox; one already gone is fine. */
  acknowledgeMessages(input: AcknowledgeMessagesInput): Promise<void>;
}
