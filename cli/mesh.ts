/**
 * `gp2gp-mi mesh …`: every MESH call from the command line, for operators checking a mailbox by hand.
 * Configured by the `MESH_*` environment variables (config/mesh.ts, as the worker); with `MESH_URL` unset it
 * talks to the embedded sandbox of `npm start` (its port, mailbox, password and generated shared key),
 * so no secret is ever typed on a command line or printed. Plain text by default, one JSON document
 * on stdout with `--json`; progress bars (stderr, terminals only) on sends and downloads; timestamps
 * are ISO 8601 UTC. Option values are checked before anything connects.
 * Exit codes: 0 done, 1 MESH refused or failed, 2 bad input or configuration.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Command } from 'commander';
import { ConfigError, loadConfig } from '../config';
import { mapConcurrent } from '../client/concurrency';
import { CommandError, EXIT_FAILED, EXIT_USAGE, UsageError } from './exit-codes';
import { meshClientFromConfig } from '../config/mesh';
import {
  MAX_CHUNK_BYTES,
  MeshClient,
  MeshConfigError,
  MeshError,
  MeshLocalIdConflictError,
  MeshTransientError,
  validateSendMessage,
  type MeshMessageMetadata,
  type MeshProgress,
  type MeshTracking,
} from '../mesh';

/** The workflow this project sends its MI files under. */
const DEFAULT_WORKFLOW_ID = 'GP2GP_MI';

const UNITS: Record<string, number> = { b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };

/** `20MB`, `512KB`, `1.5MiB`, `1048576` → bytes (binary units, as MESH's limits are usually quoted). */
export function parseSize(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(b|k|kb|kib|m|mb|mib|g|gb|gib)?\s*$/i.exec(text);
  if (!m) throw new MeshConfigError(`not a size: ${text} (e.g. 20MB, 512KB or a number of bytes)`);
  return Math.floor(Number(m[1]) * UNITS[(m[2] ?? 'b')[0]!.toLowerCase()]!);
}

/** `--chunk-size`: a size from 1 byte to MESH's 100 MB per request. */
export function parseChunkSize(text: string): number {
  let bytes: number;
  try {
    bytes = parseSize(text);
  } catch (err) {
    throw new UsageError(`--chunk-size: ${(err as Error).message}`);
  }
  if (bytes < 1) throw new UsageError(`--chunk-size ${text}: a chunk must hold at least 1 byte (20MB is usual)`);
  if (bytes > MAX_CHUNK_BYTES) throw new UsageError(`--chunk-size ${text}: more than MESH's limit of 100 MB per request`);
  return bytes;
}

/** `1536` → `1.5 KiB`. */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KiB', 'MiB', 'GiB'];
  let v = bytes / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(1)} ${units[i]}`;
}

interface ProgressStream {
  isTTY?: boolean;
  columns?: number;
  write(text: string): boolean;
}

/**
 * A one-line progress bar on a terminal: nothing at all unless the stream is a TTY, nothing for an
 * operation shorter than `delayMs`, redrawn at most every `intervalMs`, erased when done so the
 * command's own output follows on a clean line. A few lines of our own rather than a dependency
 * (cli-progress and the like bring multi-bar layouts, themes and ETA maths we do not need).
 */
export class ProgressBar {
  readonly #stream: ProgressStream;
  readonly #label: string;
  readonly #delayMs: number;
  readonly #intervalMs: number;
  readonly #now: () => number;
  readonly #started: number;
  #lastDraw = -Infinity;
  #drawn = false;

  constructor(stream: ProgressStream, label: string, options: { delayMs?: number; intervalMs?: number; now?: () => number } = {}) {
    this.#stream = stream;
    this.#label = label;
    this.#delayMs = options.delayMs ?? 500;
    this.#intervalMs = options.intervalMs ?? 100;
    this.#now = options.now ?? Date.now;
    this.#started = this.#now();
  }

  update(p: MeshProgress): void {
    if (!this.#stream.isTTY) return;
    const now = this.#now();
    if (now - this.#started < this.#delayMs) return;
    if (p.fraction < 1 && now - this.#lastDraw < this.#intervalMs) return;
    this.#lastDraw = now;
    const width = this.#stream.columns && this.#stream.columns > 20 ? this.#stream.columns : 80;
    const percent = `${Math.floor(p.fraction * 100)}%`.padStart(4);
    const amount = p.totalBytes !== undefined ? `${formatBytes(p.bytes)} / ${formatBytes(p.totalBytes)}` : formatBytes(p.bytes);
    const tail = ` ${percent}  ${amount}  chunk ${p.chunk}/${p.totalChunks}`;
    const barWidth = Math.max(10, Math.min(40, width - this.#label.length - tail.length - 4));
    const filled = Math.round(p.fraction * barWidth);
    const line = `${this.#label} [${'#'.repeat(filled)}${'-'.repeat(barWidth - filled)}]${tail}`;
    this.#stream.write(`\r${line.slice(0, width - 1)}\x1b[K`);
    this.#drawn = true;
  }

  done(): void {
    if (this.#drawn) this.#stream.write('\r\x1b[K');
    this.#drawn = false;
  }
}

function progressFor(label: string, enabled: boolean): ProgressBar | undefined {
  return enabled && process.stderr.isTTY ? new ProgressBar(process.stderr, label) : undefined;
}

/** Where the CLI's client points, for messages. */
interface Target {
  url: string;
  embedded: boolean;
}

/**
 * The client for the environment, built as the worker's (config/mesh.ts): `MESH_URL` set means the
 * `MESH_*` settings; unset means the embedded sandbox of `npm start` (MESH_MAILBOX or X26GPMI001),
 * each setting still overridable by its variable. A bad environment variable is bad usage (exit 2).
 */
function meshClientForCli(env: NodeJS.ProcessEnv = process.env, onWarning?: (message: string) => void): { client: MeshClient; target: Target } {
  let config;
  try {
    config = loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) throw new UsageError(err.message.replace(/\n\s*/g, ' '));
    throw err;
  }
  const client = meshClientFromConfig(config, { clientVersion: 'gp2gp-mi-cli', ...(onWarning ? { onWarning } : {}) }, { embeddedDefaults: true });
  return { client, target: config.mesh.url ? { url: new URL(config.mesh.url).origin, embedded: false } : { url: `http://127.0.0.1:${config.mesh.port}`, embedded: true } };
}

/** Exit 2 for bad input or configuration (including a local id already used for another message), 1 otherwise. */
function withExitCode(err: unknown, target?: Target): unknown {
  if (err instanceof UsageError) return err;
  if (err instanceof MeshConfigError || err instanceof MeshLocalIdConflictError || err instanceof ConfigError) return Object.assign(err as Error, { exitCode: EXIT_USAGE });
  if (err instanceof MeshTransientError && err.code === 'ECONNREFUSED' && target?.embedded) {
    (err as Error).message += ` (nothing answers at ${target.url}: start the embedded stack with npm start, or set MESH_URL to use another MESH)`;
  }
  return err;
}

let stdoutGuarded = false;

/**
 * A reader that goes away (`… | head`) makes writes to stdout fail with EPIPE, which Node reports as
 * an unhandled error with a stack trace. Say it in one line instead, and stop: exit 1, as the output
 * is incomplete.
 */
function guardStdout(): void {
  if (stdoutGuarded) return;
  stdoutGuarded = true;
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    const why = err.code === 'EPIPE' ? 'the output was closed before everything was written (broken pipe)' : `cannot write the output: ${err.code ?? err.message}`;
    process.stderr.write(`gp2gp-mi: ${why}\n`);
    process.exit(EXIT_FAILED);
  });
}

/** Runs an action with a client from the environment, closed afterwards. */
async function withClient(action: (client: MeshClient, target: Target) => Promise<void>): Promise<void> {
  guardStdout();
  let made: ReturnType<typeof meshClientForCli>;
  try {
    made = meshClientForCli(process.env, (message) => process.stderr.write(`gp2gp-mi: warning: ${message}\n`));
  } catch (err) {
    // Settings missing or unreadable: configuration, so exit 2.
    throw Object.assign(err as Error, { exitCode: EXIT_USAGE });
  }
  try {
    await action(made.client, made.target);
  } catch (err) {
    throw withExitCode(err, made.target);
  } finally {
    await made.client.close();
  }
}

/** Checks of the command line, run before any client is made (their errors exit 2). */
async function checked<T>(check: () => T | Promise<T>): Promise<T> {
  try {
    return await check();
  } catch (err) {
    throw withExitCode(err);
  }
}

const printJson = (value: unknown) => console.log(JSON.stringify(value, null, 2));

/** `label  value` lines, aligned, skipping empty values. */
function printFields(fields: [string, string | number | boolean | undefined][]): void {
  const shown = fields.filter(([, v]) => v !== undefined && v !== '');
  const width = Math.max(...shown.map(([k]) => k.length));
  for (const [k, v] of shown) console.log(`${k.padEnd(width)}  ${String(v)}`);
}

/** A file to send: it must exist and be a regular file (checked before connecting). */
function checkSendFile(file: string): number {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new UsageError(`cannot send ${file}: ${code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code}`);
  }
  if (stat.isDirectory()) throw new UsageError(`cannot send ${file}: it is a directory, not a file`);
  if (!stat.isFile()) throw new UsageError(`cannot send ${file}: it is not a regular file`);
  try {
    fs.accessSync(file, fs.constants.R_OK);
  } catch {
    throw new UsageError(`cannot send ${file}: permission denied`);
  }
  return stat.size;
}

/** The file's SHA-256 as `sha256:<hex>`, read as a stream. */
async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(fs.createReadStream(file), hash);
  return `sha256:${hash.digest('hex')}`;
}

/** Where `--out` would be written: not a directory, in a folder that exists (checked before connecting). */
function checkOutFile(file: string): void {
  const stat = fs.statSync(file, { throwIfNoEntry: false });
  if (stat?.isDirectory()) throw new UsageError(`--out ${file}: it is a directory (give a file name)`);
  const dir = path.dirname(path.resolve(file));
  const dirStat = fs.statSync(dir, { throwIfNoEntry: false });
  if (!dirStat) throw new UsageError(`--out ${file}: the folder ${dir} does not exist`);
  if (!dirStat.isDirectory()) throw new UsageError(`--out ${file}: ${dir} is not a folder`);
}

/** One line per message for `inbox`. */
function describeMessage(m: MeshMessageMetadata): string {
  const parts = [m.messageId, m.messageType];
  if (m.from) parts.push(`from ${m.from}`);
  if (m.workflowId) parts.push(`workflow ${m.workflowId}`);
  if (m.messageType === 'REPORT') {
    if (m.linkedMessageId) parts.push(`about ${m.linkedMessageId}`);
    if (m.statusCode || m.statusDescription) parts.push(`status ${[m.statusCode, m.statusDescription].filter(Boolean).join(' ')}`);
  } else {
    if (m.fileName) parts.push(`file ${m.fileName}`);
    parts.push(`${m.totalChunks} chunk${m.totalChunks === 1 ? '' : 's'}`);
  }
  if (m.subject) parts.push(`subject ${JSON.stringify(m.subject)}`);
  if (m.localId) parts.push(`local id ${m.localId}`);
  if (m.lastModified ?? m.statusTimestamp) parts.push(`at ${m.lastModified ?? m.statusTimestamp}`);
  return parts.join('  ');
}

function printTracking(t: MeshTracking): void {
  printFields([
    ['message', t.messageId],
    ['status', t.statusSuccess === undefined ? t.status : `${t.status} (${t.statusSuccess ? 'success' : 'failure'})`],
    ['status code', [t.statusCode, t.statusDescription].filter(Boolean).join(' ')],
    ['status event', t.statusEvent],
    ['status at', t.statusTimestamp],
    ['local id', t.localId],
    ['workflow', t.workflowId],
    ['recipient', t.recipient ? `${t.recipient}${t.recipientName ? ` (${t.recipientName})` : ''}` : undefined],
    ['file name', t.fileName],
    ['subject', t.subject],
    ['checksum', t.checksum],
    ['uploaded', t.uploadTimestamp],
    ['downloaded', t.downloadTimestamp],
    ['expires', t.expiryTime],
    ['linked message', t.linkedMessageId],
  ]);
}

export function registerMeshCommands(program: Command): void {
  const mesh = program
    .command('mesh')
    .description(
      'MESH mailbox operations (MESH_URL, MESH_MAILBOX, MESH_PASSWORD, MESH_SHARED_KEY, MESH_CLIENT_CERT, MESH_CLIENT_KEY, MESH_CA_CERT; with MESH_URL unset, the embedded sandbox of npm start)',
    )
    // A usage error is its line and a pointer to the help, not the whole help (sub-commands inherit this).
    .showHelpAfterError('(add --help for usage)');

  mesh
    .command('handshake')
    .description('validate the mailbox and its credentials')
    .option('--json', 'machine-readable output')
    .action((o: { json?: boolean }) =>
      withClient(async (c, target) => {
        await c.handshake();
        if (o.json) return printJson({ mailbox: c.mailbox, url: target.url, embedded: target.embedded, ok: true });
        console.log(`mailbox ${c.mailbox}: handshake OK (${target.url}${target.embedded ? ', embedded sandbox' : ''})`);
      }),
    );

  mesh
    .command('send <file>')
    .description('send a file, chunked (and gzipped per chunk with --gzip); prints the message id')
    .requiredOption('--to <mailbox>', 'recipient mailbox id')
    .option('--workflow-id <id>', 'MESH workflow id', DEFAULT_WORKFLOW_ID)
    .option('--subject <text>', 'message subject')
    .option('--local-id <id>', 'idempotency key: repeating the same send does not send it again; a different message with a used local id is refused')
    .option('--filename <name>', "file name the recipient sees (default: the file's own name)")
    .option('--content-type <type>', 'media type of the content, e.g. text/csv')
    .option('--checksum <value>', "content checksum sent as mex-content-checksum (default: the file's SHA-256, sha256:<hex>)")
    .option('--chunk-size <size>', 'uncompressed bytes per chunk, from 1 byte to 100MB, e.g. 20MB (default 20MB)')
    .option('--gzip', 'gzip each chunk')
    .option('--no-progress', 'no progress bar (shown only on a terminal)')
    .option('--json', 'machine-readable output')
    .action(
      async (
        file: string,
        o: { to: string; workflowId: string; subject?: string; localId?: string; filename?: string; contentType?: string; checksum?: string; chunkSize?: string; gzip?: boolean; progress: boolean; json?: boolean },
      ) => {
        const fileName = o.filename ?? path.basename(file);
        const { size, chunkSizeBytes } = await checked(() => {
          const chunkSizeBytes = o.chunkSize === undefined ? undefined : parseChunkSize(o.chunkSize);
          validateSendMessage({ to: o.to, workflowId: o.workflowId, subject: o.subject, localId: o.localId, fileName, checksum: o.checksum, contentType: o.contentType });
          return { size: checkSendFile(file), chunkSizeBytes };
        });
        const checksum = o.checksum ?? (await checked(() => sha256File(file)));
        await withClient(async (c) => {
          const bar = progressFor(`send ${fileName}`, o.progress);
          let result;
          try {
            result = await c.send({
              to: o.to,
              workflowId: o.workflowId,
              body: { file },
              fileName,
              checksum,
              ...(o.subject !== undefined ? { subject: o.subject } : {}),
              ...(o.localId !== undefined ? { localId: o.localId } : {}),
              ...(o.contentType !== undefined ? { contentType: o.contentType } : {}),
              ...(chunkSizeBytes !== undefined ? { chunkSizeBytes } : {}),
              gzip: Boolean(o.gzip),
              ...(bar ? { onProgress: (p: MeshProgress) => bar.update(p) } : {}),
            });
          } finally {
            bar?.done();
          }
          const totalChunks = Math.max(1, Math.ceil(size / (chunkSizeBytes ?? 20 * 1024 * 1024)));
          if (o.json) {
            return printJson({ ...result, to: o.to.toUpperCase(), workflowId: o.workflowId, fileName, bytes: size, totalChunks, checksum });
          }
          if (result.reusedExisting) {
            console.log(`already sent: message ${result.messageId} (local id ${result.localId}) is this message; nothing new was sent`);
          } else {
            console.log(`sent ${fileName} as message ${result.messageId} to ${o.to.toUpperCase()} (local id ${result.localId}, ${formatBytes(size)}, ${totalChunks} chunk${totalChunks === 1 ? '' : 's'})`);
          }
        });
      },
    );

  mesh
    .command('inbox')
    .description("count the inbox's messages and show each one's metadata (sender, workflow, file name, subject, local id, chunks)")
    .option('--workflow-filter <filter>', 'e.g. GP2GP_MI, "*_ACK*", "!*_ACK*"')
    .option('--ids-only', 'only the message ids, one per line (no metadata requests)')
    .option('--json', 'machine-readable output')
    .action((o: { workflowFilter?: string; idsOnly?: boolean; json?: boolean }) =>
      withClient(async (c) => {
        const ids: string[] = [];
        for await (const id of c.listInbox(o.workflowFilter ? { workflowFilter: o.workflowFilter } : {})) ids.push(id);
        const filter = o.workflowFilter ? { workflowFilter: o.workflowFilter } : {};
        if (o.idsOnly) {
          if (o.json) return printJson({ mailbox: c.mailbox, ...filter, count: ids.length, messages: ids.map((messageId) => ({ messageId })) });
          for (const id of ids) console.log(id);
          return;
        }
        // One HEAD per message, a few at a time. A message gone since the listing is said, not fatal.
        const messages = await mapConcurrent(ids, 4, async (id) => {
          try {
            return await c.metadata(id);
          } catch (err) {
            return { messageId: id, error: (err as Error).message };
          }
        });
        if (o.json) return printJson({ mailbox: c.mailbox, ...filter, count: ids.length, messages });
        const where = o.workflowFilter ? ` (workflow filter ${o.workflowFilter})` : '';
        console.log(`${ids.length} message${ids.length === 1 ? '' : 's'} in the inbox of ${c.mailbox}${where}`);
        for (const m of messages) console.log('error' in m ? `${m.messageId}  (no metadata: ${m.error})` : describeMessage(m));
      }),
    );

  mesh
    .command('download <messageId>')
    .description('download a message (all chunks, gzip undone): into --out, printing its metadata, or to stdout')
    .option('--out <file>', 'file to write (streamed; written whole or not at all; its folder must exist)')
    .option('--no-progress', 'no progress bar (shown only on a terminal)')
    .option('--json', 'machine-readable metadata (needs --out)')
    .action(async (messageId: string, o: { out?: string; progress: boolean; json?: boolean }) => {
      await checked(() => {
        if (o.json && !o.out) throw new UsageError('--json needs --out: without it the message itself goes to stdout');
        if (o.out) checkOutFile(o.out);
      });
      await withClient(async (c) => {
        const bar = progressFor(`download ${messageId}`, o.progress);
        const onProgress = bar ? { onProgress: (p: MeshProgress) => bar.update(p) } : {};
        let metadata: MeshMessageMetadata;
        try {
          metadata = o.out ? await c.downloadTo(messageId, o.out, onProgress) : await c.downloadToStream(messageId, process.stdout, onProgress);
        } finally {
          bar?.done();
        }
        if (!o.out) return;
        const bytes = fs.statSync(o.out).size;
        if (o.json) return printJson({ ...metadata, file: o.out, bytes });
        console.log(`downloaded message ${messageId} to ${o.out} (${formatBytes(bytes)})`);
        console.log(describeMessage(metadata));
      });
    });

  mesh
    .command('ack <messageId>')
    .description('acknowledge a message (removes it from the inbox)')
    .option('--json', 'machine-readable output')
    .action((messageId: string, o: { json?: boolean }) =>
      withClient(async (c) => {
        await c.acknowledge(messageId);
        if (o.json) return printJson({ messageId, acknowledged: true });
        console.log(`acknowledged ${messageId}`);
      }),
    );

  mesh
    .command('track <messageId>')
    .description('tracking of a message this mailbox sent')
    .option('--json', 'machine-readable output')
    .action((messageId: string, o: { json?: boolean }) =>
      withClient(async (c) => {
        const t = await c.track(messageId);
        if (o.json) printJson(t);
        else printTracking(t);
      }),
    );

  mesh
    .command('track-local <localId>')
    .description('tracking of the message this mailbox sent with a local id (a MESH call MESH has deprecated)')
    .option('--json', 'machine-readable output')
    .action((localId: string, o: { json?: boolean }) =>
      withClient(async (c) => {
        const tracking = await c.trackByLocalId(localId).catch((err: unknown) => {
          if (err instanceof MeshError && err.status !== undefined && err.status !== 403 && err.status !== 401 && !err.retryable) {
            err.message += ' (MESH has deprecated tracking by local id: track the message id instead, with gp2gp-mi mesh track <messageId>)';
          }
          throw err;
        });
        if (!tracking) throw new CommandError(`no message sent from ${c.mailbox} has local id ${localId}`);
        if (o.json) printJson(tracking);
        else printTracking(tracking);
      }),
    );

  mesh
    .command('lookup <ods> <workflowId>')
    .description("an organisation's mailboxes for a workflow")
    .option('--json', 'machine-readable output')
    .action((ods: string, workflowId: string, o: { json?: boolean }) =>
      withClient(async (c) => {
        const found = await c.lookup(ods, workflowId);
        if (o.json) return printJson(found);
        if (!found.length) console.log(`no mailbox of ${ods} receives ${workflowId}`);
        for (const m of found) console.log(m.mailboxName ? `${m.mailboxId}  ${m.mailboxName}` : m.mailboxId);
      }),
    );

  mesh
    .command('workflow-search <workflowId>')
    .description('every mailbox that receives a workflow')
    .option('--json', 'machine-readable output')
    .action((workflowId: string, o: { json?: boolean }) =>
      withClient(async (c) => {
        const found = await c.workflowSearch(workflowId);
        if (o.json) return printJson(found);
        if (!found.length) console.log(`no mailbox receives ${workflowId}`);
        for (const m of found) console.log(m.mailboxName ? `${m.mailboxId}  ${m.mailboxName}` : m.mailboxId);
      }),
    );
}
