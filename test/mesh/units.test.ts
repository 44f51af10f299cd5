/**
 * The MESH client's pure parts: the NHSMESH token (checked against the sandbox's own Python HMAC),
 * status → error type, MESH error bodies, backoff bounds, chunk planning and per-chunk gzip.
 */
import { execFileSync } from 'node:child_process';
import { buffer } from 'node:stream/consumers';
import * as zlib from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { ProgressBar, parseChunkSize, parseSize } from '../../cli/mesh';
import { installMeshMetrics } from '../../observability/mesh-metrics';
import { METRICS } from '../../observability/metric-names';
import diagnostics from 'node:diagnostics_channel';
import type { MetricMeter } from '@temporalio/common';
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
  LOCAL_ID_LOOKUP_UNAVAILABLE_CHANNEL,
  isoTimestamp,
  meshAuthorization,
  meshTimestamp,
  validateSendMessage,
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
    expect([parseSize('20MB'), parseSize('512kb'), parseSize('1000'), parseSize('1.5MiB'), parseSize('5GB')]).toEqual([
      20 * 1024 * 1024,
      512 * 1024,
      1000,
      1.5 * 1024 * 1024,
      5 * 1024 ** 3,
    ]);
    expect(() => parseSize('lots')).toThrow(MeshConfigError);
  });

  it('takes a chunk size only from 1 byte to 100 MB, as a usage error (exit 2)', () => {
    expect(parseChunkSize('20MB')).toBe(20 * 1024 * 1024);
    expect(parseChunkSize('100MB')).toBe(100 * 1024 * 1024);
    for (const [text, message] of [
      ['0', /^--chunk-size 0: a chunk must hold at least 1 byte/],
      ['0.1', /at least 1 byte/],
      ['5GB', /^--chunk-size 5GB: more than MESH's limit of 100 MB per request$/],
      ['101MB', /more than MESH's limit/],
      ['lots', /^--chunk-size: not a size: lots/],
    ] as const) {
      let err: unknown;
      try {
        parseChunkSize(text);
      } catch (e) {
        err = e;
      }
      expect((err as Error).message).toMatch(message);
      expect((err as { exitCode?: number }).exitCode).toBe(2);
    }
  });
});

describe('send headers', () => {
  const ok = { to: 'X26ABC1', workflowId: 'GP2GP_MI' };
  it.each([
    ['an empty recipient', { to: '' }, /to is required/],
    ['a recipient with a space', { to: 'X26 ABC1' }, /mailbox id and has no spaces/],
    ['a non-ASCII subject', { subject: 'é' }, /subject must be printable ASCII/],
    ['a subject with a line break', { subject: 'a\nb' }, /subject must be printable ASCII/],
    ['a 301-character local id', { localId: 'x'.repeat(301) }, /localId is 301 characters; MESH allows at most 300/],
    ['an empty local id', { localId: '' }, /localId must not be empty/],
    ['a 301-character file name', { fileName: 'x'.repeat(301) }, /fileName is 301 characters/],
    ['a checksum with other characters', { checksum: 'md5:{x}' }, /checksum may hold only letters, digits, spaces and : - \//],
    ['a URL as checksum', { checksum: 'https://example.org/sum' }, /checksum must not be a URL/],
    ['a content type that is not a media type', { contentType: 'csv' }, /contentType is not a media type/],
  ])('refuses %s', (_label, change, message) => {
    expect(() => validateSendMessage({ ...ok, ...change })).toThrow(message);
  });

  it('accepts what MESH accepts', () => {
    expect(() =>
      validateSendMessage({ ...ok, subject: 'MI for A12345, 2025-01-01', localId: 'gp2gp-sub-A1-f1', fileName: 'mi.csv', checksum: 'sha256:ab12', contentType: 'text/csv; charset=utf-8' }),
    ).not.toThrow();
  });
});

describe('timestamps', () => {
  it.each([
    ['20200601122152', '2020-06-01T12:21:52Z'],
    ['2020-06-01T12:21:52', '2020-06-01T12:21:52Z'],
    ['2020-06-01T12:21:52.123456', '2020-06-01T12:21:52Z'],
    ['2020-06-01 12:21:52', '2020-06-01T12:21:52Z'],
    ['2020-06-01T13:21:52+01:00', '2020-06-01T12:21:52Z'],
    ['Mon, 01 Jun 2020 12:21:52 GMT', '2020-06-01T12:21:52Z'],
    ['Mon, 01 Jun 2020 12:21:52 UTC', '2020-06-01T12:21:52Z'],
    ['not a time', 'not a time'],
  ])('%s is %s', (raw, iso) => {
    expect(isoTimestamp(raw)).toBe(iso);
  });
});

describe('progress bar', () => {
  function tty(isTTY: boolean) {
    const writes: string[] = [];
    return { stream: { isTTY, columns: 80, write: (t: string) => (writes.push(t), true) }, writes };
  }
  const at = (fraction: number) => ({ bytes: fraction * 1024 * 1024, totalBytes: 1024 * 1024, chunk: 1, totalChunks: 1, fraction });

  it('draws on a terminal after a short delay, at most every interval, and erases itself', () => {
    let now = 0;
    const { stream, writes } = tty(true);
    const bar = new ProgressBar(stream, 'send mi.csv', { delayMs: 500, intervalMs: 100, now: () => now });
    bar.update(at(0.1));
    expect(writes).toEqual([]);
    now = 600;
    bar.update(at(0.5));
    now = 650;
    bar.update(at(0.6));
    now = 800;
    bar.update(at(1));
    expect(writes).toHaveLength(2);
    expect(writes[0]).toMatch(/^\rsend mi\.csv \[#+-+\]  50%  512\.0 KiB \/ 1\.0 MiB  chunk 1\/1\x1b\[K$/);
    expect(writes[1]).toMatch(/\[#+\] 100%/);
    expect(writes.every((w) => w.length <= 80 + 4)).toBe(true);
    bar.done();
    expect(writes.at(-1)).toBe('\r\x1b[K');
  });

  it('writes nothing when the stream is not a terminal, or the operation was quick', () => {
    const pipe = tty(false);
    const bar = new ProgressBar(pipe.stream, 'x', { delayMs: 0 });
    bar.update(at(0.5));
    bar.done();
    expect(pipe.writes).toEqual([]);
    const quick = tty(true);
    const fast = new ProgressBar(quick.stream, 'x', { delayMs: 10_000 });
    fast.update(at(1));
    fast.done();
    expect(quick.writes).toEqual([]);
  });
});

describe('metrics', () => {
  it('counts sends made without the local-id lookup', () => {
    const added: { name: string; value: number; attrs: unknown }[] = [];
    const meter = {
      createCounter: (name: string) => ({ add: (value: number, attrs: unknown) => added.push({ name, value, attrs }) }),
      createHistogram: () => ({ record: () => {} }),
      createGauge: () => ({ set: () => {} }),
      withTags: () => meter,
    } as unknown as MetricMeter;
    const uninstall = installMeshMetrics(meter);
    try {
      diagnostics.channel(LOCAL_ID_LOOKUP_UNAVAILABLE_CHANNEL).publish({ status: 410, mailbox: 'X26ABC1' });
    } finally {
      uninstall();
    }
    diagnostics.channel(LOCAL_ID_LOOKUP_UNAVAILABLE_CHANNEL).publish({ status: 405, mailbox: 'X26ABC1' });
    expect(METRICS.meshLocalIdLookupUnavailable).toBe('gp2gp_mesh_local_id_lookup_unavailable');
    expect(added).toEqual([{ name: METRICS.meshLocalIdLookupUnavailable, value: 1, attrs: { status: '410' } }]);
  });
});
