/**
 * What a hand-over costs when the practice's reporting workflow is not in the worker's cache — at
 * national scale nearly always: 6,300 reporting workflows and the day's transfers share a cache of
 * 2,000, and a practice's hand-overs come about two hours apart. The worker then replays the
 * workflow's whole current run to take the one new signal, so the cost grows with the run's length.
 *
 * One large practice's hand-overs (BENCH_REPLAY_REGISTRATIONS registrations a day, default 40, over
 * the 14 days of the correction window, one rows signal per event as its transfers send them, in the
 * order things happened) go, in one run, to two reporting workflows on the real stack: ours (runs of
 * SIGNALS_PER_RUN signals, continued as new with their state) and the baseline, started with the
 * limit before (2,000 signals, or Temporal's suggestion at about 4 MB of history, whichever first).
 * The hand-overs come a few milliseconds apart here, a national practice's about two hours: ours
 * runs with no quiet period (quietBeforeNewRunMs 0), so its runs end where national traffic's would.
 * Every run of each is fetched and replayed by the SDK's replayer at evenly spaced points; the worker
 * CPU a cold hand-over costs, averaged over every signal taken, is the figure (the server's reading
 * of the history is on top, not counted). The state carried into each new run is paid in history
 * bytes, reported per signal beside it.
 *
 *   npm run bench -- reporting-replay      BENCH_REPLAY_REGISTRATIONS=40 BENCH_REPLAY_EVENTS=2000
 */
import type { Client } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { temporal } from '@temporalio/proto';
import { reportingInput } from '../client/reporting';
import { generateTraffic } from '../demo/traffic';
import { recordKeyOf, utcDayOf, type HookEvent } from '../mi/events';
import { transferSummary } from '../mi/outcomes';
import { rowsFrom } from '../mi/transfer';
import { reportingWorkflowType, rowsSignal, SIGNALS_PER_RUN, SIGNALS_PER_RUN_BEFORE_SHORT_RUNS, type ReportingOptions } from '../messages/reporting';
import { reportingWorkflowId } from '../workflows/ids';
import { replayCpuMs, replayerBundle, type History, type Replayer } from './replayer';
import { formatResults, type BenchResult } from './result';
import { practiceCodes, startBenchStack } from './stack';

const EventType = temporal.api.enums.v1.EventType;
/** Points sampled along each run, and runs sampled per workflow (evenly spaced). */
const POINTS_PER_RUN = 4;
const RUNS_SAMPLED = 6;
/** Replays per point (the first of each batch, which pays the replayer's start, is not counted). */
const REPEATS = 3;

/** Every run of a workflow, oldest first: the current run and those it was continued from. */
async function runsOf(client: Client, workflowId: string): Promise<History[]> {
  const runs: History[] = [];
  let runId: string | undefined = (await client.workflow.getHandle(workflowId).describe()).runId;
  while (runId) {
    const history: History = await client.workflow.getHandle(workflowId, runId).fetchHistory();
    runs.unshift(history);
    runId = history.events?.[0]?.workflowExecutionStartedEventAttributes?.continuedExecutionRunId || undefined;
  }
  return runs;
}

const isSignal = (e: temporal.api.history.v1.IHistoryEvent) => e.eventType === EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED;

/** The run up to the end of the workflow task that took its `n`-th signal. */
function prefix(run: History, n: number): History {
  const events = run.events ?? [];
  let seen = 0;
  for (let i = 0; i < events.length; i++) {
    if (isSignal(events[i]!)) seen++;
    if (seen >= n && events[i]!.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED) return { events: events.slice(0, i + 1) };
  }
  return run;
}

/** Worker CPU (ms) to replay a history once: REPEATS replays, after one that pays the replayer's start. */
function replayOnce(replayer: Replayer, history: History, tag: string): Promise<number> {
  return replayCpuMs(replayer, Array.from({ length: REPEATS + 1 }, () => history), tag, 1);
}

interface Measured {
  /** Mean worker CPU of a cold hand-over, over every signal the workflow took (ms). */
  perSignalMs: number;
  /** The longest run's cost at its end (ms). */
  worstMs: number;
  runs: number;
  signals: number;
  historyBytesPerSignal: number;
}

async function measure(replayer: Replayer, runs: History[], tag: string): Promise<Measured> {
  const signalsOf = (run: History) => (run.events ?? []).filter(isSignal).length;
  const withSignals = runs.filter((r) => signalsOf(r) > 0);
  const step = Math.max(1, withSignals.length / RUNS_SAMPLED);
  const sampled = Array.from({ length: Math.min(RUNS_SAMPLED, withSignals.length) }, (_, i) => withSignals[Math.floor(i * step)]!);
  // A run's mean cost per signal: its cost at evenly spaced points (it grows about linearly).
  let weighted = 0;
  let weights = 0;
  for (const [r, run] of sampled.entries()) {
    const n = signalsOf(run);
    const points = [...new Set(Array.from({ length: POINTS_PER_RUN }, (_, i) => Math.max(1, Math.round(((i + 0.5) * n) / POINTS_PER_RUN))))];
    let sum = 0;
    for (const p of points) sum += await replayOnce(replayer, prefix(run, p), `${tag}-${r}-${p}`);
    weighted += (sum / points.length) * n;
    weights += n;
  }
  const longest = withSignals.reduce((a, b) => (signalsOf(b) > signalsOf(a) ? b : a));
  const bytes = runs.reduce((a, run) => a + Buffer.byteLength(JSON.stringify(historyToJSON(run))), 0);
  const signals = runs.reduce((a, run) => a + signalsOf(run), 0);
  return {
    perSignalMs: weighted / weights,
    worstMs: await replayOnce(replayer, longest, `${tag}-longest`),
    runs: runs.length,
    signals,
    historyBytesPerSignal: bytes / signals,
  };
}

export async function benchReportingReplay(): Promise<BenchResult[]> {
  const registrations = Number(process.env.BENCH_REPLAY_REGISTRATIONS ?? 40);
  const maxEvents = Number(process.env.BENCH_REPLAY_EVENTS ?? 2_000);
  const [ours, before] = practiceCodes('Q', 2) as [string, string];
  const days = Array.from({ length: 14 }, (_, i) => new Date(Date.now() - (14 - i) * 86_400_000).toISOString().slice(0, 10));
  const events = generateTraffic({ practices: [ours], days, registrationsPerPracticeDay: registrations, seed: 7, notAfter: new Date(Date.now() - 60_000).toISOString() })
    .sort((a, b) => a.occurredAt.localeCompare(b.occurredAt))
    .slice(0, maxEvents);
  // The worker starts the reporting of configured practices with the defaults: both are started here.
  const stack = await startBenchStack({ name: 'reporting-replay', practices: practiceCodes('Z', 1) });
  let runs: { ours: History[]; before: History[] };
  try {
    const start = async (practiceOds: string, options: ReportingOptions) => {
      const input = reportingInput(stack.config, undefined, practiceOds);
      await stack.client.temporal.workflow.start(reportingWorkflowType, {
        workflowId: reportingWorkflowId(practiceOds),
        taskQueue: stack.config.temporal.taskQueue,
        args: [{ ...input, options: { ...input.options, ...options } }],
      });
    };
    await start(ours, { quietBeforeNewRunMs: 0 });
    // The baseline: the same workflow held to the limit runs had before.
    await start(before, { signalsPerRun: SIGNALS_PER_RUN_BEFORE_SHORT_RUNS });
    const handles = [ours, before].map((p) => stack.client.temporal.workflow.getHandle(reportingWorkflowId(p)));
    const byRecord = new Map<string, HookEvent[]>();
    const t0 = Date.now();
    for (const e of events) {
      const { side, key } = recordKeyOf(e);
      const soFar = [...(byRecord.get(`${side}|${key}`) ?? []), e];
      byRecord.set(`${side}|${key}`, soFar);
      const summary = transferSummary(side, key, soFar);
      const rows = rowsFrom(side, key, soFar, utcDayOf(e.occurredAt));
      await Promise.all(handles.map((h) => h.signal(rowsSignal, rows, summary ? [summary] : [])));
    }
    console.error(`reporting-replay: ${events.length} hand-overs to each workflow in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
    // Every signal taken (the last run may still be ending).
    await new Promise((r) => setTimeout(r, 3_000));
    const client = stack.client.temporal;
    runs = { ours: await runsOf(client, reportingWorkflowId(ours)), before: await runsOf(client, reportingWorkflowId(before)) };
  } finally {
    await stack.stop();
  }
  const { workflowStackFrames, workflowCallTimeoutMs, workflowStackTraces } = stack.config.pipeline;
  const replayer = { bundle: await replayerBundle(workflowStackFrames), callTimeoutMs: workflowCallTimeoutMs, stackTraces: workflowStackTraces };
  const a = await measure(replayer, runs.ours, 'ours');
  const b = await measure(replayer, runs.before, 'before');
  const scope = `one practice, ${registrations} registrations a day over 14 days: ${a.signals} hand-overs`;
  return [
    {
      name: 'reporting-replay.cold-hand-over',
      value: a.perSignalMs,
      unit: 'ms',
      baseline: b.perSignalMs,
      ratio: a.perSignalMs / b.perSignalMs,
      note: `worker CPU to replay the reporting workflow's run for one hand-over, averaged over every hand-over; runs of ${SIGNALS_PER_RUN} signals (${a.runs} runs) against ${SIGNALS_PER_RUN_BEFORE_SHORT_RUNS} or ~4 MB (${b.runs} runs); ${scope}`,
    },
    {
      name: 'reporting-replay.cold-hand-over.longest-run',
      value: a.worstMs,
      unit: 'ms',
      baseline: b.worstMs,
      ratio: a.worstMs / b.worstMs,
      note: 'the same at the end of the longest run',
    },
    {
      name: 'reporting-replay.history-bytes-per-hand-over',
      value: a.historyBytesPerSignal / 1024,
      unit: 'KiB',
      baseline: b.historyBytesPerSignal / 1024,
      ratio: a.historyBytesPerSignal / b.historyBytesPerSignal,
      note: 'history written per hand-over (JSON), the state carried into each new run included',
    },
  ];
}

if (require.main === module) {
  benchReportingReplay().then(
    (results) => console.log(formatResults(results)),
    (err: unknown) => {
      console.error(`bench reporting-replay: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      process.exit(1);
    },
  );
}
