/**
 * Activities: all I/O of the pipeline (Temporal client calls, MESH, rendering CSV), implementing the
 * activity interfaces of messages/ (workflows never import this module). Each activity is safe to
 * retry: forwarding rows is idempotent by row sequence, sending looks its MESH local id up before
 * sending, acknowledging twice is harmless.
 * A fault no retry can fix (MESH refusing our credentials or the recipient, MESH settings missing, a
 * record set that cannot be rendered, an unknown practice) ends the attempt at once as a
 * non-retryable ApplicationFailure with its reason, instead of being retried for ever.
 */
import * as fs from 'node:fs';
import { Context, ApplicationFailure } from '@temporalio/activity';
import type { MetricMeter } from '@temporalio/common';
import { METRICS } from '../observability/metric-names';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { Config } from '../config';
import { meshClientFromConfig } from '../config/mesh';
import { connectTemporalClient } from '../config/temporal';
import { MeshClient, MeshAuthError, MeshConfigError, MeshConflictError, MeshSendRefusedError, MeshNotFoundError, MeshGoneError } from '../mesh';
import { loadPractices, type PracticeSettings } from '../mi/practices';
import { recordSetFromRows, type RecordSet } from '../mi/record-set';
import type { EndedSubmission, FindEndedSubmissionsInput, ForwardRowsInput, ReportingActivities } from '../messages/reporting';
import type { SendSubmissionFilesInput, SentFile, SubmissionActivities, TrackedMessage, TrackMessagesInput } from '../messages/submission';
import { meshLocalId, submissionOfLocalId } from '../workflows/ids';
import type { AcknowledgeMessagesInput, InboxActivities, InboxItem, InboxPage, PollInboxInput } from '../messages/inbox';
import { inboxItem, readInboxMessage } from './inbox-messages';
import { RenderError, withScratchDir, writeRecordSetFiles, type WrittenFile } from './submission-files';
import { startReporting } from '../client/reporting';
import { RowsHandOver } from './rows-hand-over';
import {
  API_ANSWER_LOST,
  API_POST_REFUSED,
  type PostApiEventInput,
  type PostApiEventResult,
  type PreviousRun,
  type RestorePreviousRecordInput,
  type StoredEvent,
  type TransferActivities,
  type TransferResult,
} from '../messages/transfer';
import { RegistrationsApiClient, RegistrationsApiError } from '../registrations-api/client';
import { registrationsApiTarget } from '../config/registrations-api';

export interface ActivityDeps {
  client?: Client;
  mesh?: MeshClient;
  practices?: PracticeSettings[];
  registrationsApi?: RegistrationsApiClient;
  /** The worker's metric meter, for what no single activity sees (forwards per hand-over signal). */
  meter?: MetricMeter;
  /** How long one hand-over signal may take (default HAND_OVER_DEADLINE_MS, 20 s). */
  handOverDeadlineMs?: number;
}


/** How long one hand-over signal may take before its forwards fail and are retried. */
const HAND_OVER_DEADLINE_MS = 20_000;

/** MESH faults no retry can fix end the activity at once, with the reason. */
function permanent(err: unknown): never {
  // MeshConflictError: two messages share our local id (MESH answers 300), which no retry resolves.
  if (err instanceof MeshAuthError || err instanceof MeshConfigError || err instanceof MeshSendRefusedError || err instanceof MeshConflictError) {
    throw ApplicationFailure.nonRetryable(err.message, err.name);
  }
  throw err;
}

const fileExists = (file: string): Promise<boolean> =>
  fs.promises.access(file).then(
    () => true,
    () => false,
  );

/** Record sets that cannot be rendered: a fault of the rows, so no retry (the submission ends failed with it). */
function renderFailed(err: unknown): ApplicationFailure {
  return ApplicationFailure.nonRetryable(`the record sets cannot be rendered: ${(err as Error).message}`, 'RenderFailed');
}

/**
 * Runs a long activity while heartbeating every few seconds: a worker that dies mid-send stops
 * heartbeating, so Temporal retries the activity elsewhere within its heartbeat timeout (30 s)
 * instead of waiting for the whole start-to-close timeout. A call that hangs in a live worker is
 * bounded by the MESH client's own timeouts.
 */
async function withHeartbeats<T>(fn: (progress: (details: unknown) => void) => Promise<T>): Promise<T> {
  const context = Context.current();
  let details: unknown;
  const timer = setInterval(() => context.heartbeat(details), 5_000);
  try {
    return await fn((d) => {
      details = d;
      context.heartbeat(d);
    });
  } finally {
    clearInterval(timer);
  }
}

export function createActivities(
  config: Config,
  deps: ActivityDeps = {},
): TransferActivities & ReportingActivities & SubmissionActivities & InboxActivities {
  let client: Promise<Client> | undefined = deps.client ? Promise.resolve(deps.client) : undefined;
  let mesh: MeshClient | undefined = deps.mesh;
  const practices: PracticeSettings[] | undefined = deps.practices;

  const temporal = () =>
    // The worker's data converter: with encryption on, forwarded rows never reach history in clear.
    (client ??= connectTemporalClient(config));
  const meshClient = () => {
    try {
      return (mesh ??= meshClientFromConfig(config));
    } catch (err) {
      // Missing settings or unreadable certificate files: no retry of this worker can fix them.
      throw ApplicationFailure.nonRetryable(`MESH client: ${(err as Error).message}`, 'MeshConfigError');
    }
  };
  let registrationsApi: RegistrationsApiClient | undefined = deps.registrationsApi;
  const registrationsApiClient = () => {
    if (registrationsApi) return registrationsApi;
    // GP2GP_REGISTRATIONS_API_URL + _KEY, else the embedded stand-in with its generated key.
    const target = registrationsApiTarget(config);
    if (!target.apiKey) {
      throw ApplicationFailure.nonRetryable('GP2GP_REGISTRATIONS_API_KEY is not set: the worker has no API key for the GP Registrations MI API', API_POST_REFUSED);
    }
    return (registrationsApi = new RegistrationsApiClient({ baseUrl: target.url, apiKey: target.apiKey }));
  };
  /** The previous completed run's result, if any (undefined: a record seen for the first time). */
  const previousResult = async (input: RestorePreviousRecordInput): Promise<TransferResult | undefined> => {
    const c = await temporal();
    const query = `WorkflowId = '${input.workflowId.replaceAll("'", "\\'")}' AND ExecutionStatus = 'Completed'`;
    for await (const execution of c.workflow.list({ query, pageSize: 1 })) {
      if (execution.runId === input.runId) continue;
      try {
        return (await c.workflow.getHandle(input.workflowId, execution.runId).result()) as TransferResult;
      } catch (err) {
        if (err instanceof WorkflowNotFoundError) return undefined;
        throw err;
      }
    }
    return undefined;
  };
  let byOds: Map<string, PracticeSettings> | undefined;
  const practicesById = () => (byOds ??= new Map((practices ?? loadPractices(config.practicesFile)).map((p) => [p.ods, p])));
  const practice = (ods: string): PracticeSettings => {
    const p = practicesById().get(ods);
    if (!p) throw ApplicationFailure.nonRetryable(`practice ${ods} is not configured in ${config.practicesFile}`, 'UnknownPractice');
    return p;
  };

  // One per worker process: forwards for the same practice that wait together share a signal.
  const forwardsPerSignal = deps.meter?.createHistogram(METRICS.rowsHandOverForwards, 'int', 'forwards', 'transfer forwards per signal to a reporting workflow');
  const rowsHandOver = new RowsHandOver(async (batch) => {
    // The worker passes its connected client, so this is at once. A deadline on the call: a hung one
    // would hold every forward of the practice behind it. A forward may wait for the signal before
    // its own, so twice this stays inside the local activity's minute; failed, they are retried.
    const c = await temporal();
    await c.withDeadline(Date.now() + (deps.handOverDeadlineMs ?? HAND_OVER_DEADLINE_MS), () =>
      startReporting(c, config, batch.practiceOds, {
        practice: practicesById().get(batch.practiceOds),
        rows: batch.rows,
        summaries: batch.summaries,
      }),
    );
    forwardsPerSignal?.record(batch.forwards);
  });

  return {
    /** Hands changed rows (and the transfers' outcome summaries) to the practice's reporting workflow, starting it if needed. */
    async forwardRows(input: ForwardRowsInput): Promise<void> {
      await rowsHandOver.forward(input, Context.current().cancellationSignal);
    },

    /**
     * The events of the last completed run of a transfer workflow, so a record reopened by a late
     * event keeps its history. Empty for a record seen for the first time.
     */
    async restorePreviousRecord(input: RestorePreviousRecordInput): Promise<StoredEvent[]> {
      return (await previousResult(input))?.events ?? [];
    },

    /** restorePreviousRecord for a record reporting to the API: also what the previous run posted. */
    async restorePreviousRun(input: RestorePreviousRecordInput): Promise<PreviousRun> {
      const result = await previousResult(input);
      return { events: result?.events ?? [], ...(result?.apiDelivery ? { apiDelivery: result.apiDelivery } : {}) };
    },

    /**
     * Posts one API event. A refusal (4xx other than 429, no API key) fails for good with the API's
     * message; 429, 5xx, resets and timeouts are retried by Temporal (capped backoff). An attempt whose
     * answer was lost after sending fails as API_ANSWER_LOST: the next attempt may repeat the event at
     * the API (counted by the activity interceptor). The key and the body never reach a message.
     */
    async postApiEvent(input: PostApiEventInput): Promise<PostApiEventResult> {
      const api = registrationsApiClient();
      try {
        const { status } = await api.post(input.event);
        return { status };
      } catch (err) {
        if (!(err instanceof RegistrationsApiError)) throw err;
        const details = [{ endpoint: input.event.endpoint, code: err.details.code }];
        if (!err.retryable) throw ApplicationFailure.nonRetryable(err.message, API_POST_REFUSED, ...details);
        throw ApplicationFailure.retryable(err.message, err.answerLost ? API_ANSWER_LOST : 'ApiUnavailable', ...details);
      }
    },

    /**
     * Renders the record sets into files (≤ 50 MB, split after an FR) and sends each over MESH once.
     * The files are written to a scratch folder one record set at a time and MESH reads them back chunk
     * by chunk, so a large submission does not hold its whole CSV in memory.
     */
    async sendSubmissionFiles(input: SendSubmissionFilesInput): Promise<SentFile[]> {
      const settings = practice(input.practiceOds);
      let sets: RecordSet[];
      try {
        sets = input.recordSets.map((s) => recordSetFromRows(settings, s.day, s.rows));
      } catch (err) {
        throw renderFailed(err);
      }
      return await withScratchDir(async (dir) => {
        let files: WrittenFile[];
        try {
          files = await writeRecordSetFiles(sets, dir);
        } catch (err) {
          // Rendering is a pure function of these rows: what cannot be rendered now never will be.
          // A disk fault (RenderError aside) is retried like any other.
          if (err instanceof RenderError) throw renderFailed(err);
          throw err;
        }
        const m = meshClient();
        const sent: SentFile[] = [];
        return await withHeartbeats(async (progress) => {
          for (const [index, file] of files.entries()) {
            progress({ file: index });
            const localId = meshLocalId(input.submissionId, index);
            const rows = file.recordSets.reduce((n, s) => n + s.rows.length, 0);
            try {
              // A retried activity must not send again: MeshClient.send looks the local id up first and
              // reuses the message an earlier attempt created.
              const { messageId } = await m.send({
                to: config.mesh.to,
                workflowId: config.mesh.workflowId,
                body: { file: file.path },
                localId,
                fileName: file.fileName,
                subject: `GP2GP MI ${input.practiceOds} ${input.recordSets[0]?.day ?? ''}`.trim(),
                contentType: 'text/csv',
              });
              sent.push({ fileName: file.fileName, localId, messageId, bytes: file.bytes, rows });
            } catch (err) {
              // Our own scratch file gone (a temp cleaner, a full disk) is not MESH's configuration:
              // the next attempt renders it again.
              if (err instanceof MeshConfigError && !(await fileExists(file.path))) throw ApplicationFailure.retryable(`the rendered file went missing: ${err.message}`, 'RenderedFileMissing');
              permanent(err);
            }
          }
          return sent;
        });
      });
    },

    /** Which of these submission workflows ended without a word (terminated, timed out, cancelled)? */
    async findEndedSubmissions(input: FindEndedSubmissionsInput): Promise<EndedSubmission[]> {
      const c = await temporal();
      const ended: EndedSubmission[] = [];
      for (const submissionId of input.submissionIds) {
        try {
          const { status } = await c.workflow.getHandle(submissionId).describe();
          if (status.name !== 'RUNNING') ended.push({ submissionId, status: status.name.toLowerCase() });
        } catch (err) {
          if (err instanceof WorkflowNotFoundError) ended.push({ submissionId, status: 'not found' });
          else throw err;
        }
      }
      return ended;
    },

    async trackMessages(input: TrackMessagesInput): Promise<TrackedMessage[]> {
      const m = meshClient();
      const out: TrackedMessage[] = [];
      for (const messageId of input.messageIds) {
        try {
          const t = await m.track(messageId);
          out.push({ messageId, status: t.status, ...(t.statusDescription ? { description: t.statusDescription } : {}) });
        } catch (err) {
          if (err instanceof MeshGoneError) out.push({ messageId, status: 'expired', description: err.message });
          else if (err instanceof MeshNotFoundError) out.push({ messageId, status: 'unknown' });
          else permanent(err);
        }
      }
      return out;
    },

    /** One page of our inbox, each message classified; bodies stay here, only metadata goes to history. */
    async pollInbox(input: PollInboxInput): Promise<InboxPage> {
      const m = meshClient();
      // Only our workflow's messages (reports about them and `<ours>_ACK`): other workflows sharing
      // the mailbox are left alone for whoever reads them.
      // Authentication or configuration faults end the attempt at once: the inbox workflow says so and polls later.
      const page = await m.inboxPage({ maxResults: input.maxResults, workflowFilter: `${config.mesh.workflowId}*` }).catch(permanent);
      const items: InboxItem[] = [];
      return await withHeartbeats(async (progress) => {
        for (const messageId of page.messageIds) {
          progress({ messageId });
          try {
            const { metadata, body } = await m.download(messageId);
            const reading = readInboxMessage(metadata, body.toString('utf8'), config.mesh.workflowId);
            const submissionId = reading.kind === 'other' ? undefined : await submissionOf(m, reading.aboutMessageId, metadata.localId);
            items.push(inboxItem(metadata, reading, submissionId));
          } catch (err) {
            // Expired or failed on MESH's side: keep it visible as unroutable instead of retrying for ever.
            if (!(err instanceof MeshGoneError || err instanceof MeshNotFoundError)) permanent(err);
            items.push({ messageId, kind: 'other', description: `download failed: ${err.message}` });
          }
        }
        return { items, full: page.messageIds.length >= input.maxResults };
      });
    },

    async acknowledgeMessages(input: AcknowledgeMessagesInput): Promise<void> {
      const m = meshClient();
      for (const id of input.messageIds) {
        try {
          await m.acknowledge(id);
        } catch (err) {
          if (!(err instanceof MeshNotFoundError || err instanceof MeshGoneError)) permanent(err);
        }
      }
    },
  };
}

/** The submission behind one of our messages: from its local id, else MESH's tracking of the message. */
async function submissionOf(mesh: MeshClient, aboutMessageId: string | undefined, localId: string | undefined): Promise<string | undefined> {
  if (localId && submissionOfLocalId(localId)) return submissionOfLocalId(localId);
  if (!aboutMessageId) return undefined;
  try {
    const tracked = await mesh.track(aboutMessageId);
    return tracked.localId ? submissionOfLocalId(tracked.localId) : undefined;
  } catch (err) {
    // Not ours (or gone): unroutable. Anything else (transient) makes the poll retry.
    if (err instanceof MeshNotFoundError || err instanceof MeshGoneError) return undefined;
    throw err;
  }
}
