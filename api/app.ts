/**
 * The HTTP API for GP system hooks (fastify): `POST /v1/events` records one hook event or a batch with
 * the same validation and idempotency as the TypeScript client, and answers per event. Bad input is
 * always a 4xx that names the field; a 5xx only ever means "not your fault, retry" (503: Temporal
 * unreachable or too slow). See README, "The HTTP API", and the OpenAPI description at
 * /v1/openapi.json.
 *
 * Body shapes (the only three; anything else is 400):
 *   - one event, a JSON object:               {"type": "registration", …}
 *   - a batch, a JSON array:                   [{…}, {…}]
 *   - a batch in an envelope (room to grow):   {"events": [{…}, {…}]}
 * One event answers 200 (accepted / duplicate) or 422 (refused); a batch answers 200 with a result
 * per event, in order, good events recorded even when others are refused.
 */
import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import Fastify, { type FastifyBaseLogger, type FastifyError, type FastifyInstance, type FastifyRequest } from 'fastify';
import rateLimit from '@fastify/rate-limit';
import { isGrpcServiceError, ServiceError, WorkflowUpdateRPCTimeoutOrCancelledError } from '@temporalio/client';
import type { EventOutcome, Gp2gpClient } from '../client';
import { mapConcurrent } from '../client/concurrency';
import { UpdateNotAppliedError } from '../client/updates';
import type { FieldProblem, FieldWarning } from '../mi/events';
import { openApiDocument } from './openapi';
import { consolePlugin, type ConsoleOptions } from './console';

// ---- what the API needs from the pipeline --------------------------------------------------------

/** The pipeline behind the API: the hooks client in production, wrapped in tests. */
export interface ApiBackend {
  /** Validates and records one event; throws only when the pipeline cannot be reached in time. */
  recordEvent(input: unknown, deadline: Date): Promise<EventOutcome>;
  /** Resolves when Temporal answers before the deadline; throws otherwise. */
  checkReady(deadline: Date): Promise<void>;
}

/** The hooks client as the API's backend: every Temporal call bounded by the request's deadline. */
export function clientBackend(client: Gp2gpClient): ApiBackend {
  return {
    // The request's deadline goes down to the client, which would otherwise set its own (30 s) over it.
    recordEvent: (input, deadline) => client.recordEvent(input, { deadline }),
    checkReady: async (deadline) => {
      await client.temporal.withDeadline(deadline, () => client.temporal.connection.workflowService.getSystemInfo({}));
    },
  };
}

export interface ApiOptions {
  backend: ApiBackend;
  /** Accepted bearer tokens (secrets; compared in constant time, never logged). */
  tokens: readonly string[];
  bodyLimitBytes?: number;
  maxBatchEvents?: number;
  rateLimitPerMinute?: number;
  maxInFlightEvents?: number;
  eventConcurrency?: number;
  temporalTimeoutMs?: number;
  /** The operators' console at /console (api/console/), when given: its data source and settings. */
  console?: ConsoleOptions;
  /** A pino logger, or false for none (tests). */
  logger?: FastifyBaseLogger | false;
}

// ---- answers -------------------------------------------------------------------------------------

/** One event's result, the same in a single answer and in a batch. */
export type EventResult =
  /** `warnings` only when there are any: the event was recorded as sent (e.g. a NACK code 0083.08 does not list). */
  | { status: 'accepted' | 'duplicate'; eventId: string; workflowId: string; warnings?: FieldWarning[] }
  | { status: 'refused'; eventId?: string; error: { code: 'refused'; message: string; field?: string; problems: FieldProblem[] } }
  | { status: 'unavailable'; eventId?: string; error: { code: 'unavailable'; message: string } };

export interface BatchResult {
  results: (EventResult & { index: number })[];
  accepted: number;
  duplicate: number;
  refused: number;
  unavailable: number;
}

/** An error answer: its status, a stable code, a message naming the field, and the field itself ({"error": {code, message, field}}). */
class ApiError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
    readonly field?: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

// ---- helpers -------------------------------------------------------------------------------------

const sha256 = (s: string) => createHash('sha256').update(s, 'utf8').digest();

/**
 * Constant-time token check. Both sides are hashed first so lengths never differ (timingSafeEqual
 * needs equal lengths, and a length check would leak the token's length); every configured token is
 * compared, so the time does not tell which one matched. Answers the token's position, not its value,
 * which is what rate limiting and logs use.
 */
function tokenMatcher(tokens: readonly string[]): (presented: string) => number {
  const digests = tokens.map(sha256);
  return (presented) => {
    const digest = sha256(presented);
    let found = -1;
    for (let i = 0; i < digests.length; i++) if (timingSafeEqual(digests[i]!, digest) && found < 0) found = i;
    return found;
  };
}

/** gRPC status INVALID_ARGUMENT (grpc-js is not a direct dependency, so the number is spelt out). */
const GRPC_INVALID_ARGUMENT = 3;

function grpcCodeOf(err: unknown): number | undefined {
  if (isGrpcServiceError(err)) return err.code;
  if (err instanceof ServiceError && isGrpcServiceError(err.cause)) return err.cause.code;
  return undefined;
}

/** Errors that mean "Temporal cannot be reached or is too slow": the caller should retry. */
function isUnavailable(err: unknown): boolean {
  // Not applied by its deadline (a run kept ending under it, a worker kept not answering): try again later.
  if (err instanceof WorkflowUpdateRPCTimeoutOrCancelledError || err instanceof UpdateNotAppliedError) return true;
  const code = grpcCodeOf(err);
  if (code !== undefined) return code !== GRPC_INVALID_ARGUMENT;
  return err instanceof ServiceError;
}

const UTF8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Where the first invalid UTF-8 sequence starts (RFC 3629: no overlongs, no surrogates, nothing past
 * U+10FFFF), for a message that helps find it. Linear: bodies can be a megabyte.
 */
export function firstInvalidUtf8(b: Uint8Array): number {
  let i = 0;
  while (i < b.length) {
    const c = b[i]!;
    if (c < 0x80) {
      i++;
      continue;
    }
    const extra = c >= 0xc2 && c <= 0xdf ? 1 : c >= 0xe0 && c <= 0xef ? 2 : c >= 0xf0 && c <= 0xf4 ? 3 : 0;
    if (extra === 0) return i;
    const c1 = b[i + 1];
    if (c1 === undefined) return i;
    if ((c === 0xe0 && c1 < 0xa0) || (c === 0xed && c1 > 0x9f) || (c === 0xf0 && c1 < 0x90) || (c === 0xf4 && c1 > 0x8f)) return i;
    for (let k = 1; k <= extra; k++) {
      const ck = b[i + k];
      if (ck === undefined || (ck & 0xc0) !== 0x80) return i;
    }
    i += extra + 1;
  }
  return -1;
}

/**
 * Hook events are flat (an envelope, an array, an event, and at most one more level inside it), so a
 * body nested deeper is not one of ours. Checked before parsing, in one linear pass, because parsing,
 * validating or even printing a very deep structure recurses and can exhaust the stack: that would be
 * a 5xx for bad input.
 */
export const MAX_JSON_DEPTH = 16;

/** True when the JSON text nests arrays/objects deeper than `limit` (strings and escapes skipped). */
export function nestedDeeperThan(text: string, limit: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > limit) return true;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return false;
}

type Shape = { kind: 'single'; event: unknown } | { kind: 'batch'; events: unknown[] };

/** Decides between the three body shapes; anything else is a 400 naming what is wrong. */
function shapeOf(body: unknown, maxBatch: number): Shape {
  const allowed = 'one event (a JSON object), a JSON array of events, or {"events": [...]}';
  let events: unknown[];
  let field: string;
  if (Array.isArray(body)) {
    events = body;
    field = 'body';
  } else if (body !== null && typeof body === 'object') {
    const obj = body as Record<string, unknown>;
    if (!('events' in obj) || 'type' in obj) return { kind: 'single', event: body };
    const extra = Object.keys(obj).filter((k) => k !== 'events');
    if (extra.length) throw new ApiError(400, 'invalid-body', `${extra[0]}: unknown field of the batch envelope; allowed: events`, extra[0]);
    if (!Array.isArray(obj.events)) throw new ApiError(400, 'invalid-body', `events: must be a JSON array of events, not ${describe(obj.events)}`, 'events');
    events = obj.events;
    field = 'events';
  } else {
    throw new ApiError(400, 'invalid-body', `body: ${describe(body)} is not allowed; allowed: ${allowed}`, 'body');
  }
  if (events.length === 0) throw new ApiError(400, 'invalid-body', `${field}: an empty batch; allowed: 1 to ${maxBatch} events`, field);
  if (events.length > maxBatch) {
    throw new ApiError(413, 'batch-too-large', `${field}: ${events.length} events in one request; allowed: at most ${maxBatch} (split the batch)`, field);
  }
  return { kind: 'batch', events };
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

function toResult(outcome: EventOutcome): EventResult {
  if (outcome.status === 'refused') {
    return {
      status: 'refused',
      ...(outcome.eventId ? { eventId: outcome.eventId } : {}),
      // The documented error shape (code, message, field) plus every problem, field by field.
      error: {
        code: 'refused',
        message: outcome.message,
        ...(outcome.problems[0] ? { field: outcome.problems[0].field } : {}),
        problems: outcome.problems,
      },
    };
  }
  return { status: outcome.status, eventId: outcome.eventId, workflowId: outcome.workflowId, ...(outcome.warnings ? { warnings: outcome.warnings } : {}) };
}

// ---- the app -------------------------------------------------------------------------------------

declare module 'fastify' {
  interface FastifyRequest {
    /** Position of the matched token (never its value): the rate-limit key. */
    tokenIndex?: number;
  }
}

export async function buildApi(options: ApiOptions): Promise<FastifyInstance> {
  const bodyLimit = options.bodyLimitBytes ?? 1_048_576;
  const maxBatch = options.maxBatchEvents ?? 1_000;
  const maxInFlight = options.maxInFlightEvents ?? 5_000;
  const concurrency = options.eventConcurrency ?? 16;
  const timeoutMs = options.temporalTimeoutMs ?? 30_000;
  const matchToken = tokenMatcher(options.tokens);
  const backend = options.backend;
  let inFlight = 0;

  const app = Fastify({
    ...(options.logger ? { loggerInstance: options.logger } : { logger: false }),
    bodyLimit,
    // Hook events carry no secrets in URLs; the request id is what ties a log line to an answer.
    requestIdHeader: false,
    genReqId: () => randomUUID(),
  });

  // JSON only, decoded strictly: invalid UTF-8 is a 400 rather than silently replaced (the
  // default parser would turn it into U+FFFD and record altered text), and prototype poisoning
  // (`__proto__`, `constructor.prototype`) is refused by fastify's own parser.
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeAllContentTypeParsers();
  // Matched against the whole header, parameters included (e.g. `application/json; charset=utf-8`).
  app.addContentTypeParser(/^application\/(?:[\w.-]+\+)?json\s*(?:;.*)?$/i, { parseAs: 'buffer', bodyLimit }, (request, body, done) => {
    const charset = /charset=([^;]+)/i.exec(request.headers['content-type'] ?? '')?.[1]?.trim().toLowerCase().replace(/"/g, '');
    if (charset && charset !== 'utf-8' && charset !== 'utf8') {
      return done(new ApiError(415, 'unsupported-charset', `content-type: charset ${charset} is not supported; allowed: utf-8`, 'content-type'), undefined);
    }
    const buffer = body as Buffer;
    let text: string;
    try {
      text = UTF8.decode(buffer);
    } catch {
      return done(new ApiError(400, 'invalid-utf8', `body: not valid UTF-8 (from byte ${firstInvalidUtf8(buffer)}); allowed: JSON in UTF-8`, 'body'), undefined);
    }
    if (text.trim() === '') return done(new ApiError(400, 'empty-body', 'body: empty; allowed: one event, an array of events or {"events": [...]}', 'body'), undefined);
    if (nestedDeeperThan(text, MAX_JSON_DEPTH)) {
      return done(new ApiError(400, 'too-deep', `body: nested deeper than ${MAX_JSON_DEPTH} levels; allowed: flat hook events`, 'body'), undefined);
    }
    parseJson(request, text, (err, value) => {
      if (!err) return done(null, value);
      // fastify's message does not say where; JSON.parse's does. If JSON.parse accepts the text, the
      // default parser refused it for prototype poisoning.
      try {
        JSON.parse(text);
      } catch (syntax) {
        return done(new ApiError(400, 'invalid-json', `body: not valid JSON: ${(syntax as Error).message}`, 'body'), undefined);
      }
      done(new ApiError(400, 'forbidden-key', 'body: a "__proto__" or "constructor.prototype" key is not allowed', 'body'), undefined);
    });
  });

  app.setErrorHandler((err: FastifyError | ApiError, request, reply) => {
    const status = err.statusCode ?? 500;
    if (err instanceof ApiError) {
      for (const [k, v] of Object.entries(err.headers)) void reply.header(k, v);
      return reply.code(status).send({ error: { code: err.code, message: err.message, ...(err.field ? { field: err.field } : {}) } });
    }
    if (status === 413 || err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      return reply.code(413).send({ error: { code: 'body-too-large', message: `body: larger than ${bodyLimit} bytes; allowed: at most ${bodyLimit} bytes (split the batch)`, field: 'body' } });
    }
    if (err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' || status === 415) {
      return reply.code(415).send({ error: { code: 'unsupported-media-type', message: 'content-type: must be application/json', field: 'content-type' } });
    }
    if (status === 429) {
      return reply.code(429).send({ error: { code: 'rate-limited', message: err.message } });
    }
    if (status >= 400 && status < 500) {
      // fastify's own 4xx (e.g. a truncated body, a bad content-length): keep the status, say why.
      return reply.code(status).send({ error: { code: 'bad-request', message: `body: ${err.message}`, field: 'body' } });
    }
    request.log.error({ err: { message: err.message, code: err.code } }, 'request failed');
    return reply.code(500).send({ error: { code: 'internal', message: 'internal error; the request may be retried' } });
  });

  app.setNotFoundHandler((request, reply) =>
    reply.code(404).send({ error: { code: 'not-found', message: `${request.method} ${request.url.split('?')[0]} is not an endpoint of this API; see /v1/openapi.json` } }),
  );

  await app.register(rateLimit, {
    global: false,
    // After authentication (so the key is the token) and before the body is read (so an
    // over-limit client costs nothing more).
    hook: 'preParsing',
    keyGenerator: (request) => (request.tokenIndex !== undefined ? `token-${request.tokenIndex}` : `ip-${request.ip}`),
    errorResponseBuilder: (_request, context) =>
      new ApiError(429, 'rate-limited', `too many requests for this token: at most ${context.max} per minute; retry in ${context.after}`),
  });

  // ---- routes ----

  app.get('/healthz', async () => ({ status: 'ok' }));

  app.get('/readyz', async (request, reply) => {
    try {
      await backend.checkReady(new Date(Date.now() + Math.min(timeoutMs, 5_000)));
      return { status: 'ready', temporal: 'reachable' };
    } catch (err) {
      request.log.warn({ err: { message: (err as Error).message } }, 'not ready: Temporal unreachable');
      return reply.code(503).header('retry-after', '5').send({ status: 'not-ready', temporal: 'unreachable' });
    }
  });

  // The console checks tokens with the same constant-time matcher as /v1/events.
  if (options.console) await app.register(consolePlugin, { ...options.console, matchToken });

  const document = openApiDocument({ bodyLimitBytes: bodyLimit, maxBatchEvents: maxBatch });
  app.get('/v1/openapi.json', async () => document);

  app.post(
    '/v1/events',
    {
      config: { rateLimit: { max: options.rateLimitPerMinute ?? 600, timeWindow: 60_000 } },
      onRequest: async (request) => {
        const header = request.headers.authorization ?? '';
        const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
        const index = m ? matchToken(m[1]!) : -1;
        if (index < 0) {
          throw new ApiError(
            401,
            'unauthorized',
            m ? 'authorization: the bearer token is not valid' : 'authorization: missing; allowed: "Authorization: Bearer <token>"',
            'authorization',
            { 'www-authenticate': 'Bearer realm="gp2gp-mi"' },
          );
        }
        request.tokenIndex = index;
      },
    },
    async (request, reply) => {
      if (request.body === undefined) throw new ApiError(400, 'empty-body', 'body: empty; allowed: one event, an array of events or {"events": [...]}', 'body');
      const shape = shapeOf(request.body, maxBatch);
      const inputs = shape.kind === 'single' ? [shape.event] : shape.events;
      if (inFlight + inputs.length > maxInFlight) {
        throw new ApiError(429, 'overloaded', `too many events in flight (${inFlight} of at most ${maxInFlight}); retry shortly`, undefined, { 'retry-after': '1' });
      }
      inFlight += inputs.length;
      let results: EventResult[];
      try {
        results = await recordAll(inputs, request);
      } finally {
        inFlight -= inputs.length;
      }
      const unavailable = results.filter((r) => r.status === 'unavailable').length;
      if (unavailable) void reply.header('retry-after', '5');
      request.log.info(
        { tokenIndex: request.tokenIndex, events: inputs.length, ...countsOf(results) },
        'events recorded',
      );
      if (shape.kind === 'single') {
        const result = results[0]!;
        const code = result.status === 'refused' ? 422 : result.status === 'unavailable' ? 503 : 200;
        return reply.code(code).send(result);
      }
      const body: BatchResult = { results: results.map((r, index) => ({ index, ...r })), ...countsOf(results) };
      // 503 tells the caller to retry the whole batch: what was accepted comes back "duplicate".
      return reply.code(unavailable ? 503 : 200).send(body);
    },
  );

  /** Records the events with bounded concurrency; a Temporal outage marks the rest unavailable. */
  async function recordAll(inputs: unknown[], request: FastifyRequest): Promise<EventResult[]> {
    const deadline = new Date(Date.now() + timeoutMs);
    let down = false;
    return await mapConcurrent(inputs, concurrency, async (input): Promise<EventResult> => {
      if (down) return { status: 'unavailable', error: { code: 'unavailable', message: 'not recorded: Temporal is unreachable; retry' } };
      try {
        return toResult(await backend.recordEvent(input, deadline));
      } catch (err) {
        let result: EventResult;
        if (isUnavailable(err)) {
          down = true;
          const message = `not recorded: Temporal is unreachable or did not answer within ${timeoutMs / 1000} s (is a worker polling?); retry`;
          result = { status: 'unavailable', error: { code: 'unavailable', message } };
        } else if (grpcCodeOf(err) === GRPC_INVALID_ARGUMENT) {
          // Temporal itself refused what the contract let through (e.g. a size limit): still the
          // caller's input, so a refusal, not a 5xx.
          result = { status: 'refused', error: { code: 'refused', message: `refused by Temporal: ${(err as Error).message}`, problems: [] } };
        } else {
          throw err;
        }
        request.log.warn({ err: { message: (err as Error).message } }, 'event not recorded');
        return result;
      }
    });
  }

  return app;
}

function countsOf(results: EventResult[]): Omit<BatchResult, 'results'> {
  const count = (s: EventResult['status']) => results.filter((r) => r.status === s).length;
  return { accepted: count('accepted'), duplicate: count('duplicate'), refused: count('refused'), unavailable: count('unavailable') };
}
