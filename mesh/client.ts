/**
 * `MeshClient`: every MESH API v2 call a mailbox needs, one method each, over one keep-alive undici
 * pool. Sends are chunked (and optionally gzipped per chunk) from memory or streamed from a file;
 * downloads join the chunks, undo gzip and can stream to a file; transient failures are retried with
 * backoff; the first outbox POST is never blindly repeated (see `send`).
 */
import { randomUUID } from 'node:crypto';
import diagnostics from 'node:diagnostics_channel';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pipeline, Transform, type Readable, type Writable } from 'node:stream';
import { pipeline as pipe } from 'node:stream/promises';
import * as zlib from 'node:zlib';
import { DEFAULT_CHUNK_BYTES, openChunks, type ChunkBody } from './chunks';
import {
  MeshAuthError,
  MeshConfigError,
  MeshConflictError,
  MeshError,
  MeshForbiddenMessageError,
  MeshLocalIdConflictError,
  MeshNotFoundError,
  type LocalIdDifference,
} from './errors';
import { MeshTransport, type MeshResponse, type RequestSpec } from './transport';
import {
  inboxPageSchema,
  lookupSchema,
  metadataFromHeaders,
  parseTracking,
  parseTrackingRecord,
  sendResponseSchema,
  type InboxPage,
  type MeshMailbox,
  type MeshMessageMetadata,
  type MeshTracking,
} from './types';

/** A mailbox as configured: the values of the `MESH_*` variables, PEM files by path (see MeshClient.fromSettings). */
export interface MeshSettings {
  url?: string | undefined;
  mailbox?: string | undefined;
  password?: string | undefined;
  sharedKey?: string | undefined;
  clientCertFile?: string | undefined;
  clientKeyFile?: string | undefined;
  caCertFile?: string | undefined;
}

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
  /**
   * Where the client's rare warnings go (one line each, never a secret): today only that MESH no
   * longer answers the deprecated local-id lookup. Default: `process.emitWarning`.
   */
  onWarning?: (message: string) => void;
}

/** Where a send or download is, for a progress display. */
export interface MeshProgress {
  /** Bytes so far: uncompressed data read for a send; bytes received on the wire for a download. */
  bytes: number;
  /** The message's uncompressed size (sends only). */
  totalBytes?: number;
  /** The chunk in progress, 1-based. */
  chunk: number;
  totalChunks: number;
  /** 0 to 1. */
  fraction: number;
}

export type ProgressListener = (progress: MeshProgress) => void;

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
  /**
   * Passed through as `mex-content-checksum` (MESH does not check it; letters, digits, `:`, `-`, `/`).
   * With a local id it is also how a repeated send is recognised as the same content (see `send`).
   */
  checksum?: string;
  /** Called as the data goes out (file bodies: as it is read; in memory: per chunk). */
  onProgress?: ProgressListener;
}

export interface SendResult {
  messageId: string;
  /** The local id sent (the caller's, or the random one made for this send). */
  localId: string;
  /**
   * True when the message already existed: the same message was sent before with this local id
   * (nothing posted again, or only the chunks a broken upload still lacked), or a retry found that
   * the first attempt had arrived.
   */
  reusedExisting: boolean;
}

/** `mex-*` header limits from the MESH API (characters). */
const HEADER_LIMITS = { to: 100, workflowId: 300, subject: 500, localId: 300, fileName: 300, checksum: 100, contentType: 200 } as const;

/**
 * Checks what a send would put in MESH headers, before anything is read or posted: required fields,
 * MESH's lengths, printable ASCII (control characters are refused by MESH, and other characters do
 * not survive HTTP headers), and the checksum's characters. Throws MeshConfigError naming the field.
 */
export function validateSendMessage(message: Pick<SendMessage, 'to' | 'workflowId' | 'subject' | 'localId' | 'fileName' | 'checksum' | 'contentType'>): void {
  for (const k of ['to', 'workflowId'] as const) {
    if (!message[k]?.trim()) throw new MeshConfigError(`send: ${k} is required`);
  }
  for (const k of Object.keys(HEADER_LIMITS) as (keyof typeof HEADER_LIMITS)[]) {
    const v = message[k];
    if (v === undefined) continue;
    if (v.length > HEADER_LIMITS[k]) throw new MeshConfigError(`send: ${k} is ${v.length} characters; MESH allows at most ${HEADER_LIMITS[k]}`);
    if (!/^[\x20-\x7e]*$/.test(v)) throw new MeshConfigError(`send: ${k} must be printable ASCII (it travels in a MESH header): ${JSON.stringify(v)}`);
    if (k !== 'subject' && v !== v.trim()) throw new MeshConfigError(`send: ${k} must not start or end with spaces: ${JSON.stringify(v)}`);
    if (k === 'localId' && v === '') throw new MeshConfigError('send: localId must not be empty');
  }
  for (const k of ['to', 'workflowId', 'checksum'] as const) {
    if (message[k] !== undefined && /^https?:\/\//i.test(message[k])) throw new MeshConfigError(`send: ${k} must not be a URL (MESH refuses it): ${JSON.stringify(message[k])}`);
  }
  if (/\s/.test(message.to)) throw new MeshConfigError(`send: to is a mailbox id and has no spaces: ${JSON.stringify(message.to)}`);
  if (message.checksum !== undefined && !/^[A-Za-z0-9:\-/ ]+$/.test(message.checksum)) {
    throw new MeshConfigError(`send: checksum may hold only letters, digits, spaces and : - / (MESH's rule): ${JSON.stringify(message.checksum)}`);
  }
  if (message.contentType !== undefined && !/^[A-Za-z0-9!#$&^_.+-]+\/[A-Za-z0-9!#$&^_.+-]+(\s*;.*)?$/.test(message.contentType)) {
    throw new MeshConfigError(`send: contentType is not a media type (e.g. text/csv): ${JSON.stringify(message.contentType)}`);
  }
}

/**
 * Diagnostics channel the client publishes on when MESH does not answer the deprecated local-id
 * lookup (`{ status, mailbox }`); observability/mesh-metrics.ts counts it.
 */
export const LOCAL_ID_LOOKUP_UNAVAILABLE_CHANNEL = 'gp2gp-mi:mesh:local-id-lookup-unavailable';
const lookupUnavailableChannel = diagnostics.channel(LOCAL_ID_LOOKUP_UNAVAILABLE_CHANNEL);

/** The local-id lookup could not be used (see `#findByLocalId`). */
const UNAVAILABLE = Symbol('local-id lookup unavailable');

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

/**
 * Bytes a file sink buffers while a write is in flight; batched into one writev. With 1 MiB the
 * socket was paused whenever the disk lagged a little, and MESH's sender stalled with it: 4 MiB made a
 * 100 MB download to a file about 25 % faster (bench/mesh.ts), and is still a fixed amount whatever
 * the message size.
 */
const WRITE_BUFFER_BYTES = 4 * 1024 * 1024;

export class MeshClient {
  readonly mailbox: string;
  readonly #t: MeshTransport;
  readonly #chunkSizeBytes: number;
  readonly #gzipDownloads: boolean;
  readonly #warn: (message: string) => void;
  #warnedLookupUnavailable = false;

  constructor(options: MeshClientOptions) {
    const missing = (['url', 'mailbox', 'password', 'sharedKey'] as const).filter((k) => !options[k]);
    if (missing.length) throw new MeshConfigError(`MESH client options missing: ${missing.join(', ')}`);
    const retry = { ...DEFAULTS.retry, ...options.retry };
    if (!(retry.attempts >= 1)) throw new MeshConfigError('retry.attempts must be at least 1');
    this.mailbox = options.mailbox.toUpperCase();
    this.#chunkSizeBytes = options.chunkSizeBytes ?? DEFAULT_CHUNK_BYTES;
    this.#gzipDownloads = options.gzipDownloads ?? false;
    this.#warn = options.onWarning ?? ((message) => process.emitWarning(message, { type: 'MeshWarning', code: 'GP2GP_MESH_LOCAL_ID_LOOKUP_UNAVAILABLE' }));
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
   * file paths `MESH_CLIENT_CERT`, `MESH_CLIENT_KEY`, `MESH_CA_CERT`. `options` adds or overrides
   * anything else (e.g. `onWarning`).
   */
  static fromEnv(env: NodeJS.ProcessEnv = process.env, options: Partial<MeshClientOptions> = {}): MeshClient {
    return MeshClient.fromSettings(
      {
        url: env.MESH_URL,
        mailbox: env.MESH_MAILBOX,
        password: env.MESH_PASSWORD,
        sharedKey: env.MESH_SHARED_KEY,
        clientCertFile: env.MESH_CLIENT_CERT,
        clientKeyFile: env.MESH_CLIENT_KEY,
        caCertFile: env.MESH_CA_CERT,
      },
      options,
    );
  }

  /**
   * From settings as configured (the values of the `MESH_*` variables, PEM files by path): the one
   * place a client is built from configuration. A missing setting or an unreadable PEM file throws
   * MeshConfigError naming its variable.
   */
  static fromSettings(settings: MeshSettings, options: Partial<MeshClientOptions> = {}): MeshClient {
    const required = { MESH_URL: settings.url, MESH_MAILBOX: settings.mailbox, MESH_PASSWORD: settings.password, MESH_SHARED_KEY: settings.sharedKey };
    const missing = Object.entries(required).filter(([, value]) => !value).map(([name]) => name);
    if (missing.length) throw new MeshConfigError(`MESH settings missing from the environment: ${missing.join(', ')}`);
    const pem = (name: string, file: string | undefined): Buffer | undefined => {
      if (!file) return undefined;
      try {
        return fs.readFileSync(file);
      } catch (err) {
        throw new MeshConfigError(`${name}: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
      }
    };
    const tls = {
      cert: pem('MESH_CLIENT_CERT', settings.clientCertFile),
      key: pem('MESH_CLIENT_KEY', settings.clientKeyFile),
      ca: pem('MESH_CA_CERT', settings.caCertFile),
    };
    return new MeshClient({
      url: settings.url!,
      mailbox: settings.mailbox!,
      password: settings.password!,
      sharedKey: settings.sharedKey!,
      ...(tls.cert || tls.key || tls.ca ? { tls: Object.fromEntries(Object.entries(tls).filter(([, v]) => v)) } : {}),
      ...options,
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
   *
   * A caller's local id is looked up before anything is posted. When it already names a message:
   * - the same message (same recipient, workflow, subject, file name and content checksum, as far
   *   as MESH's tracking record shows them) is not sent again: its id comes back with
   *   `reusedExisting: true`, and a broken upload of it gets its remaining chunks;
   * - anything else, or a message that failed (`error`, `undeliverable`), is refused with
   *   MeshLocalIdConflictError, which names the earlier message; nothing is posted.
   *
   * The lookup uses MESH's deprecated `outbox/tracking/{local_id}`. If MESH answers it with anything
   * but a tracking record or 404 (410, 405, 400, …), the send goes ahead without it (a repeated MI
   * record set is harmless: the latest one for a practice and day replaces the earlier), one warning
   * goes to `onWarning` per client, and every occurrence is published on
   * LOCAL_ID_LOOKUP_UNAVAILABLE_CHANNEL (the `gp2gp_mesh_local_id_lookup_unavailable` metric).
   */
  async send(message: SendMessage): Promise<SendResult> {
    validateSendMessage(message);
    const callerLocalId = message.localId;
    const localId = callerLocalId ?? `gp2gp-mi-${randomUUID()}`;
    const gzip = message.gzip ?? false;
    const fileName = message.fileName ?? (typeof message.body === 'object' && 'file' in message.body ? path.basename(message.body.file) : undefined);
    const chunks = await openChunks(message.body, message.chunkSizeBytes ?? this.#chunkSizeBytes, gzip);
    try {
      const total = chunks.totalChunks;
      const totalBytes = chunks.totalBytes;
      const onProgress = message.onProgress;
      const progress = onProgress
        ? (n: number, bytes: number) => onProgress({ bytes, totalBytes, chunk: n, totalChunks: total, fraction: totalBytes ? Math.min(1, bytes / totalBytes) : n / total })
        : undefined;
      // A local id given by the caller may name a message an earlier run already sent (or began to).
      const earlier = callerLocalId === undefined ? undefined : await this.#findByLocalId(localId, 'before the first send');
      let messageId: string;
      let reusedExisting = false;
      let resumeUpload = true;
      if (earlier && earlier !== UNAVAILABLE) {
        this.#checkSameMessage(earlier, { ...message, fileName, localId, totalChunks: total, gzip });
        messageId = earlier.tracking.messageId;
        reusedExisting = true;
        resumeUpload = earlier.tracking.status === 'uploading';
      } else {
        const first = chunks.chunk(1);
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
        const body = progress ? () => first.body((bytes) => progress(1, first.start + bytes)) : () => first.body();
        messageId = await this.#t.withRetry(
          what,
          async () => {
            const { json } = await this.#t.onceJson({ method: 'POST', path: this.#t.mailboxPath('/outbox'), headers, body, what });
            const parsed = sendResponseSchema.safeParse(json);
            const id = parsed.success ? (parsed.data.message_id ?? parsed.data.messageID) : undefined;
            if (!id) throw new MeshError(`${what}: MESH accepted the message but its answer has no message id`);
            return id;
          },
          async () => {
            // The failed attempt may have reached MESH and only its answer been lost. If the lookup is
            // unavailable, post again: at worst the same record set arrives twice, which is harmless.
            const found = await this.#findByLocalId(localId, 'before retrying a send whose answer was lost');
            if (!found || found === UNAVAILABLE) return undefined;
            reusedExisting = true;
            return found.tracking.messageId;
          },
        );
        progress?.(1, first.end);
      }
      if (resumeUpload) {
        for (let n = 2; n <= total; n++) {
          const chunk = chunks.chunk(n);
          await this.#sendChunk(messageId, n, total, chunk, gzip, reusedExisting, progress && ((bytes) => progress(n, chunk.start + bytes)));
          progress?.(n, chunk.end);
        }
      }
      return { messageId, localId, reusedExisting };
    } finally {
      await chunks.close();
    }
  }

  /**
   * The message an earlier send made with this local id, for `send`: undefined when there is none
   * (404), UNAVAILABLE when MESH answers the deprecated lookup with anything but a tracking record or
   * 404. Transient failures (after retries), 300 (several messages), 401/403 (credentials) and a
   * closed client still fail the send: they are not the lookup going away.
   */
  async #findByLocalId(localId: string, when: string): Promise<{ tracking: MeshTracking; shape: 'v1' | 'v2' } | undefined | typeof UNAVAILABLE> {
    try {
      return await this.#trackLocalId(localId);
    } catch (err) {
      if (!(err instanceof MeshError) || err.status === undefined || err.retryable || err instanceof MeshConflictError || err instanceof MeshAuthError) throw err;
      lookupUnavailableChannel.publish({ status: err.status, mailbox: this.mailbox });
      if (!this.#warnedLookupUnavailable) {
        this.#warnedLookupUnavailable = true;
        this.#warn(
          `MESH did not answer the local-id lookup (GET outbox/tracking/{local_id}, deprecated by MESH) ${when}: ${err.message}. ` +
            'Sending without it: a send whose answer is lost may be delivered twice, which is harmless for MI files ' +
            '(the latest record set of a practice and day replaces the earlier), and a local id used before is not detected. ' +
            'Counted in gp2gp_mesh_local_id_lookup_unavailable_total; warned once per client.',
        );
      }
      return UNAVAILABLE;
    }
  }

  /**
   * Refuses a send whose local id names another message (MeshLocalIdConflictError). Compared: what
   * the tracking record shows of the earlier message. A v1 record (the usual answer to the local-id
   * lookup) has the subject and checksum; a v2 one does not, so those are then not compared.
   */
  #checkSameMessage(
    earlier: { tracking: MeshTracking; shape: 'v1' | 'v2' },
    now: SendMessage & { fileName: string | undefined; localId: string; totalChunks: number; gzip: boolean },
  ): void {
    const t = earlier.tracking;
    const differences: LocalIdDifference[] = [];
    const compare = (field: LocalIdDifference['field'], before: string | undefined, after: string | undefined, known = true) => {
      if (known && (before ?? '') !== (after ?? '')) differences.push({ field, earlier: before, now: after });
    };
    const v1 = earlier.shape === 'v1';
    compare('recipient', t.recipient?.toUpperCase(), now.to.toUpperCase(), t.recipient !== undefined);
    compare('workflowId', t.workflowId, now.workflowId, t.workflowId !== undefined);
    compare('subject', t.subject, now.subject, v1);
    // MESH names a message sent without a file name `{message id}.dat`.
    const earlierName = t.fileName === `${t.messageId}.dat` ? undefined : t.fileName;
    compare('fileName', earlierName, now.fileName, v1 || t.fileName !== undefined);
    compare('checksum', t.checksum, now.checksum, v1);
    if (t.status === 'uploading') {
      // Finishing a broken upload posts the remaining chunks: they must be cut the same way.
      if (t.chunkCount !== undefined) compare('chunkCount', String(t.chunkCount), String(now.totalChunks));
      if (v1) compare('gzip', t.contentEncoding === 'gzip' ? 'yes' : 'no', now.gzip ? 'yes' : 'no');
    }
    const sent = t.uploadTimestamp ? ` sent ${t.uploadTimestamp}` : '';
    const to = t.recipient ? ` to ${t.recipient}` : '';
    const details = { messageId: t.messageId, localId: now.localId, differences };
    if (differences.length) {
      const said = differences.map((d) => `${d.field} ${show(d.earlier)} then, ${show(d.now)} now`).join('; ');
      throw new MeshLocalIdConflictError(
        `local id ${now.localId} was already used for a different message: MESH message ${t.messageId}${to}${sent} (${said}); ` +
          'nothing was sent. Use a new local id, or repeat the earlier message exactly',
        details,
      );
    }
    if (t.status === 'error' || t.status === 'undeliverable') {
      const why = t.statusDescription ? `: ${t.statusDescription}` : '';
      throw new MeshLocalIdConflictError(
        `local id ${now.localId} names MESH message ${t.messageId}${to}${sent}, which failed (${t.status}${why}) and will not be delivered; ` +
          'nothing was sent. Send it again with a new local id',
        { ...details, differences: [{ field: 'status', earlier: t.status, now: undefined }] },
      );
    }
  }

  async #sendChunk(messageId: string, n: number, total: number, chunk: ChunkBody, gzip: boolean, resumed: boolean, onRead?: (bytes: number) => void): Promise<void> {
    const what = `send chunk ${n}/${total} of ${messageId}`;
    const headers = compact({
      'mex-chunk-range': `${n}:${total}`,
      'content-type': 'application/octet-stream',
      'content-encoding': gzip ? 'gzip' : undefined,
      'content-length': chunk.length === undefined ? undefined : String(chunk.length),
    });
    const body = onRead ? () => chunk.body(onRead) : () => chunk.body();
    const spec: RequestSpec = { method: 'POST', path: this.#t.mailboxPath(`/outbox/${encodeURIComponent(messageId)}/${n}`), headers, body, what, messageId };
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

  /**
   * A message's metadata without its body (`HEAD`): who sent it, workflow, file name, subject, local
   * id, chunks, type (DATA or REPORT)… as `download` gives it.
   */
  async metadata(messageId: string): Promise<MeshMessageMetadata> {
    const what = `metadata of ${messageId}`;
    return await this.#explainForbidden(messageId, what, async () => {
      const spec: RequestSpec = { method: 'HEAD', path: this.#t.mailboxPath(`/inbox/${encodeURIComponent(messageId)}`), what, messageId };
      return await this.#t.withRetry(what, async () => {
        const res = await this.#t.once(spec);
        await drain(res);
        return metadataFromHeaders(messageId, res.headers);
      });
    });
  }

  /** A whole message in memory, chunks joined and gzip undone. REPORT messages have an empty body. */
  async download(messageId: string, options: { onProgress?: ProgressListener } = {}): Promise<{ metadata: MeshMessageMetadata; body: Buffer }> {
    const parts: Buffer[] = [];
    const metadata = await this.#receive(
      messageId,
      async (chunk) => {
        const taken: Buffer[] = [];
        for await (const data of chunk) taken.push(data as Buffer);
        parts.push(...taken);
      },
      options.onProgress,
    );
    return { metadata, body: Buffer.concat(parts) };
  }

  /**
   * A message written to a stream (e.g. stdout) chunk by chunk: each chunk is held until it is
   * complete, so a failed attempt is retried from the chunk's start and never half-written; memory
   * holds one chunk. The stream is not ended. A write error (e.g. EPIPE) stops the download with it.
   */
  async downloadToStream(messageId: string, out: Writable, options: { onProgress?: ProgressListener } = {}): Promise<MeshMessageMetadata> {
    return await this.#receive(
      messageId,
      async (chunk) => {
        const taken: Buffer[] = [];
        for await (const data of chunk) taken.push(data as Buffer);
        await writeAll(out, Buffer.concat(taken));
      },
      options.onProgress,
    );
  }

  /**
   * A message streamed into a file, in constant memory. Written to `file.part` and renamed when
   * complete, so `file` never holds half a message; on failure nothing is left behind. A file that
   * cannot be written (missing folder, a directory, no permission) is a MeshConfigError, checked
   * before MESH is asked for anything.
   */
  async downloadTo(messageId: string, file: string, options: { onProgress?: ProgressListener } = {}): Promise<MeshMessageMetadata> {
    const partial = `${file}.part`;
    await checkWritableTarget(file);
    await fs.promises.writeFile(partial, '').catch((err: NodeJS.ErrnoException) => {
      throw new MeshConfigError(writeProblem(partial, err));
    });
    let committed = 0;
    try {
      const metadata = await this.#receive(
        messageId,
        async (chunk) => {
          // Each attempt writes from the end of the chunks already taken.
          const out = fs.createWriteStream(partial, { flags: 'r+', start: committed, highWaterMark: WRITE_BUFFER_BYTES });
          await pipe(chunk, out);
          committed += out.bytesWritten;
        },
        options.onProgress,
      );
      // A failed attempt may have written past what its retry did.
      await fs.promises.truncate(partial, committed);
      await fs.promises.rename(partial, file).catch((err: NodeJS.ErrnoException) => {
        throw new MeshConfigError(writeProblem(file, err));
      });
      return metadata;
    } catch (err) {
      await fs.promises.rm(partial, { force: true });
      throw err;
    }
  }

  async #receive(messageId: string, take: Sink, onProgress?: ProgressListener): Promise<MeshMessageMetadata> {
    return await this.#explainForbidden(messageId, `download ${messageId}`, async () => {
      let metadata: MeshMessageMetadata | undefined;
      let total = 1;
      let received = 0;
      for (let n = 1; n <= total; n++) {
        const what = `download chunk ${n}${metadata ? `/${total}` : ''} of ${messageId}`;
        const spec: RequestSpec = {
          method: 'GET',
          path: this.#t.mailboxPath(`/inbox/${encodeURIComponent(messageId)}${n > 1 ? `/${n}` : ''}`),
          headers: { 'accept-encoding': this.#gzipDownloads ? 'gzip' : 'identity' },
          what,
          messageId,
        };
        let chunkBytes = 0;
        await this.#t.withRetry(what, async () => {
          const res = await this.#t.once(spec);
          if (n === 1) {
            metadata = metadataFromHeaders(messageId, res.headers);
            total = metadata.totalChunks;
          }
          chunkBytes = 0;
          if (!onProgress) return await take(decoded(res));
          const length = Number(res.headers['content-length']);
          const counted = counting(res, (bytes) => {
            chunkBytes += bytes;
            const part = Number.isFinite(length) && length > 0 ? Math.min(1, chunkBytes / length) : 0;
            onProgress({ bytes: received + chunkBytes, chunk: n, totalChunks: Math.max(total, 1), fraction: Math.min(1, (n - 1 + part) / Math.max(total, 1)) });
          });
          await take(decoded(counted));
        });
        received += chunkBytes;
      }
      onProgress?.({ bytes: received, chunk: Math.max(total, 1), totalChunks: Math.max(total, 1), fraction: 1 });
      return metadata!;
    });
  }

  /**
   * MESH answers 403 both for bad credentials and for a message sent to another mailbox. For a call
   * about one message, an inbox listing (same credentials) tells them apart: if it works, the 403 was
   * about the message, and the error says so instead of blaming the credentials.
   */
  async #explainForbidden<T>(messageId: string, what: string, call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (err) {
      if (!(err instanceof MeshAuthError) || err instanceof MeshForbiddenMessageError || err.status !== 403) throw err;
      try {
        await this.inboxPage({ maxResults: 10 });
      } catch {
        throw err;
      }
      throw new MeshForbiddenMessageError(
        `${what}: MESH answered 403: message ${messageId} was not sent to mailbox ${this.mailbox}, so this mailbox may not read or acknowledge it ` +
          "(the credentials are fine: the mailbox's inbox answers)",
        { status: 403, code: err.code, messageId, cause: err },
      );
    }
  }

  /** Removes the message from the inbox (MESH keeps it downloadable for a while; the sandbox always). */
  async acknowledge(messageId: string): Promise<void> {
    const what = `acknowledge ${messageId}`;
    await this.#explainForbidden(messageId, what, () =>
      this.#call({ method: 'PUT', path: this.#t.mailboxPath(`/inbox/${encodeURIComponent(messageId)}/status/acknowledged`), what, messageId }),
    );
  }

  /** Where a message we sent is: uploading, accepted, acknowledged, error… */
  async track(messageId: string): Promise<MeshTracking> {
    const what = `track ${messageId}`;
    const json = await this.#callJson({ method: 'GET', path: this.#t.mailboxPath(`/outbox/tracking?messageID=${encodeURIComponent(messageId)}`), what, messageId });
    const tracking = parseTracking(json);
    if (!tracking) throw new MeshError(`${what}: unexpected answer from MESH`);
    return tracking;
  }

  /**
   * The message we sent with this local id; undefined if none. Several: MeshConflictError. This is
   * MESH's deprecated `outbox/tracking/{local_id}` (still answered, in the v1 shape); `send` copes
   * when it is gone, this method does not hide it.
   */
  async trackByLocalId(localId: string): Promise<MeshTracking | undefined> {
    return (await this.#trackLocalId(localId))?.tracking;
  }

  async #trackLocalId(localId: string): Promise<{ tracking: MeshTracking; shape: 'v1' | 'v2' } | undefined> {
    const what = `track local id ${localId}`;
    try {
      const json = await this.#callJson({ method: 'GET', path: this.#t.mailboxPath(`/outbox/tracking/${encodeURIComponent(localId)}`), what });
      const record = parseTrackingRecord(json);
      if (!record) throw new MeshError(`${what}: unexpected answer from MESH (not a tracking record)`, { status: 200 });
      return record;
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

/** Passes a response through unchanged, counting its bytes (before any gzip is undone). */
function counting(res: MeshResponse, onBytes: (bytes: number) => void): MeshResponse {
  const counter = new Transform({
    transform(data: Buffer, _encoding, done) {
      onBytes(data.length);
      done(null, data);
    },
  });
  const body = pipeline(res.body, counter, () => {}) as unknown as MeshResponse['body'];
  return { ...res, body } as MeshResponse;
}

/** Writes all of `data`, waiting for `drain` when the stream is full; rejects on a write error. */
function writeAll(out: Writable, data: Buffer): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const onError = (err: Error) => reject(err);
    out.once('error', onError);
    out.write(data, (err) => {
      out.off('error', onError);
      if (err) reject(err);
      else resolve();
    });
  });
}

/** Refuses a download target that cannot be a file: a directory, or one in a missing folder. */
async function checkWritableTarget(file: string): Promise<void> {
  const stat = await fs.promises.stat(file).catch(() => undefined);
  if (stat?.isDirectory()) throw new MeshConfigError(`cannot write ${file}: it is a directory (give a file name)`);
  const dir = path.dirname(path.resolve(file));
  const dirStat = await fs.promises.stat(dir).catch(() => undefined);
  if (!dirStat) throw new MeshConfigError(`cannot write ${file}: the folder ${dir} does not exist`);
  if (!dirStat.isDirectory()) throw new MeshConfigError(`cannot write ${file}: ${dir} is not a folder`);
}

function writeProblem(file: string, err: NodeJS.ErrnoException): string {
  switch (err.code) {
    case 'ENOENT':
      return `cannot write ${file}: the folder ${path.dirname(path.resolve(file))} does not exist`;
    case 'EACCES':
    case 'EPERM':
      return `cannot write ${file}: permission denied`;
    case 'EISDIR':
      return `cannot write ${file}: it is a directory (give a file name)`;
    case 'ENOSPC':
      return `cannot write ${file}: no space left on the device`;
    default:
      return `cannot write ${file}: ${err.code ?? err.message}`;
  }
}

function show(v: string | undefined): string {
  return v === undefined ? 'none' : JSON.stringify(v);
}
