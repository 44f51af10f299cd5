/**
 * Faults between the client and a real MESH sandbox, through test/support/fault-proxy: 503s,
 * connection resets, and the first outbox POST's answer lost after MESH created the message. The
 * send must still produce exactly one message. Mailboxes: X26MSH005 sends, X26MSH006 receives.
 */
import { randomBytes } from 'node:crypto';
import diagnostics from 'node:diagnostics_channel';
import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest';
import { LOCAL_ID_LOOKUP_UNAVAILABLE_CHANNEL, MeshGoneError, MeshTransientError } from '../../mesh';
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy';
import { collect, resetMailbox, sandboxClient } from '../support/mesh';

const SENDER = 'X26MSH005';
const RECIPIENT = 'X26MSH006';

let proxy: FaultProxy;

beforeEach(async () => {
  await resetMailbox(SENDER);
  await resetMailbox(RECIPIENT);
  proxy = await startFaultProxy({ target: inject('meshUrl') });
});

afterEach(async () => {
  await proxy.close();
});

/** Requests the proxy saw for a path pattern, with the action it took. */
function seen(pattern: RegExp): string[] {
  return proxy.requests.filter((r) => pattern.test(r.url.split('?')[0]!)).map((r) => `${r.method} ${r.action}`);
}

describe('a send through a faulty network', () => {
  it('produces exactly one message despite a 503, a lost first answer, resets and a lost last answer', async () => {
    const outbox = /\/outbox$/;
    const chunk = (n: number) => new RegExp(`/outbox/[0-9A-F_]+/${n}$`);
    for (const rule of [
      { method: 'POST', path: outbox, action: { status: 503 } },
      // MESH creates the message, the client never hears of it: a blind retry would send it twice.
      { method: 'POST', path: outbox, action: 'drop-response' },
      { method: 'GET', path: /\/outbox\/tracking\//, action: 'reset' },
      { method: 'POST', path: chunk(2), action: 'reset' },
      { method: 'POST', path: chunk(2), action: { status: 502 } },
      { method: 'POST', path: chunk(3), action: { status: 429, headers: { 'retry-after': '0' } } },
      // The last chunk completes the message, then its answer is lost: the retry meets 423.
      { method: 'POST', path: chunk(3), action: 'drop-response' },
    ] as const) {
      proxy.addRule(rule);
    }
    const data = randomBytes(250_000);
    const client = sandboxClient(SENDER, { url: proxy.url, retry: { attempts: 6, baseDelayMs: 10, maxDelayMs: 50 } });
    const direct = sandboxClient(RECIPIENT);
    try {
      const sent = await client.send({ to: RECIPIENT, workflowId: 'GP2GP_MI', body: data, chunkSizeBytes: 100_000 });
      expect(sent.reusedExisting).toBe(true);
      expect(proxy.pendingRules()).toEqual([]);
      expect(seen(outbox)).toEqual(['POST status 503', 'POST drop-response']);
      expect(seen(chunk(3))).toEqual(['POST status 429', 'POST drop-response', 'POST forward']);

      expect(await collect(direct.listInbox())).toEqual([sent.messageId]);
      expect((await direct.download(sent.messageId)).body.equals(data)).toBe(true);
      expect(await client.track(sent.messageId)).toMatchObject({ status: 'accepted' });
    } finally {
      await client.close();
      await direct.close();
    }
  });

  it('retries downloads from the start of the failed chunk', async () => {
    const data = randomBytes(300_000);
    const sender = sandboxClient(SENDER);
    const client = sandboxClient(RECIPIENT, { url: proxy.url, retry: { attempts: 4, baseDelayMs: 10, maxDelayMs: 50 } });
    try {
      const sent = await sender.send({ to: RECIPIENT, workflowId: 'GP2GP_MI', body: data, chunkSizeBytes: 100_000, gzip: true });
      proxy.addRule({ method: 'GET', path: new RegExp(`/inbox/${sent.messageId}/2$`), action: 'reset' });
      proxy.addRule({ method: 'GET', path: new RegExp(`/inbox/${sent.messageId}/3$`), action: { status: 504 } });
      expect((await client.download(sent.messageId)).body.equals(data)).toBe(true);
      expect(proxy.pendingRules()).toEqual([]);
    } finally {
      await sender.close();
      await client.close();
    }
  });

  it('finishes a half-uploaded message when the send is repeated with its local id', async () => {
    const data = randomBytes(250_000);
    const localId = `resume-${Date.now()}`;
    proxy.addRule({ method: 'POST', path: /\/outbox\/[0-9A-F_]+\/3$/, action: { status: 503 }, times: Infinity });
    const flaky = sandboxClient(SENDER, { url: proxy.url, retry: { attempts: 2, baseDelayMs: 10, maxDelayMs: 50 } });
    const sender = sandboxClient(SENDER);
    const direct = sandboxClient(RECIPIENT);
    try {
      const message = { to: RECIPIENT, workflowId: 'GP2GP_MI', body: data, chunkSizeBytes: 100_000, localId };
      await expect(flaky.send(message)).rejects.toBeInstanceOf(MeshTransientError);
      expect(await sender.trackByLocalId(localId)).toMatchObject({ status: 'uploading' });
      expect(await collect(direct.listInbox())).toEqual([]);

      const resumed = await sender.send(message);
      expect(resumed.reusedExisting).toBe(true);
      expect(await collect(direct.listInbox())).toEqual([resumed.messageId]);
      expect((await direct.download(resumed.messageId)).body.equals(data)).toBe(true);
    } finally {
      await Promise.all([flaky.close(), sender.close(), direct.close()]);
    }
  });

  it('gives up with a transient error after the configured attempts, and no message is left behind', async () => {
    proxy.addRule({ method: 'POST', path: /\/outbox$/, action: { status: 503 }, times: Infinity });
    const client = sandboxClient(SENDER, { url: proxy.url, retry: { attempts: 3, baseDelayMs: 10, maxDelayMs: 50 } });
    const direct = sandboxClient(RECIPIENT);
    try {
      const err = await client.send({ to: RECIPIENT, workflowId: 'GP2GP_MI', body: 'x' }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(MeshTransientError);
      expect((err as MeshTransientError).retryable).toBe(true);
      expect((err as MeshTransientError).attempts).toBe(3);
      // Three posts, and before each retry a look-up of the local id: nothing found, so a retry is safe.
      expect(seen(/\/outbox$/)).toHaveLength(3);
      expect(seen(/\/outbox\/tracking\//)).toHaveLength(2);
      expect(await collect(direct.listInbox())).toEqual([]);
    } finally {
      await client.close();
      await direct.close();
    }
  });
});

// Issue 16 item 11: the local-id lookup that guards first sends is a call MESH has deprecated.
describe('a MESH that no longer answers the deprecated local-id lookup', () => {
  const lookup = /\/outbox\/tracking\/[^/]+$/;

  /** Publications on the client's channel (what observability/mesh-metrics.ts counts) during `run`. */
  async function published<T>(run: () => Promise<T>): Promise<{ result: T; events: unknown[] }> {
    const events: unknown[] = [];
    const listener = (message: unknown) => void events.push(message);
    diagnostics.subscribe(LOCAL_ID_LOOKUP_UNAVAILABLE_CHANNEL, listener);
    try {
      return { result: await run(), events };
    } finally {
      diagnostics.unsubscribe(LOCAL_ID_LOOKUP_UNAVAILABLE_CHANNEL, listener);
    }
  }

  it.each([410, 405, 400])('sends anyway when the lookup answers %i: delivered once, counted, warned once', async (status) => {
    proxy.addRule({ method: 'GET', path: lookup, action: { status, body: '{"detail":"gone away"}' }, times: Infinity });
    const warnings: string[] = [];
    const client = sandboxClient(SENDER, { url: proxy.url, onWarning: (m) => warnings.push(m) });
    const direct = sandboxClient(RECIPIENT);
    try {
      const first = { to: RECIPIENT, workflowId: 'GP2GP_MI', body: randomBytes(250_000), chunkSizeBytes: 100_000, localId: `gone-${status}-a-${Date.now()}` };
      const second = { to: RECIPIENT, workflowId: 'GP2GP_MI', body: 'second file', localId: `gone-${status}-b-${Date.now()}` };
      const { result: sent, events } = await published(async () => [await client.send(first), await client.send(second)]);
      expect(sent.map((s) => s.reusedExisting)).toEqual([false, false]);
      // Each first send asked, was refused, and posted once.
      expect(seen(lookup)).toEqual([`GET status ${status}`, `GET status ${status}`]);
      expect(seen(/\/outbox$/)).toEqual(['POST forward', 'POST forward']);
      expect(events).toEqual([{ status, mailbox: SENDER }, { status, mailbox: SENDER }]);
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toMatch(new RegExp(`local-id lookup .*deprecated.*answered ${status}.*Sending without it`));

      expect((await collect(direct.listInbox())).sort()).toEqual(sent.map((s) => s.messageId).sort());
      expect((await direct.download(sent[0]!.messageId)).body.equals(first.body)).toBe(true);
    } finally {
      await client.close();
      await direct.close();
    }
  });

  it('retries a first post that failed even when the lookup before the retry answers 410, and delivers once', async () => {
    proxy.addRule({ method: 'POST', path: /\/outbox$/, action: { status: 503 } });
    proxy.addRule({ method: 'GET', path: lookup, action: { status: 410 }, times: Infinity });
    const client = sandboxClient(SENDER, { url: proxy.url, retry: { attempts: 3, baseDelayMs: 10, maxDelayMs: 50 }, onWarning: () => {} });
    const direct = sandboxClient(RECIPIENT);
    try {
      const sent = await client.send({ to: RECIPIENT, workflowId: 'GP2GP_MI', body: 'once', localId: `retry-gone-${Date.now()}` });
      expect(seen(/\/outbox$/)).toEqual(['POST status 503', 'POST forward']);
      expect(seen(lookup)).toEqual(['GET status 410', 'GET status 410']);
      expect(await collect(direct.listInbox())).toEqual([sent.messageId]);
    } finally {
      await client.close();
      await direct.close();
    }
  });

  it('still fails the send on what is not the lookup going away, and trackByLocalId still reports it', async () => {
    // Busy (503 through every retry) is not gone: the send fails as retryable, and nothing is posted.
    proxy.addRule({ method: 'GET', path: lookup, action: { status: 503 }, times: 2 });
    proxy.addRule({ method: 'GET', path: lookup, action: { status: 410 } });
    const warnings: string[] = [];
    const client = sandboxClient(SENDER, { url: proxy.url, retry: { attempts: 2, baseDelayMs: 10, maxDelayMs: 50 }, onWarning: (m) => warnings.push(m) });
    try {
      await expect(client.send({ to: RECIPIENT, workflowId: 'GP2GP_MI', body: 'x', localId: `busy-${Date.now()}` })).rejects.toBeInstanceOf(MeshTransientError);
      expect(seen(/\/outbox$/)).toEqual([]);
      // Asked directly, the deprecated call's answer is not hidden.
      await expect(client.trackByLocalId('anything')).rejects.toBeInstanceOf(MeshGoneError);
      expect(warnings).toEqual([]);
    } finally {
      await client.close();
    }
  });
});
