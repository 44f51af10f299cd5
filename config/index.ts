/**
 * Configuration: every address, name and secret comes from the environment, validated once at
 * start-up. The defaults describe the embedded stack (`npm start`): a Temporal dev server and NHS
 * England's MESH sandbox on loopback. Pointing TEMPORAL_ADDRESS or MESH_URL elsewhere switches to an
 * external cluster / real MESH without any code change.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { z } from 'zod';
import { parseEncryptionKeys, type EncryptionKeys } from './encryption';
import { ConfigError } from './errors';
import { DAY_ALLOWED, isDay } from '../mi/formats';
import { OUTPUTS, OUTPUTS_ALLOWED, type Outputs } from '../mi/outputs';
import { DEFAULT_HAND_OVER_AT, DEFAULT_HAND_OVER_SPREAD_MS, HAND_OVER_AT_ALLOWED, parseHandOverAt } from '../mi/hand-over';

export const PROJECT_ROOT = path.resolve(__dirname, '..');

/** The example practices (examples/practices.json): the embedded default's practices before any demo. */
export const EXAMPLE_PRACTICES_FILE = path.join(PROJECT_ROOT, 'examples', 'practices.json');
/** The practices `npm run demo` adds on the embedded default. */
export const DEMO_PRACTICES_FILE = (dataDir: string) => path.join(dataDir, 'demo', 'practices.json');
/** What `npm start` composes on the embedded default (examples + the demo's) and gives the worker and API. */
export const COMPOSED_PRACTICES_FILE = (dataDir: string) => path.join(dataDir, 'practices.json');

/**
 * The practices file of this service, resolved the same way by `npm start`, the worker, the HTTP API,
 * the CLI and the demo (issue 16): GP2GP_PRACTICES when set (`embedded: false`, used as is); otherwise
 * the embedded default's composed file <data>/practices.json — which `npm start` (re)writes from the
 * examples and the demo's practices (stack/operators.ts) — or examples/practices.json while no
 * `npm start` has composed it yet.
 */
export function resolvePracticesFile(env: NodeJS.ProcessEnv, dataDir: string): { file: string; embedded: boolean } {
  const set = env.GP2GP_PRACTICES?.trim();
  if (set) return { file: path.resolve(set), embedded: false };
  const composed = COMPOSED_PRACTICES_FILE(dataDir);
  return { file: fs.existsSync(composed) ? composed : EXAMPLE_PRACTICES_FILE, embedded: true };
}

/** Mailbox ids of the embedded sandbox: one for the supplier's practices, one standing in for NHS England. */
export const EMBEDDED_SUPPLIER_MAILBOX = 'X26GPMI001';
export const EMBEDDED_AUTHORITY_MAILBOX = 'X26NHSE001';
export const EMBEDDED_MESH_PASSWORD = 'password';

/** reportingSystemSupplier until GP2GP_REPORTING_SYSTEM_SUPPLIER is set: fine for the stand-in, not for NHS England. */
export const DEV_REPORTING_SYSTEM_SUPPLIER = 'DEVSUPPLIER';

const optionalString = z
  .string()
  .transform((s) => s.trim())
  .optional()
  .transform((s) => (s === '' || s === undefined ? undefined : s));

const port = (fallback: number) => z.coerce.number().int().min(1).max(65535).default(fallback);

const TRANSFER_WORKERS_ALLOWED = 'a whole number, 1 to 64';

const envSchema = z.object({
  TEMPORAL_ADDRESS: optionalString,
  TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
  TEMPORAL_PORT: port(7233),
  TEMPORAL_UI_PORT: port(8233),
  TEMPORAL_TASK_QUEUE: z.string().min(1).default('gp2gp-mi'),
  /** Default: TEMPORAL_TASK_QUEUE + '-reporting'; the same name as TEMPORAL_TASK_QUEUE = one queue, one cache. */
  TEMPORAL_REPORTING_TASK_QUEUE: z.string().min(1).optional(),
  TEMPORAL_TLS_CERT: optionalString,
  TEMPORAL_TLS_KEY: optionalString,
  TEMPORAL_TLS_CA: optionalString,
  TEMPORAL_API_KEY: optionalString,

  MESH_URL: optionalString,
  MESH_PORT: port(8700),
  MESH_MAILBOX: z.string().regex(/^[A-Z0-9]+$/, 'upper-case letters and digits').default(EMBEDDED_SUPPLIER_MAILBOX),
  MESH_PASSWORD: optionalString,
  MESH_SHARED_KEY: optionalString,
  MESH_TO: z.string().regex(/^[A-Z0-9]+$/, 'upper-case letters and digits').default(EMBEDDED_AUTHORITY_MAILBOX),
  MESH_WORKFLOW_ID: z.string().regex(/^[A-Z0-9_]+$/, 'upper-case letters, digits and _').default('GP2GP_MI'),
  MESH_CLIENT_CERT: optionalString,
  MESH_CLIENT_KEY: optionalString,
  MESH_CA_CERT: optionalString,

  GP2GP_DATA_DIR: optionalString,
  GP2GP_PRACTICES: optionalString,
  GP2GP_CADENCE: z.enum(['daily', 'weekly']).default('daily'),
  GP2GP_CORRECTION_WINDOW_DAYS: z.coerce.number().int().min(1).max(60).default(14),
  GP2GP_INBOX_POLL_SECONDS: z.coerce.number().min(0.1).max(300).default(300),
  GP2GP_TRACKING_INTERVAL_SECONDS: z.coerce.number().min(0.1).default(60),
  GP2GP_TRACKING_MAX_INTERVAL_SECONDS: z.coerce.number().min(0.1).default(1800),
  GP2GP_DELIVERY_DEADLINE_HOURS: z.coerce.number().min(0.001).default(120),
  GP2GP_TRANSFER_FINAL_QUIET_HOURS: z.coerce.number().min(0.0001).default(14 * 24),
  GP2GP_TRANSFER_IDLE_HOURS: z.coerce.number().min(0.0001).default(60 * 24),
  // When a transfer hands the rows of a day still open to its practice's reporting workflow (UTC
  // time of day, all of the practice's transfers at once), or "immediate": with each event.
  GP2GP_HAND_OVER_AT: z
    .string()
    .default(DEFAULT_HAND_OVER_AT)
    .refine((s) => {
      try {
        parseHandOverAt(s);
        return true;
      } catch {
        return false;
      }
    }, HAND_OVER_AT_ALLOWED),
  // How long after it the practices' slots reach (each practice's transfers hand over together).
  GP2GP_HAND_OVER_SPREAD_SECONDS: z.coerce.number().int('whole seconds').min(0).max(3_600).default(DEFAULT_HAND_OVER_SPREAD_MS / 1000),
  // Continue-as-new thresholds of the long-lived workflows: unset = the workflows' own (2,000 signals,
  // 2,000 events, 500 polls). Lowered only by tests that prove continue-as-new (test/month.test.ts).
  GP2GP_REPORTING_SIGNALS_PER_RUN: z.coerce.number().int().min(1).optional(),
  GP2GP_TRANSFER_EVENTS_PER_RUN: z.coerce.number().int().min(1).optional(),
  GP2GP_INBOX_POLLS_PER_RUN: z.coerce.number().int().min(1).optional(),

  // Operators (issue #7): payload encryption keys (secret) and the worker's Prometheus endpoint.
  GP2GP_ENCRYPTION_KEYS: optionalString,
  GP2GP_METRICS_HOST: z.string().min(1).default('127.0.0.1'),
  GP2GP_FIRST_DAY: z
    .string()
    .refine(isDay, DAY_ALLOWED)
    .optional(),
  GP2GP_WORKER_CACHED_WORKFLOWS: z.coerce.number().int().min(0).default(2_000),
  GP2GP_REPORTING_CACHED_WORKFLOWS: z.coerce.number().int().min(0).default(8_000),
  GP2GP_TRANSFER_WORKERS: z.coerce.number({ error: TRANSFER_WORKERS_ALLOWED }).int(TRANSFER_WORKERS_ALLOWED).min(1, TRANSFER_WORKERS_ALLOWED).max(64, TRANSFER_WORKERS_ALLOWED).default(8),
  GP2GP_WORKFLOW_STACK_FRAMES: z.coerce.number().int().min(3, 'at least 3: the SDK strips 2 frames of its own from each stack').max(100).default(5),
  GP2GP_WORKFLOW_CALL_TIMEOUT_SECONDS: z.coerce.number().int('whole seconds').min(0, '0 (no limit) or a number of seconds').max(3_600).default(0),
  GP2GP_WORKFLOW_STACK_TRACES: z.enum(['off', 'on'], { error: (issue) => `${JSON.stringify(issue.input)} is not allowed; allowed: off, on` }).default('off'),
  GP2GP_METRICS_PORT: z.coerce.number().int().min(0, '0 turns metrics off').max(65535).default(9464),

  // The GP Registrations MI API (issue 12): its base URL (unset = the embedded stand-in on
  // GP2GP_REGISTRATIONS_API_PORT) and the application's API key (secret, never logged).
  GP2GP_REGISTRATIONS_API_URL: optionalString.refine((s) => s === undefined || /^https?:\/\/[^\s/]+/i.test(s), 'an http(s) URL, e.g. https://int.api.service.nhs.uk/gp-registrations-mi'),
  GP2GP_REGISTRATIONS_API_KEY: optionalString,
  GP2GP_REGISTRATIONS_API_PORT: port(8400),
  // Where MI goes by default (a practice's `outputs` setting overrides), and the supplier's ODS code
  // the API's events carry as reportingSystemSupplier (issue 12).
  GP2GP_OUTPUTS: z.enum(OUTPUTS, { error: (issue) => `${JSON.stringify(issue.input)} is not allowed; allowed: ${OUTPUTS_ALLOWED}` }).default('mesh'),
  GP2GP_REPORTING_SYSTEM_SUPPLIER: z
    .string()
    .trim()
    .regex(/^[A-Za-z0-9]{1,20}$/, 'the ODS code NHS England assigned to you as a supplier: 1 to 20 letters or digits')
    .default(DEV_REPORTING_SYSTEM_SUPPLIER),
});

export interface TemporalConfig {
  /** host:port of the frontend; undefined = start the embedded dev server. */
  address: string | undefined;
  namespace: string;
  /** The transfers' queue (and the inbox's). */
  taskQueue: string;
  /**
   * The practices' reporting workflows and their submissions: a queue of their own, so a worker keeps
   * them in a cache of their own (pipeline.reportingCachedWorkflows) that the day's many transfers do
   * not flush. Equal to taskQueue: one queue and one cache, as before.
   */
  reportingTaskQueue: string;
  port: number;
  uiPort: number;
  tls?: { clientCertPath?: string; clientKeyPath?: string; caPath?: string } | undefined;
  apiKey?: string | undefined;
}

export interface MeshConfig {
  /** base URL; undefined = start the embedded sandbox. */
  url: string | undefined;
  port: number;
  mailbox: string;
  password: string | undefined;
  sharedKey: string | undefined;
  to: string;
  workflowId: string;
  clientCertPath?: string | undefined;
  clientKeyPath?: string | undefined;
  caCertPath?: string | undefined;
}

/** How the pipeline paces itself; defaults follow MESH guidance (poll ≤ every 5 min, 5-day expiry). */
export interface PipelineConfig {
  cadence: 'daily' | 'weekly';
  correctionWindowDays: number;
  /**
   * Rows of a day still open wait in their transfer until this many ms after that day's midnight
   * (UTC), then go to the reporting workflow with the practice's other transfers; undefined: with
   * each event (mi/hand-over.ts).
   */
  handOverAtMs: number | undefined;
  /** The practices' slots spread this long after the hand-over point (0: none). */
  handOverSpreadMs: number;
  inboxPollMs: number;
  trackingIntervalMs: number;
  trackingMaxIntervalMs: number;
  deliveryDeadlineMs: number;
  /** A final transfer completes after this long without events; a later event reopens it. */
  transferFinalQuietMs: number;
  /** An unfinished transfer completes after this long without events. */
  transferIdleMs: number;
  /**
   * Workflows kept in the worker's cache: about 140 KiB each, and each costs the SDK's core CPU on every
   * workflow task of the others, so more is not faster past the working set (Performance section).
   */
  workerCachedWorkflows: number;
  /**
   * Reporting workflows (and submissions) kept in the cache of the reporting queue's worker: one per
   * practice, each woken by every hand-over of its practice's rows, so a practice whose workflow is
   * cached takes a hand-over without a replay. Size it to the practices (about 140 KiB each).
   */
  reportingCachedWorkflows: number;
  /** SDK workers polling the transfers' queue in one process, the cache split evenly between them. */
  transferWorkers: number;
  /**
   * Frames V8 records of a stack in workflow code (V8's own default is 10): what errors thrown there
   * keep, and, with workflowStackTraces, the depth of the stack the SDK records for every promise; 5
   * keeps the line of our code each wait is at, and the SDK's linking of Promise.race/all
   * (worker/main.ts, Performance section).
   */
  workflowStackFrames: number;
  /**
   * How long one call into workflow code may run before the SDK cuts it and fails the workflow task
   * (its "isolate execution timeout", 5 s by default); 0, the default here, sets no limit. Node
   * enforces a limit by creating and joining an OS thread for every call, three calls per activation,
   * which was about a quarter of the worker's CPU in a cold replay (worker/workflow-calls.ts).
   */
  workflowCallTimeoutMs: number;
  /**
   * Whether the SDK records a stack for every promise workflow code creates, for its stack-trace query
   * (the Web UI's Stack Trace tab). Off by default: its promise hook was about 30 % of the worker's CPU
   * to replay a transfer it no longer caches (worker/workflow-calls.ts).
   */
  workflowStackTraces: boolean;
  /**
   * The first day this service reports for (onboarding): every day from it is reported, empty or not.
   * Unset: the day a practice's reporting workflow starts. Earlier days are sent only if they have rows.
   */
  firstDay: string | undefined;
  /**
   * Continue-as-new thresholds (signals of a reporting run, events of a transfer run, polls of an inbox
   * run); undefined = the workflows' defaults. Set only by tests proving continue-as-new.
   */
  reportingSignalsPerRun?: number | undefined;
  transferEventsPerRun?: number | undefined;
  inboxPollsPerRun?: number | undefined;
}

export interface Config {
  temporal: TemporalConfig;
  mesh: MeshConfig;
  pipeline: PipelineConfig;
  dataDir: string;
  practicesFile: string;
  /** Payload encryption keys (AES-256-GCM, current first); undefined = payloads in clear. Secret. */
  encryption?: EncryptionKeys | undefined;
  /** Where the worker serves Prometheus metrics; undefined = off (GP2GP_METRICS_PORT=0). */
  metrics?: { host: string; port: number } | undefined;
  registrationsApi: RegistrationsApiConfig;
}

/** The GP Registrations MI API (issue 12). */
export interface RegistrationsApiConfig {
  /** Base URL (endpoints are appended, e.g. …/gp-registrations-mi/registrations); undefined = the embedded stand-in. */
  url: string | undefined;
  /** The `apikey` header's value. Secret: never logged. Unset on the embedded default (npm start generates one). */
  apiKey: string | undefined;
  /** The embedded stand-in's port. */
  port: number;
  /** Where MI goes unless a practice says otherwise (GP2GP_OUTPUTS): mesh (default), api or both. */
  outputs: Outputs;
  /** The supplier's ODS code, sent as every API event's reportingSystemSupplier. */
  reportingSystemSupplier: string;
}

export { ConfigError };

/** TEMPORAL_REPORTING_TASK_QUEUE when unset: the transfers' queue's name + '-reporting'. */
export function defaultReportingTaskQueue(taskQueue: string): string {
  return `${taskQueue}-reporting`;
}

/** Parses the environment; throws ConfigError naming every bad variable (values of secrets never shown). */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
  }
  const e = parsed.data;
  const tls =
    e.TEMPORAL_TLS_CERT || e.TEMPORAL_TLS_KEY || e.TEMPORAL_TLS_CA
      ? { clientCertPath: e.TEMPORAL_TLS_CERT, clientKeyPath: e.TEMPORAL_TLS_KEY, caPath: e.TEMPORAL_TLS_CA }
      : undefined;
  const handOverAtMs = parseHandOverAt(e.GP2GP_HAND_OVER_AT);
  if (handOverAtMs !== undefined && handOverAtMs + e.GP2GP_HAND_OVER_SPREAD_SECONDS * 1000 > 86_400_000) {
    throw new ConfigError(
      `invalid configuration:\n  GP2GP_HAND_OVER_AT + GP2GP_HAND_OVER_SPREAD_SECONDS: ${e.GP2GP_HAND_OVER_AT} plus ${e.GP2GP_HAND_OVER_SPREAD_SECONDS} s reaches past midnight; allowed: a point and a spread that end by 24:00 (UTC), e.g. 23:00 and 1800`,
    );
  }
  if (tls && Boolean(tls.clientCertPath) !== Boolean(tls.clientKeyPath)) {
    throw new ConfigError('invalid configuration:\n  TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY must be set together');
  }
  if (Boolean(e.MESH_CLIENT_CERT) !== Boolean(e.MESH_CLIENT_KEY)) {
    throw new ConfigError('invalid configuration:\n  MESH_CLIENT_CERT and MESH_CLIENT_KEY must be set together');
  }
  const dataDir = path.resolve(e.GP2GP_DATA_DIR ?? path.join(PROJECT_ROOT, '.data'));
  const encryption = e.GP2GP_ENCRYPTION_KEYS ? parseEncryptionKeys(e.GP2GP_ENCRYPTION_KEYS) : undefined;
  return {
    temporal: {
      address: e.TEMPORAL_ADDRESS,
      namespace: e.TEMPORAL_NAMESPACE,
      taskQueue: e.TEMPORAL_TASK_QUEUE,
      reportingTaskQueue: e.TEMPORAL_REPORTING_TASK_QUEUE ?? defaultReportingTaskQueue(e.TEMPORAL_TASK_QUEUE),
      port: e.TEMPORAL_PORT,
      uiPort: e.TEMPORAL_UI_PORT,
      tls,
      apiKey: e.TEMPORAL_API_KEY,
    },
    mesh: {
      url: e.MESH_URL,
      port: e.MESH_PORT,
      mailbox: e.MESH_MAILBOX,
      password: e.MESH_PASSWORD,
      sharedKey: e.MESH_SHARED_KEY,
      to: e.MESH_TO,
      workflowId: e.MESH_WORKFLOW_ID,
      clientCertPath: e.MESH_CLIENT_CERT,
      clientKeyPath: e.MESH_CLIENT_KEY,
      caCertPath: e.MESH_CA_CERT,
    },
    pipeline: {
      cadence: e.GP2GP_CADENCE,
      correctionWindowDays: e.GP2GP_CORRECTION_WINDOW_DAYS,
      handOverAtMs,
      handOverSpreadMs: e.GP2GP_HAND_OVER_SPREAD_SECONDS * 1000,
      inboxPollMs: Math.round(e.GP2GP_INBOX_POLL_SECONDS * 1000),
      trackingIntervalMs: Math.round(e.GP2GP_TRACKING_INTERVAL_SECONDS * 1000),
      trackingMaxIntervalMs: Math.round(e.GP2GP_TRACKING_MAX_INTERVAL_SECONDS * 1000),
      deliveryDeadlineMs: Math.round(e.GP2GP_DELIVERY_DEADLINE_HOURS * 3_600_000),
      transferFinalQuietMs: Math.round(e.GP2GP_TRANSFER_FINAL_QUIET_HOURS * 3_600_000),
      transferIdleMs: Math.round(e.GP2GP_TRANSFER_IDLE_HOURS * 3_600_000),
      workerCachedWorkflows: e.GP2GP_WORKER_CACHED_WORKFLOWS,
      reportingCachedWorkflows: e.GP2GP_REPORTING_CACHED_WORKFLOWS,
      transferWorkers: e.GP2GP_TRANSFER_WORKERS,
      workflowStackFrames: e.GP2GP_WORKFLOW_STACK_FRAMES,
      workflowCallTimeoutMs: e.GP2GP_WORKFLOW_CALL_TIMEOUT_SECONDS * 1_000,
      workflowStackTraces: e.GP2GP_WORKFLOW_STACK_TRACES === 'on',
      firstDay: e.GP2GP_FIRST_DAY,
      reportingSignalsPerRun: e.GP2GP_REPORTING_SIGNALS_PER_RUN,
      transferEventsPerRun: e.GP2GP_TRANSFER_EVENTS_PER_RUN,
      inboxPollsPerRun: e.GP2GP_INBOX_POLLS_PER_RUN,
    },
    dataDir,
    practicesFile: resolvePracticesFile({ GP2GP_PRACTICES: e.GP2GP_PRACTICES }, dataDir).file,
    encryption,
    metrics: e.GP2GP_METRICS_PORT ? { host: e.GP2GP_METRICS_HOST, port: e.GP2GP_METRICS_PORT } : undefined,
    registrationsApi: {
      url: e.GP2GP_REGISTRATIONS_API_URL?.replace(/\/+$/, ''),
      apiKey: e.GP2GP_REGISTRATIONS_API_KEY,
      port: e.GP2GP_REGISTRATIONS_API_PORT,
      outputs: e.GP2GP_OUTPUTS,
      reportingSystemSupplier: e.GP2GP_REPORTING_SYSTEM_SUPPLIER,
    },
  };
}
