/**
 * The plain class behind the inbox workflow, without a server: which messages go to their submission
 * (as a delivery notice), which go to the practice's reporting once the submission has ended (a late
 * NACK or error report), which need nothing (a late ACK) and which stay visible as unrouted — at most
 * 200, the rest counted — and when the inbox polls again.
 */
import { describe, expect, it } from 'vitest';
import type { InboxItem } from '../../messages/inbox';
import { InboxRouter, MAX_UNROUTED_KEPT } from '../../workflows/inbox-router';

const submissionId = 'gp2gp-sub-A81001-20261120-20261121-rabc123-1';
const now = new Date('2026-11-22T10:00:00.000Z');
const item = (over: Partial<InboxItem> = {}): InboxItem => ({ messageId: 'M1', kind: 'nack', submissionId, aboutMessageId: 'OURS1', ...over });

describe('InboxRouter: where each message goes', () => {
  it('an ACK, a NACK or an error report about a message of ours goes to its submission as a notice', () => {
    const inbox = new InboxRouter({ mailbox: 'X26GPMI001' });
    expect(inbox.route(item({ kind: 'ack' }))).toEqual({ to: 'submission', submissionId, notice: { kind: 'ack', messageId: 'OURS1' } });
    expect(inbox.route(item({ kind: 'nack', code: '12', description: 'bad file' }))).toEqual({
      to: 'submission',
      submissionId,
      notice: { kind: 'nack', messageId: 'OURS1', code: '12', description: 'bad file' },
    });
    expect(inbox.route(item({ kind: 'error-report', code: '14' }))).toMatchObject({ to: 'submission', notice: { kind: 'error-report', code: '14' } });
  });

  it('anything else, or a notice about no message of ours, stays unrouted with the reason', () => {
    const inbox = new InboxRouter({ mailbox: 'X26GPMI001' });
    expect(inbox.route(item({ kind: 'other' }))).toEqual({ to: 'unrouted', reason: 'not a report or acknowledgement' });
    expect(inbox.route(item({ submissionId: undefined }))).toEqual({ to: 'unrouted', reason: 'not about a message of ours' });
    expect(inbox.route(item({ aboutMessageId: undefined }))).toEqual({ to: 'unrouted', reason: 'not about a message of ours' });
  });

  it('once the submission has ended: a late ACK needs nothing, a late NACK or report goes to the reporting, else unrouted', () => {
    const inbox = new InboxRouter({ mailbox: 'X26GPMI001' });
    expect(inbox.routeAfterSubmissionEnded(item({ kind: 'ack' }), 'A81001', 'gone')).toEqual({ to: 'nowhere' });
    expect(inbox.routeAfterSubmissionEnded(item({ kind: 'nack', code: '12', description: 'bad file' }), 'A81001', 'gone')).toEqual({
      to: 'reporting',
      practiceOds: 'A81001',
      rejection: { submissionId, reason: 'negative acknowledgement after delivery (code 12): bad file' },
    });
    expect(inbox.routeAfterSubmissionEnded(item({ kind: 'error-report' }), 'A81001', 'gone')).toMatchObject({
      rejection: { reason: 'MESH error report after delivery' },
    });
    expect(inbox.routeAfterSubmissionEnded(item(), undefined, 'workflow not found')).toEqual({
      to: 'unrouted',
      reason: `submission ${submissionId} not reachable: workflow not found`,
    });
  });
});

describe('InboxRouter: what it keeps and shows', () => {
  it('counts routed messages and keeps unrouted ones most recent first, at most 200, the rest counted', () => {
    const inbox = new InboxRouter({ mailbox: 'X26GPMI001' });
    inbox.routed();
    inbox.polled(now);
    for (let i = 0; i < MAX_UNROUTED_KEPT + 3; i++) inbox.keepUnrouted(item({ messageId: `U${i}` }), 'why', now);
    const view = inbox.view();
    expect(view).toMatchObject({ mailbox: 'X26GPMI001', routed: 1, lastPollAt: now.toISOString(), unroutedDropped: 3 });
    expect(view.unrouted).toHaveLength(MAX_UNROUTED_KEPT);
    expect(view.unrouted[0]).toEqual({ ...item({ messageId: `U${MAX_UNROUTED_KEPT + 2}` }), reason: 'why', receivedAt: now.toISOString() });
    expect(inbox.details()).toBe(
      `Inbox X26GPMI001: last poll ${now.toISOString()}, 1 routed this run, ${MAX_UNROUTED_KEPT} unrouted kept (latest: U${MAX_UNROUTED_KEPT + 2}, why)`,
    );
  });

  it('a reporting that cannot be reached either keeps the message with both facts', () => {
    const inbox = new InboxRouter({ mailbox: 'X26GPMI001' });
    inbox.reportingUnreachable(item(), 'not found', now);
    expect(inbox.view().unrouted[0]!.reason).toBe(`submission ${submissionId} has ended and its practice's reporting is not reachable: not found`);
  });

  it('carries the unrouted messages and the options across continue-as-new, without the run counters', () => {
    const inbox = new InboxRouter({ mailbox: 'X26GPMI001', options: { pollIntervalMs: 1_000 }, unroutedDropped: 7 });
    inbox.keepUnrouted(item(), 'why', now);
    inbox.routed();
    const next = new InboxRouter(inbox.continueAsNewInput());
    expect(next.pollIntervalMs).toBe(1_000);
    expect(next.view()).toMatchObject({ routed: 0, unroutedDropped: 7, unrouted: [{ messageId: 'M1', reason: 'why' }] });
  });
});

describe('InboxRouter: when it polls', () => {
  it('defaults to MESH guidance: every 5 minutes, pages of 500', () => {
    const inbox = new InboxRouter({ mailbox: 'X26GPMI001' });
    expect([inbox.pollIntervalMs, inbox.pageSize]).toEqual([300_000, 500]);
  });

  it('polls again at once while pages come back full, unless something failed (then waits, and forgets it)', () => {
    const inbox = new InboxRouter({ mailbox: 'X26GPMI001' });
    expect(inbox.pollAgainAtOnce({ items: [], full: true })).toBe(true);
    expect(inbox.pollAgainAtOnce({ items: [], full: false })).toBe(false);
    inbox.acknowledgeFailed('MESH down');
    expect(inbox.pollAgainAtOnce({ items: [], full: true })).toBe(false);
    expect(inbox.pollAgainAtOnce({ items: [], full: true })).toBe(true);
    expect(inbox.pollFailed('authentication refused')).toBe('Inbox X26GPMI001: polling failed: authentication refused');
    expect(inbox.pollAgainAtOnce({ items: [], full: true })).toBe(false);
  });

  it('an operator request is answered by the next poll', () => {
    const inbox = new InboxRouter({ mailbox: 'X26GPMI001' });
    inbox.requestPoll();
    expect(inbox.pollIsRequested).toBe(true);
    inbox.pollStarting();
    expect(inbox.pollIsRequested).toBe(false);
  });
});
