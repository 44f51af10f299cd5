/**
 * `MeshClient`: every MESH API v2 call a mailbox needs, one method each, over one keep-alive undici
 * pool. Sends are chunked (and optionally gzipped per chunk) from memory or streamed from a file;
 * downloads join the chunks, undo gzip and can stream to a file; transient failures are retried with
 * backoff; the first outbox POST is never blindly repeated (see `send`).
 */
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pipeline, type Readable } from 'node:stream';
import { pipeline as pipe } from 'node:stream/promises';
import * as zlib from 'node:zlib';
import { DEFAULT_CHUNK_BYTES, openChunks, type ChunkBody } from './chunks';
import { MeshConfigError, MeshConflictError, MeshError, MeshNotFoundError } from './errors';
import { MeshTransport, type MeshResponse, type RequestSpec } from './transport';
import {
  inboxPageSchema,
  lookupSchema,
  metadataFromHeaders,
  parseTracking,
  sendResponseSchema,
  type InboxPage,
  type MeshMailbox,
  type MeshMessageMetadata,
  type MeshTracking,
} from './types';

export interface MeshClientOptions {
  /** Base URL, e.g. `https://msg.intspineservices.nhs.uk` (a path prefix is kept). */
  url: string;
  mailbox: string;
  password: string;
  /** The environment's shared secret for the `NHSMESH` HMAC. */
  sharedKey: string;
  /** Mutual TLS, PEM contents (not paths). `ca` replaces the system CAs (e.g. the NHS CA bundle). */
  tls?: { cert?: string | Buffer; key?: string | Buffer; ca?: string | Buffer };
  /** Longest wait for a connection, for an answer, or between two pieces of a body. Default 120 s. */
  timeoutMs?: number;
  /** Transient failures: `attempts` requests in all (default 4), backoff from `baseDelayMs` (500) doubling up to `maxDelayMs` (30 000). */
  retry?: { attempts?: number; baseDelayMs?: number; maxDelayMs?: number };
  /** Uncompressed bytes per chunk, default 20 MB; MESH wants chunks other than the last over 5 MB and each request under 100 MB. */
  chunkSizeBytes?: number;
  /** `mex-clientversion`, e.g. `gp2gp-mi/1.2.3`. */
  clientVersion?: string;
  /**
   * Ask MESH for gzip on the wire when downloading (it is undone here). Saves bandwidth for messages
   * sent gzipped, but MESH then compresses uncompressed messages on the fly, which is slow; so off
   * by default, and MESH sends identity bytes.
   */
  gzipDownloads?: boolean;
}

export interface SendMessage {
  /** Recipient mailbox id. */
  to: string;
  workflowId: string;
  /** In memory, or streamed from a file (read twice never: each chunk is read when it is sent). */
  body: Buffer | string | { file: string };
  subject?: string;
  /**
   * Our idempotency key (never patient data). A send with a local id that already names a message in
   * this mailbox's outbox reuses that message. Without one a random local id is used, so that a lost
   * response can still be found again.
   */
  localId?: string;
  /** Defaults to the file's base name for a file body. */
  fileName?: string;
  /** Gzip each chunk (`Content-Encoding: gzip`). */
  gzip?: boolean;
  chunkSizeBytes?: number;
  /** The content's media type (`mex-content-type`); chunks travel as application/octet-stream. */
  contentType?: string;
  /** Passed through as `mex-content-checksum` (MESH does not check it). */
  checksum?: string;
}

export interface SendResult {
  messageId: string;
  /** True when the message already existed (same local id, or a retry found the first attempt had arrived). */
  reusedExisting: boolean;
}

const DEFAULTS = {
  timeoutMs: 120_000,
  retry: { attempts: 4, baseDelayMs: 500, maxDelayMs: 30_000 },
  clientVersion: 'gp2gp-mi-mesh/0.1.0',
};

/**
 * Where a download goes. `take` is called once per attempt at a chunk with that chunk's bytes, and
 * must store them after the chunks taken so far: an attempt that failed half way is overwritten by
 * the retry, never appended to.
 */
type Sink = (chunk: Readable) => Promise<void>;

/** Bytes a file sink buffers while a write is in flight; batched into one writev. */
const WRITE_BUFFER_BYTES = 1024 * 1024;

export class MeshClient {
  readonly mailbox: string;
  readonly #t: MeshTransport;
  readonly #chunkSizeBytes: number;
  readonly #gzipDownloads: boolean;

  constructor(options: MeshClientOptions) {
    const missing = (['url', 'mailbox', 'password', 'sharedKey'] as const).filter((k) => !options[k]);
    if (missing.length) throw new MeshConfigError(`MESH client options missing: ${missing.join(', ')}`);
    const retry = { ...DEFAULTS.retry, ...options.retry };
    if (!(retry.attempts >= 1)) throw new MeshConfigError('retry.attempts must be at least 1');
    this.mailbox = options.mailbox.toUpperCase();
    this.#chunkSizeBytes = options.chunkSizeBytes ?? DEFAULT_CHUNK_BYTES;
    this.#gzipDownloads = options.gzipDownloads ?? false;
    this.#t = new MeshTransport({
      url: options.url,
      mailbox: this.mailbox,
      password: options.password,
      sharedKey: options.sharedKey,
      tls: options.tls,
      timeoutMs: options.timeoutMs ?? DEFAULTS.timeoutMs,
      retry,
      clientVersion: options.clientVersion ?? DEFAULTS.clientVersion,
    });
  }

  /**
   * From `MESH_URL`, `MESH_MAILBOX`, `MESH_PASSWORD`, `MESH_SHARED_KEY` and, for mutual TLS, the PEM
   * file paths `MESH_CLIENT_CERT`, `MESH_CLIENT_KEY`, `MESH_CA_CERT`.
   */
  static fromEnv(env: NodeJS.ProcessEnv = process.env): MeshClient {
    const required = ['MESH_URL', 'MESH_MAILBOX', 'MESH_PASSWORD', 'MESH_SHARED_KEY'] as const;
    const missing = required.filter((k) => !env[k]);
    if (missing.length) throw new MeshConfigError(`MESH settings missing from the environment: ${missing.join(', ')}`);
    const pem = (name: 'MESH_CLIENT_CERT' | 'MESH_CLIENT_KEY' | 'MESH_CA_CERT'): Buffer | undefined => {
      const file = env[name];
      if (!file) return undefined;
      try {
        return fs.readFileSync(file);
      } catch (err) {
        throw new MeshConfigError(`${name}: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
      }
    };
    const tls = { cert: pem('MESH_CLIENT_CERT'), key: pem('MESH_CLIENT_KEY'), ca: pem('MESH_CA_CERT') };
    return new MeshClient({
      url: env.MESH_URL!,
      mailbox: env.MESH_MAILBOX!,
      password: env.MESH_PASSWORD!,
      sharedKey: env.MESH_SHARED_KEY!,
      ...(tls.cert || tls.key || tls.ca ? { tls: Object.fromEntries(Object.entries(tls).filter(([, v]) => v)) } : {}),
    });
  }

  /** Validates the mailbox (MESH asks for this at start-up, then at most hourly). */
  async handshake(): Promise<void> {
    await this.#call({ method: 'POST', path: this.#t.mailboxPath(), what: `handshake of ${this.mailbox}` });
  }

  /**
   * Sends a message, chunked at `chunkSizeBytes`. Chunk posts are retried freely; the first POST to
   * the outbox is not, because a retry after a lost answer would create a second message: before
   * each retry the local id is looked up, and a message found is reused.
   */
  async send(message: SendMessage): Promise<SendResult> {
    for (const k of ['to', 'workflowId'] as const) {
      if (!message[k]) throw new MeshConfigError(`send: ${k} is required`);
    }
    const callerLocalId = message.localId;
    const localId = callerLocalId ?? `gp2gp-mi-${randomUUID()}`;
    const gzip = message.gzip ?? false;
    const chunks = await openChunks(message.body, message.chunkSizeBytes ?? this.#chunkSizeBytes, gzip);
    try {
      const total = chunks.totalChunks;
      // A local id given by the caller may name a message an earlier run already sent (or began to).
      const earlier = callerLocalId === undefined ? undefined : await this.trackByLocalId(localId);
      let messageId: string;
      let reusedExisting = false;
      let resumeUpload = true;
      if (earlier) {
        messageId = earlier.messageId;
        reusedExisting = true;
        resumeUpload = earlier.status === 'uploading';
      } else {
        const first = chunks.chunk(1);
        const fileName = message.fileName ?? (typeof message.body === 'object' && 'file' in message.body ? path.basename(message.body.file) : undefined);
        const headers = compact({
          'mex-to': message.to.toUpperCase(),
          'mex-workflowid': message.workflowId,
          'mex-chunk-range': `1:${total}`,
          'mex-localid': localId,
          'mex-subject': message.subject,
          'mex-filename': fileName,
          'mex-content-checksum': message.checksum,
          'mex-content-type': message.contentType,
          'content-type': total === 1 && message.contentType ? message.contentType : 'application/octet-stream',
          'content-encoding': gzip ? 'gzip' : undefined,
          'content-length': first.length === undefined ? undefined : String(first.length),
        });
        const what = `send to ${message.to} (chunk 1/${total})`;
        messageId = await this.#t.withRetry(
          what,
          async () => {
            const { json } = await this.#t.onceJson({ method: 'POST', path: this.#t.mailboxPath('/outbox'), headers, body: first.body, what });
            const parsed = sendResponseSchema.safeParse(json);
            const id = parsed.success ? (parsed.data.message_id ?? parsed.data.messageID) : undefined;
            if (!id) throw new MeshError(`${what}: MESH accepted the message but its answer has no message id`);
            return id;
          },
          async () => {
            // The failed attempt may have reached MESH and only its answer been lost.
            const found = await this.trackByLocalId(localId);
            if (!found) return undefined;
            reusedExisting = true;
            return found.messageId;
          },
        );
      }
      if (resumeUpload) {
        for (let n = 2; n <= total; n++) await this.#sendChunk(messageId, n, total, chunks.chunk(n), gzip, reusedExisting);
      }
      return { messageId, reusedExisting };
    } finally {
      await chunks.close();
    }
  }

  async #sendChunk(messageId: string, n: number, total: number, chunk: ChunkBody, gzip: boolean, resumed: boolean): Promise<void> {
    const what = `send chunk ${n}/${total} of ${messageId}`;
    const headers = compact({
      'mex-chunk-range': `${n}:${total}`,
      'content-type': 'application/octet-stream',
      'content-encoding': gzip ? 'gzip' : undefined,
      'content-length': chunk.length === undefined ? undefined : String(chunk.length),
    });
    const spec: RequestSpec = { method: 'POST', path: this.#t.mailboxPath(`/outbox/${encodeURIComponent(messageId)}/${n}`), headers, body: chunk.body, what, messageId };
    await this.#t.withRetry(what, async (attempt) => {
      try {
        await drain(await this.#t.once(spec));
      } catch (err) {
        // 423 after a lost answer (or on resuming) may mean an earlier post of the last chunk got
        // through and the message is complete; tracking says whether it is.
        if (err instanceof MeshConflictError && (attempt > 1 || resumed)) {
          const { status } = await this.track(messageId);
          if (status === 'accepted' || status === 'acknowledged') return;
        }
        throw err;
      }
    });
  }

  /** One page of the inbox (MESH: 10 to 5000 ids per page; default 500). */
  async inboxPage(options: { workflowFilter?: string; maxResults?: number; continueFrom?: string } = {}): Promise<InboxPage> {
    let p: string;
    if (options.continueFrom) {
      const link = this.#t.resolveLink(options.continueFrom);
      p = link.startsWith(`${this.#t.basePath}/`) ? link : `${this.#t.basePath}${link}`;
    } else {
      const q = new URLSearchParams();
      if (options.maxResults !== undefined) {
        if (!Number.isInteger(options.maxResults) || options.maxResults < 10 || options.maxResults > 5000) {
          throw new MeshConfigError(`inbox: maxResults must be from 10 to 5000, not ${options.maxResults}`);
        }
        q.set('max_results', String(options.maxResults));
      }
      if (options.workflowFilter) q.set('workflow_filter', options.workflowFilter);
      p = this.#t.mailboxPath(`/inbox${q.size ? `?${q}` : ''}`);
    }
    const what = `inbox of ${this.mailbox}`;
    const json = await this.#callJson({ method: 'GET', path: p, what });
    const page = inboxPageSchema.safeParse(json);
    if (!page.success) throw new MeshError(`${what}: unexpected answer from MESH (${page.error.issues[0]?.message})`);
    return compact({
      messageIds: page.data.messages,
      next: page.data.links?.next ?? undefined,
      approxInboxCount: page.data.approx_inbox_count ?? undefined,
    }) as InboxPage;
  }

  /** Every message id in the inbox (following `links.next`), filtered by workflow id if asked: `GP2GP_MI`, `!*_ACK*`, `*_ACK*`, `GP2GP*`. */
  async *listInbox(options: { workflowFilter?: string; maxResults?: number } = {}): AsyncIterable<string> {
    let page = await this.inboxPage(options);
    for (;;) {
      yield* page.messageIds;
      if (!page.next) return;
      page = await this.inboxPage({ continueFrom: page.next });
    }
  }

  /** A whole message in memory, chunks joined and gzip undone. REPORT messages have an empty body. */
  async download(messageId: string): Promise<{ metadata: MeshMessageMetadata; body: Buffer }> {
    const parts: Buffer[] = [];
    const metadata = await this.#receive(messageId, async (chunk) => {
      const taken: Buffer[] = [];
      for await (const data of chunk) taken.push(data as Buffer);
      parts.push(...taken);
    });
    return { metadata, body: Buffer.concat(parts) };
  }

  /**
   * A message streamed into a file, in constant memory. Written to `file.part` and renamed when
   * complete, so `file` never holds half a message; on failure nothing is left behind.
   */
  async downloadTo(messageId: string, file: string): Promise<MeshMessageMetadata> {
    const partial = `${file}.part`;
    await fs.promises.writeFile(partial, '');
    let committed = 0;
    try {
      const metadata = await this.#receive(messageId, async (chunk) => {
        // Each attempt writes from the end of the chunks already taken.
        const out = fs.createWriteStream(partial, { flags: 'r+', start: committed, highWaterMark: WRITE_BUFFER_BYTES });
        await pipe(chunk, out);
        committed += out.bytesWritten;
      });
      // A failed attempt may have written past what its retry did.
      await fs.promises.truncate(partial, committed);
      await fs.promises.rename(partial, file);
      return metadata;
    } catch (err) {
      await fs.promises.rm(partial, { force: true });
      throw err;
    }
  }

  async #receive(messageId: string, take: Sink): Promise<MeshMessageMetadata> {
    let metadata: MeshMessageMetadata | undefined;
    let total = 1;
    for (let n = 1; n <= total; n++) {
      const what = `download chunk ${n}${metadata ? `/${total}` : ''} of ${messageId}`;
      const spec: RequestSpec = {
        method: 'GET',
        path: this.#t.mailboxPath(`/inbox/${encodeURIComponent(messageId)}${n > 1 ? `/${n}` : ''}`),
        headers: { 'accept-encoding': this.#gzipDownloads ? 'gzip' : 'identity' },
        what,
        messageId,
      };
      await this.#t.withRetry(what, async () => {
        const res = await this.#t.once(spec);
        if (n === 1) {
          metadata = metadataFromHeaders(messageId, res.headers);
          total = metadata.totalChunks;
        }
        await take(decoded(res));
      });
    }
    return metadata!;
  }

  /** Removes the message from the inbox (MESH keeps it downloadable for a while; the sandbox always). */
  async acknowledge(messageId: string): Promise<void> {
    await this.#call({ method: 'PUT', path: this.#t.mailboxPath(`/inbox/${encodeURIComponent(messageId)}/status/acknowledged`), what: `acknowledge ${messageId}`, messageId });
  }

  /** Where a message we sent is: uploading, accepted, acknowledged, error… */
  async track(messageId: string): Promise<MeshTracking> {
    const what = `track ${messageId}`;
    const json = await this.#callJson({ method: 'GET', path: this.#t.mailboxPath(`/outbox/tracking?messageID=${encodeURIComponent(messageId)}`), what, messageId });
    const tracking = parseTracking(json);
    if (!tracking) throw new MeshError(`${what}: unexpected answer from MESH`);
    return tracking;
  }

  /** The message we sent with this local id (deprecated v1 call, still answered); undefined if none. Several: MeshConflictError. */
  async trackByLocalId(localId: string): Promise<MeshTracking | undefined> {
    const what = `track local id ${localId}`;
    try {
      const json = await this.#callJson({ method: 'GET', path: this.#t.mailboxPath(`/outbox/tracking/${encodeURIComponent(localId)}`), what });
      const tracking = parseTracking(json);
      if (!tracking) throw new MeshError(`${what}: unexpected answer from MESH`);
      return tracking;
    } catch (err) {
      if (err instanceof MeshNotFoundError) return undefined;
      throw err;
    }
  }

  /** Mailboxes of an organisation (ODS code) that receive a workflow. */
  async lookup(ods: string, workflowId: string): Promise<MeshMailbox[]> {
    return await this.#lookup(`/endpointlookup/${encodeURIComponent(ods)}/${encodeURIComponent(workflowId)}`, `endpoint lookup ${ods}/${workflowId}`);
  }

  /** Every mailbox that receives a workflow. */
  async workflowSearch(workflowId: string): Promise<MeshMailbox[]> {
    return await this.#lookup(`/workflowsearch/${encodeURIComponent(workflowId)}`, `workflow search ${workflowId}`);
  }

  async #lookup(suffix: string, what: string): Promise<MeshMailbox[]> {
    const json = await this.#callJson({ method: 'GET', path: `${this.#t.basePath}/messageexchange${suffix}`, what });
    const parsed = lookupSchema.safeParse(json);
    if (!parsed.success) throw new MeshError(`${what}: unexpected answer from MESH`);
    return parsed.data.results.flatMap((r) => {
      const mailboxId = r.mailbox_id ?? r.address;
      if (!mailboxId) return [];
      const mailboxName = r.mailbox_name ?? r.description;
      return [mailboxName === undefined ? { mailboxId } : { mailboxId, mailboxName }];
    });
  }

  /** Closes the pooled connections. */
  async close(): Promise<void> {
    await this.#t.close();
  }

  async #call(spec: RequestSpec): Promise<void> {
    await this.#t.withRetry(spec.what, async () => drain(await this.#t.once(spec)));
  }

  async #callJson(spec: RequestSpec): Promise<unknown> {
    return await this.#t.withRetry(spec.what, async () => (await this.#t.onceJson(spec)).json);
  }
}

/** The body of a chunk as MESH stored it: each chunk is its own gzip stream, so each is gunzipped on its own. */
function decoded(res: MeshResponse): Readable {
  const encoding = String(res.headers['content-encoding'] ?? '').trim().toLowerCase();
  if (!encoding || encoding === 'identity') return res.body;
  if (encoding !== 'gzip') {
    res.body.destroy();
    throw new MeshError(`MESH sent an unsupported content encoding: ${encoding}`);
  }
  return pipeline(res.body, zlib.createGunzip(), () => {});
}

async function drain(res: MeshResponse): Promise<void> {
  await res.body.dump();
}

function compact<T extends Record<string, unknown>>(o: T): { [K in keyof T]: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as never;
}
