/**
 * Configuration of the HTTP hooks API (api/), from the environment like the rest (config/index.ts),
 * in its own file so the API's settings can change without touching the pipeline's.
 *
 * Bearer tokens are secrets: they come from GP2GP_API_TOKENS or from a file (GP2GP_API_TOKEN_FILE,
 * one token per line, which is how `npm start` hands over the generated dev token) and are never
 * logged or shown in an error message.
 */
import * as fs from 'node:fs';
import { z } from 'zod';
import { ConfigError } from './errors';

const optionalString = z
  .string()
  .transform((s) => s.trim())
  .optional()
  .transform((s) => (s === '' || s === undefined ? undefined : s));

const positiveInt = (fallback: number, max = Number.MAX_SAFE_INTEGER) => z.coerce.number().int().min(1).max(max).default(fallback);

/** Below this a token is guessable; the generated dev token has 64 hex characters. */
export const MIN_TOKEN_LENGTH = 16;

/** How many events of one request the API records at a time when GP2GP_API_EVENT_CONCURRENCY is not set. */
export const DEFAULT_API_EVENT_CONCURRENCY = 16;

const apiEnvSchema = z.object({
  GP2GP_API_HOST: z.string().min(1).default('127.0.0.1'),
  // 0 asks the OS for a free port (tests); the embedded default is fixed so curl examples work.
  GP2GP_API_PORT: z.coerce.number().int().min(0).max(65535).default(8300),
  GP2GP_API_TOKENS: optionalString,
  GP2GP_API_TOKEN_FILE: optionalString,
  GP2GP_API_BODY_LIMIT_BYTES: positiveInt(1_048_576, 64 * 1_048_576),
  GP2GP_API_MAX_BATCH_EVENTS: positiveInt(1_000, 100_000),
  GP2GP_API_RATE_LIMIT_PER_MINUTE: positiveInt(600),
  GP2GP_API_MAX_IN_FLIGHT_EVENTS: positiveInt(5_000),
  GP2GP_API_EVENT_CONCURRENCY: positiveInt(DEFAULT_API_EVENT_CONCURRENCY, 1_000),
  GP2GP_API_TEMPORAL_TIMEOUT_SECONDS: z.coerce.number().min(0.1).max(600).default(30),

  // The operators' console (issue 15), served by this process at /console.
  GP2GP_CONSOLE: z.enum(['on', 'off']).default('on'),
  GP2GP_CONSOLE_TEMPORAL_UI_URL: optionalString.refine((s) => s === undefined || /^https?:\/\/[^\s/]+/i.test(s), 'an http(s) URL of the Temporal Web UI, e.g. http://127.0.0.1:8233'),
  // Read here only for the default Web UI address (config/index.ts validates them for the pipeline).
  TEMPORAL_ADDRESS: optionalString,
  TEMPORAL_UI_PORT: z.coerce.number().int().min(1).max(65535).default(8233),
  TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
  // Behind a proxy that terminates TLS the API sees plain HTTP: this marks the session cookie Secure.
  GP2GP_CONSOLE_SECURE_COOKIE: z.enum(['true', 'false']).optional(),
  GP2GP_CONSOLE_SESSION_HOURS: z.coerce.number().min(0.0001).max(168).default(8),
  GP2GP_CONSOLE_VIEW_TTL_SECONDS: z.coerce.number().min(0).max(3_600).default(30),
  GP2GP_CONSOLE_SWEEP_PER_SECOND: z.coerce.number().min(0.1).max(1_000).default(20),
  GP2GP_CONSOLE_SWEEP_INTERVAL_SECONDS: z.coerce.number().min(0.1).max(86_400).default(60),
  GP2GP_CONSOLE_SWEEP_IDLE_MINUTES: z.coerce.number().min(0.01).max(10_080).default(10),
  GP2GP_CONSOLE_QUERY_CONCURRENCY: positiveInt(8, 100),
  GP2GP_CONSOLE_LOGIN_PER_MINUTE: positiveInt(10, 1_000),
  GP2GP_CONSOLE_SEARCH_PER_MINUTE: positiveInt(30, 10_000),
});

/** The console's settings (README, "The operators' console"). */
export interface ConsoleConfig {
  /** Where the page's links go: `<baseUrl>/namespaces/<namespace>/workflows/<id>`; undefined = no links. */
  temporalUi: { baseUrl: string; namespace: string } | undefined;
  sessionTtlMs: number;
  viewTtlMs: number;
  sweepPerSecond: number;
  sweepIntervalMs: number;
  /** The sweep pauses when the console has not been looked at for this long. */
  sweepIdleAfterMs: number;
  queryConcurrency: number;
  loginPerMinute: number;
  searchPerMinute: number;
  /** Mark the session cookie Secure; undefined = when the request itself came over TLS. */
  secureCookie: boolean | undefined;
}

export interface ApiConfig {
  host: string;
  port: number;
  /** Accepted bearer tokens (secrets). Empty means every request to /v1/events gets 401. */
  tokens: string[];
  /** Where the tokens came from, for messages (never the tokens themselves). */
  tokenSource: string;
  bodyLimitBytes: number;
  maxBatchEvents: number;
  /** Requests per minute per token (each token has its own budget). */
  rateLimitPerMinute: number;
  /** Events being recorded at once across all requests; beyond it requests get 429. */
  maxInFlightEvents: number;
  /** Events of one request recorded at once. */
  eventConcurrency: number;
  /** How long one event may take in Temporal before the request answers 503 (retry). */
  temporalTimeoutMs: number;
  /** The operators' console; undefined when GP2GP_CONSOLE=off. */
  console: ConsoleConfig | undefined;
}

/** Tokens from a file: one per line; blank lines and lines starting with # are ignored. */
export function readTokenFile(file: string): string[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`invalid configuration:\n  GP2GP_API_TOKEN_FILE: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  return text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
}

export function loadApiConfig(env: NodeJS.ProcessEnv = process.env): ApiConfig {
  const parsed = apiEnvSchema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
  }
  const e = parsed.data;
  const tokens: string[] = [];
  const sources: string[] = [];
  if (e.GP2GP_API_TOKENS) {
    tokens.push(...e.GP2GP_API_TOKENS.split(',').map((t) => t.trim()).filter(Boolean));
    sources.push('GP2GP_API_TOKENS');
  }
  if (e.GP2GP_API_TOKEN_FILE) {
    tokens.push(...readTokenFile(e.GP2GP_API_TOKEN_FILE));
    sources.push(`GP2GP_API_TOKEN_FILE (${e.GP2GP_API_TOKEN_FILE})`);
  }
  // Says which token is too short by position only: its value must not appear in any message.
  const short = tokens.findIndex((t) => t.length < MIN_TOKEN_LENGTH);
  if (short >= 0) {
    throw new ConfigError(`invalid configuration:\n  API token #${short + 1} (of ${sources.join(' + ')}) is shorter than ${MIN_TOKEN_LENGTH} characters`);
  }
  if (e.GP2GP_API_MAX_BATCH_EVENTS > e.GP2GP_API_MAX_IN_FLIGHT_EVENTS) {
    // Otherwise a full batch could never be admitted, even on an idle service.
    throw new ConfigError('invalid configuration:\n  GP2GP_API_MAX_BATCH_EVENTS must not exceed GP2GP_API_MAX_IN_FLIGHT_EVENTS');
  }
  return {
    host: e.GP2GP_API_HOST,
    port: e.GP2GP_API_PORT,
    tokens: [...new Set(tokens)],
    tokenSource: sources.join(' + ') || 'none',
    bodyLimitBytes: e.GP2GP_API_BODY_LIMIT_BYTES,
    maxBatchEvents: e.GP2GP_API_MAX_BATCH_EVENTS,
    rateLimitPerMinute: e.GP2GP_API_RATE_LIMIT_PER_MINUTE,
    maxInFlightEvents: e.GP2GP_API_MAX_IN_FLIGHT_EVENTS,
    eventConcurrency: e.GP2GP_API_EVENT_CONCURRENCY,
    temporalTimeoutMs: Math.round(e.GP2GP_API_TEMPORAL_TIMEOUT_SECONDS * 1000),
    console: e.GP2GP_CONSOLE === 'off' ? undefined : consoleConfig(e),
  };
}

function consoleConfig(e: z.infer<typeof apiEnvSchema>): ConsoleConfig {
  // The embedded dev server's Web UI unless told otherwise; an external cluster's UI is not guessed.
  const baseUrl = e.GP2GP_CONSOLE_TEMPORAL_UI_URL ?? (e.TEMPORAL_ADDRESS ? undefined : `http://127.0.0.1:${e.TEMPORAL_UI_PORT}`);
  return {
    temporalUi: baseUrl ? { baseUrl: baseUrl.replace(/\/+$/, ''), namespace: e.TEMPORAL_NAMESPACE } : undefined,
    sessionTtlMs: Math.round(e.GP2GP_CONSOLE_SESSION_HOURS * 3_600_000),
    viewTtlMs: Math.round(e.GP2GP_CONSOLE_VIEW_TTL_SECONDS * 1000),
    sweepPerSecond: e.GP2GP_CONSOLE_SWEEP_PER_SECOND,
    sweepIntervalMs: Math.round(e.GP2GP_CONSOLE_SWEEP_INTERVAL_SECONDS * 1000),
    sweepIdleAfterMs: Math.round(e.GP2GP_CONSOLE_SWEEP_IDLE_MINUTES * 60_000),
    queryConcurrency: e.GP2GP_CONSOLE_QUERY_CONCURRENCY,
    loginPerMinute: e.GP2GP_CONSOLE_LOGIN_PER_MINUTE,
    searchPerMinute: e.GP2GP_CONSOLE_SEARCH_PER_MINUTE,
    secureCookie: e.GP2GP_CONSOLE_SECURE_COOKIE === undefined ? undefined : e.GP2GP_CONSOLE_SECURE_COOKIE === 'true',
  };
}
