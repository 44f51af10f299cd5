/**
 * The GP Registrations MI API client (undici): posts one API event (mi/registrations-api-mapping.ts)
 * to `${baseUrl}${endpoint}` with the application's key in the `apikey` header, and says what the
 * answer means for delivery:
 *   - 2xx: delivered;
 *   - 429, 5xx, a connection refused/reset, a timeout: retryable (RegistrationsApiError.retryable);
 *   - any other 4xx (and 3xx): permanent, with the API's own message (its BadRequest body's
 *     `message` and `errors`), so an operator sees what to fix.
 * When the request may have reached the API but its answer was lost (a reset or close after sending,
 * a timeout), `answerLost` is true: the API has no idempotency key, so posting again may repeat the
 * event there (at-least-once). Errors carry the method, the endpoint, the status and the API's
 * message — never the key, never the request body. No retries here: the caller (a Temporal activity)
 * owns the retry policy.
 */
import { Pool } from 'undici';
import { API_KEY_HEADER } from '../mi/registrations-api';
import type { ApiEvent } from '../mi/registrations-api-mapping';

export interface RegistrationsApiClientOptions {
  /** Base URL, e.g. https://int.api.service.nhs.uk/gp-registrations-mi; endpoint paths are appended. */
  baseUrl: string;
  /** The application's API key (secret: sent in the `apikey` header, never logged). */
  apiKey: string;
  /** Longest wait for connecting and for the answer, each (default 30 s). */
  timeoutMs?: number;
  /** Concurrent connections (default 8). */
  connections?: number;
}

export interface ApiPostResult {
  /** The HTTP status (2xx). */
  status: number;
  /** The API's id of the event it stored, when it said one. */
  eventId?: string;
}

/** Why a post did not succeed: `retryable` (try again later) or not (something must change first). */
export class RegistrationsApiError extends Error {
  override name = 'RegistrationsApiError';
  constructor(
    message: string,
    readonly details: {
      retryable: boolean;
      /** The request may have reached the API (it may have acted): posting again may repeat it. */
      answerLost: boolean;
      /** HTTP status, when the API answered. */
      status?: number;
      /** Bounded label for metrics: the status, or `timeout` / `network`. */
      code: string;
    },
  ) {
    super(message);
  }
  get retryable(): boolean {
    return this.details.retryable;
  }
  get answerLost(): boolean {
    return this.details.answerLost;
  }
}

/** Socket failures before the request can have left: nothing reached the API. */
const NOT_SENT_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'UND_ERR_CONNECT_TIMEOUT']);
/** The API's message is shown, bounded: it names fields and rules, never patient data we did not send. */
const MAX_MESSAGE = 500;

export class RegistrationsApiClient {
  readonly #pool: Pool;
  readonly #basePath: string;
  readonly #apiKey: string;
  readonly #timeoutMs: number;

  constructor(options: RegistrationsApiClientOptions) {
    const url = new URL(options.baseUrl);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`registrations API URL: ${url.protocol} is not allowed; allowed: http or https`);
    if (!options.apiKey) throw new Error('registrations API key: missing');
    this.#basePath = url.pathname.replace(/\/+$/, '');
    this.#apiKey = options.apiKey;
    this.#timeoutMs = options.timeoutMs ?? 30_000;
    this.#pool = new Pool(url.origin, {
      connections: options.connections ?? 8,
      connect: { timeout: this.#timeoutMs },
      headersTimeout: this.#timeoutMs,
      bodyTimeout: this.#timeoutMs,
      // One request per connection at a time: a lost answer then loses only its own request.
      pipelining: 1,
    });
  }

  /** Posts one API event; resolves on 2xx, throws RegistrationsApiError otherwise. */
  async post(event: Pick<ApiEvent, 'endpoint' | 'body'>): Promise<ApiPostResult> {
    const what = `POST ${event.endpoint}`;
    let status: number;
    let text: string;
    try {
      const answer = await this.#pool.request({
        method: 'POST',
        path: `${this.#basePath}${event.endpoint}`,
        headers: { [API_KEY_HEADER]: this.#apiKey, 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify(event.body),
        signal: AbortSignal.timeout(this.#timeoutMs * 2),
      });
      status = answer.statusCode;
      text = await answer.body.text();
    } catch (err) {
      throw networkError(what, err);
    }
    if (status >= 200 && status < 300) {
      const eventId = parseJson(text)?.eventId;
      return { status, ...(typeof eventId === 'string' ? { eventId } : {}) };
    }
    const said = apiMessage(text);
    const message = `${what}: the API answered ${status}${said ? `: ${said}` : ''}`;
    const retryable = status === 429 || status >= 500;
    throw new RegistrationsApiError(message, { retryable, answerLost: false, status, code: String(status) });
  }

  async close(): Promise<void> {
    await this.#pool.close();
  }
}

function parseJson(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * What the API said: its error body's `message` and `errors` (BadRequest / InternalServerError), or
 * the API platform's fault text (`fault.faultstring`, `error_description`), or a short plain-text body.
 */
export function apiMessage(text: string): string | undefined {
  const json = parseJson(text);
  let said: string | undefined;
  if (json) {
    const message = typeof json.message === 'string' ? json.message : undefined;
    const errors = Array.isArray(json.errors) ? json.errors.filter((e): e is string => typeof e === 'string') : [];
    const fault = (json.fault as { faultstring?: unknown } | undefined)?.faultstring;
    const description = json.error_description ?? json.error;
    said =
      [message, errors.length ? errors.join('; ') : undefined].filter(Boolean).join(': ') ||
      (typeof fault === 'string' ? fault : typeof description === 'string' ? description : undefined);
  } else if (text && !/^\s*</.test(text)) {
    said = text.trim();
  }
  if (!said) return undefined;
  said = said.replace(/[\x00-\x1F\x7F]+/g, ' ');
  return said.length > MAX_MESSAGE ? `${said.slice(0, MAX_MESSAGE - 1)}…` : said;
}

function errorCodes(err: unknown): string[] {
  const codes: string[] = [];
  for (let e: unknown = err, depth = 0; e && typeof e === 'object' && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') codes.push(code);
    const name = (e as { name?: unknown }).name;
    if (name === 'TimeoutError' || name === 'AbortError') codes.push(name);
  }
  return codes;
}

function networkError(what: string, err: unknown): RegistrationsApiError {
  const codes = errorCodes(err);
  const timeout = codes.some((c) => c === 'TimeoutError' || c === 'AbortError' || c === 'UND_ERR_HEADERS_TIMEOUT' || c === 'UND_ERR_BODY_TIMEOUT');
  const notSent = codes.some((c) => NOT_SENT_CODES.has(c));
  const code = codes[0] ?? 'unknown';
  const text = notSent ? `cannot connect (${code})` : timeout ? 'no answer in time' : `connection lost before the answer (${code})`;
  return new RegistrationsApiError(`${what}: ${text}${notSent ? '' : '; the API may have acted on it'}`, {
    retryable: true,
    answerLost: !notSent,
    code: timeout && !notSent ? 'timeout' : 'network',
  });
}
