/**
 * Every MeshClient call against the run's real MESH sandbox (full NHSMESH auth, file store).
 * Mailboxes: X26MSH001 sends, X26MSH002 receives, X26MSH003 is the paginated/filtered inbox.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { inspect } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  MeshAuthError,
  MeshClient,
  MeshConfigError,
  MeshConflictError,
  MeshError,
  MeshForbiddenMessageError,
  MeshGoneError,
  MeshLocalIdConflictError,
  MeshNotFoundError,
  MeshSendRefusedError,
  meshAuthorization,
} from '../../mesh';
import { startFaultProxy } from '../support/fault-proxy';
import { addMessageEvent, collect, injectReport, resetMailbox, sandboxClient } from '../support/mesh';
import { SANDBOX_PASSWORD } from '../support/stack';

const SENDER = 'X26MSH001';
const RECIPIENT = 'X26MSH002';
const PAGED = 'X26MSH003';

let sender: MeshClient;
let recipient: MeshClient;
let dir: string;

beforeAll(() => {
  sender = sandboxClient(SENDER);
  recipient = sandboxClient(RECIPIENT);
  dir = fs.mkdtempSync(path.join(inject('workDir'), 'mesh-client-'));
});

afterAll(async () => {
  await sender?.close();
  await recipient?.close();
});

describe('handshake', () => {
  it('validates the mailbox', async () => {
    await expect(sender.handshake()).resolves.toBeUndefined();
  });
});

describe('send and download', () => {
  it('round-trips a small message with its metadata', async () => {
    const sent = await sender.send({
      to: RECIPIENT,
      workflowId: 'GP2GP_MI',
      body: 'practice,transfers\nA12345,3\n',
      subject: 'MI for 2025-01-01',
      localId: `small-${Date.now()}`,
      fileName: 'mi.csv',
      contentType: 'text/csv',
      checksum: 'md5:0123456789abcdef',
    });
    expect(sent.reusedExisting).toBe(false);
    const { metadata, body } = await recipient.download(sent.messageId);
    expect(body.toString('utf8')).toBe('practice,transfers\nA12345,3\n');
    expect(metadata).toMatchObject({
      messageId: sent.messageId,
      messageType: 'DATA',
      workflowId: 'GP2GP_MI',
      subject: 'MI for 2025-01-01',
      fileName: 'mi.csv',
      from: SENDER,
      to: RECIPIENT,
      totalChunks: 1,
      contentType: 'text/csv',
      checksum: 'md5:0123456789abcdef',
    });
  });

  it('chunks and gzips per chunk; both download paths give back the same bytes', async () => {
    const data = Buffer.concat([randomBytes(100_000), Buffer.alloc(200_000, 'GP2GP,')]);
    const sent = await sender.send({ to: RECIPIENT, workflowId: 'GP2GP_MI', body: data, chunkSizeBytes: 64 * 1024, gzip: true });
    const plain = await recipient.download(sent.messageId);
    expect(plain.metadata.totalChunks).toBe(Math.ceil(data.length / (64 * 1024)));
    expect(plain.body.equals(data)).toBe(true);
    // Asking for gzip on the wire: MESH sends each chunk as stored and the client gunzips each one.
    const gzipped = sandboxClient(RECIPIENT, { gzipDownloads: true });
    try {
      expect((await gzipped.download(sent.messageId)).body.equals(data)).toBe(true);
    } finally {
      await gzipped.close();
    }
  });

  it('streams a file up and down, named after the file', async () => {
    const source = path.join(dir, 'extract.csv');
    fs.writeFileSync(source, Buffer.concat([randomBytes(150_000), Buffer.from('\nend\n')]));
    const sent = await sender.send({ to: RECIPIENT, workflowId: 'GP2GP_MI', body: { file: source }, chunkSizeBytes: 50_000 });
    const target = path.join(dir, 'received.csv');
    const metadata = await recipient.downloadTo(sent.messageId, target);
    expect(metadata.fileName).toBe('extract.csv');
    expect(metadata.totalChunks).toBe(4);
    expect(fs.readFileSync(target).equals(fs.readFileSync(source))).toBe(true);
    expect(fs.existsSync(`${target}.part`)).toBe(false);
  });

  it('reuses the message already sent under the same local id', async () => {
    const localId = `idem-${Date.now()}`;
    const first = await sender.send({ to: RECIPIENT, workflowId: 'GP2GP_MI', body: 'once', localId });
    const again = await sender.send({ to: RECIPIENT, workflowId: 'GP2GP_MI', body: 'once', localId });
    expect(again).toEqual({ messageId: first.messageId, localId, reusedExisting: true });
    expect(await sender.trackByLocalId(localId)).toMatchObject({ messageId: first.messageId, localId, status: 'accepted' });
  });

  it('refuses a local id already used for another message, before posting anything (issue 16 item 8)', async () => {
    const localId = `other-${Date.now()}`;
    const message = { to: RECIPIENT, workflowId: 'GP2GP_MI', body: 'day 1', localId, subject: 'MI day 1', fileName: 'mi.csv', checksum: 'sha256:aaaa' };
    const first = await sender.send(message);
    const proxy = await startFaultProxy({ target: inject('meshUrl') });
    const client = sandboxClient(SENDER, { url: proxy.url });
    try {
      for (const [change, difference] of [
        [{ checksum: 'sha256:bbbb', body: 'day 1, corrected' }, { field: 'checksum', earlier: 'sha256:aaaa', now: 'sha256:bbbb' }],
        [{ subject: 'MI day 2' }, { field: 'subject', earlier: 'MI day 1', now: 'MI day 2' }],
        [{ fileName: 'other.csv' }, { field: 'fileName', earlier: 'mi.csv', now: 'other.csv' }],
        [{ to: PAGED }, { field: 'recipient', earlier: RECIPIENT, now: PAGED }],
        [{ workflowId: 'GP2GP_MI_ACK' }, { field: 'workflowId', earlier: 'GP2GP_MI', now: 'GP2GP_MI_ACK' }],
        [{ subject: undefined }, { field: 'subject', earlier: 'MI day 1', now: undefined }],
      ] as const) {
        const err = await client.send({ ...message, ...change }).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(MeshLocalIdConflictError);
        expect(err).toBeInstanceOf(MeshConflictError);
        expect(err).toMatchObject({ messageId: first.messageId, localId, differences: [difference], retryable: false });
        expect((err as Error).message).toMatch(new RegExp(`^local id ${localId} was already used for a different message: MESH message ${first.messageId} to ${RECIPIENT} sent \\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}Z \\(`));
      }
      // Only look-ups went out: no message was posted.
      expect(proxy.requests.every((r) => r.method === 'GET')).toBe(true);
      // The same message again is reused, not refused.
      expect(await client.send(message)).toEqual({ messageId: first.messageId, localId, reusedExisting: true });
    } finally {
      await client.close();
      await proxy.close();
    }
  });

  it('refuses to reuse a local id whose message failed, instead of reporting it sent', async () => {
    const localId = `failed-${Date.now()}`;
    const message = { to: RECIPIENT, workflowId: 'GP2GP_MI', body: 'doomed', localId };
    const first = await sender.send(message);
    await addMessageEvent(first.messageId, { status: 'error', code: '14', event: 'TRANSFER', description: 'Message not collected' });
    const err = await sender.send(message).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MeshLocalIdConflictError);
    expect((err as Error).message).toMatch(new RegExp(`local id ${localId} names MESH message ${first.messageId} .*which failed \\(error`));
  });

  it('refuses to guess when a local id names more than one message', async () => {
    const localId = `dup-${Date.now()}`;
    // Two messages with one local id, as another client could make them.
    for (let i = 0; i < 2; i++) {
      const res = await fetch(`${inject('meshUrl')}/messageexchange/${SENDER}/outbox`, {
        method: 'POST',
        headers: {
          accept: 'application/vnd.mesh.v2+json',
          authorization: meshAuthorization({ mailbox: SENDER, password: SANDBOX_PASSWORD, sharedKey: inject('meshSharedKey') }),
          'mex-clientversion': 'test',
          'mex-osname': 'test',
          'mex-osversion': 'test',
          'mex-to': RECIPIENT,
          'mex-workflowid': 'GP2GP_MI',
          'mex-localid': localId,
        },
        body: `copy ${i}`,
      });
      expect(res.status).toBe(202);
    }
    await expect(sender.trackByLocalId(localId)).rejects.toBeInstanceOf(MeshConflictError);
    await expect(sender.send({ to: RECIPIENT, workflowId: 'GP2GP_MI', body: 'third', localId })).rejects.toBeInstanceOf(MeshConflictError);
  });

  it('refuses a send to an unknown mailbox with MESH code 12', async () => {
    const err = await sender.send({ to: 'X26NOBODY', workflowId: 'GP2GP_MI', body: 'x' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MeshSendRefusedError);
    expect((err as MeshSendRefusedError).meshCode).toBe('12');
    expect((err as MeshSendRefusedError).status).toBe(417);
    expect((err as MeshSendRefusedError).retryable).toBe(false);
  });
});

describe('operator-facing details', () => {
  it('reads metadata without the body, and gives every timestamp as ISO 8601 UTC', async () => {
    const localId = `meta-${Date.now()}`;
    const sent = await sender.send({ to: RECIPIENT, workflowId: 'GP2GP_MI', body: 'a,b\n', localId, subject: 'S', fileName: 'm.csv' });
    const metadata = await recipient.metadata(sent.messageId);
    expect(metadata).toMatchObject({ messageId: sent.messageId, messageType: 'DATA', from: SENDER, localId, subject: 'S', fileName: 'm.csv', totalChunks: 1 });
    const iso = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;
    expect(metadata.lastModified).toMatch(iso);
    expect(metadata.statusTimestamp).toMatch(iso);
    for (const t of [await sender.track(sent.messageId), (await sender.trackByLocalId(localId))!]) {
      expect(t.uploadTimestamp).toMatch(iso);
      expect(t.expiryTime).toMatch(iso);
    }
  });

  it('reports progress of sends and downloads', async () => {
    const data = randomBytes(300_000);
    const file = path.join(dir, 'progress.bin');
    fs.writeFileSync(file, data);
    const sends: number[] = [];
    const sent = await sender.send({ to: RECIPIENT, workflowId: 'GP2GP_MI', body: { file }, chunkSizeBytes: 100_000, onProgress: (p) => sends.push(p.fraction) });
    expect(sends.at(-1)).toBe(1);
    expect(sends.length).toBeGreaterThan(3);
    expect([...sends].sort((a, b) => a - b)).toEqual(sends);
    const downloads: { fraction: number; chunk: number }[] = [];
    const got = await recipient.download(sent.messageId, { onProgress: (p) => downloads.push(p) });
    expect(got.body.equals(data)).toBe(true);
    expect(downloads.at(-1)).toMatchObject({ fraction: 1, chunk: 3, totalChunks: 3, bytes: data.length });
  });

  it('streams a download chunk by chunk to a stream', async () => {
    const data = randomBytes(250_000);
    const sent = await sender.send({ to: RECIPIENT, workflowId: 'GP2GP_MI', body: data, chunkSizeBytes: 100_000 });
    const parts: Buffer[] = [];
    const out = new (await import('node:stream')).Writable({
      write(chunk: Buffer, _enc, done) {
        parts.push(chunk);
        done();
      },
    });
    const metadata = await recipient.downloadToStream(sent.messageId, out);
    expect(metadata.totalChunks).toBe(3);
    expect(parts).toHaveLength(3);
    expect(Buffer.concat(parts).equals(data)).toBe(true);
  });

  it('says a file or folder cannot be used, in words, before calling MESH', async () => {
    await expect(sender.send({ to: RECIPIENT, workflowId: 'GP2GP_MI', body: { file: dir } })).rejects.toThrow(/^cannot send .*: it is a directory, not a file$/);
    await expect(sender.send({ to: RECIPIENT, workflowId: 'GP2GP_MI', body: { file: path.join(dir, 'nope') } })).rejects.toThrow(/^cannot read .*nope: no such file$/);
    await expect(recipient.downloadTo('M1', path.join(dir, 'missing', 'x'))).rejects.toThrow(/^cannot write .*x: the folder .*missing does not exist$/);
    await expect(recipient.downloadTo('M1', dir)).rejects.toThrow(/it is a directory/);
    await expect(sender.send({ to: RECIPIENT, workflowId: 'GP2GP_MI', body: 'x', subject: 'line\nbreak' })).rejects.toBeInstanceOf(MeshConfigError);
  });

  it("tells a message of another mailbox apart from bad credentials on a 403", async () => {
    const sent = await sender.send({ to: RECIPIENT, workflowId: 'GP2GP_MI', body: 'for the recipient only' });
    const err = await sender.download(sent.messageId).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MeshForbiddenMessageError);
    expect(err).toBeInstanceOf(MeshAuthError);
    expect((err as Error).message).toMatch(new RegExp(`message ${sent.messageId} was not sent to mailbox ${SENDER}.*credentials are fine`));
    await expect(sender.acknowledge(sent.messageId)).rejects.toBeInstanceOf(MeshForbiddenMessageError);
    await expect(sender.metadata(sent.messageId)).resolves.toMatchObject({ messageId: sent.messageId });
    const wrong = sandboxClient(SENDER, { password: 'wrong' });
    try {
      const denied = await wrong.download(sent.messageId).catch((e: unknown) => e);
      expect(denied).toBeInstanceOf(MeshAuthError);
      expect(denied).not.toBeInstanceOf(MeshForbiddenMessageError);
      expect((denied as Error).message).toMatch(/check the mailbox id, password/);
    } finally {
      await wrong.close();
    }
  });
});

describe('reports, failures and tracking', () => {
  it('reads an injected error REPORT with its linked message id', async () => {
    const sent = await sender.send({ to: RECIPIENT, workflowId: 'GP2GP_MI', body: 'never collected' });
    const reportId = await injectReport({ mailboxId: SENDER, linkedMessageId: sent.messageId, workflowId: 'GP2GP_MI', subject: 'MI' });
    expect(await collect(sender.listInbox())).toContain(reportId);
    const { metadata, body } = await sender.download(reportId);
    expect(body.length).toBe(0);
    expect(metadata).toMatchObject({
      messageId: reportId,
      messageType: 'REPORT',
      linkedMessageId: sent.messageId,
      statusCode: '14',
      statusSuccess: 'ERROR',
      totalChunks: 0,
      workflowId: 'GP2GP_MI',
    });
    const target = path.join(dir, 'report.dat');
    expect((await sender.downloadTo(reportId, target)).messageType).toBe('REPORT');
    expect(fs.statSync(target).size).toBe(0);
    await sender.acknowledge(reportId);
    expect(await collect(sender.listInbox())).not.toContain(reportId);
  });

  it('gives a typed gone error for a message marked error, and tracks it as failed', async () => {
    const sent = await sender.send({ to: RECIPIENT, workflowId: 'GP2GP_MI', body: 'doomed' });
    expect(await sender.track(sent.messageId)).toMatchObject({ messageId: sent.messageId, status: 'accepted', statusSuccess: true });
    await addMessageEvent(sent.messageId, { status: 'error', code: '14', event: 'TRANSFER', description: 'expired' });
    const err = await recipient.download(sent.messageId).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MeshGoneError);
    expect((err as MeshGoneError).status).toBe(410);
    expect((err as MeshGoneError).retryable).toBe(false);
    const target = path.join(dir, 'gone.dat');
    await expect(recipient.downloadTo(sent.messageId, target)).rejects.toBeInstanceOf(MeshGoneError);
    expect(fs.existsSync(target) || fs.existsSync(`${target}.part`)).toBe(false);
    expect(await sender.track(sent.messageId)).toMatchObject({ status: 'error', statusSuccess: false });
  });

  it('tells a missing message apart', async () => {
    await expect(recipient.download('20250101000000000000_NOSUCH')).rejects.toBeInstanceOf(MeshNotFoundError);
    await expect(sender.track('20250101000000000000_NOSUCH')).rejects.toBeInstanceOf(MeshNotFoundError);
    await expect(sender.trackByLocalId('no-such-local-id')).resolves.toBeUndefined();
  });
});

describe('inbox', () => {
  it('pages through links.next and filters by workflow id', async () => {
    await resetMailbox(PAGED);
    const data = Array.from({ length: 12 }, (_, i) => ({ workflowId: 'GP2GP_MI', body: `data ${i}` }));
    const acks = Array.from({ length: 3 }, (_, i) => ({ workflowId: 'GP2GP_MI_ACK', body: `ack ${i}` }));
    const ids = new Map<string, string>();
    for (const m of [...data, ...acks]) ids.set((await sender.send({ to: PAGED, ...m })).messageId, m.workflowId);
    const inbox = sandboxClient(PAGED);
    try {
      const first = await inbox.inboxPage({ maxResults: 10 });
      expect(first.messageIds).toHaveLength(10);
      expect(first.next).toBeTruthy();
      expect(first.approxInboxCount).toBe(15);
      const second = await inbox.inboxPage({ continueFrom: first.next! });
      expect(second.messageIds).toHaveLength(5);
      expect(second.next).toBeUndefined();
      expect(new Set([...first.messageIds, ...second.messageIds])).toEqual(new Set(ids.keys()));

      expect(new Set(await collect(inbox.listInbox({ maxResults: 10 })))).toEqual(new Set(ids.keys()));
      const ackIds = [...ids].filter(([, w]) => w === 'GP2GP_MI_ACK').map(([id]) => id);
      expect((await collect(inbox.listInbox({ workflowFilter: '*_ACK*', maxResults: 10 }))).sort()).toEqual(ackIds.sort());
      expect(await collect(inbox.listInbox({ workflowFilter: '!*_ACK*', maxResults: 10 }))).toHaveLength(12);
      expect(await collect(inbox.listInbox({ workflowFilter: 'GP2GP_MI' }))).toHaveLength(12);

      for (const id of ackIds) await inbox.acknowledge(id);
      expect(await collect(inbox.listInbox({ workflowFilter: '*_ACK*' }))).toEqual([]);
      expect((await inbox.inboxPage()).approxInboxCount).toBe(12);
      await expect(inbox.inboxPage({ maxResults: 5 })).rejects.toBeInstanceOf(MeshConfigError);
    } finally {
      await inbox.close();
    }
  });
});

describe('lookup', () => {
  it('finds mailboxes by ODS code and workflow, and by workflow alone', async () => {
    // The sandbox's canned directory: TEST_WORKFLOW is received by X26ABC2 (ODS X26).
    expect(await sender.lookup('X26', 'TEST_WORKFLOW')).toEqual([{ mailboxId: 'X26ABC2', mailboxName: 'TESTMB2' }]);
    expect(await sender.lookup('X26', 'NO_SUCH_WORKFLOW')).toEqual([]);
    expect((await sender.workflowSearch('TEST_WORKFLOW_ACK')).map((m) => m.mailboxId).sort()).toEqual(['X26ABC1', 'X26ABC3']);
  });
});

describe('authentication and configuration', () => {
  it('fails a wrong password with a typed auth error after exactly one request, naming no secret', async () => {
    const proxy = await startFaultProxy({ target: inject('meshUrl') });
    const password = 'wrong-password-s3cret';
    const client = new MeshClient({ url: proxy.url, mailbox: SENDER, password, sharedKey: inject('meshSharedKey'), retry: { attempts: 5, baseDelayMs: 10 } });
    try {
      const err = await client.handshake().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(MeshAuthError);
      expect((err as MeshAuthError).status).toBe(403);
      expect((err as MeshAuthError).retryable).toBe(false);
      expect(proxy.requests).toHaveLength(1);
      const send = await client.send({ to: RECIPIENT, workflowId: 'GP2GP_MI', body: 'x' }).catch((e: unknown) => e);
      expect(send).toBeInstanceOf(MeshAuthError);
      expect(proxy.requests).toHaveLength(2);
      for (const e of [err, send] as Error[]) {
        const shown = `${e.message} ${e.stack} ${inspect(e)}`;
        expect(shown).not.toContain(password);
        expect(shown).not.toContain(inject('meshSharedKey'));
        expect(shown).not.toContain('NHSMESH');
      }
    } finally {
      await client.close();
      await proxy.close();
    }
  });

  it('reuses one connection across calls, and refuses calls once closed', async () => {
    const proxy = await startFaultProxy({ target: inject('meshUrl') });
    const client = sandboxClient(SENDER, { url: proxy.url });
    try {
      await client.handshake();
      const { messageId } = await client.send({ to: RECIPIENT, workflowId: 'GP2GP_MI', body: 'a'.repeat(300), chunkSizeBytes: 100 });
      await client.track(messageId);
      await client.inboxPage();
      expect(proxy.requests.length).toBe(6);
      // Keep-alive: undici's pool may open a second connection when a call follows the previous
      // answer within the same tick, but never one per request.
      expect(proxy.connections).toBeLessThanOrEqual(2);
      await client.close();
      const err = await client.handshake().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(MeshError);
      expect((err as MeshError).retryable).toBe(false);
      expect(proxy.requests.length).toBe(6);
    } finally {
      await proxy.close();
    }
  });

  it('fails a wrong shared key the same way', async () => {
    const client = sandboxClient(SENDER, { sharedKey: 'not-the-key' });
    try {
      await expect(client.handshake()).rejects.toBeInstanceOf(MeshAuthError);
    } finally {
      await client.close();
    }
  });

  it('never shows the password or shared key when a client is printed', () => {
    const shown = `${inspect(sender, { depth: 10, showHidden: true })} ${JSON.stringify(sender)}`;
    expect(shown).not.toContain('password');
    expect(shown).not.toContain(inject('meshSharedKey'));
  });

  it('configures from MESH_* variables and names the missing ones', async () => {
    expect(() => MeshClient.fromEnv({ MESH_URL: 'http://127.0.0.1:1', MESH_PASSWORD: 'pw-s3cret' })).toThrow(
      /MESH_MAILBOX, MESH_SHARED_KEY$/,
    );
    expect(() =>
      MeshClient.fromEnv({ MESH_URL: 'https://127.0.0.1:1', MESH_MAILBOX: SENDER, MESH_PASSWORD: 'p', MESH_SHARED_KEY: 'k', MESH_CA_CERT: path.join(dir, 'nope.pem') }),
    ).toThrow(/MESH_CA_CERT: cannot read .*nope\.pem \(ENOENT\)/);
    const client = MeshClient.fromEnv({ MESH_URL: inject('meshUrl'), MESH_MAILBOX: SENDER, MESH_PASSWORD: 'password', MESH_SHARED_KEY: inject('meshSharedKey') });
    try {
      await client.handshake();
    } finally {
      await client.close();
    }
  });
});
