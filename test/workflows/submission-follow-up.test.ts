/**
 * The plain class behind the submission workflow, without a server: delivered once every file is
 * acknowledged (by notice or MESH tracking), failed on a NACK, an error report, a failed tracking
 * status or answer, the deadline or cancellation; notices that come early or late; the back-off.
 */
import { describe, expect, it } from 'vitest';
import type { SentFile, SubmissionInput } from '../../messages/submission';
import { SubmissionFollowUp } from '../../workflows/submission-follow-up';

const input: SubmissionInput = {
  submissionId: 'gp2gp-sub-A81001-20261120-20261121-rabc123-1',
  practiceOds: 'A81001',
  reportingWorkflowId: 'gp2gp-reporting-A81001',
  recordSets: [
    { day: '2026-11-20', rows: [] },
    { day: '2026-11-21', rows: [] },
  ],
  options: { trackingIntervalMs: 60_000, trackingMaxIntervalMs: 240_000, deliveryDeadlineMs: 3_600_000 },
};
const file = (n: number): SentFile => ({ fileName: `f${n}.csv`, localId: `${input.submissionId}-f${n}`, messageId: `M${n}`, bytes: 10, rows: 1 });
const t0 = Date.parse('2026-11-22T00:10:00Z');
const sentTwo = () => {
  const s = new SubmissionFollowUp(input);
  s.sent([file(1), file(2)], t0);
  return s;
};

describe('SubmissionFollowUp', () => {
  it('is delivered once every file is acknowledged, by notice or by tracking', () => {
    const s = sentTwo();
    expect(s.status).toBe('awaiting-acknowledgement');
    s.noticed({ kind: 'ack', messageId: 'M1' });
    expect(s.woke(true)).toBe(false);
    expect(s.status).toBe('awaiting-acknowledgement');
    expect(s.toTrack()).toEqual({ messageIds: ['M2'] });
    s.tracked([{ messageId: 'M2', status: 'Acknowledged' }]);
    expect(s.status).toBe('delivered');
    expect(s.result()).toMatchObject({ submissionId: input.submissionId, status: 'delivered', days: ['2026-11-20', '2026-11-21'] });
    expect(s.result().reason).toBeUndefined();
    expect(s.files.every((f) => f.acknowledged)).toBe(true);
  });

  it('fails on a negative acknowledgement, with the code and reason', () => {
    const s = sentTwo();
    s.noticed({ kind: 'nack', messageId: 'M2', code: 'E01', description: 'bad row' });
    s.woke(true);
    expect(s.status).toBe('failed');
    expect(s.reason).toBe('negative acknowledgement for f2.csv (code E01): bad row');
    expect(s.result().status).toBe('failed');
  });

  it('fails on a MESH error report', () => {
    const s = sentTwo();
    s.noticed({ kind: 'error-report', messageId: 'M1', code: '14' });
    expect(s.woke(true)).toBe(false);
    expect(s.reason).toBe('MESH error report for f1.csv (code 14)');
  });

  it('fails when tracking says the message will never arrive, or tracking itself fails', () => {
    const s = sentTwo();
    s.tracked([{ messageId: 'M1', status: 'Accepted' }, { messageId: 'M2', status: 'Undeliverable', description: 'no such mailbox' }]);
    expect(s.reason).toBe('MESH tracking says undeliverable for f2.csv: no such mailbox');
    const t = sentTwo();
    t.trackingFailed('MESH refused our credentials');
    expect(t.status).toBe('failed');
    expect(t.reason).toBe('tracking failed: MESH refused our credentials');
  });

  it('fails when nothing acknowledges within the deadline after sending', () => {
    const s = sentTwo();
    expect(s.nextWait(t0)).toBe(60_000);
    expect(s.nextWait(t0 + 3_590_000)).toBe(10_000);
    expect(s.nextWait(t0 + 3_600_000)).toBeUndefined();
    expect(s.status).toBe('failed');
    expect(s.reason).toBe('not acknowledged by the recipient within 1 h of sending');
  });

  it('waits twice as long after each tracking, up to the maximum', () => {
    const s = sentTwo();
    const waits: number[] = [];
    for (let i = 0; i < 4; i++) {
      waits.push(s.nextWait(t0)!);
      s.tracked([{ messageId: 'M1', status: 'Accepted' }]);
    }
    expect(waits).toEqual([60_000, 120_000, 240_000, 240_000]);
  });

  it('asks tracking only when no notice woke it', () => {
    const s = sentTwo();
    expect(s.woke(false)).toBe(true);
    s.noticed({ kind: 'ack', messageId: 'unknown' });
    expect(s.hasNotices()).toBe(true);
    // A notice about a message that is not ours is dropped.
    expect(s.woke(true)).toBe(false);
    expect(s.hasNotices()).toBe(false);
    expect(s.status).toBe('awaiting-acknowledgement');
  });

  it('keeps a notice that comes while sending, and applies it once the files are known', () => {
    const s = new SubmissionFollowUp(input);
    s.noticed({ kind: 'ack', messageId: 'M1' });
    s.sent([file(1)], t0);
    expect(s.hasNotices()).toBe(true);
    s.woke(true);
    expect(s.status).toBe('delivered');
  });

  it('ignores notices that come after the end', () => {
    const s = sentTwo();
    s.noticed({ kind: 'ack', messageId: 'M1' });
    s.noticed({ kind: 'ack', messageId: 'M2' });
    s.woke(true);
    expect(s.status).toBe('delivered');
    s.noticed({ kind: 'nack', messageId: 'M1' });
    expect(s.hasNotices()).toBe(false);
    expect(s.status).toBe('delivered');
  });

  it('a send fault fails it at once; stopping before an end fails it as cancelled', () => {
    const s = new SubmissionFollowUp(input);
    s.sendFailed('MESH refused the recipient');
    expect(s.awaitingAcknowledgement).toBe(false);
    expect(s.reason).toBe('send failed: MESH refused the recipient');
    s.stopped();
    expect(s.reason).toBe('send failed: MESH refused the recipient');
    const t = sentTwo();
    t.stopped();
    expect(t.result()).toMatchObject({ status: 'failed', reason: 'cancelled' });
  });

  it('shows its details (files and their acknowledgement) only when they change', () => {
    const s = new SubmissionFollowUp(input);
    expect(s.changedDetails()).toBe('Submission of A81001 for 2026-11-20, 2026-11-21: sending');
    expect(s.changedDetails()).toBeUndefined();
    s.sent([file(1)], t0);
    s.noticed({ kind: 'ack', messageId: 'M1' });
    s.woke(true);
    expect(s.changedDetails()).toBe('Submission of A81001 for 2026-11-20, 2026-11-21: delivered\nfiles: f1.csv (M1, acknowledged)');
    expect(s.view()).toMatchObject({ submissionId: input.submissionId, practiceOds: 'A81001', status: 'delivered', files: [{ messageId: 'M1', acknowledged: true }] });
  });
});
