/**
 * What the worker spends replaying a workflow it no longer caches — at national scale most workflow
 * tasks (the README's national day: a quarter of the transfers' and a third of the reporting
 * workflows' tasks found theirs cached) — and what the worker's way of calling into workflow code
 * takes off it against the SDK's defaults: the stack depth recorded there (GP2GP_WORKFLOW_STACK_FRAMES,
 * worker/main.ts), no per-call limit (GP2GP_WORKFLOW_CALL_TIMEOUT_SECONDS) and no stack traces
 * (GP2GP_WORKFLOW_STACK_TRACES, both worker/workflow-calls.ts).
 *
 * With stack traces the SDK records a stack for every promise a workflow creates (its stack-trace
 * query), each frame mapped through the bundle's source map; and Node creates an OS thread to enforce
 * the SDK's limit on each call. A day's traffic for BENCH_COLD_REPLAY_PRACTICES practices (default
 * 300) goes through the real stack; the transfers' and reporting workflows' histories are then
 * replayed by the SDK's replayer on a workflow thread of this process, in interleaved rounds
 * (BENCH_COLD_REPLAY_ROUNDS, default 3), three ways: with the SDK's defaults (the baseline), as the
 * worker does but with stack traces recorded (as it did before GP2GP_WORKFLOW_STACK_TRACES), and as
 * the worker does.
 * The figure is worker CPU (every thread of this process) per replayed history; the server's reading
 * of the history is on top, not counted.
 *
 *   npm run bench -- cold-replay
 */
import type { Client } from '@temporalio/client';
import type { WorkflowBundle } from '@temporalio/worker';
import { generateTraffic } from '../demo/traffic';
import { reportingWorkflowType } from '../messages/reporting';
import { transferWorkflowType } from '../messages/transfer';
import { setWorkflowStackFrames } from '../worker/main';
import { replayCpuMs, replayerBundle, type History } from './replayer';
import type { WorkflowCalls } from '../worker/workflow-calls';
import { formatResults, type BenchResult } from './result';
import { practiceCodes, startBenchStack } from './stack';

/** How the worker calls into workflow code, as far as a replay's cost goes. */
interface Calls extends WorkflowCalls {
  /** Frames V8 records of a stack in workflow code. */
  frames: number;
}

/**
 * The SDK's defaults, what the worker ran with before GP2GP_WORKFLOW_STACK_FRAMES,
 * GP2GP_WORKFLOW_CALL_TIMEOUT_SECONDS and GP2GP_WORKFLOW_STACK_TRACES: V8's default depth, the SDK's
 * 5 s limit on every call, and its stack traces.
 */
const SDK_DEFAULTS: Calls = { frames: 10, callTimeoutMs: 5_000, stackTraces: true };

async function historiesOf(client: Client, workflowType: string, limit: number): Promise<{ workflowId: string; history: History }[]> {
  const out: { workflowId: string; history: History }[] = [];
  for await (const w of client.workflow.list({ query: `WorkflowType = '${workflowType}'` })) {
    out.push({ workflowId: w.workflowId, history: await client.workflow.getHandle(w.workflowId, w.runId).fetchHistory() });
    if (out.length >= limit) break;
  }
  return out;
}

/**
 * Worker CPU (ms) per history, replaying each once as `calls` says. Each call starts a replayer with
 * a workflow thread of its own (which takes the stack-depth flag): one extra replay first, not
 * counted, pays for its start; its thread's stop is counted, on every side alike.
 */
async function replayWith(bundle: WorkflowBundle, histories: { history: History }[], { frames, ...calls }: Calls, tag: string): Promise<number> {
  setWorkflowStackFrames(frames);
  return await replayCpuMs({ bundle, ...calls }, [histories[0]!.history, ...histories.map((h) => h.history)], tag, 1);
}

export async function benchColdReplay(): Promise<BenchResult[]> {
  const practices = practiceCodes('R', Number(process.env.BENCH_COLD_REPLAY_PRACTICES ?? 300));
  const rounds = Number(process.env.BENCH_COLD_REPLAY_ROUNDS ?? 3);
  if (!Number.isInteger(rounds) || rounds < 1) throw new Error('BENCH_COLD_REPLAY_ROUNDS: a whole number of rounds, at least 1');
  if (practices.length < 1) throw new Error('BENCH_COLD_REPLAY_PRACTICES: at least 1');
  const day = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
  const events = generateTraffic({ practices, days: [day], registrationsPerPracticeDay: 4, seed: 11, notAfter: new Date(Date.now() - 60_000).toISOString() }).sort((a, b) =>
    a.occurredAt.localeCompare(b.occurredAt),
  );
  const stack = await startBenchStack({ name: 'cold-replay', practices });
  const configured = stack.config.pipeline.workflowStackFrames;
  const callTimeoutMs = stack.config.pipeline.workflowCallTimeoutMs;
  const stackTraces = stack.config.pipeline.workflowStackTraces;
  let transfers: { workflowId: string; history: History }[];
  let reporting: { workflowId: string; history: History }[];
  try {
    for (let i = 0; i < events.length; i += 100) {
      const answers = await stack.client.recordEvents(events.slice(i, i + 100));
      const bad = answers.find((a) => a.status !== 'accepted' && a.status !== 'duplicate');
      if (bad) throw new Error(`cold-replay: an event was not recorded: ${JSON.stringify(bad)}`);
    }
    // The last hand-overs taken.
    await new Promise((r) => setTimeout(r, 3_000));
    transfers = await historiesOf(stack.client.temporal, transferWorkflowType, 600);
    reporting = await historiesOf(stack.client.temporal, reportingWorkflowType, 300);
    if (!transfers.length || !reporting.length) throw new Error(`cold-replay: ${transfers.length} transfer and ${reporting.length} reporting histories listed`);
  } finally {
    await stack.stop();
  }
  const bundle = await replayerBundle(configured);
  const kinds = { transfer: transfers, reporting };
  // The baseline; ours with the SDK's stack traces (as the worker ran before GP2GP_WORKFLOW_STACK_TRACES); ours.
  const sides = {
    base: SDK_DEFAULTS,
    traces: { frames: configured, callTimeoutMs, stackTraces: true },
    ours: { frames: configured, callTimeoutMs, stackTraces },
  } satisfies Record<string, Calls>;
  type Side = keyof typeof sides;
  const sums = Object.fromEntries(Object.keys(kinds).map((k) => [k, { base: 0, traces: 0, ours: 0 }])) as Record<string, Record<Side, number>>;
  // A round of both kinds first, not counted: it pays V8's warm-up.
  for (const histories of Object.values(kinds)) await replayWith(bundle, histories.slice(0, 50), sides.ours, 'warm-up');
  const names = Object.keys(sides) as Side[];
  for (let r = 0; r < rounds; r++) {
    for (const [kind, histories] of Object.entries(kinds)) {
      // Interleaved, each side first in turn.
      const order = names.map((_, i) => names[(i + r) % names.length]!);
      for (const side of order) sums[kind]![side] += await replayWith(bundle, histories, sides[side], `${kind}-${side}-${r}`);
    }
  }
  setWorkflowStackFrames(configured);
  const eventsPer = (hs: { history: History }[]) => hs.reduce((a, h) => a + (h.history.events?.length ?? 0), 0) / hs.length;
  const limit = (ms: number) => (ms > 0 ? `a ${ms / 1000} s limit on each call into workflow code` : 'no limit on calls into workflow code');
  const tracesText = (on: boolean) => (on ? 'stack traces recorded' : 'no stack traces');
  const scope = `${events.length} events, ${practices.length} practices; ${rounds} interleaved rounds, replayed on a workflow thread as the worker runs them; baseline: the SDK's defaults (V8's ${SDK_DEFAULTS.frames} frames, ${limit(SDK_DEFAULTS.callTimeoutMs)}, ${tracesText(true)})`;
  return Object.entries(kinds).map(([kind, histories]) => {
    const { base, traces, ours } = sums[kind]!;
    return {
      name: `cold-replay.${kind}`,
      value: ours / rounds,
      unit: 'ms',
      baseline: base / rounds,
      ratio: ours / base,
      note:
        `worker CPU to replay one ${kind} workflow's history (${histories.length} histories, ${eventsPer(histories).toFixed(1)} events each) with ${configured} stack frames recorded in workflow code, ${limit(callTimeoutMs)} and ${tracesText(stackTraces)}; ` +
        `the same with stack traces recorded: ${(traces / rounds).toFixed(1)} ms, ${(traces / base).toFixed(2)}× (ours ${(ours / traces).toFixed(2)}× it); ${scope}`,
    };
  });
}

if (require.main === module) {
  benchColdReplay()
    .then((results) => console.log(formatResults(results)))
    .catch((err) => {
      console.error(err);
      process.exit(1);
    });
}
