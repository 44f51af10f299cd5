/**
 * Large, CSV-like test data made in a stream: deterministic (seeded), compressible about as well as
 * real MI extracts, and written a block at a time so making 100 MB needs no 100 MB buffer.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

const BLOCK_BYTES = 1024 * 1024;

/** `bytes` bytes of CSV-like lines from a seeded xorshift generator, one ~1 MB block at a time. */
export function miLikeData(bytes: number, seed = 1): Readable {
  let x = seed >>> 0 || 1;
  const next = () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
  let produced = 0;
  let row = 0;
  return Readable.from(
    (function* () {
      while (produced < bytes) {
        const lines: string[] = [];
        let length = 0;
        while (length < BLOCK_BYTES) {
          const line = `${row++},A${(next() % 90000) + 10000},conv-${next().toString(16)},${next() % 7},2025-0${(next() % 9) + 1}-1${next() % 9},EHR_${['REQUESTED', 'SENT', 'INTEGRATED', 'REJECTED'][next() % 4]}\n`;
          lines.push(line);
          length += line.length;
        }
        const block = Buffer.from(lines.join(''), 'latin1').subarray(0, Math.min(BLOCK_BYTES, bytes - produced));
        produced += block.length;
        yield block;
      }
    })(),
    { objectMode: false },
  );
}

/** Writes the data to a file and returns its sha256 (hex). */
export async function writeMiLikeFile(file: string, bytes: number, seed = 1): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(
    miLikeData(bytes, seed),
    async function* (source: AsyncIterable<Buffer>) {
      for await (const block of source) {
        hash.update(block);
        yield block;
      }
    },
    fs.createWriteStream(file),
  );
  return hash.digest('hex');
}

/** sha256 of a file, streamed. */
export async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(fs.createReadStream(file), hash);
  return hash.digest('hex');
}
