/**
 * The state and every decision of the inbox workflow, without Temporal: where each polled message
 * goes (a notice to the submission that sent the file, a rejection to the practice's reporting when
 * that submission has already ended, or nowhere — kept visible as unrouted, the 200 most recent),
 * when to poll again, and what the inbox shows. The workflow (workflows/inbox.ts) only wires the
 * query, the signal, the activities and the signals to other workflows to these methods; time comes
 * in as `now` so tests need no server.
 */
import type { InboxInput, InboxItem, InboxPage, InboxView, UnroutedMessage } from '../messages/inbox';
import type { SubmissionRejection } from '../messages/reporting';
import type { DeliveryNotice } from '../messages/submission';

/** Unrouted messages kept for operators; older ones are only counted. */
export const MAX_UNROUTED_KEPT = 200;
const DEFAULT_POLL_INTERVAL_MS = 5 * 60_000;
const DEFAULT_PAGE_SIZE = 500;

/** Where a polled message goes first. */
export type Route = { to: 'submission'; submissionId: string; notice: DeliveryNotice } | { to: 'unrouted'; reason: string };

/** Where a message goes when its submission could not be signalled (it has ended). */
export type LateRoute =
  /** A late ACK changes nothing. */
  | { to: 'nowhere' }
  /** A late NACK or error report makes the delivered days due again, through the practice's reporting. */
  | { to: 'reporting'; practiceOds: string; rejection: SubmissionRejection }
  | { to: 'unrouted'; reason: string };

export class InboxRouter {
  readonly mailbox: string;
  readonly pollIntervalMs: number;
  readonly pageSize: number;
  private readonly unrouted: UnroutedMessage[];
  private unroutedDropped: number;
  private routedCount = 0;
  private lastPollAt: string | undefined;
  private lastError: string | undefined;
  private pollRequested = false;

  constructor(private readonly input: InboxInput) {
    this.mailbox = input.mailbox;
    this.pollIntervalMs = input.options?.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS;
    this.pageSize = input.options?.pageSize ?? DEFAULT_PAGE_SIZE;
    this.unrouted = [...(input.unrouted ?? [])];
    this.unroutedDropped = input.unroutedDropped ?? 0;
  }

  // ---- polling ----------------------------------------------------------------------------------

  /** An operator asked for a poll now. */
  requestPoll(): void {
    this.pollRequested = true;
  }

  get pollIsRequested(): boolean {
    return this.pollRequested;
  }

  /** A poll starts: an earlier request is answered by it. */
  pollStarting(): void {
    this.pollRequested = false;
  }

  /** The poll failed even after retries (e.g. authentication): the inbox goes on and says so. Returns the details to show. */
  pollFailed(message: string): string {
    this.lastError = `polling failed: ${message}`;
    return `Inbox ${this.mailbox}: ${this.lastError}`;
  }

  polled(now: Date): void {
    this.lastPollAt = now.toISOString();
  }

  /** Acknowledging failed: the messages come back with a later poll, and routing them twice is harmless. */
  acknowledgeFailed(message: string): void {
    this.lastError = `acknowledging failed: ${message}`;
  }

  /** After a page: poll again at once while pages come back full and nothing failed; otherwise wait (and forget the failure). */
  pollAgainAtOnce(page: InboxPage): boolean {
    if (page.full && !this.lastError) return true;
    this.lastError = undefined;
    return false;
  }

  // ---- routing ----------------------------------------------------------------------------------

  /** Where a polled message goes: only reports and acknowledgements about a message of ours are routed. */
  route(item: InboxItem): Route {
    if (item.kind === 'other') return { to: 'unrouted', reason: 'not a report or acknowledgement' };
    if (!item.submissionId || !item.aboutMessageId) return { to: 'unrouted', reason: 'not about a message of ours' };
    return {
      to: 'submission',
      submissionId: item.submissionId,
      notice: {
        kind: item.kind,
        messageId: item.aboutMessageId,
        ...(item.code ? { code: item.code } : {}),
        ...(item.description ? { description: item.description } : {}),
      },
    };
  }

  /**
   * The submission of a routed message could not be signalled (`error`): it has ended. `practiceOds`
   * is the practice of its submission id, when the id has one.
   */
  routeAfterSubmissionEnded(item: InboxItem, practiceOds: string | undefined, error: string): LateRoute {
    if (item.kind === 'ack') return { to: 'nowhere' };
    if (!practiceOds || !item.submissionId) return { to: 'unrouted', reason: `submission ${item.submissionId} not reachable: ${error}` };
    const reason =
      `${item.kind === 'nack' ? 'negative acknowledgement' : 'MESH error report'} after delivery` +
      `${item.code ? ` (code ${item.code})` : ''}${item.description ? `: ${item.description}` : ''}`;
    return { to: 'reporting', practiceOds, rejection: { submissionId: item.submissionId, reason } };
  }

  /** The practice's reporting could not be signalled either. */
  reportingUnreachable(item: InboxItem, error: string, now: Date): void {
    this.keepUnrouted(item, `submission ${item.submissionId} has ended and its practice's reporting is not reachable: ${error}`, now);
  }

  /** The message reached where it was going (or needed to go nowhere). */
  routed(): void {
    this.routedCount++;
  }

  /** Kept visible, most recent first; beyond MAX_UNROUTED_KEPT the oldest are only counted. */
  keepUnrouted(item: InboxItem, reason: string, now: Date): void {
    this.unrouted.unshift({ ...item, reason, receivedAt: now.toISOString() });
    while (this.unrouted.length > MAX_UNROUTED_KEPT) {
      this.unrouted.pop();
      this.unroutedDropped++;
    }
  }

  // ---- what it shows ----------------------------------------------------------------------------

  view(): InboxView {
    return {
      mailbox: this.mailbox,
      ...(this.lastPollAt ? { lastPollAt: this.lastPollAt } : {}),
      routed: this.routedCount,
      unrouted: this.unrouted,
      unroutedDropped: this.unroutedDropped,
    };
  }

  /** The workflow's current details after a poll. */
  details(): string {
    const latest = this.unrouted[0];
    return (
      `Inbox ${this.mailbox}: last poll ${this.lastPollAt}, ${this.routedCount} routed this run, ${this.unrouted.length} unrouted kept` +
      (latest ? ` (latest: ${latest.messageId}, ${latest.reason})` : '')
    );
  }

  /** The next run's input: the same mailbox and options, and what is still unrouted. */
  continueAsNewInput(): InboxInput {
    return { ...this.input, unrouted: this.unrouted, unroutedDropped: this.unroutedDropped };
  }
}
