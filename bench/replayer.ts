/**
 * The SDK's replayer as the replay benches use it: the workflow bundle built as the worker builds it,
 * and the worker CPU (every thread of this process) a batch of replays costs.
 */
import { temporal } from '@temporalio/proto';
import { bundleWorkflowCode, DefaultLogger, Runtime, type ReplayWorkerOptions, type WorkflowBundle } from '@temporalio/worker';
import { setWorkflowStackFrames, WORKFLOW_INTERCEPTOR_MODULES, WORKFLOW_PRELOAD_MODULES, WORKFLOWS_PATH } from '../worker/main';
import { workerClass, type WorkflowCalls } from '../worker/workflow-calls';

export type History = temporal.api.history.v1.IHistory;

/**
 * What a replayer runs: our workflows' bundle, called into as the worker calls into it (the
 * configuration's workflowCallTimeoutMs and workflowStackTraces, or a side's own choice).
 */
export interface Replayer extends WorkflowCalls {
  bundle: WorkflowBundle;
}

/**
 * Our workflows bundled as the worker bundles them (modules shared, interceptors in), to be replayed
 * as the worker runs them: with the stack depth it records in workflow code (`frames`, the
 * configuration's GP2GP_WORKFLOW_STACK_FRAMES; it applies to replayers started after this).
 */
export async function replayerBundle(frames: number): Promise<WorkflowBundle> {
  setWorkflowStackFrames(frames);
  // The replayer's workers log each start and stop; only warnings matter here (a runtime another
  // bench of this process installed already stays as it is).
  try {
    Runtime.install({ logger: new DefaultLogger('WARN') });
  } catch {
    /* installed */
  }
  return await bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, workflowInterceptorModules: WORKFLOW_INTERCEPTOR_MODULES, preloadModules: WORKFLOW_PRELOAD_MODULES, logger: new DefaultLogger('WARN') });
}

/**
 * Worker CPU (ms) per replay of `histories`, replayed in one replayer; the first `uncounted` pay its
 * start and are left out. Replayed on a workflow thread, as the worker runs workflows (the SDK's
 * replayer would run them on this thread, in its debug mode, always with stack traces).
 */
export async function replayCpuMs({ bundle, ...calls }: Replayer, histories: readonly History[], tag: string, uncounted = 0): Promise<number> {
  const copies = histories.map((history, i) => ({ workflowId: `${tag}-${i}`, history }));
  let started = uncounted === 0 ? process.cpuUsage() : undefined;
  let seen = 0;
  // The SDK defaults a replayer to debug mode and then applies the options given; its type leaves
  // debugMode out, though what the options say wins.
  const options = { workflowBundle: bundle, replayName: tag, debugMode: false } as ReplayWorkerOptions;
  for await (const result of workerClass(calls).runReplayHistories(options, copies)) {
    if (result.error) throw result.error;
    if (++seen === uncounted) started = process.cpuUsage();
  }
  if (seen <= uncounted) throw new Error(`replayCpuMs: ${seen} replays, none counted (uncounted ${uncounted})`);
  const used = process.cpuUsage(started);
  return (used.user + used.system) / 1000 / (seen - uncounted);
}
