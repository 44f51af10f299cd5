/**
 * The local peer of the GP Registrations Management Information API (issue 12): a small fastify
 * server that checks every request the way the published contract says the API does, and answers
 * as the API does. Used by `npm start` (embedded default, in the supervisor's own process) and by
 * the test run's global setup.
 *
 * Why a small server over our own schemas rather than an OpenAPI mock (e.g. Prism): the requests are
 * described once, in mi/registrations-api.ts — the same zod schemas the mapping is tested against,
 * conditional rules included (which an OpenAPI validator cannot see: they live in the descriptions);
 * no second copy of the spec in the repository, and nothing downloaded at run time.
 *
 * What it checks, in the order the real platform does:
 *  1. the path is under the API's base path (`/gp-registrations-mi`, as in the spec's server URLs),
 *     else 404;
 *  2. the `apikey` request header (NHS England's API platform, application-restricted, API key
 *     authentication): missing or wrong → 401 with the platform's fault body;
 *  3. POST to one of the nine endpoints (404 for another path, 405 for another method);
 *  4. content type `application/json` (415), a JSON body (400);
 *  5. the body against the endpoint's schema: 400 in the API's BadRequest shape
 *     (`{status: 'BAD_REQUEST', message, errors: [...]}`), one line per problem naming the field.
 * A valid request is answered 200 with the API's OK shape (`{eventId}`), and recorded: in memory and
 * appended to <dir>/requests.jsonl (kept across restarts). `GET /_stand-in/requests` lists them
 * (filters: `endpoint`, `conversationId`, `since` = after that sequence number); `DELETE` clears
 * them. Both need the same `apikey` header. The key is never logged or recorded.
 */
import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Config } from '../config';
import { API_ENDPOINTS, API_KEY_HEADER, validateApiRequest, type ApiEndpoint, type ApiProblem } from '../mi/registrations-api';
import { assertPortFree, StackError } from './servers';

// Where the service finds the API (and the stand-in's paths) lives with the configuration; re-exported here.
import { REGISTRATIONS_API_BASE_PATH, STAND_IN_REQUESTS_PATH } from '../config/registrations-api';
import { ensureSecretFile } from './lifecycle';
export { REGISTRATIONS_API_BASE_PATH, registrationsApiTarget, STAND_IN_REQUESTS_PATH } from '../config/registrations-api';

export interface RecordedRequest {
  /** 1, 2, 3… in the order accepted (continues across restarts). */
  seq: number;
  /** The id answered in the OK body. */
  eventId: string;
  receivedAt: string;
  endpoint: ApiEndpoint;
  body: Record<string, unknown>;
  /** Tracing headers the client sent, if any (never the key). */
  headers?: Record<string, string>;
}

export interface StandInOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** 0 = any free port. */
  port: number;
  /** The one key it accepts in the `apikey` header. */
  apiKey: string;
  /** Where requests.jsonl is kept; unset = in memory only. */
  dir?: string;
  /** One line per request (status, endpoint, conversation): never the key, never the body. */
  log?: (line: string) => void;
}

export interface RegistrationsApiStandIn {
  /** The API's base URL, as GP2GP_REGISTRATIONS_API_URL takes it: http://host:port/gp-registrations-mi */
  url: string;
  /** http://host:port (the stand-in's own endpoints live under it). */
  origin: string;
  port: number;
  requests(): RecordedRequest[];
  clear(): void;
  stop(): Promise<void>;
}

const TRACE_HEADERS = ['x-correlation-id', 'x-request-id'];
const ENDPOINTS = new Set<string>(API_ENDPOINTS);

/** NHS England's API platform (Apigee) answers these when the API key is missing or not valid. */
export const MISSING_API_KEY_FAULT = {
  fault: { faultstring: 'Failed to resolve API Key variable request.header.apikey', detail: { errorcode: 'steps.oauth.v2.FailedToResolveAPIKey' } },
};
export const INVALID_API_KEY_FAULT = { fault: { faultstring: 'Invalid ApiKey', detail: { errorcode: 'oauth.v2.InvalidApiKey' } } };

/** The API's error shape (components/responses: BadRequest, InternalServerError). */
function apiError(status: string, message: string, errors: string[]) {
  return { status, message, errors };
}

class StandInError extends Error {
  constructor(
    readonly statusCode: number,
    readonly answer: ReturnType<typeof apiError>,
  ) {
    super(answer.message);
  }
}

const digest = (s: string) => createHash('sha256').update(s).digest();

function keyMatcher(key: string): (given: string) => boolean {
  const want = digest(key);
  return (given) => timingSafeEqual(digest(given), want);
}

/**
 * One line of the BadRequest `errors` array per problem: `field: what is wrong; allowed: …` (the API's
 * own example reads `reportingPracticeOdsCode: must not be empty`).
 */
export function problemLines(problems: readonly ApiProblem[]): string[] {
  return problems.map((p) => p.message);
}

function loadRecorded(file: string | undefined): RecordedRequest[] {
  if (!file || !fs.existsSync(file)) return [];
  const out: RecordedRequest[] = [];
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    try {
      out.push(JSON.parse(line) as RecordedRequest);
    } catch {
      /* a line cut short by a crash: skipped */
    }
  }
  return out;
}

export async function startRegistrationsApiStandIn(options: StandInOptions): Promise<RegistrationsApiStandIn> {
  if (!options.apiKey) throw new Error('registrations API stand-in: an API key is required');
  const host = options.host ?? '127.0.0.1';
  const matches = keyMatcher(options.apiKey);
  const file = options.dir ? path.join(options.dir, 'requests.jsonl') : undefined;
  if (options.dir) fs.mkdirSync(options.dir, { recursive: true, mode: 0o700 });
  let recorded = loadRecorded(file);
  let seq = recorded.reduce((max, r) => Math.max(max, r.seq ?? 0), 0);
  const log = options.log ?? (() => undefined);

  const app: FastifyInstance = Fastify({ logger: false, bodyLimit: 1_048_576, requestIdHeader: false });

  // JSON only (parameters allowed, UTF-8 only); anything else is a 415 in the handler.
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeAllContentTypeParsers();
  app.addContentTypeParser(/^application\/json\s*(?:;.*)?$/i, { parseAs: 'string' }, (request, body, done) => {
    const charset = /charset=([^;]+)/i.exec(request.headers['content-type'] ?? '')?.[1]?.trim().toLowerCase().replace(/"/g, '');
    if (charset && charset !== 'utf-8' && charset !== 'utf8') {
      return done(new StandInError(415, apiError('UNSUPPORTED_MEDIA_TYPE', 'Content type not supported', [`content-type: charset ${charset}; allowed: application/json (UTF-8)`])), undefined);
    }
    const text = body as string;
    if (text.trim() === '') return done(new StandInError(400, apiError('BAD_REQUEST', 'Failed to read request', ['body: empty; allowed: a JSON object'])), undefined);
    parseJson(request, text, (err, value) => {
      if (!err) return done(null, value);
      let why = err.message;
      try {
        JSON.parse(text);
      } catch (syntax) {
        why = (syntax as Error).message;
      }
      done(new StandInError(400, apiError('BAD_REQUEST', 'Failed to read request', [`body: not valid JSON: ${why}`])), undefined);
    });
  });
  // Any other content type reaches the handler unparsed, to be refused there.
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, _body, done) => done(null, undefined));

  const pathOf = (request: FastifyRequest) => request.url.split('?')[0]!;
  const logLine = (request: FastifyRequest, status: number, extra = '') =>
    log(`${new Date().toISOString()} ${request.method} ${pathOf(request)} → ${status}${extra ? ` ${extra}` : ''}`);

  // The platform: outside the base path nothing is there; inside it (and for the stand-in's own
  // endpoints) the API key is checked first, before the body is read.
  app.addHook('onRequest', async (request, reply) => {
    const p = pathOf(request);
    const ours = p === REGISTRATIONS_API_BASE_PATH || p.startsWith(`${REGISTRATIONS_API_BASE_PATH}/`) || p.startsWith('/_stand-in/');
    if (!ours) {
      logLine(request, 404);
      return reply
        .code(404)
        .send(apiError('NOT_FOUND', 'Not found', [`path: ${p} is not served here; allowed: ${REGISTRATIONS_API_BASE_PATH}/<endpoint>, one of ${API_ENDPOINTS.join(', ')}`]));
    }
    const given = request.headers[API_KEY_HEADER];
    const key = Array.isArray(given) ? given[0] : given;
    if (!key) {
      logLine(request, 401, '(no apikey header)');
      return reply.code(401).send(MISSING_API_KEY_FAULT);
    }
    if (!matches(key)) {
      logLine(request, 401, '(apikey not valid)');
      return reply.code(401).send(INVALID_API_KEY_FAULT);
    }
  });

  app.setErrorHandler((err: FastifyError | StandInError, request, reply) => {
    if (err instanceof StandInError) {
      logLine(request, err.statusCode, err.answer.errors.join('; '));
      return reply.code(err.statusCode).send(err.answer);
    }
    const status = err.statusCode ?? 500;
    if (status === 413 || err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      logLine(request, 413);
      return reply.code(413).send(apiError('PAYLOAD_TOO_LARGE', 'Request too large', ['body: larger than 1 MiB']));
    }
    if (status >= 400 && status < 500) {
      logLine(request, status, err.message);
      return reply.code(status).send(apiError('BAD_REQUEST', 'Failed to read request', [`body: ${err.message}`]));
    }
    logLine(request, 500, err.message);
    return reply.code(500).send(apiError('INTERNAL_SERVER_ERROR', 'Something went wrong', []));
  });

  app.setNotFoundHandler((request, reply) => {
    const p = pathOf(request);
    const endpoint = p.slice(REGISTRATIONS_API_BASE_PATH.length);
    if (p.startsWith(`${REGISTRATIONS_API_BASE_PATH}/`) && ENDPOINTS.has(endpoint)) {
      logLine(request, 405);
      return reply
        .code(405)
        .header('allow', 'POST')
        .send(apiError('METHOD_NOT_ALLOWED', 'Method not allowed', [`method: ${request.method} ${endpoint}; allowed: POST`]));
    }
    logLine(request, 404);
    return reply.code(404).send(apiError('NOT_FOUND', 'Not found', [`path: ${p}; allowed: ${API_ENDPOINTS.map((e) => REGISTRATIONS_API_BASE_PATH + e).join(', ')}`]));
  });

  const accept = (endpoint: ApiEndpoint) => async (request: FastifyRequest, reply: FastifyReply) => {
    const type = request.headers['content-type'];
    if (!type || !/^application\/json\s*(?:;.*)?$/i.test(type)) {
      const error = apiError('UNSUPPORTED_MEDIA_TYPE', 'Content type not supported', [`content-type: ${type ? JSON.stringify(type) : 'missing'}; allowed: application/json`]);
      logLine(request, 415, error.errors[0]);
      return reply.code(415).send(error);
    }
    const body = request.body;
    const result = validateApiRequest(endpoint, body);
    if (!result.ok) {
      const error = apiError('BAD_REQUEST', 'Failed to validate fields', problemLines(result.problems));
      logLine(request, 400, error.errors.join('; '));
      return reply.code(400).send(error);
    }
    const headers: Record<string, string> = {};
    for (const h of TRACE_HEADERS) {
      const v = request.headers[h];
      if (typeof v === 'string') headers[h] = v;
    }
    const entry: RecordedRequest = {
      seq: ++seq,
      eventId: randomUUID(),
      receivedAt: new Date().toISOString(),
      endpoint,
      body: body as Record<string, unknown>,
      ...(Object.keys(headers).length ? { headers } : {}),
    };
    // Written before the answer: what was answered 200 is on disk.
    if (file) fs.appendFileSync(file, `${JSON.stringify(entry)}\n`, { mode: 0o600 });
    recorded.push(entry);
    const conversation = (body as { conversationId?: unknown }).conversationId;
    logLine(request, 200, `${endpoint}${typeof conversation === 'string' ? ` conversation ${conversation}` : ''} #${entry.seq}`);
    return reply.code(200).send({ eventId: entry.eventId });
  };
  for (const endpoint of API_ENDPOINTS) app.post(`${REGISTRATIONS_API_BASE_PATH}${endpoint}`, accept(endpoint));

  app.get(STAND_IN_REQUESTS_PATH, async (request) => {
    const q = request.query as { endpoint?: string; conversationId?: string; since?: string };
    const since = Number(q.since ?? 0) || 0;
    const requests = recorded.filter(
      (r) =>
        r.seq > since &&
        (q.endpoint === undefined || r.endpoint === q.endpoint || r.endpoint === `/${q.endpoint}`) &&
        (q.conversationId === undefined || r.body.conversationId === q.conversationId),
    );
    return { count: requests.length, requests };
  });
  app.delete(STAND_IN_REQUESTS_PATH, async () => {
    const cleared = recorded.length;
    recorded = [];
    if (file) fs.writeFileSync(file, '', { mode: 0o600 });
    return { cleared };
  });

  await app.listen({ host, port: options.port });
  const { port } = app.server.address() as { port: number };
  const shownHost = host.includes(':') ? `[${host}]` : host;
  const origin = `http://${shownHost}:${port}`;
  let stopped: Promise<void> | undefined;
  return {
    url: `${origin}${REGISTRATIONS_API_BASE_PATH}`,
    origin,
    port,
    requests: () => [...recorded],
    clear: () => {
      recorded = [];
      if (file) fs.writeFileSync(file, '', { mode: 0o600 });
    },
    stop: () =>
      (stopped ??= (async () => {
        // Keep-alive connections (a client's pool) must not hold the stop.
        app.server.closeIdleConnections?.();
        const closing = app.close();
        const timer = setTimeout(() => app.server.closeAllConnections?.(), 2_000);
        await closing;
        clearTimeout(timer);
      })()),
  };
}

// ---- as part of npm start ------------------------------------------------------------------------

/** The embedded default's key file: created once with a random key (mode 0600), never printed. */
export function ensureStandInKey(dataDir: string): string {
  return ensureSecretFile(dataDir, 'registrations-api-key');
}

export interface PreparedStandIn {
  port: number;
  /** Where the key is, for the banner (a path or a variable name, never the key). */
  keyNote: string;
  /** For the worker's environment (GP2GP_REGISTRATIONS_API_KEY). */
  apiKey: string;
  start(logDir: string): Promise<RegistrationsApiStandIn>;
}

/**
 * `npm start`'s stand-in, prepared before anything starts (its port checked free, its key read or
 * generated into <data>/registrations-api-key) — or undefined when GP2GP_REGISTRATIONS_API_URL names
 * another server. Runs inside the supervisor's own process, so it stops with it however it stops.
 */
export async function prepareRegistrationsApiStandIn(config: Config): Promise<PreparedStandIn | undefined> {
  if (config.registrationsApi.url) return undefined;
  const port = config.registrationsApi.port;
  await assertPortFree('127.0.0.1', port, 'Registrations API stand-in', 'set GP2GP_REGISTRATIONS_API_PORT, or GP2GP_REGISTRATIONS_API_URL to use another server');
  let apiKey = config.registrationsApi.apiKey;
  let keyNote = 'key from GP2GP_REGISTRATIONS_API_KEY';
  if (!apiKey) {
    const file = ensureStandInKey(config.dataDir);
    apiKey = fs.readFileSync(file, 'utf8').trim();
    keyNote = `key in ${file}`;
  }
  const key = apiKey;
  return {
    port,
    keyNote,
    apiKey: key,
    async start(logDir) {
      fs.mkdirSync(logDir, { recursive: true, mode: 0o700 });
      const logFile = path.join(logDir, 'registrations-api.log');
      const out = fs.createWriteStream(logFile, { flags: 'a', mode: 0o600 });
      out.on('error', () => undefined);
      const standIn = await startRegistrationsApiStandIn({
        port,
        apiKey: key,
        dir: path.join(config.dataDir, 'registrations-api'),
        log: (line) => out.write(`${line}\n`),
      }).catch((err: unknown) => {
        out.end();
        throw new StackError(`Registrations API stand-in: cannot listen on 127.0.0.1:${port}: ${(err as Error).message}`);
      });
      return {
        ...standIn,
        async stop() {
          await standIn.stop();
          await new Promise<void>((resolve) => out.end(resolve));
        },
      };
    },
  };
}
