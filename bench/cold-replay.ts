/**
 * What the worker spends replaying a workflow it no longer caches — at national scale most workflow
 * tasks (the README's national day: a quarter of the transfers' and a third of the reporting
 * workflows' tasks found theirs cached) — and what the stack depth recorded in workflow code
 * (GP2GP_WORKFLOW_STACK_FRAMES, worker/main.ts) takes off it.
 *
 * The SDK records a stack for every promise a workflow creates (its stack-trace query), each frame
 * mapped through the bundle's source map. A day's traffic for BENCH_COLD_REPLAY_PRACTICES practices
 * (default 300) goes through the real stack; the transfers' and reporting workflows' histories are
 * then replayed by the SDK's replayer in this process, in interleaved rounds (BENCH_COLD_REPLAY_ROUNDS,
 * default 4), with V8's default of 10 frames (the baseline) and with the worker's configured depth.
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
import { formatResults, type BenchResult } from './result';
import { practiceCodes, startBenchStack } from './stack';

/** V8's own default depth: what the worker recorded before GP2GP_WORKFLOW_STACK_FRAMES. */
const V8_DEFAULT_FRAMES = 10;

async function historiesOf(client: Client, workflowType: string, limit: number): Promise<{ workflowId: string; history: History }[]> {
  const out: { workflowId: string; history: History }[] = [];
  for await (const w of client.workflow.list({ query: `WorkflowType = '${workflowType}'` })) {
    out.push({ workflowId: w.workflowId, history: await client.workflow.getHandle(w.workflowId, w.runId).fetchHistory() });
    if (out.length >= limit) break;
  }
  return out;
}

/**
 * Worker CPU (ms) per history, replaying each once with `frames` recorded. Each call starts a replayer
 * (a workflow context of its own, which takes the flag): one extra replay first, not counted, pays
 * for its start.
 */
async function replayWithFrames(bundle: WorkflowBundle, histories: { history: History }[], frames: number, tag: string): Promise<number> {
  setWorkflowStackFrames(frames);
  return await replayCpuMs(bundle, [histories[0]!.history, ...histories.map((h) => h.history)], tag, 1);
}

export async function benchColdReplay(): Promise<BenchResult[]> {
  const practices = practiceCodes('R', Number(process.env.BENCH_COLD_REPLAY_PRACTICES ?? 300));
  const rounds = Number(process.env.BENCH_COLD_REPLAY_ROUNDS ?? 4);
  if (!Number.isInteger(rounds) || rounds < 1) throw new Error('BENCH_COLD_REPLAY_ROUNDS: a whole number of rounds, at least 1');
  if (practices.length < 1) throw new Error('BENCH_COLD_REPLAY_PRACTICES: at least 1');
  const day = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
  const events = generateTraffic({ practices, days: [day], registrationsPerPracticeDay: 4, seed: 11, notAfter: new Date(Date.now() - 60_000).toISOString() }).sort((a, b) =>
    a.occurredAt.localeCompare(b.occurredAt),
  );
  const stack = await startBenchStack({ name: 'cold-replay', practices });
  const configured = stack.config.pipeline.workflowStackFrames;
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
  const sums: Record<string, { base: number; ours: number }> = { transfer: { base: 0, ours: 0 }, reporting: { base: 0, ours: 0 } };
  // A round of both kinds first, not counted: it pays V8's warm-up.
  for (const histories of Object.values(kinds)) await replayWithFrames(bundle, histories.slice(0, 50), configured, 'warm-up');
  for (let r = 0; r < rounds; r++) {
    for (const [kind, histories] of Object.entries(kinds)) {
      // Interleaved, alternating which goes first (an even number of rounds gives each first as often).
      const order = r % 2 === 0 ? (['base', 'ours'] as const) : (['ours', 'base'] as const);
      for (const which of order) sums[kind]![which] += await replayWithFrames(bundle, histories, which === 'base' ? V8_DEFAULT_FRAMES : configured, `${kind}-${which}-${r}`);
    }
  }
  setWorkflowStackFrames(configured);
  const eventsPer = (hs: { history: History }[]) => hs.reduce((a, h) => a + (h.history.events?.length ?? 0), 0) / hs.length;
  const scope = `${events.length} events, ${practices.length} practices; ${rounds} interleaved rounds; baseline: V8's default of ${V8_DEFAULT_FRAMES} frames`;
  return Object.entries(kinds).map(([kind, histories]) => {
    const { base, ours } = sums[kind]!;
    return {
      name: `cold-replay.${kind}`,
      value: ours / rounds,
      unit: 'ms',
      baseline: base / rounds,
      ratio: ours / base,
      note: `worker CPU to replay one ${kind} workflow's history (${histories.length} histories, ${eventsPer(histories).toFixed(1)} events each) with ${configured} stack frames recorded in workflow code; ${scope}`,
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
