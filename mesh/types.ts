/**
 * What MESH says about messages, in plain TypeScript shapes: download metadata read from the `mex-*`
 * response headers, tracking read from the v2 (or deprecated v1) tracking bodies, lookup results.
 * Response bodies are checked with zod, loosely: unknown fields are ignored, and a missing optional
 * field never fails a call.
 */
import { z } from 'zod';
import type { IncomingHttpHeaders } from 'node:http';

export interface MeshMessageMetadata {
  messageId: string;
  messageType: 'DATA' | 'REPORT';
  workflowId?: string;
  localId?: string;
  /** REPORT messages: the message the report is about. */
  linkedMessageId?: string;
  subject?: string;
  fileName?: string;
  from?: string;
  to?: string;
  /** REPORT messages: MESH's status code, e.g. `14` (not collected in time). */
  statusCode?: string;
  statusDescription?: string;
  statusEvent?: string;
  /** `SUCCESS` or `ERROR`, as MESH sends it. */
  statusSuccess?: string;
  statusTimestamp?: string;
  /** 0 for REPORT messages (no body). */
  totalChunks: number;
  /** The sender's content type (`mex-content-type`, else `Content-Type` of a single-chunk message). */
  contentType?: string;
  /** The sender's checksum (`mex-content-checksum`), passed through unverified: its format is the sender's. */
  checksum?: string;
  partnerId?: string;
  /** The sender flagged the payload itself as compressed (`mex-content-compressed: Y`). */
  compressed?: boolean;
  encrypted?: boolean;
  /** ISO 8601 UTC, like every timestamp this client returns. */
  lastModified?: string;
}

export interface MeshTracking {
  messageId: string;
  /** Lower case: `uploading`, `accepted`, `acknowledged`, `undeliverable`, `error`. */
  status: string;
  statusSuccess?: boolean;
  statusCode?: string;
  statusDescription?: string;
  statusEvent?: string;
  /** Timestamps are ISO 8601 UTC (`2025-01-02T03:04:05Z`), whatever format MESH answered in. */
  statusTimestamp?: string;
  localId?: string;
  workflowId?: string;
  fileName?: string;
  recipient?: string;
  recipientName?: string;
  recipientOdsCode?: string;
  uploadTimestamp?: string;
  expiryTime?: string;
  /** Only in the v1 (local id) answer. */
  linkedMessageId?: string;
  /** Only in the v1 (local id) answer. */
  downloadTimestamp?: string;
  /** Only in the v1 (local id) answer: the sender's `mex-subject`. */
  subject?: string;
  /** Only in the v1 (local id) answer: the sender's `mex-content-checksum`. */
  checksum?: string;
  /** Only in the v1 (local id) answer: chunks declared by the first post (`mex-chunk-range`). */
  chunkCount?: number;
  /** Only in the v1 (local id) answer: `gzip` when the chunks were sent gzipped. */
  contentEncoding?: string;
}

export interface MeshMailbox {
  mailboxId: string;
  mailboxName?: string;
}

export interface InboxPage {
  messageIds: string[];
  /** Opaque: pass back as `continueFrom` for the next page. Absent on the last page. */
  next?: string;
  approxInboxCount?: number;
}

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name];
  const s = Array.isArray(v) ? v[0] : v;
  return s === undefined || s === '' ? undefined : s;
}

function yes(v: string | undefined): boolean | undefined {
  if (v === undefined) return undefined;
  return /^(y|yes|true|1)$/i.test(v.trim());
}

/**
 * A MESH timestamp as ISO 8601 UTC to the second (`2025-01-02T03:04:05Z`). MESH answers in several
 * formats: `yyyyMMddHHmmss` (v1 tracking), ISO without a zone (v2 tracking), HTTP dates
 * (`Last-Modified`); all are UTC. Something unreadable is passed through unchanged.
 */
export function isoTimestamp(raw: string | undefined): string | undefined {
  if (raw === undefined) return undefined;
  const s = raw.trim();
  let ms = Number.NaN;
  const compact = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})?$/.exec(s);
  if (compact) {
    const [, y, mo, d, h, mi, sec] = compact;
    ms = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(sec ?? 0));
  } else if (/^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?$/.test(s)) {
    // ISO without a zone: UTC, as MESH means it (a date alone is midnight UTC anyway).
    ms = Date.parse(s.length === 10 ? s : `${s.replace(' ', 'T').replace(/(\.\d{3})\d+$/, '$1')}Z`);
  } else if (/^\d{4}-\d{2}-\d{2}[T ]/.test(s)) {
    // ISO with a zone.
    ms = Date.parse(s.replace(' ', 'T').replace(/(\.\d{3})\d+/, '$1'));
  } else if (/GMT|UTC|[+-]\d{4}$/.test(s)) {
    // HTTP date (`Last-Modified`).
    ms = Date.parse(s);
  }
  if (!Number.isFinite(ms)) return raw;
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** Drops undefined fields, so metadata objects print and compare cleanly. */
function defined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

/** Download metadata from the headers of chunk 1 (MESH repeats them on every chunk). */
export function metadataFromHeaders(messageId: string, headers: IncomingHttpHeaders): MeshMessageMetadata {
  const h = (name: string) => header(headers, name);
  const type = h('mex-messagetype')?.toUpperCase();
  const total = h('mex-total-chunks') ?? h('mex-chunk-range')?.split(':')[1];
  const messageType = type === 'REPORT' ? 'REPORT' : 'DATA';
  return defined<MeshMessageMetadata>({
    messageId: h('mex-messageid') ?? messageId,
    messageType,
    workflowId: h('mex-workflowid'),
    localId: h('mex-localid'),
    linkedMessageId: h('mex-linkedmsgid'),
    subject: h('mex-subject'),
    fileName: h('mex-filename'),
    from: h('mex-from'),
    to: h('mex-to'),
    statusCode: h('mex-statuscode'),
    statusDescription: h('mex-statusdescription'),
    statusEvent: h('mex-statusevent'),
    statusSuccess: h('mex-statussuccess'),
    statusTimestamp: isoTimestamp(h('mex-statustimestamp')),
    totalChunks: total !== undefined && /^\d+$/.test(total.trim()) ? Number(total) : messageType === 'REPORT' ? 0 : 1,
    contentType: h('mex-content-type') ?? contentTypeOf(h('content-type')),
    checksum: h('mex-content-checksum'),
    partnerId: h('mex-partnerid'),
    compressed: yes(h('mex-content-compressed')),
    encrypted: yes(h('mex-content-encrypted')),
    lastModified: isoTimestamp(h('last-modified')),
  });
}

/** octet-stream says nothing about the content; anything else came from the sender. */
function contentTypeOf(v: string | undefined): string | undefined {
  return v && !/^application\/(octet-stream|vnd\.mesh)/i.test(v) ? v : undefined;
}

const optionalString = z.union([z.string(), z.number()]).nullish().transform((v) => (v === null || v === undefined || v === '' ? undefined : String(v)));

export const sendResponseSchema = z.looseObject({ message_id: z.string().optional(), messageID: z.string().optional() });

export const inboxPageSchema = z.looseObject({
  messages: z.array(z.string()),
  links: z.looseObject({ next: z.string().nullish() }).nullish(),
  approx_inbox_count: z.number().nullish(),
});

export const lookupSchema = z.looseObject({
  results: z.array(
    z.looseObject({
      mailbox_id: z.string().optional(),
      address: z.string().optional(),
      mailbox_name: optionalString,
      description: optionalString,
    }),
  ),
});

const trackingV2Schema = z.looseObject({
  message_id: z.string(),
  status: optionalString,
  status_success: z.boolean().nullish(),
  status_code: optionalString,
  status_description: optionalString,
  status_event: optionalString,
  status_timestamp: optionalString,
  local_id: optionalString,
  workflow_id: optionalString,
  filename: optionalString,
  recipient: optionalString,
  recipient_name: optionalString,
  recipient_ods_code: optionalString,
  upload_timestamp: optionalString,
  expiry_time: optionalString,
});

const trackingV1Schema = z.looseObject({
  messageId: z.string(),
  status: optionalString,
  statusSuccess: optionalString,
  statusCode: optionalString,
  statusDescription: optionalString,
  statusEvent: optionalString,
  statusTimestamp: optionalString,
  localId: optionalString,
  workflowId: optionalString,
  fileName: optionalString,
  recipient: optionalString,
  recipientName: optionalString,
  meshRecipientOdsCode: optionalString,
  uploadTimestamp: optionalString,
  expiryTime: optionalString,
  linkedMsgId: optionalString,
  downloadTimestamp: optionalString,
  failureDiagnostic: optionalString,
  subject: optionalString,
  checksum: optionalString,
  chunkCount: z
    .union([z.number(), z.string()])
    .nullish()
    .transform((v) => (v === null || v === undefined || v === '' || !Number.isFinite(Number(v)) ? undefined : Number(v))),
  contentEncoding: optionalString,
});

/** Tracking from either answer shape: v2 (snake case) or the deprecated v1 (camel case, Title-case status). */
export function parseTracking(json: unknown): MeshTracking | undefined {
  return parseTrackingRecord(json)?.tracking;
}

/**
 * Tracking and the shape it came in. Only the v1 shape carries the subject, checksum, chunk count
 * and content encoding: in a v1 record a missing one means the message had none; in v2 it is unknown.
 */
export function parseTrackingRecord(json: unknown): { tracking: MeshTracking; shape: 'v1' | 'v2' } | undefined {
  const v2 = trackingV2Schema.safeParse(json);
  if (v2.success) {
    return { tracking: trackingFromV2(v2.data), shape: 'v2' };
  }
  const v1 = trackingV1Schema.safeParse(json);
  if (!v1.success) return undefined;
  return { tracking: trackingFromV1(v1.data), shape: 'v1' };
}

function trackingFromV2(t: z.infer<typeof trackingV2Schema>): MeshTracking {
  return defined<MeshTracking>({
    messageId: t.message_id,
    status: (t.status ?? 'unknown').toLowerCase(),
    statusSuccess: t.status_success ?? undefined,
    statusCode: t.status_code,
    statusDescription: t.status_description,
    statusEvent: t.status_event,
    statusTimestamp: isoTimestamp(t.status_timestamp),
    localId: t.local_id,
    workflowId: t.workflow_id,
    fileName: t.filename,
    recipient: t.recipient,
    recipientName: t.recipient_name,
    recipientOdsCode: t.recipient_ods_code,
    uploadTimestamp: isoTimestamp(t.upload_timestamp),
    expiryTime: isoTimestamp(t.expiry_time),
  });
}

function trackingFromV1(t: z.infer<typeof trackingV1Schema>): MeshTracking {
  return defined<MeshTracking>({
    messageId: t.messageId,
    status: (t.status ?? 'unknown').toLowerCase(),
    statusSuccess: t.statusSuccess === undefined ? undefined : t.statusSuccess.toUpperCase() === 'SUCCESS',
    statusCode: t.statusCode,
    statusDescription: t.statusDescription ?? t.failureDiagnostic,
    statusEvent: t.statusEvent,
    statusTimestamp: isoTimestamp(t.statusTimestamp),
    localId: t.localId,
    workflowId: t.workflowId,
    fileName: t.fileName,
    recipient: t.recipient,
    recipientName: t.recipientName,
    recipientOdsCode: t.meshRecipientOdsCode,
    uploadTimestamp: isoTimestamp(t.uploadTimestamp),
    expiryTime: isoTimestamp(t.expiryTime),
    linkedMessageId: t.linkedMsgId,
    downloadTimestamp: isoTimestamp(t.downloadTimestamp),
    subject: t.subject,
    checksum: t.checksum,
    chunkCount: t.chunkCount ?? undefined,
    contentEncoding: t.contentEncoding,
  });
}
