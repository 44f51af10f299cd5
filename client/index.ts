/**
 * The TypeScript hooks client: what a GP system (or our HTTP API and CLI) calls as each GP2GP stage
 * happens. Each event is validated here with the same rules the workflow applies, given its eventId,
 * and delivered with update-with-start, so the first event of a record starts its transfer workflow.
 * A caller learns per event: accepted, duplicate (already recorded), or refused with the reason.
 */
import {
  Client,
  WithStartWorkflowOperation,
  WorkflowExecutionAlreadyStartedError,
  WorkflowUpdateFailedError,
} from '@temporalio/client';
import { loadConfig, type Config } from '../config';
import { connectTemporalClient } from '../config/temporal';
import { recordKeyOf, validateEvent, type FieldProblem, type FieldWarning } from '../mi/events';
import { withEventId } from '../mi/event-id';
import { dayRefusal } from '../mi/formats';
import { loadPractices, outputsOf, type PracticeSettings } from '../mi/practices';
import { reportsToApi } from '../mi/outputs';
import { mapConcurrent } from './concurrency';
import { startReporting } from './reporting';
import { sendUntilApplied, updateNotApplied, updateNotTakenInTime } from './updates';
import { reportingWorkflowId, transferWorkflowId } from '../workflows/ids';
import { eventAgeRefusal } from '../mi/transfer';
import { recordEventUpdate, transferWorkflowType, type StoredEvent, type TransferOptions, type TransferWorkflow } from '../messages/transfer';
import { consoleQuery, reportingQuery, submitUpdate, type ConsoleRequest, type PracticeConsoleView, type ReportingView, type SubmitResult } from '../messages/reporting';

export type EventOutcome =
  /** `warnings`: recorded as sent, but worth a look (e.g. a NACK code 0083.08 does not list); only when any. */
  | { status: 'accepted' | 'duplicate'; eventId: string; workflowId: string; warnings?: FieldWarning[] }
  | { status: 'refused'; message: string; problems: FieldProblem[]; eventId?: string };

/** A request refused for what it asked (bad input), as opposed to a failure to reach Temporal. */
export class RequestRefusedError extends Error {
  override name = 'RequestRefusedError';
  readonly exitCode = 2;
}

export interface RecordOptions {
  /** The caller's deadline for the answer (e.g. the HTTP request's); default: now + the client's timeoutMs. */
  deadline?: Date | number;
}

export interface Gp2gpClientOptions {
  taskQueue: string;
  /** ODS codes this service reports for; events of other practices are refused. */
  practices: string[];
  /** Their settings, when known (a reporting workflow started from here gets the practice's cadence). */
  practiceSettings?: PracticeSettings[];
  config: Config;
  /** Longest wait for one event's answer (default 30 s); past it, recordEvent throws (not refused). */
  timeoutMs?: number;
}

export class Gp2gpClient {
  private readonly practices: Set<string>;

  constructor(
    readonly temporal: Client,
    private readonly options: Gp2gpClientOptions,
  ) {
    this.practices = new Set(options.practices);
  }

  /** Connects with the environment's configuration (see README, "Configuration"). */
  static async connect(config: Config = loadConfig()): Promise<Gp2gpClient> {
    // The same data converter as the worker: with encryption on, events never reach history in clear.
    const client = await connectTemporalClient(config);
    const practiceSettings = loadPractices(config.practicesFile);
    return new Gp2gpClient(client, { taskQueue: config.temporal.taskQueue, practices: practiceSettings.map((p) => p.ods), practiceSettings, config });
  }

  async close(): Promise<void> {
    await this.temporal.connection.close();
  }

  /**
   * Validates and records one hook event. Throws only when Temporal cannot be reached in time: by
   * `options.deadline` when given (the HTTP API passes its request's), else within the client's
   * `timeoutMs` (30 s). The caller's deadline replaces the client's, it is never stretched by it.
   */
  async recordEvent(input: unknown, options: RecordOptions = {}): Promise<EventOutcome> {
    const checked = validateEvent(input);
    if (!checked.ok) return { status: 'refused', message: checked.message, problems: checked.problems };
    const event = withEventId(checked.event) as StoredEvent;
    const { side, practiceOds, key } = recordKeyOf(event);
    if (!this.practices.has(practiceOds)) {
      const problem: FieldProblem = {
        field: 'practiceOds',
        value: practiceOds,
        allowed: `a practice configured for this service (${[...this.practices].sort().join(', ')})`,
        message: `practiceOds: ${practiceOds} is not a practice configured for this service`,
      };
      return { status: 'refused', message: problem.message, problems: [problem], eventId: event.eventId };
    }
    const tooOld = eventAgeRefusal(event.occurredAt, Date.now(), this.options.config.pipeline.correctionWindowDays);
    if (tooOld) return { status: 'refused', message: tooOld.message, problems: [tooOld], eventId: event.eventId };
    const workflowId = transferWorkflowId(side, practiceOds, key);
    // Bounded: with Temporal up but no worker polling, an update would otherwise wait for ever.
    const deadline = Number(options.deadline ?? Date.now() + (this.options.timeoutMs ?? 30_000));
    // An event that reached its run just as it ended, or a worker that did not answer it, was not
    // applied: sent again it reaches the (next) run. Past the deadline: UpdateNotAppliedError.
    return await sendUntilApplied((updateId) => this.sendEvent(event, workflowId, deadline, checked.warnings, updateId), deadline);
  }

  /**
   * One update-with-start. A new run is first started only if Temporal holds no closed run of the
   * record (REJECT_DUPLICATE), telling it so: a brand-new transfer, most of them, then skips the
   * visibility lookup for earlier events. Refused because a closed run exists (a late event reopening
   * a completed record), it is started anyway, told to look. A running run takes the update either way.
   */
  private async sendEvent(event: StoredEvent, workflowId: string, deadline: number, warnings: FieldWarning[] | undefined, updateId: string): Promise<EventOutcome> {
    try {
      return await this.sendEventOnce(event, workflowId, deadline, warnings, updateId, false);
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
      return await this.sendEventOnce(event, workflowId, deadline, warnings, updateId, true);
    }
  }

  private async sendEventOnce(
    event: StoredEvent,
    workflowId: string,
    deadline: number,
    warnings: FieldWarning[] | undefined,
    updateId: string,
    reopened: boolean,
  ): Promise<EventOutcome> {
    const { side, practiceOds, key } = recordKeyOf(event);
    try {
      const result = await this.temporal.withDeadline(deadline, () => this.temporal.workflow.executeUpdateWithStart(recordEventUpdate, {
        // One update id per call, not from the event: the workflow itself recognises an event the GP
        // system sends again and answers "duplicate", which tells it more than replaying the first
        // answer would; this call's own resends (sendUntilApplied) get the first answer.
        updateId,
        args: [event],
        startWorkflowOperation: new WithStartWorkflowOperation<TransferWorkflow>(transferWorkflowType, {
          workflowId,
          taskQueue: this.options.taskQueue,
          args: [
            {
              side,
              practiceOds,
              key,
              reopened,
              options: {
                finalQuietMs: this.options.config.pipeline.transferFinalQuietMs,
                idleMs: this.options.config.pipeline.transferIdleMs,
                maxEventAgeDays: this.options.config.pipeline.correctionWindowDays,
                ...this.handOverOptions(),
                ...(this.options.config.pipeline.transferEventsPerRun ? { eventsPerRun: this.options.config.pipeline.transferEventsPerRun } : {}),
                ...this.outputsOf(practiceOds),
              },
            },
          ],
          workflowIdConflictPolicy: 'USE_EXISTING',
          workflowIdReusePolicy: reopened ? 'ALLOW_DUPLICATE' : 'REJECT_DUPLICATE',
          staticSummary: `GP2GP ${side} record of practice ${practiceOds}`,
        }),
      }));
      return { status: result.outcome, eventId: result.eventId, workflowId, ...(warnings ? { warnings } : {}) };
    } catch (err) {
      // The workflow's validator refused the event; the server's own rejections are sent again above.
      if (err instanceof WorkflowUpdateFailedError && !updateNotApplied(err)) {
        const message = err.cause?.message ?? err.message;
        return { status: 'refused', message, problems: [], eventId: event.eventId };
      }
      throw err;
    }
  }

  /** When a new transfer hands over the rows of a day still open (GP2GP_HAND_OVER_AT, _SPREAD_SECONDS). */
  private handOverOptions(): Pick<TransferOptions, 'handOverAtMs' | 'handOverSpreadMs'> {
    const { handOverAtMs, handOverSpreadMs } = this.options.config.pipeline;
    if (handOverAtMs === undefined) return {};
    return { handOverAtMs, ...(handOverSpreadMs > 0 ? { handOverSpreadMs } : {}) };
  }

  /**
   * Where a new transfer of this practice reports (its `outputs`, else GP2GP_OUTPUTS), and the API's
   * reportingSystemSupplier when that includes the API. Fixed for the transfer's run.
   */
  private outputsOf(practiceOds: string): Pick<TransferOptions, 'outputs' | 'reportingSystemSupplier'> {
    const { registrationsApi } = this.options.config;
    const outputs = outputsOf(this.options.practiceSettings?.find((p) => p.ods === practiceOds), registrationsApi.outputs);
    return { outputs, ...(reportsToApi(outputs) ? { reportingSystemSupplier: registrationsApi.reportingSystemSupplier } : {}) };
  }

  /** Records many events with bounded concurrency; outcomes in input order. */
  async recordEvents(inputs: readonly unknown[], options: { concurrency?: number } & RecordOptions = {}): Promise<EventOutcome[]> {
    const record: RecordOptions = options.deadline === undefined ? {} : { deadline: options.deadline };
    return await mapConcurrent(inputs, options.concurrency ?? 32, (input) => this.recordEvent(input, record));
  }

  /** Submits now: every due day of the practice(s), or the given closed days. */
  async submit(
    options: { practiceOds?: string; days?: string[] } = {},
    { timeoutMs = 60_000 }: { timeoutMs?: number } = {},
  ): Promise<{ practiceOds: string; result: SubmitResult }[]> {
    // Refused here, before any call: an impossible day (2026-02-30) would otherwise reach the workflow.
    for (const day of options.days ?? []) {
      const refused = dayRefusal('day', day);
      if (refused) throw new RequestRefusedError(refused);
    }
    const targets = options.practiceOds ? [options.practiceOds] : [...this.practices].sort();
    const out: { practiceOds: string; result: SubmitResult }[] = [];
    for (const ods of targets) {
      if (!this.practices.has(ods)) throw new RequestRefusedError(`practice ${ods} is not configured for this service`);
      // The reporting workflow normally exists from the worker's start; this covers a fresh cluster.
      await startReporting(this.temporal, this.options.config, ods, { practice: this.options.practiceSettings?.find((p) => p.ods === ods) });
      let result: SubmitResult;
      try {
        // Bounded: with no worker polling, the update would otherwise wait for ever (and the CLI with it).
        // Sent again if it reached the reporting run as it continued as new (a short run ending once quiet).
        const deadline = Date.now() + timeoutMs;
        result = await sendUntilApplied(
          (updateId) =>
            this.temporal.withDeadline(deadline, () =>
              this.temporal.workflow.getHandle(reportingWorkflowId(ods)).executeUpdate(submitUpdate, { updateId, args: [options.days ? { days: options.days } : {}] }),
            ),
          deadline,
        );
      } catch (err) {
        // The reporting workflow's validator explains a refused request (e.g. a day not over yet).
        if (err instanceof WorkflowUpdateFailedError) throw new RequestRefusedError(`${ods}: ${err.cause?.message ?? err.message}`);
        if (updateNotTakenInTime(err)) {
          throw new Error(
            `${ods}: the reporting workflow did not take the submit within ${timeoutMs / 1000} s; is a worker running on task queue ` +
              `${this.options.config.temporal.reportingTaskQueue} (practices' reporting)? The submit may still run when one starts: see \`gp2gp-mi practices status --practice ${ods}\``,
          );
        }
        throw err;
      }
      out.push({ practiceOds: ods, result });
    }
    return out;
  }

  async reportingStatus(practiceOds: string): Promise<ReportingView> {
    return await this.temporal.workflow.getHandle(reportingWorkflowId(practiceOds)).query(reportingQuery);
  }

  /**
   * A practice's picture for the operators' console (issue 15): its calendar of days and its transfer
   * outcomes, from its reporting workflow. Many practices, and the counts: client/outcomes.ts.
   */
  async practiceConsole(practiceOds: string, request: ConsoleRequest = {}): Promise<PracticeConsoleView> {
    return await this.temporal.workflow.getHandle(reportingWorkflowId(practiceOds)).query(consoleQuery, { now: new Date().toISOString(), ...request });
  }
}
