/**
 * What a message in our inbox says about our submissions, read from its MESH metadata and body alone
 * (no I/O, unit-tested in test/activities/). Error REPORTs link to our message id; business
 * acknowledgements (workflow `<ours>_ACK`) carry JSON `{ "messageId", "status": "accepted"|"rejected",
 * "code"?, "reason"? }` or plain text starting ACK/NACK, with the linked message id in the MESH
 * headers. Anything else is 'other'. The poll activity then finds the submission through the local
 * id of our original message.
 */
import type { InboxItem } from '../messages/inbox';
import type { MeshMessageMetadata } from '../mesh';

export interface InboxMessageReading {
  kind: InboxItem['kind'];
  /** Our message it is about. */
  aboutMessageId?: string;
  code?: string;
  description?: string;
}

/** A reason from the Authority is kept to this length (it goes to history). */
const MAX_REASON_LENGTH = 500;

export function readInboxMessage(metadata: MeshMessageMetadata, body: string, ourWorkflowId: string): InboxMessageReading {
  if (metadata.messageType === 'REPORT') {
    return {
      kind: 'error-report',
      ...(metadata.linkedMessageId ? { aboutMessageId: metadata.linkedMessageId } : {}),
      ...(metadata.statusCode ? { code: metadata.statusCode } : {}),
      ...(metadata.statusDescription ? { description: metadata.statusDescription } : {}),
    };
  }
  if (metadata.workflowId !== `${ourWorkflowId}_ACK`) return { kind: 'other' };
  const text = body.trim();
  let about = metadata.linkedMessageId;
  let accepted = /^ACK\b/i.test(text);
  let code: string | undefined;
  let description: string | undefined;
  try {
    const parsed = JSON.parse(text) as { messageId?: string; status?: string; code?: string; reason?: string };
    about = parsed.messageId ?? about;
    accepted = parsed.status === 'accepted';
    code = parsed.code;
    description = parsed.reason;
  } catch {
    /* plain text acknowledgement */
  }
  return {
    kind: accepted ? 'ack' : 'nack',
    ...(about ? { aboutMessageId: about } : {}),
    ...(code ? { code } : {}),
    ...(description ? { description: description.slice(0, MAX_REASON_LENGTH) } : {}),
  };
}

/** The item the inbox workflow gets: metadata and the reading, with the submission when found. */
export function inboxItem(metadata: MeshMessageMetadata, reading: InboxMessageReading, submissionId: string | undefined): InboxItem {
  return {
    messageId: metadata.messageId,
    kind: reading.kind,
    ...(metadata.workflowId ? { workflowId: metadata.workflowId } : {}),
    ...(metadata.from ? { sender: metadata.from } : {}),
    ...(reading.aboutMessageId ? { aboutMessageId: reading.aboutMessageId } : {}),
    ...(submissionId ? { submissionId } : {}),
    ...(reading.code ? { code: reading.code } : {}),
    ...(reading.description ? { description: reading.description } : {}),
  };
}
