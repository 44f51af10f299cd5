/**
 * `gp2gp-mi mesh …` run as an operator would (node bin/gp2gp-mi.js), configured by MESH_* variables,
 * against the run's sandbox. Mailbox X26MSH007 sends to itself (and, once, to the sandbox's canned
 * X26ABC1, whose inbox no test reads). No secret may reach stdout or stderr.
 */
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import { PROJECT_ROOT } from '../../config';
import { collect, resetMailbox, sandboxClient } from '../support/mesh';
import { SANDBOX_PASSWORD } from '../support/stack';

const MAILBOX = 'X26MSH007';
const BIN = path.join(PROJECT_ROOT, 'bin', 'gp2gp-mi.js');
/** ISO 8601 UTC, as every timestamp the CLI prints. */
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;

let dir: string;
let env: NodeJS.ProcessEnv;
const outputs: string[] = [];

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function cli(args: string[], extraEnv: NodeJS.ProcessEnv = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, 'mesh', ...args], { env: { ...env, ...extraEnv }, cwd: PROJECT_ROOT, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      outputs.push(stdout, stderr);
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

/** Variables to leave unset (child_process skips undefined values), e.g. MESH_URL. */
function without(...names: string[]): NodeJS.ProcessEnv {
  return Object.fromEntries(names.map((k) => [k, undefined]));
}

/** A failure told in one line: no stack trace, no second line. */
function oneLine(run: Run): string {
  const lines = run.stderr.trimEnd().split('\n');
  expect(lines, run.stderr).toHaveLength(1);
  expect(run.stderr).not.toMatch(/\n\s+at /);
  return lines[0]!;
}

function write(name: string, data: Buffer | string): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, data);
  return file;
}

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(inject('workDir'), 'mesh-cli-'));
  env = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    MESH_URL: inject('meshUrl'),
    MESH_MAILBOX: MAILBOX,
    MESH_PASSWORD: SANDBOX_PASSWORD,
    MESH_SHARED_KEY: inject('meshSharedKey'),
  };
});

beforeEach(async () => {
  await resetMailbox(MAILBOX);
});

describe('gp2gp-mi mesh', () => {
  it('handshakes, sends, lists, downloads, tracks, acknowledges and looks up', { timeout: 120_000 }, async () => {
    const handshake = await cli(['handshake']);
    expect(handshake).toMatchObject({ code: 0, stdout: `mailbox ${MAILBOX}: handshake OK (${inject('meshUrl')})\n` });

    const file = write('mi.csv', Buffer.concat([Buffer.from('practice,count\n'), randomBytes(3000)]));
    const data = fs.readFileSync(file);
    const localId = `cli-${Date.now()}`;
    const send = await cli(['send', file, '--to', MAILBOX, '--subject', 'MI', '--local-id', localId, '--chunk-size', '1KB', '--gzip']);
    expect(send.code).toBe(0);
    // Not a terminal: no progress bar, nothing on stderr.
    expect(send.stderr).toBe('');
    const messageId = /as message (\S+) to X26MSH007 \(local id (\S+), 2\.9 KiB, 3 chunks\)/.exec(send.stdout)?.[1];
    expect(messageId, send.stdout).toBeTruthy();

    const inbox = await cli(['inbox', '--ids-only', '--workflow-filter', 'GP2GP_MI']);
    expect(inbox.stdout.split('\n')).toContain(messageId);

    const out = path.join(dir, 'downloaded.csv');
    const download = await cli(['download', messageId!, '--out', out, '--json']);
    expect(download.code).toBe(0);
    expect(JSON.parse(download.stdout)).toMatchObject({ messageId, totalChunks: 3, subject: 'MI', localId, fileName: 'mi.csv', file: out, bytes: data.length });
    expect(fs.readFileSync(out).equals(data)).toBe(true);

    const [track, trackLocal] = await Promise.all([cli(['track', messageId!, '--json']), cli(['track-local', localId, '--json'])]);
    expect(JSON.parse(track.stdout)).toMatchObject({ messageId, status: 'accepted', localId });
    expect(JSON.parse(trackLocal.stdout)).toMatchObject({ messageId, subject: 'MI', checksum: expect.stringMatching(/^sha256:[0-9a-f]{64}$/) });

    expect(await cli(['ack', messageId!])).toMatchObject({ code: 0, stdout: `acknowledged ${messageId}\n` });
    expect((await cli(['inbox', '--ids-only'])).stdout.split('\n')).not.toContain(messageId);

    const lookup = await cli(['lookup', 'X26', 'TEST_WORKFLOW', '--json']);
    expect(JSON.parse(lookup.stdout)).toEqual([{ mailboxId: 'X26ABC2', mailboxName: 'TESTMB2' }]);
  });

  it('fails clearly, with exit codes, and never prints a secret', async () => {
    const missing = await cli(['handshake'], { MESH_SHARED_KEY: '' });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/MESH_SHARED_KEY/);

    const secret = 'Wr0ng-Passw0rd!';
    const denied = await cli(['handshake'], { MESH_PASSWORD: secret });
    expect(denied.code).toBe(1);
    expect(denied.stderr).toMatch(/403/);

    const unknown = await cli(['track-local', 'never-used-local-id']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/no message sent from X26MSH007 has local id never-used-local-id/);

    const all = outputs.join('\n');
    expect(all).not.toContain(secret);
    expect(all).not.toContain(inject('meshSharedKey'));
    expect(all).not.toContain('NHSMESH');
  });

  // Issue 16 item 8: a used local id with another file, recipient or subject exited 0 and sent nothing.
  it('refuses a local id already used for a different message, and resends nothing for the same one', { timeout: 120_000 }, async () => {
    const localId = `reuse-${Date.now()}`;
    const first = write('first.csv', 'practice,count\nA12345,1\n');
    const other = write('other.csv', 'practice,count\nA12345,2\n');
    const sent = await cli(['send', first, '--to', MAILBOX, '--subject', 'MI day 1', '--local-id', localId]);
    expect(sent.code, sent.stderr).toBe(0);
    const direct = sandboxClient(MAILBOX);
    const messageId = await direct.trackByLocalId(localId).then((t) => t!.messageId, async (err: unknown) => {
      await direct.close();
      throw err;
    });

    const [again, otherFile, otherSubject, otherRecipient] = await Promise.all([
      cli(['send', first, '--to', MAILBOX, '--subject', 'MI day 1', '--local-id', localId]),
      cli(['send', other, '--to', MAILBOX, '--subject', 'MI day 1', '--local-id', localId]),
      cli(['send', first, '--to', MAILBOX, '--subject', 'MI day 2', '--local-id', localId]),
      cli(['send', first, '--to', 'X26ABC1', '--subject', 'MI day 1', '--local-id', localId]),
    ]);
    for (const [run, field] of [
      [otherFile, /fileName "first\.csv" then, "other\.csv" now; checksum "sha256:[0-9a-f]+" then, "sha256:[0-9a-f]+" now/],
      [otherSubject, /subject "MI day 1" then, "MI day 2" now/],
      [otherRecipient, /recipient "X26MSH007" then, "X26ABC1" now/],
    ] as const) {
      expect(run.code, run.stderr).toBe(2);
      expect(run.stdout).toBe('');
      const line = oneLine(run);
      expect(line).toContain(`local id ${localId} was already used for a different message: MESH message ${messageId}`);
      expect(line).toMatch(field);
    }
    // The very same message: not sent again, and said so.
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toBe(`already sent: message ${messageId} (local id ${localId}) is this message; nothing new was sent\n`);
    // Only the first message was ever posted.
    try {
      expect(await collect(direct.listInbox())).toEqual([messageId]);
    } finally {
      await direct.close();
    }
  });

  // Issue 16 item 9: every bad input one clear line and the right exit code, checked before connecting.
  it('checks option values before connecting, each failure in one line with exit code 2', { timeout: 120_000 }, async () => {
    const file = write('small.csv', 'a,b\n');
    // Nothing listens here: a failure that mentions the connection would show a call was made.
    const offline = { MESH_URL: 'http://127.0.0.1:1' };
    const cases: [string[], RegExp][] = [
      [['send', file, '--to', MAILBOX, '--chunk-size', '0'], /^gp2gp-mi: --chunk-size 0: a chunk must hold at least 1 byte/],
      [['send', file, '--to', MAILBOX, '--chunk-size', '5GB'], /^gp2gp-mi: --chunk-size 5GB: more than MESH's limit of 100 MB per request$/],
      [['send', file, '--to', MAILBOX, '--chunk-size', 'lots'], /^gp2gp-mi: --chunk-size: not a size: lots/],
      [['send', dir, '--to', MAILBOX], /^gp2gp-mi: cannot send .*: it is a directory, not a file$/],
      [['send', path.join(dir, 'no-such.csv'), '--to', MAILBOX], /^gp2gp-mi: cannot send .*no-such\.csv: no such file$/],
      [['send', file, '--to', MAILBOX, '--checksum', 'md5:{bad}'], /^gp2gp-mi: send: checksum may hold only letters, digits/],
      [['send', file, '--to', MAILBOX, '--content-type', 'csv'], /^gp2gp-mi: send: contentType is not a media type/],
      [['send', file, '--to', MAILBOX, '--subject', 'x'.repeat(501)], /^gp2gp-mi: send: subject is 501 characters; MESH allows at most 500$/],
      [['download', 'M1', '--out', path.join(dir, 'missing', 'x.csv')], /^gp2gp-mi: --out .*x\.csv: the folder .*missing does not exist$/],
      [['download', 'M1', '--out', dir], /^gp2gp-mi: --out .*: it is a directory \(give a file name\)$/],
      [['download', 'M1', '--json'], /^gp2gp-mi: --json needs --out/],
    ];
    const runs = await Promise.all(cases.map(([args]) => cli(args, offline)));
    runs.forEach((run, i) => {
      expect(run.code, `${cases[i]![0].join(' ')}: ${run.stderr}`).toBe(2);
      expect(oneLine(run)).toMatch(cases[i]![1]);
    });
  });

  it('says a message of another mailbox is not ours instead of blaming the credentials (exit 1)', async () => {
    const sender = sandboxClient(MAILBOX);
    let messageId: string;
    try {
      ({ messageId } = await sender.send({ to: 'X26ABC1', workflowId: 'GP2GP_MI', body: 'not for X26MSH007' }));
    } finally {
      await sender.close();
    }
    const [download, ack] = await Promise.all([cli(['download', messageId, '--out', path.join(dir, 'not-ours.csv')]), cli(['ack', messageId])]);
    for (const run of [download, ack]) {
      expect(run.code).toBe(1);
      const line = oneLine(run);
      expect(line).toContain(`message ${messageId} was not sent to mailbox ${MAILBOX}`);
      expect(line).not.toMatch(/check the mailbox id, password/);
    }
    expect(fs.existsSync(path.join(dir, 'not-ours.csv'))).toBe(false);
  });

  it('stops a download piped into a reader that goes away (head) with one line, not an EPIPE stack trace', async () => {
    const sender = sandboxClient(MAILBOX);
    let messageId: string;
    try {
      ({ messageId } = await sender.send({ to: MAILBOX, workflowId: 'GP2GP_MI', body: randomBytes(3 * 1024 * 1024), chunkSizeBytes: 1024 * 1024 }));
    } finally {
      await sender.close();
    }
    // As `gp2gp-mi mesh download ID | head -c 100`: the reader closes after its first bytes.
    const child = spawn(process.execPath, [BIN, 'mesh', 'download', messageId], { env, cwd: PROJECT_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout.once('data', () => child.stdout.destroy());
    const code = await new Promise<number | null>((resolve) => child.once('close', (c) => resolve(c)));
    expect(code).toBe(1);
    expect(stderr).toBe('gp2gp-mi: the output was closed before everything was written (broken pipe)\n');
  });

  // Issue 16 item 10: what operators expect of it.
  it('has --json on every command, an inbox with a count and metadata, ISO timestamps, and send options', { timeout: 120_000 }, async () => {
    const file = write('extract.dat', 'practice,count\nA12345,7\n');
    const send = await cli(['send', file, '--to', MAILBOX, '--filename', 'mi-2025-01-01.csv', '--content-type', 'text/csv', '--checksum', 'md5:0123456789abcdef', '--subject', 'MI', '--json']);
    expect(send.code, send.stderr).toBe(0);
    const sent = JSON.parse(send.stdout) as { messageId: string; localId: string };
    expect(sent).toMatchObject({ reusedExisting: false, to: MAILBOX, fileName: 'mi-2025-01-01.csv', checksum: 'md5:0123456789abcdef', bytes: 24, totalChunks: 1 });

    const [handshake, inboxJson, inboxText, track, trackText, workflows, lookupText] = await Promise.all([
      cli(['handshake', '--json']),
      cli(['inbox', '--json']),
      cli(['inbox']),
      cli(['track', sent.messageId, '--json']),
      cli(['track', sent.messageId]),
      cli(['workflow-search', 'TEST_WORKFLOW_ACK', '--json']),
      cli(['lookup', 'X26', 'TEST_WORKFLOW']),
    ]);
    expect(JSON.parse(handshake.stdout)).toEqual({ mailbox: MAILBOX, url: inject('meshUrl'), embedded: false, ok: true });

    const inbox = JSON.parse(inboxJson.stdout) as { mailbox: string; count: number; messages: Record<string, unknown>[] };
    expect(inbox).toMatchObject({ mailbox: MAILBOX, count: 1 });
    expect(inbox.messages).toEqual([
      expect.objectContaining({
        messageId: sent.messageId,
        messageType: 'DATA',
        from: MAILBOX,
        workflowId: 'GP2GP_MI',
        fileName: 'mi-2025-01-01.csv',
        contentType: 'text/csv',
        checksum: 'md5:0123456789abcdef',
        subject: 'MI',
        localId: sent.localId,
        totalChunks: 1,
        lastModified: expect.stringMatching(ISO),
        statusTimestamp: expect.stringMatching(ISO),
      }),
    ]);
    expect(inboxText.stdout).toMatch(new RegExp(`^1 message in the inbox of ${MAILBOX}\n${sent.messageId}  DATA  from ${MAILBOX}  workflow GP2GP_MI  file mi-2025-01-01\\.csv  1 chunk  subject "MI"  local id ${sent.localId}  at \\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}Z\n$`));

    const tracking = JSON.parse(track.stdout) as Record<string, string>;
    expect(tracking).toMatchObject({ messageId: sent.messageId, status: 'accepted', fileName: 'mi-2025-01-01.csv' });
    for (const k of ['uploadTimestamp', 'expiryTime']) expect(tracking[k]).toMatch(ISO);
    expect(trackText.stdout).toMatch(/^message +\S+\nstatus +accepted \(success\)\n/);
    expect(trackText.stdout).toMatch(/\nuploaded +\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z\n/);
    expect(JSON.parse(workflows.stdout).map((m: { mailboxId: string }) => m.mailboxId).sort()).toEqual(['X26ABC1', 'X26ABC3']);
    expect(lookupText.stdout).toBe('X26ABC2  TESTMB2\n');

    const [downloaded, idsOnlyJson, idsOnly] = await Promise.all([
      cli(['download', sent.messageId, '--out', path.join(dir, 'got.csv')]),
      cli(['inbox', '--ids-only', '--json']),
      cli(['inbox', '--ids-only']),
    ]);
    expect(downloaded.stdout).toMatch(new RegExp(`^downloaded message ${sent.messageId} to .*got\\.csv \\(24 B\\)\n${sent.messageId}  DATA  `));
    expect(JSON.parse(idsOnlyJson.stdout)).toEqual({ mailbox: MAILBOX, count: 1, messages: [{ messageId: sent.messageId }] });
    expect(idsOnly.stdout).toBe(`${sent.messageId}\n`);
    expect(JSON.parse((await cli(['ack', sent.messageId, '--json'])).stdout)).toEqual({ messageId: sent.messageId, acknowledged: true });
    expect(JSON.parse((await cli(['inbox', '--json'])).stdout)).toEqual({ mailbox: MAILBOX, count: 0, messages: [] });
  });

  it("uses the embedded default's URL, mailbox, password and generated shared key when MESH_* are unset", async () => {
    const dataDir = path.join(dir, 'data');
    fs.mkdirSync(path.join(dataDir, 'mesh'), { recursive: true });
    fs.writeFileSync(path.join(dataDir, 'mesh', 'shared-key'), `${inject('meshSharedKey')}\n`);
    const port = new URL(inject('meshUrl')).port;
    const embedded = { GP2GP_DATA_DIR: dataDir, MESH_PORT: port };
    const [ours, defaultMailbox, noKey] = await Promise.all([
      // The run's sandbox has no X26GPMI001, so the default mailbox is shown by MESH's refusal of it.
      cli(['handshake'], { ...without('MESH_URL', 'MESH_PASSWORD', 'MESH_SHARED_KEY'), ...embedded }),
      cli(['handshake'], { ...without('MESH_URL', 'MESH_MAILBOX', 'MESH_PASSWORD', 'MESH_SHARED_KEY'), ...embedded }),
      cli(['handshake'], { ...without('MESH_URL', 'MESH_PASSWORD', 'MESH_SHARED_KEY'), GP2GP_DATA_DIR: path.join(dir, 'no-data'), MESH_PORT: port }),
    ]);
    expect(ours).toMatchObject({ code: 0, stdout: `mailbox ${MAILBOX}: handshake OK (http://127.0.0.1:${port}, embedded sandbox)\n` });
    expect(defaultMailbox.code).toBe(1);
    expect(oneLine(defaultMailbox)).toMatch(/^gp2gp-mi: handshake of X26GPMI001: MESH answered 403/);
    expect(noKey.code).toBe(2);
    expect(oneLine(noKey)).toMatch(/MESH_URL is not set, so the embedded MESH sandbox .* is used, but its shared key .*no-data.*shared-key does not exist: start the stack with npm start/);
  });
});
