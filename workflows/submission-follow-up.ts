/**
 * The state and every decision of one MI submission, without Temporal: the files sent, what MESH's
 * tracking and the inbox's notices say about each, when to look again (backing off), the delivery
 * deadline, and the result. Delivered once every file is acknowledged; failed on a send fault, a
 * negative acknowledgement, a MESH error report, a failed tracking status or answer, the deadline,
 * or cancellation. The workflow (workflows/submission.ts) only wires messages and activities to these
 * methods; time comes in as `now` so tests need no server.
 */
import type {
  DeliveryNotice,
  SentFile,
  SubmissionInput,
  SubmissionResult,
  SubmissionStatus,
  SubmissionView,
  TrackedMessage,
  TrackMessagesInput,
} from '../messages/submission';

/** MESH's message expiry: no acknowledgement can come after it. */
const DEFAULT_DEADLINE_MS = 5 * 24 * 3_600_000;
/** MESH tracking statuses after which the message will never be acknowledged. */
const FAILED_TRACKING = new Set(['error', 'undeliverable', 'expired', 'failed']);

export class SubmissionFollowUp {
  private statusNow: SubmissionStatus = 'sending';
  private reasonNow: string | undefined;
  private sentFiles: SentFile[] = [];
  /** Notices from the inbox not yet applied. */
  private readonly notices: DeliveryNotice[] = [];
  readonly days: string[];
  private trackingInterval: number;
  private readonly trackingMax: number;
  private readonly deadlineMs: number;
  private deadlineAt = Infinity;
  /** The details text last shown, so only changes are shown again. */
  private shownDetails = '';

  constructor(readonly input: SubmissionInput) {
    this.days = input.recordSets.map((s) => s.day);
    this.trackingInterval = input.options?.trackingIntervalMs ?? 60_000;
    this.trackingMax = input.options?.trackingMaxIntervalMs ?? 30 * 60_000;
    this.deadlineMs = input.options?.deliveryDeadlineMs ?? DEFAULT_DEADLINE_MS;
  }

  get status(): SubmissionStatus {
    return this.statusNow;
  }
  get reason(): string | undefined {
    return this.reasonNow;
  }
  get files(): readonly SentFile[] {
    return this.sentFiles;
  }
  get awaitingAcknowledgement(): boolean {
    return this.statusNow === 'awaiting-acknowledgement';
  }
  get ended(): boolean {
    return this.statusNow === 'delivered' || this.statusNow === 'failed';
  }

  // ---- sending ------------------------------------------------------------------------------------

  /** The files went out at `now`: the recipient has from then, not from our start, to acknowledge. */
  sent(files: SentFile[], now: number): void {
    this.sentFiles = files;
    this.statusNow = 'awaiting-acknowledgement';
    this.deadlineAt = now + this.deadlineMs;
  }

  /** A fault no retry fixes (authentication, refused recipient, configuration, unrenderable rows). */
  sendFailed(message: string): void {
    this.fail(`send failed: ${message}`);
  }

  // ---- following up -------------------------------------------------------------------------------

  /**
   * `deliveryNoticeSignal`: kept until applied, as it may arrive before the send has returned. One
   * that comes after the end changes nothing: the result has been (or is being) reported.
   */
  noticed(notice: DeliveryNotice): void {
    if (!this.ended) this.notices.push(notice);
  }

  hasNotices(): boolean {
    return this.notices.length > 0;
  }

  /**
   * How long to wait for a notice before asking MESH's tracking, or undefined when the deadline has
   * passed — which ends the submission failed.
   */
  nextWait(now: number): number | undefined {
    if (now >= this.deadlineAt) {
      this.fail(`not acknowledged by the recipient within ${Math.round(this.deadlineMs / 3_600_000)} h of sending`);
      return undefined;
    }
    return Math.min(this.trackingInterval, this.deadlineAt - now);
  }

  /**
   * After a wait: applies the notices that came; true when MESH's tracking should be asked (no notice
   * woke us and the submission still awaits acknowledgement).
   */
  woke(byNotice: boolean): boolean {
    this.applyNotices();
    return !byNotice && this.awaitingAcknowledgement;
  }

  /** The messages whose acknowledgement is still awaited. */
  toTrack(): TrackMessagesInput {
    return { messageIds: this.sentFiles.filter((f) => !f.acknowledged).map((f) => f.messageId) };
  }

  /** What MESH's tracking said; then the notices that came meanwhile, and a longer wait next time. */
  tracked(results: TrackedMessage[]): void {
    for (const t of results) {
      const file = this.sentFiles.find((f) => f.messageId === t.messageId);
      if (!file) continue;
      const status = t.status.toLowerCase();
      if (status === 'acknowledged') file.acknowledged = true;
      else if (FAILED_TRACKING.has(status)) this.fail(`MESH tracking says ${status} for ${file.fileName}${t.description ? `: ${t.description}` : ''}`);
    }
    this.afterTracking();
  }

  /**
   * A permanent fault while tracking (e.g. the password was rotated) ends this submission with its
   * reason; its days stay due and go out again with the next submission.
   */
  trackingFailed(message: string): void {
    this.fail(`tracking failed: ${message}`);
    this.afterTracking();
  }

  private afterTracking(): void {
    this.applyNotices();
    this.trackingInterval = Math.min(this.trackingInterval * 2, this.trackingMax);
  }

  /** Stopped before an end (the workflow was cancelled): failed, so its days stay due. */
  stopped(): void {
    if (!this.ended) this.fail('cancelled');
  }

  private fail(reason: string): void {
    this.statusNow = 'failed';
    this.reasonNow = reason;
  }

  /** Applies the notices from the inbox; delivered once every file is acknowledged. */
  private applyNotices(): void {
    for (const notice of this.notices.splice(0)) {
      const file = this.sentFiles.find((f) => f.messageId === notice.messageId);
      if (!file) continue;
      if (notice.kind === 'ack') file.acknowledged = true;
      else
        this.fail(
          `${notice.kind === 'nack' ? 'negative acknowledgement' : 'MESH error report'} for ${file.fileName}` +
            `${notice.code ? ` (code ${notice.code})` : ''}${notice.description ? `: ${notice.description}` : ''}`,
        );
    }
    if (this.statusNow !== 'failed' && this.sentFiles.length && this.sentFiles.every((f) => f.acknowledged)) this.statusNow = 'delivered';
  }

  // ---- what others see ----------------------------------------------------------------------------

  result(): SubmissionResult {
    return {
      submissionId: this.input.submissionId,
      status: this.statusNow === 'delivered' ? 'delivered' : 'failed',
      ...(this.reasonNow ? { reason: this.reasonNow } : {}),
      files: this.sentFiles,
      days: this.days,
    };
  }

  view(): SubmissionView {
    return {
      submissionId: this.input.submissionId,
      practiceOds: this.input.practiceOds,
      days: this.days,
      status: this.statusNow,
      ...(this.reasonNow ? { reason: this.reasonNow } : {}),
      files: this.sentFiles,
    };
  }

  /** The summary the Web UI shows, or undefined when it has not changed since last shown. */
  changedDetails(): string | undefined {
    const files = this.sentFiles.map((f) => `${f.fileName} (${f.messageId}${f.acknowledged ? ', acknowledged' : ''})`).join(', ');
    const details =
      `Submission of ${this.input.practiceOds} for ${this.days.join(', ')}: ${this.statusNow}` +
      (this.reasonNow ? ` — ${this.reasonNow}` : '') +
      (files ? `\nfiles: ${files}` : '');
    if (details === this.shownDetails) return undefined;
    this.shownDetails = details;
    return details;
  }
}
