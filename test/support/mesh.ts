/**
 * Test helpers for the MESH sandbox: clients for the run's sandbox, and its admin calls (no auth,
 * not part of the real API) to inject REPORT messages and message events and to empty mailboxes.
 */
import { inject } from 'vitest';
import { MeshClient, type MeshClientOptions } from '../../mesh';
import { SANDBOX_PASSWORD } from './stack';

/** A client for a mailbox of the run's sandbox; short backoff so retries do not slow tests. */
export function sandboxClient(mailbox: string, overrides: Partial<MeshClientOptions> = {}): MeshClient {
  return new MeshClient({
    url: inject('meshUrl'),
    mailbox,
    password: SANDBOX_PASSWORD,
    sharedKey: inject('meshSharedKey'),
    retry: { attempts: 4, baseDelayMs: 20, maxDelayMs: 200 },
    ...overrides,
  });
}

async function admin(method: string, path: string, body?: unknown): Promise<unknown> {
  const res = await fetch(`${inject('meshUrl')}${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? null : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`sandbox admin ${method} ${path}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : undefined;
}

/** Empties a mailbox's inbox and outbox. */
export async function resetMailbox(mailbox: string): Promise<void> {
  await admin('DELETE', `/admin/reset/${mailbox}`);
}

/** Puts a REPORT message (no body) into a mailbox's inbox, as MESH does for an undelivered message. */
export async function injectReport(report: {
  mailboxId: string;
  linkedMessageId: string;
  workflowId: string;
  code?: string;
  description?: string;
  status?: 'undeliverable' | 'error';
  localId?: string;
  subject?: string;
}): Promise<string> {
  const res = (await admin('POST', '/messageexchange/admin/report', {
    mailbox_id: report.mailboxId,
    linked_message_id: report.linkedMessageId,
    workflow_id: report.workflowId,
    code: report.code ?? '14',
    description: report.description ?? 'Message not collected by recipient after 5 days',
    status: report.status ?? 'undeliverable',
    local_id: report.localId,
    subject: report.subject,
  })) as { message_id: string };
  return res.message_id;
}

/** Appends a status event to a message, e.g. `error`, after which downloads answer 410. */
export async function addMessageEvent(messageId: string, event: { status: string; code?: string; event?: string; description?: string }): Promise<void> {
  await admin('POST', `/admin/message/${messageId}/event`, event);
}

/** Drains an async iterable into an array. */
export async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}
