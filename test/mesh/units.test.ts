/**
 * The MESH client's pure parts: the NHSMESH token (checked against the sandbox's own Python HMAC),
 * status → error type, MESH error bodies, backoff bounds, chunk planning and per-chunk gzip.
 */
import { execFileSync } from 'node:child_process';
import { buffer } from 'node:stream/consumers';
import * as zlib from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { parseSize } from '../../cli/mesh';
import { openChunks } from '../../mesh/chunks';
import {
  MeshAuthError,
  MeshConfigError,
  MeshConflictError,
  MeshError,
  MeshGoneError,
  MeshNotFoundError,
  MeshSendRefusedError,
  MeshTransientError,
  meshAuthorization,
  meshTimestamp,
} from '../../mesh';
import { MeshTransport, errorForStatus, parseMeshErrorBody } from '../../mesh/transport';
import { provision } from '../../stack/provision';

describe('NHSMESH authorization', () => {
  it('matches the HMAC the MESH sandbox computes', () => {
    const now = new Date(Date.UTC(2025, 0, 2, 3, 4, 59));
    const token = meshAuthorization({ mailbox: 'X26ABC1', password: 'pw', sharedKey: 'BackBone', nonce: 'a1b2', nonceCount: 7, now });
    expect(token).toMatch(/^NHSMESH X26ABC1:a1b2:7:202501020304:[0-9a-f]{64}$/);
    const python = provision().python;
    const expected = execFileSync(python, [
      '-c',
      "from mesh_sandbox.common import generate_cipher_text as g; print(g('BackBone', 'X26ABC1', 'pw', '202501020304', 'a1b2', '7'))",
    ], { encoding: 'utf8' }).trim();
    expect(token.split(':').pop()).toBe(expected);
  });

  it('uses a fresh nonce for every token', () => {
    const a = meshAuthorization({ mailbox: 'X', password: 'p', sharedKey: 'k' });
    const b = meshAuthorization({ mailbox: 'X', password: 'p', sharedKey: 'k' });
    expect(a.split(':')[1]).not.toBe(b.split(':')[1]);
    expect(meshTimestamp(new Date(Date.UTC(2024, 11, 31, 23, 59)))).toBe('202412312359');
  });
});

describe('errors from MESH answers', () => {
  const spec = { what: 'op' };
  const none = {};
  it.each([
    [403, MeshAuthError, false],
    [400, MeshConfigError, false],
    [404, MeshNotFoundError, false],
    [410, MeshGoneError, false],
    [417, MeshSendRefusedError, false],
    [423, MeshConflictError, false],
    [425, MeshTransientError, true],
    [429, MeshTransientError, true],
    [502, MeshTransientError, true],
    [503, MeshTransientError, true],
    [504, MeshTransientError, true],
    [500, MeshError, false],
  ] as const)('%i is a %o (retryable %s)', (status, type, retryable) => {
    const err = errorForStatus(status, '', none, spec);
    expect(err).toBeInstanceOf(type);
    expect(err.status).toBe(status);
    expect(err.retryable).toBe(retryable);
  });

  it("reads MESH's code and description from v2, v1 and plain error bodies", () => {
    expect(parseMeshErrorBody('{"message_id":"M1","detail":[{"event":"SEND","code":"12","msg":"Unregistered to address"}]}')).toEqual({
      code: '12',
      description: 'Unregistered to address',
      messageId: 'M1',
    });
    expect(parseMeshErrorBody('{"errorEvent":"COLLECT","errorCode":"02","errorDescription":"Data file is missing"}')).toMatchObject({ code: '02', description: 'Data file is missing' });
    expect(parseMeshErrorBody('{"detail":"Accept header api format incorrect"}')).toMatchObject({ description: 'Accept header api format incorrect' });
    expect(parseMeshErrorBody('<html>')).toEqual({});
    const refused = errorForStatus(417, '{"detail":[{"event":"SEND","code":"12","msg":"Unregistered to address"}]}', none, { what: 'send to X' });
    expect(refused).toBeInstanceOf(MeshSendRefusedError);
    expect((refused as MeshSendRefusedError).meshCode).toBe('12');
    expect(refused.message).toBe('send to X: MESH answered 417: Unregistered to address (code 12)');
  });

  it('waits at least Retry-After before retrying a 429', () => {
    const err = errorForStatus(429, '', { 'retry-after': '3' }, spec) as MeshTransientError & { retryAfterMs?: number };
    expect(err.retryAfterMs).toBe(3000);
  });
});

describe('backoff', () => {
  it('grows exponentially with jitter and never passes the cap', async () => {
    const t = new MeshTransport({ url: 'http://127.0.0.1:1', mailbox: 'X', password: 'p', sharedKey: 'k', timeoutMs: 1000, retry: { attempts: 9, baseDelayMs: 100, maxDelayMs: 1000 }, clientVersion: 't' });
    try {
      for (let i = 0; i < 50; i++) {
        const first = t.backoffMs(1);
        expect(first).toBeGreaterThanOrEqual(50);
        expect(first).toBeLessThanOrEqual(100);
        const third = t.backoffMs(3);
        expect(third).toBeGreaterThanOrEqual(200);
        expect(third).toBeLessThanOrEqual(400);
        expect(t.backoffMs(20)).toBeLessThanOrEqual(1000);
        expect(t.backoffMs(1, 5000)).toBe(1000);
      }
    } finally {
      await t.close();
    }
  });
});

describe('chunks', () => {
  it('splits the uncompressed data, then gzips each chunk on its own', async () => {
    const data = Buffer.from('0123456789'.repeat(25));
    const chunks = await openChunks(data, 100, true);
    expect(chunks.totalChunks).toBe(3);
    const parts: Buffer[] = [];
    for (let n = 1; n <= 3; n++) parts.push(zlib.gunzipSync(await buffer(chunks.chunk(n).body() as NodeJS.ReadableStream)));
    expect(parts.map((p) => p.length)).toEqual([100, 100, 50]);
    expect(Buffer.concat(parts).equals(data)).toBe(true);
    // A retried chunk gets a fresh, complete body.
    expect(zlib.gunzipSync(await buffer(chunks.chunk(2).body() as NodeJS.ReadableStream)).equals(data.subarray(100, 200))).toBe(true);
  });

  it('sends uncompressed chunks with their length, and an empty body as one chunk', async () => {
    const chunks = await openChunks('abcdefghij', 4, false);
    expect([chunks.totalChunks, chunks.chunk(3).length, String(chunks.chunk(3).body())]).toEqual([3, 2, 'ij']);
    expect((await openChunks('', 4, false)).totalChunks).toBe(1);
    await expect(openChunks('x', 200 * 1024 * 1024, false)).rejects.toBeInstanceOf(MeshConfigError);
  });

  it('parses CLI sizes', () => {
    expect([parseSize('20MB'), parseSize('512kb'), parseSize('1000')]).toEqual([20 * 1024 * 1024, 512 * 1024, 1000]);
    expect(() => parseSize('lots')).toThrow(MeshConfigError);
  });
});
