/**
 * A 100 MB message, chunked at 20 MB and gzipped per chunk, through the real sandbox and back, byte
 * for byte; streamed both ways from and to files. Mailbox X26MSH004 sends to itself.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { MeshClient } from '../../mesh';
import { sandboxClient } from '../support/mesh';
import { sha256File, writeMiLikeFile } from '../support/mi-data';

const MAILBOX = 'X26MSH004';
const MB = 1024 * 1024;
/** Not a multiple of the chunk size, so the last chunk is a short one. */
const SIZE = 100 * MB + 12_345;

let dir: string;
let client: MeshClient;

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(inject('workDir'), 'mesh-large-'));
  // gzip on the wire both ways: the client gunzips each 20 MB chunk as it streams to disk.
  client = sandboxClient(MAILBOX, { gzipDownloads: true });
});

afterAll(async () => {
  await client?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('a 100 MB message', () => {
  it('round-trips chunked and gzipped, byte for byte', { timeout: 600_000 }, async () => {
    const source = path.join(dir, 'extract.csv');
    const sourceHash = await writeMiLikeFile(source, SIZE);
    const sent = await client.send({ to: MAILBOX, workflowId: 'GP2GP_MI', body: { file: source }, gzip: true, chunkSizeBytes: 20 * MB, localId: `large-${Date.now()}` });
    expect(await client.track(sent.messageId)).toMatchObject({ status: 'accepted' });

    const target = path.join(dir, 'received.csv');
    const metadata = await client.downloadTo(sent.messageId, target);
    expect(metadata).toMatchObject({ messageId: sent.messageId, totalChunks: 6, fileName: 'extract.csv' });
    expect(fs.statSync(target).size).toBe(SIZE);
    expect(await sha256File(target)).toBe(sourceHash);
    await client.acknowledge(sent.messageId);
  });
});
