/**
 * How the worker calls into workflow code: with or without the SDK's per-call time limit, and
 * watched for an activation that holds the workflow thread.
 *
 * The SDK runs each workflow activation as at least three calls into the workflow sandbox (activate,
 * unblock conditions until none unblocks, conclude), and gives each call a time limit (its "isolate
 * execution timeout", 5 s) so a workflow that never yields fails its task instead of holding the
 * workflow thread. Node enforces such a limit by creating, and afterwards joining, an OS thread for
 * every call (its vm watchdog; nodejs/node pull request 47739 would share one, not merged). Replaying
 * a workflow the worker no longer caches, most workflow tasks at national scale, spent about a
 * quarter of its CPU there: reporting 24.6 → 17.6 ms, transfer 11.2 → 8.9 ms without it
 * (`npm run bench -- cold-replay`, 2026-12-07).
 *
 * So the limit is ours to choose (GP2GP_WORKFLOW_CALL_TIMEOUT_SECONDS): none by default — every loop
 * in our workflow code is bounded by its input, and a limit can also fail, on every retry, a task
 * that is only slow on a saturated machine — or the SDK's behaviour with the limit given. Without a
 * limit, a workflow that never yielded would hold the worker's one workflow thread, and with it every
 * workflow of the worker; so the worker watches that thread from its main thread and names the
 * activation holding it (ActivationWatch).
 *
 * Stack traces are ours to choose too (GP2GP_WORKFLOW_STACK_TRACES). For its stack-trace query (the
 * Web UI's Stack Trace tab) the SDK installs a V8 promise hook in the workflow thread that, for every
 * promise created there, compiles a function to find the promise's workflow, captures and source-maps
 * a stack, and files it: about 30 % of the worker's CPU to replay a transfer it no longer caches
 * (14.7 → 9.97 ms on a workflow thread, `npm run bench -- cold-replay`, 2026-12-07). Off by default:
 * the workflows' own queries, the console and the CLI say what a transfer or practice is waiting for
 * in the domain's words. With it off the query answers
 * that stack traces are not enabled on this worker; errors thrown in workflow code keep their
 * source-mapped stacks (that is a separate override the SDK still installs).
 *
 * The SDK exposes its workflow set-up to subclasses (Worker.createWorkflowCreator is protected); the
 * limit is its compiled `isolateExecutionTimeoutMs`, passed on to Node as the calls' `timeout`, and
 * Node arms no watchdog when it is undefined. The SDK has no option for the promise hook: without
 * stack traces the worker starts the SDK's own workflow thread script behind a two-line prelude that
 * leaves the hook out (SDK internals, pinned by the exact SDK version in package.json).
 * test/workflow-calls.test.ts holds every behaviour, on the real server.
 */
import { Worker as Thread } from 'node:worker_threads';
import { Runtime, Worker, type CompiledWorkerOptions, type Logger } from '@temporalio/worker';
import type { Workflow, WorkflowCreateOptions, WorkflowCreator } from '@temporalio/worker/lib/workflow/interface';
import { ThreadedVMWorkflowCreator, WorkerThreadClient } from '@temporalio/worker/lib/workflow/threaded-vm';
import type { WorkflowBundleWithSourceMapAndFilename } from '@temporalio/worker/lib/workflow/workflow-worker-thread/input';
import { METRICS } from '../observability/metric-names';
import { log } from '../observability/log';

/** How long the activation at the head of the workflow thread may run before it is reported. */
export const SLOW_ACTIVATION_MS = 5_000;

/** How the worker calls into workflow code (the configuration's workflowCallTimeoutMs and workflowStackTraces). */
export interface WorkflowCalls {
  /** Limit on each call into workflow code, in ms (0: none). */
  callTimeoutMs: number;
  /** The SDK's per-promise stack recording, for its stack-trace query. */
  stackTraces: boolean;
}

const classes = new Map<string, typeof Worker>();

/**
 * The Worker class to create workers and replayers with: calls into workflow code limited to
 * `callTimeoutMs` (0: no limit), stack traces recorded or not, the workflow thread watched either way.
 * One class per choice (the SDK numbers its replayers per class). In debug mode (TEMPORAL_DEBUG, and
 * the SDK's replayer unless told `debugMode: false`) workflows run on the calling thread as the SDK
 * sets it up, stack traces included.
 */
export function workerClass({ callTimeoutMs, stackTraces }: WorkflowCalls): typeof Worker {
  if (!Number.isInteger(callTimeoutMs) || callTimeoutMs < 0) throw new RangeError(`workerClass: callTimeoutMs ${callTimeoutMs} is not 0 or a whole number of ms`);
  const key = `${callTimeoutMs}/${stackTraces}`;
  let cls = classes.get(key);
  if (!cls) {
    cls = class Gp2gpWorker extends Worker {
      protected static override async createWorkflowCreator(bundle: WorkflowBundleWithSourceMapAndFilename, compiled: CompiledWorkerOptions, logger: Logger): Promise<WorkflowCreator> {
        // Typed as a number by the SDK; undefined is what Node reads as "no limit".
        const isolateExecutionTimeoutMs = (callTimeoutMs > 0 ? callTimeoutMs : undefined) as number;
        const options = { ...compiled, isolateExecutionTimeoutMs };
        // In debug mode workflows run on this thread, which cannot watch itself.
        if (compiled.debugMode) return await super.createWorkflowCreator(bundle, options, logger);
        const creator = stackTraces ? await super.createWorkflowCreator(bundle, options, logger) : await withoutStackTraces(bundle, options, logger);
        return watched(creator, new ActivationWatch());
      }
    };
    classes.set(key, cls);
  }
  return cls;
}

/**
 * The SDK's workflow thread, started without its promise hook: the thread's shared handlers are told
 * to install only the source-map override of Error stacks, then the SDK's own thread script runs.
 * Its stack-trace query then answers that stack traces are not enabled on this worker.
 */
const THREAD_WITHOUT_STACK_TRACES = `
const { globalHandlers } = require(${JSON.stringify(require.resolve('@temporalio/worker/lib/workflow/vm-shared'))});
// An SDK that renamed it would otherwise record stack traces again without a word.
if (typeof globalHandlers.setPromiseHook !== 'function') throw new Error('the SDK no longer has GlobalHandlers.setPromiseHook; GP2GP_WORKFLOW_STACK_TRACES=off needs worker/workflow-calls.ts updated');
globalHandlers.setPromiseHook = () => {};
require(${JSON.stringify(require.resolve('@temporalio/worker/lib/workflow/workflow-worker-thread'))});
`;

/** What ThreadedVMWorkflowCreator.create does, with the thread above in place of the SDK's own. */
async function withoutStackTraces(bundle: WorkflowBundleWithSourceMapAndFilename, compiled: CompiledWorkerOptions, logger: Logger): Promise<WorkflowCreator> {
  const { patchActivationCallback } = compiled;
  const clients = Array.from(
    { length: compiled.workflowThreadPoolSize },
    () => new WorkerThreadClient(new Thread(THREAD_WITHOUT_STACK_TRACES, { eval: true }), logger, patchActivationCallback),
  );
  await Promise.all(
    clients.map((client) =>
      client.send({
        type: 'init',
        workflowBundle: bundle,
        isolateExecutionTimeoutMs: compiled.isolateExecutionTimeoutMs,
        reuseV8Context: compiled.reuseV8Context ?? true,
        registeredActivityNames: new Set(compiled.activities.keys()),
        hasPatchActivationCallback: patchActivationCallback !== undefined,
      }),
    ),
  );
  return new ThreadedVMWorkflowCreator(clients);
}

function watched(creator: WorkflowCreator, watch: ActivationWatch): WorkflowCreator {
  return {
    createWorkflow: async (options: WorkflowCreateOptions): Promise<Workflow> => {
      const workflow = await creator.createWorkflow(options);
      const activate = workflow.activate.bind(workflow);
      workflow.activate = async (activation) => {
        const key = watch.begin(options);
        try {
          return await activate(activation);
        } finally {
          watch.end(key);
        }
      };
      return workflow;
    },
    destroy: () => creator.destroy(),
  };
}

interface InFlight {
  options: WorkflowCreateOptions;
  reported: boolean;
}

/**
 * The worker's activations in flight, in the order they were handed to the workflow thread. The
 * worker runs one workflow thread (the SDK's default with its reusable context), which takes them in
 * that order, so the oldest in flight is the one it is running, and it has been running since it
 * became the oldest. When that passes SLOW_ACTIVATION_MS it is reported, once (an error log naming it,
 * and gp2gp_slow_workflow_activations_total) — not the activations queued behind it, which are slow
 * only because of it.
 */
export class ActivationWatch {
  private readonly inFlight = new Map<number, InFlight>();
  private next = 0;
  private headSince = 0;
  private ticker: NodeJS.Timeout | undefined;

  constructor(private readonly now: () => number = Date.now) {}

  begin(options: WorkflowCreateOptions): number {
    const key = this.next++;
    if (this.inFlight.size === 0) this.headSince = this.now();
    this.inFlight.set(key, { options, reported: false });
    // A tick a second while anything is in flight; unref'd, so it never keeps the process up.
    this.ticker ??= setInterval(() => this.check(), 1_000).unref();
    return key;
  }

  end(key: number): void {
    const done = this.inFlight.get(key);
    if (!done) return;
    const wasHead = this.inFlight.keys().next().value === key;
    this.inFlight.delete(key);
    if (done.reported) log.warn('slow workflow activation came back', { ...about(done.options), ms: this.now() - this.headSince });
    if (wasHead) this.headSince = this.now();
    if (this.inFlight.size === 0 && this.ticker) {
      clearInterval(this.ticker);
      this.ticker = undefined;
    }
  }

  /** Reports the head if it has held the thread past SLOW_ACTIVATION_MS; exposed for the tests. */
  check(): void {
    const head = this.inFlight.values().next().value;
    if (!head || head.reported) return;
    const ms = this.now() - this.headSince;
    if (ms < SLOW_ACTIVATION_MS) return;
    head.reported = true;
    log.error('workflow activation is holding the workflow thread (a loop that does not yield?); the activations queued behind it wait', {
      ...about(head.options),
      ms,
      queuedBehind: this.inFlight.size - 1,
    });
    Runtime.instance()
      .metricMeter.createCounter(METRICS.slowWorkflowActivations, 'activations', `workflow activations holding the workflow thread past ${SLOW_ACTIVATION_MS / 1000} s`)
      .add(1, { workflow_type: head.options.info.workflowType });
  }
}

/** Workflow IDs are ours and carry no patient data (workflows/ids.ts). */
const about = (options: WorkflowCreateOptions) => ({ workflowType: options.info.workflowType, workflowId: options.info.workflowId, runId: options.info.runId });
