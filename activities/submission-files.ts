/**
 * A submission's MI files on disk: the record sets rendered one at a time (mi/csv.ts renderFileParts)
 * and written as they come, so the memory a send needs does not grow with the number of rows, and
 * MESH then streams each file from disk chunk by chunk (mesh/chunks.ts). The files live in a fresh
 * owner-only folder that the caller removes when the send is over.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileNameOf, renderFileParts, type FilePart, type PlannedFile, type PlanOptions } from '../mi/csv';
import type { RecordSet } from '../mi/record-set';

/** A rendered file: where it is on disk, and what planFiles says of it. */
export interface WrittenFile extends PlannedFile {
  path: string;
}

/** The record sets cannot be rendered (a fault of the rows, not of the disk): no retry will change it. */
export class RenderError extends Error {
  override readonly name = 'RenderError';
}

/**
 * Texts are gathered up to about this many bytes and written with one call: fewer system calls than
 * one write per record set (a national week is 44,100 of them), and still a small, fixed amount held.
 */
const WRITE_BATCH_BYTES = 1024 * 1024;

async function writeAll(handle: fs.promises.FileHandle, texts: string[]): Promise<void> {
  const data = Buffer.from(texts.join(''), 'utf8');
  // A write may take fewer bytes than given; carry on from where it stopped.
  for (let at = 0; at < data.length; ) at += (await handle.write(data, at, data.length - at)).bytesWritten;
}

/**
 * Renders `sets` into files in `dir`, split as planFiles splits them (≤ maxBytes, only after a footer),
 * named `1.csv`, `2.csv`, … on disk; `fileName` is the name MESH carries (fileNameOf). Throws
 * RenderError for rows that cannot be rendered, anything else for the disk.
 */
export async function writeRecordSetFiles(sets: readonly RecordSet[], dir: string, options: PlanOptions = {}): Promise<WrittenFile[]> {
  const parts = renderFileParts(sets, options);
  const next = (): IteratorResult<FilePart, void> => {
    try {
      return parts.next();
    } catch (err) {
      throw new RenderError((err as Error).message);
    }
  };
  const files: { path: string; recordSets: RecordSet[]; bytes: number }[] = [];
  let handle: fs.promises.FileHandle | undefined;
  let pending: string[] = [];
  let pendingBytes = 0;
  const flush = async () => {
    if (pendingBytes === 0) return;
    await writeAll(handle!, pending);
    pending = [];
    pendingBytes = 0;
  };
  try {
    for (let step = next(); !step.done; step = next()) {
      const part = step.value;
      if (part.file > files.length) {
        await flush();
        await handle?.close();
        handle = undefined;
        const file = path.join(dir, `${part.file}.csv`);
        handle = await fs.promises.open(file, 'wx', 0o600);
        files.push({ path: file, recordSets: [], bytes: 0 });
      }
      const current = files[files.length - 1]!;
      current.recordSets.push(part.set);
      current.bytes += part.bytes;
      pending.push(part.text);
      pendingBytes += part.bytes;
      if (pendingBytes >= WRITE_BATCH_BYTES) await flush();
    }
    await flush();
  } finally {
    await handle?.close();
  }
  let fileNames: string[];
  try {
    fileNames = files.map((f, i) => fileNameOf(f.recordSets, i + 1, files.length, options));
  } catch (err) {
    throw new RenderError((err as Error).message);
  }
  return files.map((f, i) => ({ ...f, fileName: fileNames[i]! }));
}

/** A fresh owner-only folder for one send's files (mkdtemp makes it 0700), removed by `fn`'s end. */
export async function withScratchDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'gp2gp-mi-send-'));
  try {
    return await fn(dir);
  } finally {
    await fs.promises.rm(dir, { recursive: true, force: true });
  }
}
