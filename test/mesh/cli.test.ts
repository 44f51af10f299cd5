/**
 * `gp2gp-mi mesh …` run as an operator would (node bin/gp2gp-mi.js), configured by MESH_* variables,
 * against the run's sandbox. Mailbox X26MSH007 sends to itself. No secret may reach stdout or stderr.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { PROJECT_ROOT } from '../../config';
import { SANDBOX_PASSWORD } from '../support/stack';

const MAILBOX = 'X26MSH007';

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
    execFile(process.execPath, [path.join(PROJECT_ROOT, 'bin', 'gp2gp-mi.js'), 'mesh', ...args], { env: { ...env, ...extraEnv }, cwd: PROJECT_ROOT }, (err, stdout, stderr) => {
      outputs.push(stdout, stderr);
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
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

describe('gp2gp-mi mesh', () => {
  it('handshakes, sends, lists, downloads, tracks, acknowledges and looks up', { timeout: 120_000 }, async () => {
    const handshake = await cli(['handshake']);
    expect(handshake).toMatchObject({ code: 0, stdout: `mailbox ${MAILBOX}: handshake OK\n` });

    const file = path.join(dir, 'mi.csv');
    const data = Buffer.concat([Buffer.from('practice,count\n'), randomBytes(3000)]);
    fs.writeFileSync(file, data);
    const localId = `cli-${Date.now()}`;
    const send = await cli(['send', file, '--to', MAILBOX, '--subject', 'MI', '--local-id', localId, '--chunk-size', '1KB', '--gzip']);
    expect(send.code).toBe(0);
    const { messageId, reusedExisting } = JSON.parse(send.stdout) as { messageId: string; reusedExisting: boolean };
    expect(reusedExisting).toBe(false);

    const inbox = await cli(['inbox', '--workflow-filter', 'GP2GP_MI']);
    expect(inbox.stdout.split('\n')).toContain(messageId);

    const out = path.join(dir, 'downloaded.csv');
    const download = await cli(['download', messageId, '--out', out]);
    expect(download.code).toBe(0);
    expect(JSON.parse(download.stdout)).toMatchObject({ messageId, totalChunks: 3, subject: 'MI', localId, fileName: 'mi.csv' });
    expect(fs.readFileSync(out).equals(data)).toBe(true);

    const track = await cli(['track', messageId]);
    expect(JSON.parse(track.stdout)).toMatchObject({ messageId, status: 'accepted', localId });
    const trackLocal = await cli(['track-local', localId]);
    expect(JSON.parse(trackLocal.stdout)).toMatchObject({ messageId });

    expect(await cli(['ack', messageId])).toMatchObject({ code: 0, stdout: `acknowledged ${messageId}\n` });
    expect((await cli(['inbox'])).stdout.split('\n')).not.toContain(messageId);

    const lookup = await cli(['lookup', 'X26', 'TEST_WORKFLOW']);
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
});
