/**
 * One MI submission: the record sets of some days of one practice, rendered and sent over MESH, then
 * followed until NHS England's mailbox has acknowledged every file — or until a permanent fault, a
 * negative acknowledgement or the deadline ends it failed, with its reason. The CSV bytes never enter
 * workflow history: the send activity renders them from the rows. The MESH local id of each file is
 * derived from the submission id, so a retried send finds its message instead of sending twice.
 */
import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  condition,
  defineQuery,
  defineSignal,
  getExternalWorkflowHandle,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
} from '@temporalio/workflow';
import type * as activities from '../activities';
import type { Side } from '../mi/events';
import { miDaysKey, practiceOdsKey, submissionStatusKey } from './search-attributes';

// ---- public API -------------------------------------------------------------------------------

export interface SubmissionRecordSet {
  day: string;
  rows: { side: Side; key: string; firstEventAt: string; fields: string[] }[];
}

export interface SubmissionOptions {
  /** First wait before tracking a sent message; doubles up to trackingMaxIntervalMs. */
  trackingIntervalMs?: number;
  trackingMaxIntervalMs?: number;
  /** Give up waiting for acknowledgement after this long (default: MESH's 5-day expiry). */
  deliveryDeadlineMs?: number;
}

export interface SubmissionInput {
  submissionId: string;
  practiceOds: string;
  reportingWorkflowId: string;
  recordSets: SubmissionRecordSet[];
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

export interface SubmissionResult {
  submissionId: string;
  status: 'delivered' | 'failed';
  reason?: string;
  files: SentFile[];
  days: string[];
}

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

// ---- the workflow -------------------------------------------------------------------------------

const { sendSubmissionFiles, trackMessages } = proxyActivities<ReturnType<typeof activities.createActivities>>({
  // The send heartbeats every 5 s while it runs: a dead worker is noticed in 30 s, not 30 minutes.
  startToCloseTimeout: '30 minutes',
  heartbeatTimeout: '30 seconds',
  retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '5 minutes' },
});

const DEFAULT_DEADLINE_MS = 5 * 24 * 3_600_000;
const FAILED_TRACKING = new Set(['error', 'undeliverable', 'expired', 'failed']);

class Submission {
  status: SubmissionStatus = 'sending';
  reason: string | undefined;
  files: SentFile[] = [];
  readonly notices: DeliveryNotice[] = [];
  readonly days: string[];

  constructor(readonly input: SubmissionInput) {
    this.days = input.recordSets.map((s) => s.day);
  }

  fail(reason: string): void {
    this.status = 'failed';
    this.reason = reason;
  }

  /** Applies notices from the inbox; true when the submission reached an end. */
  applyNotices(): void {
    for (const notice of this.notices.splice(0)) {
      const file = this.files.find((f) => f.messageId === notice.messageId);
      if (!file) continue;
      if (notice.kind === 'ack') file.acknowledged = true;
      else
        this.fail(
          `${notice.kind === 'nack' ? 'negative acknowledgement' : 'MESH error report'} for ${file.fileName}` +
            `${notice.code ? ` (code ${notice.code})` : ''}${notice.description ? `: ${notice.description}` : ''}`,
        );
    }
    if (this.status !== 'failed' && this.files.length && this.files.every((f) => f.acknowledged)) this.status = 'delivered';
  }

  view(): SubmissionView {
    return {
      submissionId: this.input.submissionId,
      practiceOds: this.input.practiceOds,
      days: this.days,
      status: this.status,
      ...(this.reason ? { reason: this.reason } : {}),
      files: this.files,
    };
  }
}

function failureMessage(err: unknown): string {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  return cause instanceof Error ? cause.message : String(cause);
}

export async function submissionWorkflow(input: SubmissionInput): Promise<SubmissionResult> {
  const submission = new Submission(input);
  let trackingInterval = input.options?.trackingIntervalMs ?? 60_000;
  const trackingMax = input.options?.trackingMaxIntervalMs ?? 30 * 60_000;
  const deadlineMs = input.options?.deliveryDeadlineMs ?? DEFAULT_DEADLINE_MS;

  setHandler(deliveryNoticeSignal, (notice) => {
    submission.notices.push(notice);
  });
  setHandler(submissionQuery, () => submission.view());

  let shown = '';
  const show = () => {
    const files = submission.files.map((f) => `${f.fileName} (${f.messageId}${f.acknowledged ? ', acknowledged' : ''})`).join(', ');
    const details =
      `Submission of ${input.practiceOds} for ${submission.days.join(', ')}: ${submission.status}` +
      (submission.reason ? ` — ${submission.reason}` : '') +
      (files ? `\nfiles: ${files}` : '');
    // Only real changes reach history.
    if (details === shown) return;
    shown = details;
    setCurrentDetails(details);
    upsertSearchAttributes([
      { key: practiceOdsKey, value: input.practiceOds },
      { key: submissionStatusKey, value: submission.status },
      { key: miDaysKey, value: submission.days },
    ]);
  };

  try {
    show();
    try {
      submission.files = await sendSubmissionFiles({
        submissionId: input.submissionId,
        practiceOds: input.practiceOds,
        recordSets: input.recordSets,
      });
      submission.status = 'awaiting-acknowledgement';
    } catch (err) {
      // Only non-retryable faults get here (authentication, refused recipient, configuration, a
      // record set that cannot be rendered).
      submission.fail(`send failed: ${failureMessage(err)}`);
    }

    // The recipient has from the moment of sending, not from our start, to acknowledge.
    const deadlineAt = Date.now() + deadlineMs;
    while (submission.status === 'awaiting-acknowledgement') {
      show();
      const now = Date.now();
      if (now >= deadlineAt) {
        submission.fail(`not acknowledged by the recipient within ${Math.round(deadlineMs / 3_600_000)} h of sending`);
        break;
      }
      const noticed = await condition(() => submission.notices.length > 0, Math.min(trackingInterval, deadlineAt - now));
      submission.applyNotices();
      // A notice woke us: no need to ask MESH's tracking as well.
      if (noticed || submission.status !== 'awaiting-acknowledgement') continue;
      const pending = submission.files.filter((f) => !f.acknowledged);
      try {
        for (const t of await trackMessages({ messageIds: pending.map((f) => f.messageId) })) {
          const file = submission.files.find((f) => f.messageId === t.messageId)!;
          const status = t.status.toLowerCase();
          if (status === 'acknowledged') file.acknowledged = true;
          else if (FAILED_TRACKING.has(status)) {
            submission.fail(`MESH tracking says ${status} for ${file.fileName}${t.description ? `: ${t.description}` : ''}`);
          }
        }
      } catch (err) {
        // A permanent fault while tracking (e.g. the password was rotated) ends this submission with
        // its reason; its days stay due and go out again with the next submission.
        submission.fail(`tracking failed: ${failureMessage(err)}`);
      }
      submission.applyNotices();
      trackingInterval = Math.min(trackingInterval * 2, trackingMax);
    }
  } finally {
    if (submission.status !== 'delivered' && submission.status !== 'failed') submission.fail('cancelled');
    show();
    // Always report back, even when cancelled: the reporting workflow holds these days "in flight".
    // By workflow id only, as the reporting workflow may have continued as new meanwhile.
    await CancellationScope.nonCancellable(() =>
      getExternalWorkflowHandle(input.reportingWorkflowId).signal('submissionFinished', result()),
    );
  }
  if (submission.status === 'failed') {
    // Failed submissions end failed in the Web UI too, so `ExecutionStatus = "Failed"` finds them.
    throw ApplicationFailure.nonRetryable(submission.reason ?? 'submission failed', 'SubmissionFailed', result());
  }
  return result();

  function result(): SubmissionResult {
    return {
      submissionId: input.submissionId,
      status: submission.status === 'delivered' ? 'delivered' : 'failed',
      ...(submission.reason ? { reason: submission.reason } : {}),
      files: submission.files,
      days: submission.days,
    };
  }
}
