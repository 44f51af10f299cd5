/**
 * Classifying a message of our inbox from its MESH metadata and body, without a server: error REPORTs,
 * business acknowledgements in JSON or plain text, and everything else.
 */
import { describe, expect, it } from 'vitest';
import { inboxItem, readInboxMessage } from '../../activities/inbox-messages';
import type { MeshMessageMetadata } from '../../mesh';

const meta = (over: Partial<MeshMessageMetadata> = {}): MeshMessageMetadata => ({ messageId: 'IN1', messageType: 'DATA', totalChunks: 1, ...over });
const ACK_WORKFLOW = { workflowId: 'GP2GP_MI_ACK' };

describe('readInboxMessage', () => {
  it('a MESH error REPORT is about the linked message, with MESH status code and description', () => {
    const report = meta({ messageType: 'REPORT', totalChunks: 0, linkedMessageId: 'OURS1', statusCode: '14', statusDescription: 'not collected' });
    expect(readInboxMessage(report, '', 'GP2GP_MI')).toEqual({ kind: 'error-report', aboutMessageId: 'OURS1', code: '14', description: 'not collected' });
  });

  it('a JSON business acknowledgement: accepted is an ACK, anything else a NACK with its code and reason', () => {
    expect(readInboxMessage(meta(ACK_WORKFLOW), '{"messageId":"OURS1","status":"accepted"}', 'GP2GP_MI')).toEqual({ kind: 'ack', aboutMessageId: 'OURS1' });
    expect(readInboxMessage(meta(ACK_WORKFLOW), '{"messageId":"OURS1","status":"rejected","code":"12","reason":"bad header"}', 'GP2GP_MI')).toEqual({
      kind: 'nack',
      aboutMessageId: 'OURS1',
      code: '12',
      description: 'bad header',
    });
    const long = readInboxMessage(meta(ACK_WORKFLOW), JSON.stringify({ messageId: 'OURS1', status: 'rejected', reason: 'x'.repeat(900) }), 'GP2GP_MI');
    expect(long.description).toHaveLength(500);
  });

  it('a plain-text acknowledgement starts ACK or NACK and names our message in mex-linkedmsgid', () => {
    expect(readInboxMessage(meta({ ...ACK_WORKFLOW, linkedMessageId: 'OURS2' }), ' ACK received\n', 'GP2GP_MI')).toEqual({ kind: 'ack', aboutMessageId: 'OURS2' });
    expect(readInboxMessage(meta({ ...ACK_WORKFLOW, linkedMessageId: 'OURS2' }), 'NACK rejected', 'GP2GP_MI')).toEqual({ kind: 'nack', aboutMessageId: 'OURS2' });
    expect(readInboxMessage(meta(ACK_WORKFLOW), 'ACKNOWLEDGED', 'GP2GP_MI')).toEqual({ kind: 'nack' });
  });

  it("anything else is 'other', whatever its body says", () => {
    expect(readInboxMessage(meta({ workflowId: 'GP2GP_MI' }), 'ACK', 'GP2GP_MI')).toEqual({ kind: 'other' });
    expect(readInboxMessage(meta({ workflowId: 'OTHER_ACK' }), '{"status":"accepted"}', 'GP2GP_MI')).toEqual({ kind: 'other' });
  });
});

describe('inboxItem', () => {
  it('only metadata and the reading go to history, with the submission when found', () => {
    const m = meta({ ...ACK_WORKFLOW, from: 'X26NHSE001', subject: 'ignored', localId: 'theirs' });
    expect(inboxItem(m, { kind: 'nack', aboutMessageId: 'OURS1', code: '12' }, 'gp2gp-sub-A81001-20261120-20261121-rabc123-1')).toEqual({
      messageId: 'IN1',
      kind: 'nack',
      workflowId: 'GP2GP_MI_ACK',
      sender: 'X26NHSE001',
      aboutMessageId: 'OURS1',
      submissionId: 'gp2gp-sub-A81001-20261120-20261121-rabc123-1',
      code: '12',
    });
    expect(inboxItem(meta(), { kind: 'other' }, undefined)).toEqual({ messageId: 'IN1', kind: 'other' });
  });
});
