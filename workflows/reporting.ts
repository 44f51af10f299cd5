/**
 * One long-lived reporting workflow per practice. It holds the rows of the days it has not yet
 * delivered (and, for a while, of the days it has, so a late event can be answered with a complete
 * corrected record set), and at the practice's cadence starts a submission for every due day —
 * including days with no activity, which still get HR + FR (MI07). Delivered days leave its state
 * after the correction window; continue-as-new keeps the history small.
 *
 * This file only wires messages, timers and child workflows to PracticeReporting
 * (workflows/practice-reporting.ts), which owns the state and every decision.
 */
import {
  allHandlersFinished,
  condition,
  continueAsNew,
  metricMeter,
  ParentClosePolicy,
  patched,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  startChild,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import {
  consoleQuery,
  reportingQuery,
  rowsSignal,
  TRANSFERS_JUDGED_METRIC,
  submissionFinishedSignal,
  submissionRejectedSignal,
  submitUpdate,
  type ReportingActivities,
  type ReportingInput,
  type SubmitResult,
} from '../messages/reporting';
import { reportingWorkflowId, submissionId } from './ids';
import { PracticeReporting } from './practice-reporting';
import { practiceOdsKey } from './search-attributes';
import { submissionWorkflow } from './submission';

const { findEndedSubmissions } = proxyActivities<ReportingActivities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '5 seconds', maximumInterval: '5 minutes' },
});

export async function reportingWorkflow(input: ReportingInput): Promise<void> {
  const ods = input.practiceOds;
  // Runs are short now (see SIGNALS_PER_RUN): a run that began before keeps its longer limit while it
  // replays, and takes the short one at its first live signal or wake — patched() answers false only
  // for the part of its history made before, so that part replays as it ran.
  const shortRuns = () => patched('reporting-short-runs');
  const reporting = new PracticeReporting(input, {
    runTag: `r${workflowInfo().firstExecutionRunId.replaceAll('-', '').slice(-6)}`,
    now: Date.now(),
    shortRuns: shortRuns(),
  });
  const adoptShortRuns = () => {
    if (shortRuns()) reporting.useShortRuns();
  };

  // Refreshed whenever the state changes (each signal, update and wake), not only when the workflow
  // wakes. Not a history command, so replay-safe.
  const showDetails = () => {
    const details = reporting.changedDetails(Date.now());
    if (details !== undefined) setCurrentDetails(details);
  };

  // Transfers counted for good (judged), by role and class; metrics are not emitted on replay, so
  // each counts once. No practice label: the console has the per-practice picture.
  const countJudged = () => {
    const judged = reporting.takeJudged();
    if (!judged.length) return;
    const counter = metricMeter.createCounter(TRANSFERS_JUDGED_METRIC, 'transfers', 'GP2GP transfers counted for good after the 14-day judgement, by role and class');
    for (const j of judged) counter.add(j.count, { side: j.side, outcome: j.outcome });
  };

  // A run holding an impossible day (accepted before the submit validator checked days) drops it.
  // patched() only where there is one, so no other history gets a marker.
  const dropImpossibleDays = () => {
    if (reporting.holdsImpossibleDays() && patched('drop-impossible-days')) reporting.dropImpossibleDays(Date.now());
  };

  const startSubmissions = async (days: string[]): Promise<SubmitResult> => {
    // Planned (and marked in flight) before the first await, so a concurrent submit or cadence turn
    // cannot pick the same days.
    const planned = reporting.plan(days, (first, last, sequence) => submissionId(ods, first, last, reporting.runTag, sequence));
    const started: SubmitResult['submissions'] = [];
    for (const submission of planned) {
      const { submissionId: id, days: batch, recordSets } = submission;
      try {
        // Abandoned, not terminated, when this run continues as new: the child reports back by signal.
        await startChild(submissionWorkflow, {
          workflowId: id,
          args: [{ submissionId: id, practiceOds: ods, reportingWorkflowId: reportingWorkflowId(ods), recordSets, options: input.options?.submission }],
          parentClosePolicy: ParentClosePolicy.ABANDON,
          staticSummary: `MI submission for ${ods}: ${batch[0]} to ${batch[batch.length - 1]}`,
        });
        started.push({ submissionId: id, days: batch });
      } catch (err) {
        reporting.couldNotStart(submission, (err as Error).message, Date.now());
      }
    }
    return { submissions: started };
  };

  // A submission ended from outside (terminated in the Web UI, timed out) never reports back.
  const releaseEndedSubmissions = async () => {
    const inFlight = reporting.inFlightIds();
    if (!inFlight.length) return;
    reporting.endedWithoutReport(await findEndedSubmissions({ submissionIds: inFlight }), Date.now());
  };

  setHandler(rowsSignal, (rows, summaries) => {
    adoptShortRuns();
    reporting.rowsArrived(rows, summaries, Date.now());
    countJudged();
    showDetails();
  });
  setHandler(submissionFinishedSignal, (result) => {
    adoptShortRuns();
    reporting.submissionFinished(result, Date.now());
    showDetails();
  });
  setHandler(submissionRejectedSignal, (rejection) => {
    adoptShortRuns();
    reporting.submissionRejected(rejection, Date.now());
    showDetails();
  });
  setHandler(
    submitUpdate,
    async (request) => {
      try {
        dropImpossibleDays();
        await releaseEndedSubmissions();
        return await startSubmissions(reporting.daysToSubmit(request, Date.now()));
      } finally {
        showDetails();
      }
    },
    // Refused requests never reach history.
    { validator: (request) => reporting.refuseSubmit(request, Date.now()) },
  );
  setHandler(reportingQuery, () => reporting.view(Date.now()));
  setHandler(consoleQuery, (request) => {
    const asked = request?.now === undefined ? NaN : Date.parse(request.now);
    return reporting.consoleView(Number.isFinite(asked) ? asked : Date.now(), request ?? {});
  });

  upsertSearchAttributes([{ key: practiceOdsKey, value: ods }]);

  for (;;) {
    adoptShortRuns();
    dropImpossibleDays();
    const now = Date.now();
    const nextAt = reporting.nextCadenceAt(now);
    showDetails();
    const wantsNewRun = () => reporting.runIsLong(Date.now()) || workflowInfo().continueAsNewSuggested;
    const wakeAt = reporting.wakeAt(now);
    // A signal can bring the wake-up forward (a failed submission's retry, a grown run that may end
    // once quiet): with short runs the timer is then armed again. Runs before waited for their timer.
    const wakesEarlier = () => reporting.usesShortRuns && reporting.wakeAt(Date.now()) < wakeAt;
    await condition(() => wantsNewRun() || wakesEarlier(), Math.max(1, wakeAt - now));
    dropImpossibleDays();
    reporting.foldJudged(Date.now());
    countJudged();
    if (wantsNewRun()) {
      await condition(allHandlersFinished);
      reporting.prune(Date.now());
      countJudged();
      return await continueAsNew<typeof reportingWorkflow>({ ...input, state: reporting.state });
    }
    const turn = reporting.turn(Date.now(), nextAt);
    if (!turn) continue;
    await releaseEndedSubmissions();
    const due = reporting.dueDays(Date.now());
    if (due.length) await startSubmissions(due);
    if (turn === 'cadence') {
      reporting.prune(Date.now());
      countJudged();
    }
  }
}
