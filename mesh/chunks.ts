/**
 * A message body cut into MESH chunks. The uncompressed data is split first and each chunk is gzipped
 * on its own (MESH's rule), and every chunk body is produced afresh on each attempt, from memory or by
 * re-reading the file range, so a retried chunk needs no copy kept and memory stays at about one
 * stream buffer whatever the message size.
 */
import * as fs from 'node:fs';
import { pipeline, Readable } from 'node:stream';
import * as zlib from 'node:zlib';
import { MeshConfigError } from './errors';

export type SendBody = Buffer | string | { file: string };

/** MESH refuses requests over 100 MB. */
export const MAX_CHUNK_BYTES = 100 * 1024 * 1024;
export const DEFAULT_CHUNK_BYTES = 20 * 1024 * 1024;

/**
 * Larger reads than the 64 KiB default: fewer, bigger socket writes for 20 MB chunks. 4 MiB sent a
 * 100 MB message to the sandbox about 10 % faster than 1 MiB (bench/mesh.ts); a few of them in flight
 * are all the memory a send holds, whatever the message size.
 */
const READ_BUFFER_BYTES = 4 * 1024 * 1024;

export interface ChunkBody {
  /**
   * A fresh body for one attempt. `onRead` (file bodies) hears how many uncompressed bytes of the
   * chunk this attempt has read so far, for progress.
   */
  body: (onRead?: (bytes: number) => void) => Buffer | Readable;
  /** The chunk's uncompressed bytes: [start, end) of the data. */
  start: number;
  end: number;
  /** Bytes on the wire when known in advance (not when gzipped: then chunked transfer encoding). */
  length?: number;
}

export interface ChunkedBody {
  totalBytes: number;
  totalChunks: number;
  /** Chunk n of totalChunks, 1-based. */
  chunk(n: number): ChunkBody;
  close(): Promise<void>;
}

/**
 * Bytes [start, end) of an open file, read at explicit positions: the handle stays open and shared by
 * every chunk and attempt (a FileHandle read stream would close it when it ends).
 */
async function* readRange(handle: fs.promises.FileHandle, start: number, end: number, onRead?: (bytes: number) => void): AsyncGenerator<Buffer> {
  for (let position = start; position < end; ) {
    // A fresh buffer per read: the socket may still hold the previous one.
    const buffer = Buffer.allocUnsafe(Math.min(READ_BUFFER_BYTES, end - position));
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, position);
    if (bytesRead === 0) throw new Error(`file ended at byte ${position}, before the ${end} bytes it had at the start of the send`);
    position += bytesRead;
    onRead?.(position - start);
    yield bytesRead === buffer.length ? buffer : buffer.subarray(0, bytesRead);
  }
}

export async function openChunks(source: SendBody, chunkSizeBytes: number, gzip: boolean): Promise<ChunkedBody> {
  if (!Number.isInteger(chunkSizeBytes) || chunkSizeBytes < 1 || chunkSizeBytes > MAX_CHUNK_BYTES) {
    throw new MeshConfigError(`chunk size must be a whole number of bytes from 1 to ${MAX_CHUNK_BYTES} (MESH's limit per request), not ${chunkSizeBytes}`);
  }
  let totalBytes: number;
  let raw: (start: number, end: number, onRead?: (bytes: number) => void) => Buffer | Readable;
  let close = async () => {};
  if (typeof source === 'string' || Buffer.isBuffer(source)) {
    const data = typeof source === 'string' ? Buffer.from(source, 'utf8') : source;
    totalBytes = data.length;
    raw = (start, end) => data.subarray(start, end);
  } else {
    // One handle for the whole send: every chunk and retry reads the same file, even if it is replaced.
    const handle = await fs.promises.open(source.file, 'r').catch((err: NodeJS.ErrnoException) => {
      throw new MeshConfigError(fileProblem(source.file, err));
    });
    const stat = await handle.stat();
    if (!stat.isFile()) {
      await handle.close();
      throw new MeshConfigError(`cannot send ${source.file}: ${stat.isDirectory() ? 'it is a directory, not a file' : 'it is not a regular file'}`);
    }
    totalBytes = stat.size;
    raw = (start, end, onRead) => Readable.from(readRange(handle, start, end, onRead), { objectMode: false });
    close = () => handle.close();
  }
  // An empty body is still one chunk: MESH answers it with its own refusal (code 02).
  const totalChunks = Math.max(1, Math.ceil(totalBytes / chunkSizeBytes));
  return {
    totalBytes,
    totalChunks,
    chunk(n) {
      const start = (n - 1) * chunkSizeBytes;
      const end = Math.min(totalBytes, start + chunkSizeBytes);
      if (!gzip) return { body: (onRead) => raw(start, end, onRead), length: end - start, start, end };
      return {
        start,
        end,
        body: (onRead) => {
          const data = raw(start, end, onRead);
          const gz = zlib.createGzip();
          // pipeline: if undici destroys the gzip stream (socket failure), the file stream is closed too.
          return pipeline(Buffer.isBuffer(data) ? Readable.from([data]) : data, gz, () => {});
        },
      };
    },
    close,
  };
}

/** Why a file cannot be opened, in words (the code kept for searching). */
export function fileProblem(file: string, err: NodeJS.ErrnoException): string {
  switch (err.code) {
    case 'ENOENT':
      return `cannot read ${file}: no such file`;
    case 'EACCES':
    case 'EPERM':
      return `cannot read ${file}: permission denied`;
    case 'EISDIR':
      return `cannot send ${file}: it is a directory, not a file`;
    default:
      return `cannot read ${file}: ${err.code ?? err.message}`;
  }
}
