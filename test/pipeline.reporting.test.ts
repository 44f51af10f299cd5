/**
 * The reporting workflow on the run's real servers (issue 16):
 *  - item 4: its submit update refuses an impossible day (2026-02-30) in its validator, even from a
 *    caller that skipped the client's check; a submission already holding one ends failed at once
 *    (its render is non-retryable) instead of staying "sending", a replay skips that day, and a
 *    reporting run already holding one drops it;
 *  - item 7: what the Web UI shows of it (current details, read by the `__temporal_workflow_metadata`
 *    query as the UI does) follows its state at once — after a delivery it names the delivered day
 *    without waiting for the workflow's next wake (the next cadence, up to a day later);
 *  - issue 13: a run past SIGNALS_PER_RUN continues as new only once quiet, carrying every row; a
 *    failed submission's days go out again at the retry, not at the next cadence (a signal that brings
 *    the wake-up forward arms the timer again).
 */
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import type { temporal } from '@temporalio/proto';
import { WorkflowFailedError, WorkflowUpdateFailedError } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { syntheticPractice } from '../demo/traffic';
import { recordKeyOf, type HookEvent } from '../mi/events';
import { rowsFrom } from '../mi/transfer';
import { reportingWorkflowId } from '../workflows/ids';
import { reportingQuery, reportingWorkflowType, rowsSignal, SIGNALS_PER_RUN, submitUpdate, type ReportingInput } from '../messages/reporting';
import { decodeFromPayloadsAtIndex } from '@temporalio/common/lib/internal-non-workflow';
import { submissionQuery, type SubmissionView } from '../messages/submission';
import { submissionWorkflow } from '../workflows/submission';
import { replaySubmission } from '../client/operations';
import { eventually, historySuffix, startPipeline, type TestPipeline } from './support/pipeline';

const PRACTICE = syntheticPractice('P16101', '200000001611');
const yesterday = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
/** An impossible day safely in the past, and a first day before it (so only its impossibility can refuse it). */
const year = new Date().getUTCFullYear() - 1;
const IMPOSSIBLE = `${year}-02-30`;
const FIRST_DAY = `${year}-02-01`;

/** With SAVE_HISTORIES, a history for the replay tests (test/replay.test.ts). */
const saveHistory = (name: string, history: temporal.api.history.v1.IHistory): void => {
  if (process.env.SAVE_HISTORIES) fs.writeFileSync(path.join(__dirname, 'histories', `${name}${historySuffix()}.json`), historyToJSON(history));
};

const details = async (pipeline: TestPipeline, workflowId: string): Promise<string> => {
  const metadata = await pipeline.client.temporal.workflow.getHandle(workflowId).query<{ currentDetails?: string }>('__temporal_workflow_metadata');
  return metadata.currentDetails ?? '';
};

describe('the reporting workflow on the real server', () => {
  let pipeline: TestPipeline;

  beforeAll(async () => {
    pipeline = await startPipeline({ supplierMailbox: 'X26SUP031', authorityMailbox: 'X26NHS031', practices: [PRACTICE] });
  });
  afterAll(async () => {
    await pipeline?.stop();
  });

  /** Starts a practice's reporting workflow with this input (not the worker's configured one). */
  const startReportingWorkflow = async (input: ReportingInput) => {
    const workflowId = reportingWorkflowId(input.practiceOds);
    await pipeline.client.temporal.workflow.start(reportingWorkflowType, { workflowId, taskQueue: pipeline.config.temporal.taskQueue, args: [input] });
    return pipeline.client.temporal.workflow.getHandle(workflowId);
  };

  it('refuses an impossible day in the submit validator, before any submission starts (item 4)', async () => {
    // A reporting workflow whose reporting began before the impossible day: nothing else refuses it.
    const handle = await startReportingWorkflow({ practiceOds: 'P16102', firstDay: FIRST_DAY });
    const err = await handle.executeUpdate(submitUpdate, { args: [{ days: [IMPOSSIBLE] }] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorkflowUpdateFailedError);
    expect((err as WorkflowUpdateFailedError).cause?.message).toContain(`day: "${IMPOSSIBLE}" is not allowed`);
    const view = await handle.query(reportingQuery);
    expect(view.inFlight).toEqual([]);
    expect(view.pendingDays).not.toContain(IMPOSSIBLE);
    await handle.terminate('test done');
  });

  it('a submission holding an impossible day ends failed at once, and a replay skips that day (item 4)', async () => {
    // As a submission started before days were checked: its render can never succeed.
    const id = `gp2gp-sub-${PRACTICE.ods}-impossible-${randomUUID().slice(0, 8)}`;
    const handle = await pipeline.client.temporal.workflow.start(submissionWorkflow, {
      workflowId: id,
      taskQueue: pipeline.config.temporal.taskQueue,
      args: [{ submissionId: id, practiceOds: PRACTICE.ods, reportingWorkflowId: reportingWorkflowId(PRACTICE.ods), recordSets: [{ day: IMPOSSIBLE, rows: [] }] }],
    });
    const ended = await Promise.race([
      handle.result().then(
        () => 'completed',
        (err: unknown) => (err instanceof WorkflowFailedError ? (err.cause?.message ?? '') : String(err)),
      ),
      new Promise<string>((resolve) => setTimeout(() => resolve('still running after 20 s'), 20_000)),
    ]);
    expect(ended).toContain('cannot be rendered');
    expect(ended).toContain(IMPOSSIBLE);
    const replay = await replaySubmission(pipeline.client, id);
    expect(replay.submissions).toEqual([]);
    expect(replay.skipped).toEqual([{ day: IMPOSSIBLE, reason: expect.stringContaining('not a calendar date') }]);
  });

  it('drops an impossible day a run already holds, with a warning (item 4)', async () => {
    const ods = 'P16103';
    const good = `${year}-02-27`;
    const input = {
      practiceOds: ods,
      firstDay: FIRST_DAY,
      state: {
        days: { [good]: { rows: {}, version: 1 }, [IMPOSSIBLE]: { rows: {}, version: 1 } },
        firstDay: FIRST_DAY,
        nextUncoveredDay: FIRST_DAY,
        inFlight: {},
        recentDelivered: {},
        recentFailures: [],
        recentWarnings: [],
        consecutiveFailures: 0,
        runTag: 'rtest',
        sequence: 0,
      },
    } as unknown as ReportingInput;
    const handle = await startReportingWorkflow(input);
    const view = await handle.query(reportingQuery);
    expect(view.pendingDays).toContain(good);
    expect(view.pendingDays).not.toContain(IMPOSSIBLE);
    expect(view.recentWarnings.join('\n')).toContain(IMPOSSIBLE);
    await handle.terminate('test done');
  });

  it('shows the delivered day in its Web UI details as soon as the delivery is known (item 7)', async () => {
    const workflowId = reportingWorkflowId(PRACTICE.ods);
    const outcome = await pipeline.client.recordEvent({
      type: 'registration',
      practiceOds: PRACTICE.ods,
      registrationId: `REG-${randomUUID().slice(0, 8)}`,
      occurredAt: `${yesterday}T10:00:00Z`,
      registrationType: 'new',
      registeringUser: 'L12345',
    });
    expect(outcome.status).toBe('accepted');
    await eventually(async () => ((await pipeline.client.reportingStatus(PRACTICE.ods)).pendingDays.includes(yesterday) ? true : undefined), 60_000, 'the day pending');
    expect(await details(pipeline, workflowId)).toContain('last delivered day none');

    const [submitted] = await pipeline.client.submit({ practiceOds: PRACTICE.ods, days: [yesterday] });
    const submissionId = submitted!.result.submissions[0]!.submissionId;
    // The request changed its state: in flight now, in the details too.
    expect(await details(pipeline, workflowId)).toContain('1 submission(s) in flight');

    await eventually(async () => {
      await pipeline.authority.collect();
      const v: SubmissionView = await pipeline.client.temporal.workflow.getHandle(submissionId).query(submissionQuery);
      return v.status === 'delivered' ? true : undefined;
    }, 60_000, `submission ${submissionId} delivered`);
    await eventually(async () => ((await pipeline.client.reportingStatus(PRACTICE.ods)).lastDeliveredDay === yesterday ? true : undefined), 30_000, 'the query to say delivered');

    // No further wake of the workflow: its next cadence point is hours away.
    const shown = await eventually(async () => {
      const text = await details(pipeline, workflowId);
      return text.includes(`last delivered day ${yesterday}`) ? text : undefined;
    }, 10_000, 'the details to name the delivered day');
    expect(shown).toContain('0 submission(s) in flight');
  });

  it(`continues as new past ${SIGNALS_PER_RUN} signals only once quiet, with every row in the new run (issue 13)`, async () => {
    const temporal = pipeline.client.temporal;
    // A quiet period of 4 s instead of a minute; the run ends only after it.
    // Weekly, so no cadence turn (a submission and its report) can fall inside the test.
    const handle = await startReportingWorkflow({ practiceOds: 'P16104', firstDay: yesterday, options: { cadence: 'weekly', quietBeforeNewRunMs: 4_000 } });
    const { workflowId } = handle;
    const firstRun = (await handle.describe()).runId;
    const rows = Array.from({ length: SIGNALS_PER_RUN + 10 }, (_, i) => ({
      day: yesterday,
      side: 'RR' as const,
      key: `Q${String(i).padStart(4, '0')}`,
      firstEventAt: `${yesterday}T10:00:00.000Z`,
      fields: [],
      seq: 1,
    }));
    // A burst: one signal after another, then quiet.
    for (const row of rows) await handle.signal(rowsSignal, [row]);
    const burstEnded = Date.now();
    // Well inside the quiet period after the burst, the run goes on.
    const runNow = (await handle.describe()).runId;
    if (Date.now() - burstEnded < 1_500) expect(runNow).toBe(firstRun);
    const nextRun = await eventually(async () => {
      const { runId } = await handle.describe();
      return runId !== firstRun ? runId : undefined;
    }, 30_000, 'the run to continue as new');
    const history = await temporal.workflow.getHandle(workflowId, firstRun).fetchHistory();
    saveHistory('reportingWorkflow.quiet-end', history);
    // Ended once, after the whole burst: every signal in the first run, none refused or lost.
    expect(history.events!.filter((e) => e.workflowExecutionSignaledEventAttributes?.signalName === 'rows').length).toBe(rows.length);
    const last = history.events!.at(-1)!;
    expect(last.workflowExecutionContinuedAsNewEventAttributes).toBeTruthy();
    // Temporal's own time of the burst's last signal and of the end: the quiet period between.
    const signalled = history.events!.filter((e) => e.workflowExecutionSignaledEventAttributes).at(-1)!;
    const ms = (e: typeof last) => Number(e.eventTime!.seconds) * 1000 + Math.floor((e.eventTime!.nanos ?? 0) / 1e6);
    expect(ms(last) - ms(signalled)).toBeGreaterThanOrEqual(4_000);
    const started = (await temporal.workflow.getHandle(workflowId, nextRun).fetchHistory()).events![0]!.workflowExecutionStartedEventAttributes!;
    const carried = (await decodeFromPayloadsAtIndex(temporal.options.loadedDataConverter, 0, started.input!.payloads)) as ReportingInput;
    expect(Object.keys(carried.state!.days[yesterday]!.rows).sort()).toEqual(rows.map((r) => `RR:${r.key}`).sort());
    await handle.terminate('test done');
  });

  it('tries failed days again at the retry, not at the next cadence (issue 13: the timer is armed again)', async () => {
    const ods = 'P16105';
    // Weekly: the next cadence is days away. The practice is not in the worker's practices file, so its
    // submission fails at once (nothing to send it with); its days are due again 3 s later.
    const handle = await startReportingWorkflow({ practiceOds: ods, firstDay: yesterday, options: { cadence: 'weekly', retryAfterFailureMs: 3_000 } });
    const events = [
      { type: 'registration', practiceOds: ods, registrationId: 'REG-RETRY-1', occurredAt: `${yesterday}T10:00:00Z`, registrationType: 'new', registeringUser: 'L12345' },
    ] as HookEvent[];
    await handle.signal(rowsSignal, rowsFrom('RR', recordKeyOf(events[0]!).key, events, yesterday));
    const first = await handle.executeUpdate(submitUpdate, { args: [{ days: [yesterday] }] });
    const firstId = first.submissions[0]!.submissionId;
    const failed = await eventually(async () => {
      const view = await handle.query(reportingQuery);
      return view.recentFailures.some((f) => f.submissionId === firstId) ? view : undefined;
    }, 30_000, 'the first submission to fail');
    saveHistory('reportingWorkflow.retry-pending', await handle.fetchHistory());
    expect(failed.recentFailures[0]!.reason).toContain('not configured');
    expect(failed.retryAt).toBeDefined();
    expect(Date.parse(failed.nextSubmissionAt) - Date.now()).toBeGreaterThan(60_000);
    // The day goes out again at the retry, well before the weekly cadence.
    const again = await eventually(async () => {
      const view = await handle.query(reportingQuery);
      const other = view.inFlight.find((f) => f.submissionId !== firstId) ?? view.recentFailures.find((f) => f.submissionId !== firstId);
      return other;
    }, 20_000, 'a second submission of the failed day');
    expect(again.days).toEqual([yesterday]);
    saveHistory('reportingWorkflow.retry', await handle.fetchHistory());
    await handle.terminate('test done');
  });
});
