/**
 * Operations on the running pipeline, for the `gp2gp-mi` operations commands (cli/operations.ts) and
 * anything else that wants them (the HTTP API could serve them as they are): list and show
 * submissions, replay failed ones, show a transfer record, and each practice's reporting status.
 *
 * Everything here reads what the workflows already publish — search attributes for finding,
 * queries for live state, results for closed workflows — and changes nothing except through the
 * reporting workflow's own `submit` update. Visibility is eventually consistent and rate-limited
 * (by default about 10 list calls/s per namespace), so it is used to find workflows, never as
 * a database, and lists are bounded.
 */
import {
  WorkflowFailedError,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  type Client,
  type WorkflowHandle,
  type WorkflowExecutionDescription,
  type WorkflowExecutionInfo,
} from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { recordKeyOf, type Side } from '../mi/events';
import { rowsByDay, transferProgress, transferWarnings } from '../mi/transfer';
import { dayRefusal, isDay } from '../mi/formats';
import { reportingWorkflowId, transferWorkflowId } from '../workflows/ids';
import { reportingQuery, submissionFinishedSignal, submitUpdate, type ReportingView } from '../messages/reporting';
import { miDaysKey, practiceOdsKey, submissionStatusKey } from '../workflows/search-attributes';
import { submissionQuery, submissionWorkflowType, type SentFile, type SubmissionResult, type SubmissionView } from '../messages/submission';
import {
  replayApiPostsUpdate,
  transferQuery,
  transferWorkflowType,
  type ApiDeliveryView,
  type ApiPostFailure,
  type ReplayApiPostsResult,
  type StoredEvent,
  type TransferResult,
  type TransferView,
  type TransferWarning,
} from '../messages/transfer';
import type { Outputs } from '../mi/outputs';
import type { Gp2gpClient } from './index';
import { sendUntilApplied, updateNotTakenInTime } from './updates';

// ---- errors --------------------------------------------------------------------------------------

/** An operation that cannot be done; `exitCode` follows the CLI's convention (1 failed, 2 bad input). */
export class OperationError extends Error {
  override name = 'OperationError';
  constructor(
    message: string,
    readonly exitCode: 1 | 2 = 1,
  ) {
    super(message);
  }
}

// ---- visibility queries (also the README's examples) ---------------------------------------------

const SAFE_VALUE = /^[A-Za-z0-9._:-]{1,128}$/;

/** A value for a visibility query: identifiers only, so nothing can change the query's meaning. */
function quoted(what: string, value: string): string {
  if (!SAFE_VALUE.test(value)) throw new OperationError(`${what}: ${JSON.stringify(value)} is not allowed; allowed: letters, digits and . _ : -`, 2);
  return `"${value}"`;
}

/** The Web UI / `temporal workflow list --query` filters that find things; each is tested. */
export const visibility = {
  /** Every workflow of a practice: its transfers, its reporting workflow, its submissions. */
  practice: (ods: string) => `GP2GP_PracticeOds = ${quoted('practice', ods)}`,
  /** The transfer records (RR and SR, any practice) of one GP2GP conversation. */
  transferByConversationId: (conversationId: string) =>
    `WorkflowType = "transferWorkflow" AND GP2GP_ConversationId = ${quoted('conversation ID', conversationId.toUpperCase())}`,
  transferByRegistrationId: (registrationId: string) =>
    `WorkflowType = "transferWorkflow" AND GP2GP_RegistrationId = ${quoted('registration ID', registrationId)}`,
  /** A practice's submissions, newest first in the Web UI. */
  submissionsOfPractice: (ods: string) => `WorkflowType = "submissionWorkflow" AND GP2GP_PracticeOds = ${quoted('practice', ods)}`,
  /** Every failed submission: by the pipeline's own status, or ended by hand / timeout. */
  failedSubmissions: () =>
    'WorkflowType = "submissionWorkflow" AND (GP2GP_SubmissionStatus = "failed" OR ExecutionStatus = "Failed" OR ExecutionStatus = "Terminated" OR ExecutionStatus = "TimedOut" OR ExecutionStatus = "Canceled")',
  /** Transfers whose post to the GP Registrations MI API failed (waiting for `gp2gp-mi api replay`). */
  failedApiPosts: (ods?: string) =>
    `WorkflowType = "transferWorkflow" AND GP2GP_ApiDelivery = "failed"${ods ? ` AND GP2GP_PracticeOds = ${quoted('practice', ods)}` : ''}`,
  /** The submissions that carried one MI day. */
  submissionsOfDay: (day: string) => `WorkflowType = "submissionWorkflow" AND GP2GP_MiDays = ${quoted('day', assertDay('day', day))}`,
};

export interface SubmissionFilter {
  practiceOds?: string;
  failed?: boolean;
  since?: Date;
  day?: string;
}

export function submissionsQuery(filter: SubmissionFilter = {}): string {
  const parts = [filter.failed ? `(${visibility.failedSubmissions()})` : 'WorkflowType = "submissionWorkflow"'];
  if (filter.practiceOds) parts.push(`GP2GP_PracticeOds = ${quoted('practice', filter.practiceOds)}`);
  if (filter.day !== undefined) parts.push(`GP2GP_MiDays = ${quoted('day', assertDay('day', filter.day))}`);
  if (filter.since) parts.push(`StartTime >= "${filter.since.toISOString()}"`);
  return parts.join(' AND ');
}

// ---- parsing operator input ----------------------------------------------------------------------

/** `--since`: a date (YYYY-MM-DD, UTC midnight), an ISO instant, or a duration back from now (36h, 7d). */
export function parseSince(text: string, now = new Date()): Date {
  const rel = /^(\d+)\s*([mhd])$/i.exec(text.trim());
  if (rel) {
    const unit = { m: 60_000, h: 3_600_000, d: 86_400_000 }[rel[2]!.toLowerCase() as 'm' | 'h' | 'd'];
    return new Date(now.getTime() - Number(rel[1]) * unit);
  }
  // The date part must be a real calendar day: Date.parse would take 2026-02-30 as 2 March.
  if (isDay(text)) return new Date(`${text}T00:00:00Z`);
  if (/^\d{4}-\d{2}-\d{2}T/.test(text) && isDay(text.slice(0, 10)) && !Number.isNaN(Date.parse(text))) return new Date(text);
  throw new OperationError(`--since: ${JSON.stringify(text)} is not allowed; allowed: YYYY-MM-DD, an ISO date-time, or a duration such as 36h or 7d`, 2);
}

/** A real calendar day (mi/formats.ts isDay), or an OperationError naming `name` (exit 2). */
export function assertDay(name: string, day: string): string {
  const refused = dayRefusal(name, day);
  if (refused) throw new OperationError(refused, 2);
  return day;
}

export function assertOds(ods: string): string {
  if (!/^[A-Z0-9]{3,10}$/.test(ods)) throw new OperationError(`practice: ${JSON.stringify(ods)} is not an ODS code; allowed: 3 to 10 upper-case letters and digits`, 2);
  return ods;
}

// ---- submissions ---------------------------------------------------------------------------------

export interface SubmissionSummary {
  submissionId: string;
  practiceOds: string;
  days: string[];
  /** The pipeline's status (search attribute), or how the workflow ended when it ended otherwise. */
  status: string;
  reason?: string;
  /** MESH message ids of the files sent (empty when the send itself failed). */
  meshMessageIds: string[];
  files: SentFile[];
  /** Temporal's view: RUNNING, COMPLETED, FAILED, TERMINATED, … */
  executionStatus: string;
  startedAt: string;
  closedAt?: string;
}

type Execution = WorkflowExecutionInfo | WorkflowExecutionDescription;

/** The SubmissionResult a failed submission attaches to its failure (workflows/submission.ts). */
function resultOfFailure(err: WorkflowFailedError): SubmissionResult | undefined {
  const cause = err.cause;
  if (cause instanceof ApplicationFailure && cause.details?.length) {
    const detail = cause.details[0] as Partial<SubmissionResult> | undefined;
    if (detail && typeof detail === 'object' && Array.isArray(detail.files)) return detail as SubmissionResult;
  }
  return undefined;
}

/** Fills a summary from the workflow itself: its query while running, its result once closed. */
async function submissionDetails(client: Client, execution: Execution): Promise<SubmissionSummary> {
  const sa = execution.typedSearchAttributes;
  const summary: SubmissionSummary = {
    submissionId: execution.workflowId,
    practiceOds: sa.get(practiceOdsKey) ?? '',
    days: sa.get(miDaysKey) ?? [],
    status: sa.get(submissionStatusKey) ?? 'unknown',
    meshMessageIds: [],
    files: [],
    executionStatus: execution.status.name,
    startedAt: execution.startTime.toISOString(),
    ...(execution.closeTime ? { closedAt: execution.closeTime.toISOString() } : {}),
  };
  const handle = client.workflow.getHandle(execution.workflowId, execution.runId);
  const apply = (v: Pick<SubmissionView, 'days' | 'files' | 'reason'> & { status: string }) => {
    summary.days = v.days;
    summary.status = v.status;
    summary.files = v.files;
    summary.meshMessageIds = v.files.map((f) => f.messageId);
    if (v.reason) summary.reason = v.reason;
  };
  try {
    switch (execution.status.name) {
      case 'RUNNING': {
        const view = await handle.query(submissionQuery);
        summary.practiceOds = view.practiceOds;
        apply(view);
        break;
      }
      case 'COMPLETED':
        apply((await handle.result()) as SubmissionResult);
        break;
      default:
        try {
          await handle.result();
        } catch (err) {
          if (!(err instanceof WorkflowFailedError)) throw err;
          const result = resultOfFailure(err);
          if (result) apply(result);
          else {
            // Terminated, timed out or cancelled: the pipeline never recorded an end of its own.
            summary.status = 'failed';
            summary.reason = `workflow ${execution.status.name.toLowerCase().replace('_', ' ')}: ${err.cause?.message ?? err.message}`;
          }
        }
    }
  } catch (err) {
    // Search attributes still tell the essentials; say why the rest is missing.
    summary.reason ??= `details unavailable: ${(err as Error).message}`;
  }
  return summary;
}

export async function listSubmissions(client: Client, filter: SubmissionFilter = {}, options: { limit?: number } = {}): Promise<SubmissionSummary[]> {
  const limit = options.limit ?? 100;
  const executions: WorkflowExecutionInfo[] = [];
  for await (const execution of client.workflow.list({ query: submissionsQuery(filter), pageSize: Math.min(limit, 1000) })) {
    executions.push(execution);
    if (executions.length >= limit) break;
  }
  const out: SubmissionSummary[] = [];
  // A few at a time: each closed one costs a history read.
  for (let i = 0; i < executions.length; i += 8) {
    out.push(...(await Promise.all(executions.slice(i, i + 8).map((e) => submissionDetails(client, e)))));
  }
  return out;
}

export async function showSubmission(client: Client, submissionId: string): Promise<SubmissionSummary> {
  let description: WorkflowExecutionDescription;
  try {
    description = await client.workflow.getHandle(submissionId).describe();
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) throw new OperationError(`submission ${submissionId} not found`, 1);
    throw err;
  }
  if (description.type !== submissionWorkflowType) throw new OperationError(`${submissionId} is a ${description.type}, not a submission`, 2);
  return await submissionDetails(client, description);
}

/** Waits for a submission to end and answers how. */
export async function waitForSubmission(client: Client, submissionId: string): Promise<SubmissionSummary> {
  const handle = client.workflow.getHandle(submissionId);
  try {
    await handle.result();
  } catch (err) {
    if (!(err instanceof WorkflowFailedError)) throw err;
  }
  return await showSubmission(client, submissionId);
}

// ---- replay --------------------------------------------------------------------------------------

export interface ReplayOutcome {
  practiceOds: string;
  /** The submissions whose days were asked for. */
  replayOf: string[];
  /** The new submission(s): the reporting workflow batches the days as it always does. */
  submissions: { submissionId: string; days: string[] }[];
  /** Days not sent again, with why (delivered since, being sent right now). */
  skipped: { day: string; reason: string }[];
}

/**
 * Asks the practice's reporting workflow to send these days again. It renders them from its current
 * state — so a replay carries every correction since — and the Authority keeps only the latest record
 * set of an ODS + date. Days delivered since the failure, or in flight now, are not sent again unless
 * `force` (delivered ones) — so a replay never adds a second copy of a day for nothing.
 */
async function replayDays(gp2gp: Gp2gpClient, practiceOds: string, days: string[], replayOf: string[], force: boolean): Promise<ReplayOutcome> {
  let view: ReportingView;
  try {
    view = await gp2gp.reportingStatus(practiceOds);
  } catch (err) {
    throw new OperationError(`the reporting workflow of ${practiceOds} does not answer (${(err as Error).message}); is the worker running?`, 1);
  }
  const pending = new Set(view.pendingDays);
  const inFlight = new Map<string, string>();
  for (const f of view.inFlight) for (const d of f.days) inFlight.set(d, f.submissionId);
  const skipped: ReplayOutcome['skipped'] = [];
  const send: string[] = [];
  for (const day of [...new Set(days)].sort()) {
    // A day that does not exist (from a submission made before days were checked) can never be sent.
    if (!isDay(day)) skipped.push({ day, reason: 'not a calendar date; it can never be sent' });
    else if (inFlight.has(day)) skipped.push({ day, reason: `being sent now by ${inFlight.get(day)}` });
    else if (!pending.has(day) && !force) skipped.push({ day, reason: 'delivered since (nothing changed); --force sends it again' });
    else send.push(day);
  }
  if (send.length === 0) return { practiceOds, replayOf, submissions: [], skipped };
  const result = await operatorUpdate(gp2gp.temporal, reportingWorkflowId(practiceOds), 'submit', (handle, updateId) =>
    handle.executeUpdate(submitUpdate, { updateId, args: [{ days: send }] }),
  );
  return { practiceOds, replayOf, submissions: result.submissions, skipped };
}

/** Temporal ended these without the submission's own code running to its end. */
const ENDED_FROM_OUTSIDE = new Set(['TERMINATED', 'TIMED_OUT', 'CANCELLED']);

/**
 * A submission terminated (e.g. from the Web UI), timed out or cancelled never reports back to its
 * reporting workflow, which would then keep its days "in flight" for ever and never send them again.
 * This tells it, with the same signal the submission sends at its end (finishing twice is a no-op).
 */
async function releaseEndedFromOutside(gp2gp: Gp2gpClient, s: SubmissionSummary): Promise<void> {
  if (!ENDED_FROM_OUTSIDE.has(s.executionStatus) || !s.practiceOds) return;
  const handle = gp2gp.temporal.workflow.getHandle(reportingWorkflowId(s.practiceOds));
  const view = await handle.query(reportingQuery);
  if (!view.inFlight.some((f) => f.submissionId === s.submissionId)) return;
  await handle.signal(submissionFinishedSignal, {
    submissionId: s.submissionId,
    status: 'failed',
    reason: s.reason ?? `workflow ${s.executionStatus.toLowerCase()}`,
    files: s.files,
    days: s.days,
  });
  // The next query sees the days released (a query runs after the signal that preceded it).
}

export async function replaySubmission(gp2gp: Gp2gpClient, submissionId: string, options: { force?: boolean } = {}): Promise<ReplayOutcome> {
  const s = await showSubmission(gp2gp.temporal, submissionId);
  if (s.status !== 'failed' && !options.force) {
    throw new OperationError(
      `submission ${submissionId} is ${s.status}, not failed; --force sends its days again (the Authority replaces the record set of each ODS + date)`,
      2,
    );
  }
  if (!s.practiceOds || s.days.length === 0) throw new OperationError(`submission ${submissionId} has no practice or days to replay`, 1);
  await releaseEndedFromOutside(gp2gp, s);
  return await replayDays(gp2gp, s.practiceOds, s.days, [submissionId], Boolean(options.force));
}

/** Replays every failed submission (optionally of one practice / since a time): one request per practice. */
export async function replayAllFailed(gp2gp: Gp2gpClient, filter: Omit<SubmissionFilter, 'failed'> = {}): Promise<ReplayOutcome[]> {
  const failed = await listSubmissions(gp2gp.temporal, { ...filter, failed: true }, { limit: 1000 });
  const byPractice = new Map<string, { days: Set<string>; ids: string[] }>();
  for (const s of failed) {
    if (!s.practiceOds) continue;
    await releaseEndedFromOutside(gp2gp, s);
    const entry = byPractice.get(s.practiceOds) ?? { days: new Set<string>(), ids: [] };
    for (const d of s.days) entry.days.add(d);
    entry.ids.push(s.submissionId);
    byPractice.set(s.practiceOds, entry);
  }
  const out: ReplayOutcome[] = [];
  for (const [ods, { days, ids }] of [...byPractice].sort(([a], [b]) => a.localeCompare(b))) {
    out.push(await replayDays(gp2gp, ods, [...days], ids, false));
  }
  return out;
}

// ---- transfers -----------------------------------------------------------------------------------

export interface TransferDetails {
  workflowId: string;
  side: Side;
  practiceOds: string;
  key: string;
  /** RUNNING, COMPLETED, … (Temporal's view). */
  executionStatus: string;
  stage: string;
  outcome: string;
  events: StoredEvent[];
  rows: { day: string; fields: string[] }[];
  /** Accepted but worth a look (e.g. a NACK code 0083.08 does not list), by event. */
  warnings: TransferWarning[];
  /** Where its MI goes (absent: mesh, a record from before issue 12). */
  outputs?: Outputs;
  /** With outputs api or both: its posts to the GP Registrations MI API. */
  apiDelivery?: ApiDeliveryView;
  /** While it holds rows of a day still open for the day's hand-over point: that instant (ISO 8601). */
  rowsHeldUntil?: string;
}

/**
 * One transfer record: RR by registration ID or SR by conversation ID (`side` decides when the same
 * key could be both). Live state from its query while running; once completed, from its result,
 * with the rows rebuilt by the same functions the workflow uses.
 */
export async function showTransfer(client: Client, practiceOds: string, key: string, side?: Side): Promise<TransferDetails> {
  assertOds(practiceOds);
  const sides: Side[] = side ? [side] : ['RR', 'SR'];
  const found: { side: Side; id: string; description: WorkflowExecutionDescription }[] = [];
  for (const s of sides) {
    const id = transferWorkflowId(s, practiceOds, s === 'SR' ? key.toUpperCase() : key);
    try {
      found.push({ side: s, id, description: await client.workflow.getHandle(id).describe() });
    } catch (err) {
      if (!(err instanceof WorkflowNotFoundError)) throw err;
    }
  }
  if (found.length === 0) throw new OperationError(`no ${side ?? 'RR or SR'} transfer record of ${practiceOds} with key ${key}`, 1);
  if (found.length > 1) throw new OperationError(`both an RR and an SR record of ${practiceOds} have key ${key}; say which with --side RR|SR`, 2);
  const { id, description } = found[0]!;
  const handle = client.workflow.getHandle(id);
  const base = { workflowId: id, executionStatus: description.status.name };
  if (description.status.name === 'COMPLETED') {
    const result = (await handle.result()) as TransferResult;
    const first = result.events[0];
    const recordKey = first ? recordKeyOf(first) : { side: found[0]!.side, practiceOds, key };
    return {
      ...base,
      side: recordKey.side,
      practiceOds: recordKey.practiceOds,
      key: recordKey.key,
      stage: transferProgress(recordKey.side, result.events).stage,
      outcome: result.outcome,
      events: result.events,
      rows: rowsByDay(recordKey.side, result.events),
      warnings: transferWarnings(result.events),
      // A run completes only with nothing left to post.
      ...(result.apiDelivery
        ? { apiDelivery: { status: result.apiDelivery.failed ? 'failed' : 'ok', posted: result.apiDelivery.posted.length, pending: 0, ...(result.apiDelivery.failed ? { failed: result.apiDelivery.failed } : {}) } }
        : {}),
    };
  }
  // Running (or ended some other way): the query replays the workflow's own answer.
  const view: TransferView = await handle.query(transferQuery);
  // A run from before warnings were in the query answers without them: derived from its events.
  const warnings = view.warnings ?? transferWarnings(view.events);
  return {
    ...base,
    side: view.side,
    practiceOds: view.practiceOds,
    key: view.key,
    stage: view.stage,
    outcome: view.outcome,
    events: view.events,
    rows: view.rows,
    warnings,
    ...(view.outputs ? { outputs: view.outputs } : {}),
    ...(view.apiDelivery ? { apiDelivery: view.apiDelivery } : {}),
    ...(view.rowsHeldUntil ? { rowsHeldUntil: view.rowsHeldUntil } : {}),
  };
}

// ---- posts to the GP Registrations MI API ----------------------------------------------------------

export interface FailedApiPost {
  workflowId: string;
  practiceOds: string;
  side: Side;
  key: string;
  /** The failed post (from the transfer's query); undefined if the transfer could not be asked. */
  failed?: ApiPostFailure;
  /** API events waiting (the failed one and those behind it). */
  pending?: number;
  /** Why the transfer could not be asked, if it could not. */
  error?: string;
}

/** Transfers with a failed API post (GP2GP_ApiDelivery = "failed"), each with its failure. */
export async function listFailedApiPosts(client: Client, filter: { practiceOds?: string } = {}, options: { limit?: number } = {}): Promise<FailedApiPost[]> {
  const query = visibility.failedApiPosts(filter.practiceOds ? assertOds(filter.practiceOds) : undefined);
  const limit = options.limit ?? 1000;
  const out: FailedApiPost[] = [];
  for await (const e of client.workflow.list({ query, pageSize: Math.min(limit, 1000) })) {
    if (e.status.name !== 'RUNNING') continue;
    try {
      const view = await client.workflow.getHandle(e.workflowId).query(transferQuery);
      // Visibility lags: a transfer replayed a moment ago is no longer failed.
      if (view.apiDelivery?.status !== 'failed') continue;
      out.push({
        workflowId: e.workflowId,
        practiceOds: view.practiceOds,
        side: view.side,
        key: view.key,
        ...(view.apiDelivery.failed ? { failed: view.apiDelivery.failed } : {}),
        pending: view.apiDelivery.pending,
      });
    } catch (err) {
      const practiceOds = String(e.searchAttributes?.GP2GP_PracticeOds?.[0] ?? '');
      const side = String(e.searchAttributes?.GP2GP_Side?.[0] ?? '') as Side;
      out.push({ workflowId: e.workflowId, practiceOds, side, key: '', error: (err as Error).message });
    }
    if (out.length >= limit) break;
  }
  return out;
}

export interface ApiReplayOutcome {
  workflowId: string;
  result?: ReplayApiPostsResult;
  error?: string;
}

/** Clears a transfer's failed API post so it (and the posts behind it) are tried again. */
export async function replayApiPosts(client: Client, workflowId: string): Promise<ApiReplayOutcome> {
  if (!/^gp2gp-(rr|sr)-\S+$/.test(workflowId)) throw new OperationError(`workflow id: ${JSON.stringify(workflowId)} is not allowed; allowed: a transfer workflow id (gp2gp-rr-… or gp2gp-sr-…)`, 2);
  try {
    const description = await client.workflow.getHandle(workflowId).describe();
    if (description.type !== transferWorkflowType) throw new OperationError(`${workflowId} is a ${description.type}, not a transfer workflow`, 2);
    if (description.status.name !== 'RUNNING') throw new OperationError(`${workflowId} is ${description.status.name.toLowerCase()}: only a running transfer has posts to replay`, 1);
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) throw new OperationError(`no workflow ${workflowId}`, 1);
    throw err;
  }
  return { workflowId, result: await operatorUpdate(client, workflowId, 'replay', (handle, updateId) => handle.executeUpdate(replayApiPostsUpdate, { updateId })) };
}

/** How long an operator's update may take, sent again while the server says it was not applied. */
const OPERATOR_UPDATE_MS = 60_000;

/**
 * An operator's update: sent again while the server says it was not applied (a run ending under it),
 * each attempt and the whole bounded by OPERATOR_UPDATE_MS, so a command never hangs with no worker.
 * The workflow's refusal (its validator) exits 2, no answer in time 1.
 */
async function operatorUpdate<T>(
  client: Client,
  workflowId: string,
  what: string,
  send: (handle: WorkflowHandle, updateId: string) => Promise<T>,
): Promise<T> {
  const deadline = Date.now() + OPERATOR_UPDATE_MS;
  try {
    return await sendUntilApplied((updateId) => client.withDeadline(deadline, () => send(client.workflow.getHandle(workflowId), updateId)), deadline);
  } catch (err) {
    if (err instanceof WorkflowUpdateFailedError) throw new OperationError(`${workflowId}: ${err.cause?.message ?? err.message}`, 2);
    if (updateNotTakenInTime(err)) {
      throw new OperationError(`${workflowId} did not take the ${what} within ${OPERATOR_UPDATE_MS / 1000} s; is a worker running? It may still run when one starts`, 1);
    }
    throw err;
  }
}

/** Replays every failed API post of a practice (or of every practice). */
export async function replayFailedApiPosts(client: Client, filter: { practiceOds?: string } = {}): Promise<ApiReplayOutcome[]> {
  const failed = await listFailedApiPosts(client, filter);
  const out: ApiReplayOutcome[] = [];
  for (const f of failed) {
    try {
      out.push(await replayApiPosts(client, f.workflowId));
    } catch (err) {
      out.push({ workflowId: f.workflowId, error: (err as Error).message });
    }
  }
  return out;
}

/** Transfer workflows found by a visibility query (e.g. visibility.transferByConversationId). */
export async function findWorkflows(client: Client, query: string, limit = 100): Promise<{ workflowId: string; type: string; status: string }[]> {
  const out: { workflowId: string; type: string; status: string }[] = [];
  for await (const e of client.workflow.list({ query, pageSize: Math.min(limit, 1000) })) {
    out.push({ workflowId: e.workflowId, type: e.type, status: e.status.name });
    if (out.length >= limit) break;
  }
  return out;
}

// ---- practices -----------------------------------------------------------------------------------

export type PracticeStatus = ({ practiceOds: string; ok: true } & ReportingView) | { practiceOds: string; ok: false; error: string };

/** The reporting state of every configured practice (or the given ones). */
export async function practicesStatus(gp2gp: Gp2gpClient, practices: string[]): Promise<PracticeStatus[]> {
  return await Promise.all(
    practices.map(async (ods): Promise<PracticeStatus> => {
      try {
        return { ok: true, ...(await gp2gp.reportingStatus(ods)), practiceOds: ods };
      } catch (err) {
        return { practiceOds: ods, ok: false, error: (err as Error).message };
      }
    }),
  );
}
