/**
 * One MESH request, and the retry loop around it. Everything HTTP lives here: the undici pool
 * (keep-alive connection reuse, mutual TLS, TLS 1.2+), the headers MESH demands on every call, a fresh
 * `NHSMESH` token per attempt, timeouts, and turning HTTP statuses and socket failures into the typed
 * errors of `errors.ts`.
 *
 * Why not undici's own RetryAgent: it re-sends the same headers, and real MESH refuses a replayed
 * Authorization token, so every attempt must be signed afresh.
 */
import * as net from 'node:net';
import * as os from 'node:os';
import type { Readable } from 'node:stream';
import * as tls from 'node:tls';
import { Pool, type Dispatcher } from 'undici';
import { meshAuthorization } from './auth';
import {
  MeshAuthError,
  MeshConfigError,
  MeshConflictError,
  MeshError,
  MeshGoneError,
  MeshNotFoundError,
  MeshSendRefusedError,
  MeshTransientError,
  type MeshErrorDetails,
} from './errors';

/** The one media type MESH API v2 answers to (a list of types is refused by real MESH). */
export const MESH_V2_ACCEPT = 'application/vnd.mesh.v2+json';

export interface RetryPolicy {
  /** Total requests per call, the first included. */
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

export interface TransportOptions {
  url: string;
  mailbox: string;
  password: string;
  sharedKey: string;
  tls?: { cert?: string | Buffer | undefined; key?: string | Buffer | undefined; ca?: string | Buffer | undefined } | undefined;
  timeoutMs: number;
  retry: RetryPolicy;
  clientVersion: string;
}

export type Method = 'GET' | 'HEAD' | 'POST' | 'PUT';

export interface RequestSpec {
  method: Method;
  /** Path and query below the base URL, e.g. `/messageexchange/X26ABC1/inbox?max_results=10`. */
  path: string;
  headers?: Record<string, string> | undefined;
  /** Called once per attempt, so a retried upload starts from a fresh stream. */
  body?: (() => Buffer | string | Readable) | undefined;
  /** Said in error messages: what the call was for. */
  what: string;
  messageId?: string | undefined;
  /** Statuses that are not failures for this call besides 2xx (e.g. 300 for local-id tracking). */
  accept?: readonly number[] | undefined;
}

export type MeshResponse = Dispatcher.ResponseData;

/** Connections per client (per mailbox). */
const MAX_CONNECTIONS = 4;

/** 425 Too Early, 429, 502, 503, 504: MESH or its gateways are busy; the same call later may succeed. */
const TRANSIENT_STATUSES = new Set([425, 429, 502, 503, 504]);

/** Socket-level failures where the request may or may not have reached MESH. */
const TRANSIENT_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_RES_CONTENT_LENGTH_MISMATCH',
  'Z_BUF_ERROR',
]);

export class MeshTransport {
  readonly mailbox: string;
  readonly basePath: string;
  readonly retry: RetryPolicy;
  readonly #pool: Pool;
  readonly #timeoutMs: number;
  readonly #staticHeaders: Record<string, string>;
  readonly #hasClientCert: boolean;
  readonly #https: boolean;
  /** For diagnosing a closed TLS connection; undefined over http. */
  readonly #tlsProbe: tls.ConnectionOptions | undefined;
  // The secrets sit in private fields: util.inspect and JSON.stringify of a client never show them.
  readonly #password: string;
  readonly #sharedKey: string;

  constructor(o: TransportOptions) {
    let url: URL;
    try {
      url = new URL(o.url);
    } catch {
      throw new MeshConfigError(`MESH URL is not a valid URL: ${o.url}`);
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new MeshConfigError(`MESH URL must be http(s): ${url.origin}`);
    this.#https = url.protocol === 'https:';
    if (o.tls && (o.tls.cert || o.tls.key || o.tls.ca) && !this.#https) {
      throw new MeshConfigError(`TLS certificates are configured but the MESH URL is not https: ${url.origin}`);
    }
    if (Boolean(o.tls?.cert) !== Boolean(o.tls?.key)) {
      throw new MeshConfigError('mutual TLS needs both the client certificate and its private key');
    }
    this.mailbox = o.mailbox;
    this.basePath = url.pathname.replace(/\/+$/, '');
    this.retry = o.retry;
    this.#timeoutMs = o.timeoutMs;
    this.#password = o.password;
    this.#sharedKey = o.sharedKey;
    this.#hasClientCert = Boolean(o.tls?.cert);
    const tlsOptions = {
      minVersion: 'TLSv1.2' as const,
      rejectUnauthorized: true,
      ...(o.tls?.cert ? { cert: o.tls.cert } : {}),
      ...(o.tls?.key ? { key: o.tls.key } : {}),
      ...(o.tls?.ca ? { ca: o.tls.ca } : {}),
    };
    const host = url.hostname.replace(/^\[|\]$/g, '');
    this.#tlsProbe = this.#https
      ? { ...tlsOptions, host, port: Number(url.port || 443), ...(net.isIP(host) ? {} : { servername: host }) }
      : undefined;
    this.#pool = new Pool(url.origin, {
      connect: { timeout: o.timeoutMs, ...(this.#https ? tlsOptions : {}) },
      headersTimeout: o.timeoutMs,
      bodyTimeout: o.timeoutMs,
      keepAliveTimeout: 30_000,
      // Keep-alive connections are reused; a few allow concurrent calls, and no more: MESH asks
      // clients not to hammer it.
      connections: MAX_CONNECTIONS,
    });
    this.#staticHeaders = {
      accept: MESH_V2_ACCEPT,
      'mex-clientversion': o.clientVersion,
      'mex-osname': os.type(),
      'mex-osversion': os.release(),
      'mex-osarchitecture': os.arch(),
      'user-agent': `${o.clientVersion} (node ${process.version})`,
    };
  }

  /** `/messageexchange/{mailbox}` under the base URL's path. */
  mailboxPath(suffix = ''): string {
    return `${this.basePath}/messageexchange/${encodeURIComponent(this.mailbox)}${suffix}`;
  }

  /** Resolves a path MESH returned (e.g. `links.next`, relative to the host) against the base URL. */
  resolveLink(link: string): string {
    const u = new URL(link, 'http://mesh.invalid');
    return `${u.pathname}${u.search}`;
  }

  /**
   * One attempt. Resolves with a response whose status is 2xx or in `spec.accept` (the caller owns its
   * body); anything else is read, closed and thrown as a typed error.
   */
  async once(spec: RequestSpec): Promise<MeshResponse> {
    const headers: Record<string, string> = {
      ...this.#staticHeaders,
      authorization: meshAuthorization({ mailbox: this.mailbox, password: this.#password, sharedKey: this.#sharedKey }),
      ...spec.headers,
    };
    const body = spec.body ? spec.body() : null;
    let res: MeshResponse;
    try {
      res = await this.#pool.request({
        method: spec.method,
        path: spec.path,
        headers,
        body,
        headersTimeout: this.#timeoutMs,
        bodyTimeout: this.#timeoutMs,
      });
    } catch (err) {
      // A file stream left half-read would keep its descriptor open until garbage collection.
      if (body && typeof body === 'object' && 'destroy' in body) body.destroy();
      const mapped = this.networkError(err, spec);
      if (this.#tlsProbe && (mapped.code === 'UND_ERR_SOCKET' || mapped.code === 'ECONNRESET')) {
        const tlsRefusal = await this.#diagnoseTls();
        if (tlsRefusal) throw new MeshConfigError(`${spec.what}: ${tlsRefusal}`, { code: mapped.code, messageId: spec.messageId, cause: err });
      }
      throw mapped;
    }
    if ((res.statusCode >= 200 && res.statusCode < 300) || spec.accept?.includes(res.statusCode)) return res;
    const text = await res.body.text().catch(() => '');
    throw errorForStatus(res.statusCode, text, res.headers, spec);
  }

  /** One attempt whose response body is read as JSON (empty body: undefined). */
  async onceJson(spec: RequestSpec): Promise<{ status: number; headers: MeshResponse['headers']; json: unknown }> {
    const res = await this.once(spec);
    let text: string;
    try {
      text = await res.body.text();
    } catch (err) {
      throw this.networkError(err, spec);
    }
    let json: unknown;
    if (text.trim()) {
      try {
        json = JSON.parse(text);
      } catch {
        throw new MeshError(`${spec.what}: MESH answered ${res.statusCode} with a body that is not JSON`, { status: res.statusCode });
      }
    }
    return { status: res.statusCode, headers: res.headers, json };
  }

  /**
   * Runs `attempt` until it succeeds, a non-transient error occurs, or the attempts are used up; waits
   * with capped exponential backoff and jitter (at least any Retry-After) in between. `beforeRetry` may
   * end the loop early with a value (used to find a send whose response was lost).
   */
  async withRetry<T>(what: string, attempt: (n: number) => Promise<T>, beforeRetry?: (err: MeshError) => Promise<T | undefined>): Promise<T> {
    for (let n = 1; ; n++) {
      try {
        return await attempt(n);
      } catch (raw) {
        const err = raw instanceof MeshError ? raw : this.networkError(raw, { what });
        if (!err.retryable || n >= this.retry.attempts) throw withAttempts(err, n);
        await sleep(this.backoffMs(n, (err as RetryAfter).retryAfterMs));
        if (beforeRetry) {
          const found = await beforeRetry(err);
          if (found !== undefined) return found;
        }
      }
    }
  }

  backoffMs(attempt: number, retryAfterMs?: number): number {
    const ceiling = Math.min(this.retry.maxDelayMs, this.retry.baseDelayMs * 2 ** (attempt - 1));
    // "Equal jitter": half fixed, half random, so clients that failed together do not retry together.
    const delay = ceiling / 2 + Math.random() * (ceiling / 2);
    return Math.min(this.retry.maxDelayMs, Math.max(delay, retryAfterMs ?? 0));
  }

  /**
   * Why a TLS connection closed before MESH answered, if TLS is why. Over TLS 1.3 a server that
   * refuses the client certificate (or wants one and got none) may just close the connection after
   * the handshake, which looks like any dropped connection; a TLS 1.2 handshake makes the server say
   * so during the handshake. Undefined when the probe connects (or cannot tell): then it was not TLS.
   */
  async #diagnoseTls(): Promise<string | undefined> {
    const probe = this.#tlsProbe!;
    return await new Promise<string | undefined>((resolve) => {
      const socket = tls.connect({ ...probe, maxVersion: 'TLSv1.2', timeout: this.#timeoutMs }, () => {
        socket.destroy();
        resolve(undefined);
      });
      socket.once('timeout', () => {
        socket.destroy();
        resolve(undefined);
      });
      socket.once('error', (err) => {
        socket.destroy();
        const codes = errorCodes(err);
        const explained = tlsProblem(codes, errorText(err), this.#hasClientCert);
        if (explained || !codes.some((c) => c === 'ECONNRESET' || c === 'EPIPE')) return resolve(explained);
        // Cut off mid-handshake without an alert: how Python's ssl (the sandbox, uvicorn) refuses.
        resolve(
          this.#hasClientCert
            ? 'the MESH server closed the connection during the TLS handshake: it did not accept the client certificate (check the certificate and key are the ones issued for this mailbox and environment)'
            : 'the MESH server closed the connection during the TLS handshake: it demands a client certificate (mutual TLS) and none is configured: set the client certificate and key',
        );
      });
    });
  }

  /** A socket, TLS or timeout failure as a typed error. */
  networkError(err: unknown, spec: Pick<RequestSpec, 'what' | 'messageId'>): MeshError {
    if (err instanceof MeshError) return err;
    const codes = errorCodes(err);
    const text = errorText(err);
    if (codes.includes('UND_ERR_CLOSED') || codes.includes('UND_ERR_DESTROYED')) {
      return new MeshError(`${spec.what}: the client is closed`, { code: codes[0], messageId: spec.messageId, cause: err });
    }
    const tls = tlsProblem(codes, text, this.#hasClientCert);
    if (tls) return new MeshConfigError(`${spec.what}: ${tls}`, { code: codes[0], messageId: spec.messageId, cause: err });
    const code = codes.find((c) => TRANSIENT_CODES.has(c));
    if (code) {
      return new MeshTransientError(`${spec.what}: ${describeNetwork(code)}`, { code, messageId: spec.messageId, cause: err });
    }
    return new MeshError(`${spec.what}: ${text || 'request failed'}`, { code: codes[0], messageId: spec.messageId, cause: err });
  }

  async close(): Promise<void> {
    await this.#pool.close();
  }
}

interface RetryAfter {
  retryAfterMs?: number;
}

function withAttempts(err: MeshError, attempts: number): MeshError {
  Object.defineProperty(err, 'attempts', { value: attempts, enumerable: true });
  if (attempts > 1 && !err.message.includes(' attempts)')) err.message += ` (after ${attempts} attempts)`;
  return err;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function errorCodes(err: unknown): string[] {
  const codes: string[] = [];
  for (let e: unknown = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') codes.push(code);
  }
  return codes;
}

function errorText(err: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    if (e instanceof Error && e.message) parts.push(e.message);
  }
  return parts.join(': ');
}

function describeNetwork(code: string): string {
  switch (code) {
    case 'UND_ERR_HEADERS_TIMEOUT':
      return 'timed out waiting for MESH to answer';
    case 'UND_ERR_BODY_TIMEOUT':
      return 'timed out while transferring the body';
    case 'UND_ERR_CONNECT_TIMEOUT':
      return 'timed out connecting to MESH';
    case 'ECONNREFUSED':
      return 'MESH refused the connection';
    case 'UND_ERR_SOCKET':
      return 'MESH closed the connection before answering';
    case 'ECONNRESET':
      return 'the connection to MESH was reset';
    default:
      return `network failure (${code})`;
  }
}

/** A TLS failure explained in words an operator can act on, or undefined when it is not one. */
function tlsProblem(codes: string[], text: string, hasClientCert: boolean): string | undefined {
  const all = `${codes.join(' ')} ${text}`.toUpperCase();
  if (/CERTIFICATE_REQUIRED|CERTIFICATE REQUIRED/.test(all)) {
    return hasClientCert
      ? 'the MESH server did not accept the client certificate (TLS alert: certificate required)'
      : 'the MESH server demands a client certificate (mutual TLS) and none is configured: set the client certificate and key';
  }
  if (/ALERT_(BAD_CERTIFICATE|UNKNOWN_CA|HANDSHAKE_FAILURE|CERTIFICATE_UNKNOWN|DECRYPT_ERROR|ACCESS_DENIED)|ALERT (BAD CERTIFICATE|UNKNOWN CA|HANDSHAKE FAILURE)/.test(all)) {
    const who = hasClientCert ? 'the MESH server refused the client certificate' : 'the MESH server demands a client certificate and none is configured';
    return `${who} (TLS handshake refused: ${codes[0] ?? 'alert'})`;
  }
  const verify = codes.find((c) =>
    /^(UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT(_LOCALLY)?|SELF_SIGNED_CERT_IN_CHAIN|DEPTH_ZERO_SELF_SIGNED_CERT|CERT_HAS_EXPIRED|CERT_NOT_YET_VALID|CERT_UNTRUSTED|ERR_TLS_CERT_ALTNAME_INVALID|CERT_SIGNATURE_FAILURE)$/.test(c),
  );
  if (verify) return `the MESH server's certificate is not trusted (${verify}): check the CA bundle and the URL's host name`;
  if (codes.includes('ERR_SSL_WRONG_VERSION_NUMBER') || codes.includes('ERR_SSL_PACKET_LENGTH_TOO_LONG')) {
    return 'the server did not answer TLS: check whether the MESH URL should be http or https';
  }
  if (codes.some((c) => c.startsWith('ERR_SSL_') || c.startsWith('ERR_TLS_'))) return `TLS failure (${codes.find((c) => c.startsWith('ERR_'))})`;
  return undefined;
}

/** What MESH said in an error body: v2 `{detail:[{event,code,msg}]}`, v1 `{errorCode,errorDescription}`, or FastAPI's `{detail}`. */
export function parseMeshErrorBody(text: string): { code?: string; description?: string; messageId?: string } {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return {};
  }
  if (!body || typeof body !== 'object') return {};
  const b = body as Record<string, unknown>;
  const str = (v: unknown) => (typeof v === 'string' && v ? v : typeof v === 'number' ? String(v) : undefined);
  const messageId = str(b.message_id) ?? str(b.messageID);
  if (Array.isArray(b.detail) && b.detail.length && typeof b.detail[0] === 'object' && b.detail[0]) {
    const d = b.detail[0] as Record<string, unknown>;
    const description = str(d.msg) ?? str(d.message);
    return { code: str(d.code), description: Array.isArray(d.loc) ? `${description} (${d.loc.join('.')})` : description, messageId };
  }
  if (b.detail && typeof b.detail === 'object') {
    const d = b.detail as Record<string, unknown>;
    return { code: str(d.errorCode), description: str(d.errorDescription), messageId };
  }
  return { code: str(b.errorCode), description: str(b.errorDescription) ?? str(b.detail) ?? str(b.message), messageId };
}

function retryAfterMs(headers: MeshResponse['headers']): number | undefined {
  const v = headers['retry-after'];
  const s = Array.isArray(v) ? v[0] : v;
  if (!s) return undefined;
  const seconds = Number(s);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const at = Date.parse(s);
  return Number.isFinite(at) ? Math.max(0, at - Date.now()) : undefined;
}

/** An HTTP status MESH answered with, as the typed error a caller can act on. */
export function errorForStatus(status: number, bodyText: string, headers: MeshResponse['headers'], spec: Pick<RequestSpec, 'what' | 'messageId'>): MeshError {
  const parsed = parseMeshErrorBody(bodyText);
  const messageId = parsed.messageId ?? spec.messageId;
  const said = parsed.description ? `: ${parsed.description}${parsed.code && !parsed.description.includes(parsed.code) ? ` (code ${parsed.code})` : ''}` : '';
  const details: MeshErrorDetails = { status, code: parsed.code, messageId };
  const base = `${spec.what}: MESH answered ${status}`;
  if (status === 403 || status === 401) {
    return new MeshAuthError(`${base}${said || ': authentication failed'} (check the mailbox id, password, shared key and clock; not retried)`, details);
  }
  if (status === 400) return new MeshConfigError(`${base}${said || ': bad request'}`, details);
  if (status === 404) return new MeshNotFoundError(`${base}${said || ': not found'}`, details);
  if (status === 410) return new MeshGoneError(`${base}${said || ': the message expired or failed'}`, details);
  if (status === 417) return new MeshSendRefusedError(`${base}${said || ': send refused'}`, details);
  if (status === 423) return new MeshConflictError(`${base}: the message is no longer accepting chunks${said}`, details);
  if (status === 300) return new MeshConflictError(`${base}: more than one message matches${said}`, details);
  if (TRANSIENT_STATUSES.has(status)) {
    const err = new MeshTransientError(`${base}${said || ' (busy)'}`, details);
    (err as RetryAfter).retryAfterMs = retryAfterMs(headers);
    return err;
  }
  return new MeshError(`${base}${said}`, details);
}
