/**
 * One MI submission: the record sets of some days of one practice, rendered and sent over MESH, then
 * followed until NHS England's mailbox has acknowledged every file — or until a permanent fault, a
 * negative acknowledgement or the deadline ends it failed, with its reason. The CSV bytes never enter
 * workflow history: the send activity renders them from the rows. The MESH local id of each file is
 * derived from the submission id, so a retried send finds its message instead of sending twice.
 *
 * This file only wires messages and activities to SubmissionFollowUp
 * (workflows/submission-follow-up.ts), which owns the state and every decision.
 */
import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  condition,
  getExternalWorkflowHandle,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
} from '@temporalio/workflow';
import { submissionFinishedSignal } from '../messages/reporting';
import { deliveryNoticeSignal, submissionQuery, type SubmissionActivities, type SubmissionInput, type SubmissionResult } from '../messages/submission';
import { miDaysKey, practiceOdsKey, submissionStatusKey } from './search-attributes';
import { SubmissionFollowUp } from './submission-follow-up';

const { sendSubmissionFiles, trackMessages } = proxyActivities<SubmissionActivities>({
  // The send heartbeats every 5 s while it runs: a dead worker is noticed in 30 s, not 30 minutes.
  startToCloseTimeout: '30 minutes',
  heartbeatTimeout: '30 seconds',
  retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '5 minutes' },
});

function failureMessage(err: unknown): string {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  return cause instanceof Error ? cause.message : String(cause);
}

export async function submissionWorkflow(input: SubmissionInput): Promise<SubmissionResult> {
  const submission = new SubmissionFollowUp(input);

  setHandler(deliveryNoticeSignal, (notice) => submission.noticed(notice));
  setHandler(submissionQuery, () => submission.view());

  const show = () => {
    // Only real changes reach history.
    const details = submission.changedDetails();
    if (details === undefined) return;
    setCurrentDetails(details);
    upsertSearchAttributes([
      { key: practiceOdsKey, value: input.practiceOds },
      { key: submissionStatusKey, value: submission.status },
      { key: miDaysKey, value: submission.days },
    ]);
  };

  try {
    show();
    try {
      const files = await sendSubmissionFiles({ submissionId: input.submissionId, practiceOds: input.practiceOds, recordSets: input.recordSets });
      submission.sent(files, Date.now());
    } catch (err) {
      // Only non-retryable faults get here: retryable ones are retried by the activity's policy.
      submission.sendFailed(failureMessage(err));
    }

    while (submission.awaitingAcknowledgement) {
      show();
      const now = Date.now();
      const wait = submission.nextWait(now);
      if (wait === undefined) break;
      const noticed = await condition(() => submission.hasNotices(), wait);
      // A notice woke us: no need to ask MESH's tracking as well.
      if (!submission.woke(noticed)) continue;
      try {
        submission.tracked(await trackMessages(submission.toTrack()));
      } catch (err) {
        submission.trackingFailed(failureMessage(err));
      }
    }
  } finally {
    submission.stopped();
    show();
    // Always report back, even when cancelled: the reporting workflow holds these days "in flight".
    // By workflow id only, as the reporting workflow may have continued as new meanwhile.
    await CancellationScope.nonCancellable(() =>
      getExternalWorkflowHandle(input.reportingWorkflowId).signal(submissionFinishedSignal, submission.result()),
    );
  }
  if (submission.status === 'failed') {
    // Failed submissions end failed in the Web UI too, so `ExecutionStatus = "Failed"` finds them.
    throw ApplicationFailure.nonRetryable(submission.reason ?? 'submission failed', 'SubmissionFailed', submission.result());
  }
  return submission.result();
}
