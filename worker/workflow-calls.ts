/**
 * How the worker calls into workflow code: with or without the SDK's per-call time limit, and
 * watched for activations that do not come back.
 *
 * The SDK runs each workflow activation as three calls into the workflow sandbox (activate, unblock
 * conditions, conclude), and gives each call a time limit (its "isolate execution timeout", 5 s) so a
 * workflow that never yields fails its task instead of holding the workflow thread. Node enforces
 * such a limit by creating, and afterwards joining, an OS thread for every call (its vm watchdog;
 * nodejs/node pull request 47739 would share one, not merged). Replaying a workflow the worker no
 * longer caches, most workflow tasks at national scale, spent about a quarter of its CPU there:
 * reporting 24 → 17 ms, transfer 11 → 8.5 ms without it (`npm run bench -- cold-replay`).
 *
 * So the limit is ours to choose (GP2GP_WORKFLOW_CALL_TIMEOUT_SECONDS): none by default — every loop
 * in our workflow code is bounded by its input, and a limit can also fail, for ever, a task that is
 * only slow on a busy machine — or the SDK's behaviour with the limit given. Without a limit the
 * worker still says when an activation has not come back after SLOW_ACTIVATION_MS (an error log
 * naming the workflow, and gp2gp_workflow_activations_slow_total), which is what an operator needs to
 * find a workflow holding the thread.
 *
 * The SDK exposes its workflow set-up to subclasses (Worker.createWorkflowCreator is protected); the
 * limit is its compiled `isolateExecutionTimeoutMs`, passed on to Node as the calls' `timeout`, and
 * Node arms no watchdog when it is undefined. test/workflow-calls.test.ts holds both behaviours.
 */
import { Runtime, Worker, type CompiledWorkerOptions, type Logger } from '@temporalio/worker';
import type { Workflow, WorkflowCreateOptions, WorkflowCreator } from '@temporalio/worker/lib/workflow/interface';
import type { WorkflowBundleWithSourceMapAndFilename } from '@temporalio/worker/lib/workflow/workflow-worker-thread/input';
import { METRICS } from '../observability/metric-names';
import { log } from '../observability/log';

/** The SDK's own limit: an activation running longer is reported as slow. */
export const SLOW_ACTIVATION_MS = 5_000;

/**
 * The Worker class to create workers and replayers with: calls into workflow code limited to
 * `callTimeoutMs` (0: no limit), activations watched either way.
 */
export function workerClass(callTimeoutMs: number): typeof Worker {
  if (!Number.isInteger(callTimeoutMs) || callTimeoutMs < 0) throw new RangeError(`workerClass: callTimeoutMs ${callTimeoutMs} is not 0 or a whole number of ms`);
  return class Gp2gpWorker extends Worker {
    protected static override async createWorkflowCreator(
      bundle: WorkflowBundleWithSourceMapAndFilename,
      compiled: CompiledWorkerOptions,
      logger: Logger,
    ): Promise<WorkflowCreator> {
      // Typed as a number by the SDK; undefined is what Node reads as "no limit".
      const isolateExecutionTimeoutMs = (callTimeoutMs > 0 ? callTimeoutMs : undefined) as number;
      return watchActivations(await super.createWorkflowCreator(bundle, { ...compiled, isolateExecutionTimeoutMs }, logger));
    }
  };
}

function watchActivations(creator: WorkflowCreator): WorkflowCreator {
  return {
    createWorkflow: async (options: WorkflowCreateOptions): Promise<Workflow> => {
      const workflow = await creator.createWorkflow(options);
      const activate = workflow.activate.bind(workflow);
      workflow.activate = async (activation) => {
        const started = Date.now();
        let slow = false;
        // One timer per activation, on this (main) thread: the workflow thread may be the one stuck.
        const timer = setTimeout(() => {
          slow = true;
          reportSlow(options, 'workflow activation has not come back: its workflow thread is busy or held (a loop that does not yield?)', Date.now() - started);
        }, SLOW_ACTIVATION_MS);
        timer.unref();
        try {
          return await activate(activation);
        } finally {
          clearTimeout(timer);
          if (slow) log.warn('slow workflow activation came back', { ...about(options), ms: Date.now() - started });
        }
      };
      return workflow;
    },
    destroy: () => creator.destroy(),
  };
}

/** Workflow IDs are ours and carry no patient data (workflows/ids.ts). */
const about = (options: WorkflowCreateOptions) => ({ workflowType: options.info.workflowType, workflowId: options.info.workflowId, runId: options.info.runId });

function reportSlow(options: WorkflowCreateOptions, message: string, ms: number): void {
  log.error(message, { ...about(options), ms });
  try {
    Runtime.instance()
      .metricMeter.createCounter(METRICS.slowWorkflowActivations, 'activations', `workflow activations still running after ${SLOW_ACTIVATION_MS / 1000} s`)
      .add(1, { workflow_type: options.info.workflowType });
  } catch {
    /* no runtime installed (a replayer in a test): the log says it */
  }
}
