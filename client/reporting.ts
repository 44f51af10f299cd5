/**
 * Starting a practice's reporting workflow: the one place it happens, for the worker's start-up (every
 * configured practice), a transfer's row forward (activities) and a client's `submit`. Its start input
 * comes from configuration and must be the same wherever it is started, so it is built here too.
 */
import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import type { Config } from '../config';
import { reportingWorkflowType, rowsSignal, type ReportingInput, type ReportingWorkflow } from '../messages/reporting';
import type { PracticeSettings } from '../mi/practices';
import type { TransferSummary } from '../mi/outcomes';
import type { DayRow } from '../mi/record-set';
import { reportingWorkflowId } from '../workflows/ids';

/** The start input of a practice's reporting workflow; the practice's own cadence when it has one. */
export function reportingInput(config: Config, practice: PracticeSettings | undefined, practiceOds: string): ReportingInput {
  const cadence = practice?.cadence ?? config.pipeline.cadence;
  return {
    practiceOds,
    ...(config.pipeline.firstDay ? { firstDay: config.pipeline.firstDay } : {}),
    options: {
      cadence,
      correctionWindowDays: config.pipeline.correctionWindowDays,
      submission: {
        trackingIntervalMs: config.pipeline.trackingIntervalMs,
        trackingMaxIntervalMs: config.pipeline.trackingMaxIntervalMs,
        deliveryDeadlineMs: config.pipeline.deliveryDeadlineMs,
      },
      ...(config.pipeline.reportingSignalsPerRun ? { signalsPerRun: config.pipeline.reportingSignalsPerRun } : {}),
    },
  };
}

/**
 * Makes sure the practice's reporting workflow runs (starting one that already runs is a no-op) and,
 * with `rows`, hands them to it in the same call (signal-with-start), so no row waits for a start.
 * `summaries` (transfers' outcomes) go with the rows, as the signal's second argument only when there
 * are any, so a hand-over without them is the signal earlier versions sent.
 */
export async function startReporting(
  client: Client,
  config: Config,
  practiceOds: string,
  options: { practice?: PracticeSettings | undefined; rows?: DayRow[]; summaries?: TransferSummary[] | undefined } = {},
): Promise<void> {
  const start = {
    workflowId: reportingWorkflowId(practiceOds),
    taskQueue: config.temporal.reportingTaskQueue,
    args: [reportingInput(config, options.practice, practiceOds)] as [ReportingInput],
    staticSummary: `GP2GP MI reporting for practice ${practiceOds}`,
  };
  if (options.rows) {
    const signalArgs: [DayRow[], TransferSummary[]?] = options.summaries?.length ? [options.rows, options.summaries] : [options.rows];
    await client.workflow.signalWithStart<ReportingWorkflow, [DayRow[], TransferSummary[]?]>(reportingWorkflowType, { ...start, signal: rowsSignal, signalArgs });
    return;
  }
  try {
    await client.workflow.start<ReportingWorkflow>(reportingWorkflowType, { ...start, workflowIdConflictPolicy: 'USE_EXISTING' });
  } catch (err) {
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
  }
}
