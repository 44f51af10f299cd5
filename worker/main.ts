/**
 * The worker process: runs every gp2gp-mi workflow and activity on the two task queues (transfers;
 * practices' reporting, whose workflows so keep a cache of their own). Configuration comes
 * from the environment (config/); on SIGINT/SIGTERM it stops polling, lets running activities finish
 * and exits, so a restart never loses work (Temporal holds all state).
 */
import * as os from 'node:os';
import * as path from 'node:path';
import * as v8 from 'node:v8';
import type { Client } from '@temporalio/client';
import { bundleWorkflowCode, makeTelemetryFilterString, NativeConnection, Runtime, type RuntimeOptions, type Worker, type WorkflowBundle } from '@temporalio/worker';
import { loadConfig, type Config } from '../config';
import { connectTemporalClient, dataConverter, temporalConnectionOptions } from '../config/temporal';
import { activityInterceptors } from '../observability/activity-interceptor';
import { installMeshMetrics } from '../observability/mesh-metrics';
import { HISTOGRAM_BUCKETS, METRICS } from '../observability/metric-names';
import { PinoTemporalLogger } from '../observability/temporal-logger';
import { loadPractices } from '../mi/practices';
import { createActivities, type ActivityDeps } from '../activities';
import { checkRetention, registerSearchAttributes } from './namespace';
import { ensureLongLivedWorkflows } from './long-lived';
import { log } from '../observability/log';
import { workerClass } from './workflow-calls';

/** The workflows entry: .ts under tsx/vitest, .js once compiled. */
export const WORKFLOWS_PATH = path.join(__dirname, '..', 'workflows', `index${path.extname(__filename)}`);
/** Workflow interceptors (metrics); a pre-built bundle must include them: bundleWorkflowCode({ workflowInterceptorModules }). */
export const WORKFLOW_INTERCEPTOR_MODULES = [path.join(__dirname, '..', 'observability', `workflow-interceptors${path.extname(__filename)}`)];

/**
 * Modules that every cached workflow shares instead of evaluating its own copy: all of ours in the
 * bundle (the workflows and what they import from mi/ and messages/, and the interceptors). With the
 * SDK's reusable V8 context, a module first required by a workflow is evaluated again for each
 * workflow, so its functions, tables (mi/fields.ts), sets and message definitions were copied per
 * cached workflow: 105 of the 120 KiB a workflow context costs before its own state (measured by
 * loading the bundle into the SDK's ReusableVMWorkflowCreator). Preloaded, they are evaluated once,
 * before any workflow exists, and deep-frozen by the SDK.
 *
 * Safe because these modules hold no per-workflow state at module level: no `let`, no mutated
 * module-level object (an exported one would now throw, being frozen; the two module-level Sets,
 * FAILED_TRACKING and NACK_SET, are only read), and nothing at module level calls the workflow API
 * (preloading runs before a workflow exists, so such a call would fail at worker start). Every
 * workflow's state lives in what its workflow function creates. Keep it so: a module-level cache or
 * counter in these modules would leak between workflows and break determinism.
 *
 * A pre-built bundle must be built with them too: bundleWorkflowCode({ preloadModules }).
 */
export const WORKFLOW_PRELOAD_MODULES = [WORKFLOWS_PATH, ...WORKFLOW_INTERCEPTOR_MODULES];

/**
 * The process-wide Temporal Runtime of the worker: its logs (SDK, workflow and activity context, and
 * the Rust core's) as pino JSON lines, and Prometheus metrics (Temporal's and ours) on
 * GP2GP_METRICS_HOST:GP2GP_METRICS_PORT. Install once, before any connection.
 */
export function workerRuntimeOptions(config: Config): RuntimeOptions {
  return {
    shutdownSignals: [],
    logger: new PinoTemporalLogger(log.pino),
    telemetryOptions: {
      logging: { forward: {}, filter: makeTelemetryFilterString({ core: 'WARN', other: 'ERROR' }) },
      ...(config.metrics
        ? {
            metrics: {
              prometheus: {
                bindAddress: `${config.metrics.host}:${config.metrics.port}`,
                countersTotalSuffix: true,
                useSecondsForDurations: true,
                histogramBucketOverrides: HISTOGRAM_BUCKETS,
              },
            },
          }
        : {}),
    },
  };
}

/**
 * How deep a stack V8 records in workflow code: how many frames an error thrown there keeps and, with
 * GP2GP_WORKFLOW_STACK_TRACES=on, the stacks the SDK records for every promise a workflow creates
 * (for its stack-trace query, the Web UI's "Stack Trace" tab), each frame mapped through the bundle's
 * source map; perf put that recording at about a sixth of the worker's CPU in a national-day run with
 * V8's 10 frames, before it was turned off by default (worker/workflow-calls.ts). With it on, the first
 * two frames are the SDK's hook and Node's (it strips them), so 5 shows the three innermost frames of
 * each wait: the line of ours it waits at, and enough for the SDK to link the promises
 * Promise.race/all make inside (it recognises them by the frame after theirs; with 4 they show as
 * blocks of their own). Fewer than 3 leaves the SDK's own frames in the view.
 *
 * A V8 flag: it applies to contexts created after it is set, i.e. the workflow threads and their
 * contexts that Worker.create starts next, not this (main) thread's, where activities run.
 */
export function setWorkflowStackFrames(frames: number): void {
  v8.setFlagsFromString(`--stack-trace-limit=${frames}`);
}

/**
 * The Worker class for our workflows as configured: the stack depth recorded in workflow code, the
 * limit on calls into it and whether the SDK records stack traces (worker/workflow-calls.ts). Set
 * before the worker starts its threads.
 */
export function configuredWorkerClass(pipeline: Pick<Config['pipeline'], 'workflowStackFrames' | 'workflowCallTimeoutMs' | 'workflowStackTraces'>): typeof Worker {
  setWorkflowStackFrames(pipeline.workflowStackFrames);
  return workerClass({ callTimeoutMs: pipeline.workflowCallTimeoutMs, stackTraces: pipeline.workflowStackTraces });
}

/** What differs between the transfers' SDK workers (createTransferWorkers): WorkerOptions, to spread into them. */
export interface TransferWorkerPart {
  connection: NativeConnection;
  /** Set when there are several: which of them ran a task shows in the history (WorkflowTaskStarted). */
  identity?: string;
  maxCachedWorkflows: number;
  /**
   * Whether it polls the queue's activity tasks (the API's posts, the inbox's MESH calls): only the
   * first does, so they run as many at a time as before the split; every one runs the local
   * activities of the workflows it holds.
   */
  enableNonLocalActivities: boolean;
}

/**
 * The transfers' SDK workers: GP2GP_TRANSFER_WORKERS of them polling the transfers' queue, the cache
 * (GP2GP_WORKER_CACHED_WORKFLOWS) split evenly between them, so each worker's core walks its part of
 * the cache, not all of it, on every input of every workflow task (see the Performance section). A
 * workflow's next tasks go to the worker that holds it (its sticky queue). The core allows one worker
 * per queue on a connection: each further one opens its own, closed by `closers` after the workers stop.
 */
export async function createTransferWorkers(
  config: Config,
  connection: NativeConnection,
  closers: (() => unknown)[],
  create: (part: TransferWorkerPart) => Promise<Worker>,
): Promise<Worker[]> {
  const parts = config.pipeline.transferWorkers;
  const workers: Worker[] = [];
  for (let i = 0; i < parts; i++) {
    let own = connection;
    if (i > 0) {
      const opened = (own = await NativeConnection.connect(temporalConnectionOptions(config.temporal)));
      closers.push(() => opened.close());
    }
    workers.push(
      await create({
        connection: own,
        maxCachedWorkflows: Math.ceil(config.pipeline.workerCachedWorkflows / parts),
        enableNonLocalActivities: i === 0,
        ...(parts > 1 ? { identity: `${process.pid}@${os.hostname()} transfers ${i + 1}/${parts}` } : {}),
      }),
    );
  }
  return workers;
}

export interface RunWorkerOptions {
  signal?: AbortSignal;
  /** A pre-built bundle (tests build it once per file). */
  workflowBundle?: WorkflowBundle;
  activityDeps?: ActivityDeps;
  /** Called once the worker polls and the long-lived workflows exist. */
  onReady?: () => void;
  /**
   * false: every workflow evaluates its own copy of our modules, as before issue 13 (bench/memory.ts
   * measures both; GP2GP_WORKER_SHARE_MODULES=off sets it for `tsx worker/main.ts`). Default true.
   */
  shareModules?: boolean;
}

export async function runWorker(config: Config, options: RunWorkerOptions = {}): Promise<void> {
  const { signal } = options;
  const connection = await NativeConnection.connect(temporalConnectionOptions(config.temporal));
  const closers: (() => unknown)[] = [];
  try {
    await registerSearchAttributes(connection, config.temporal.namespace);
    // The embedded dev server (GP2GP_EMBEDDED set by npm start) may be adjusted; a cluster is only warned about.
    await checkRetention(
      connection,
      config.temporal.namespace,
      config.pipeline.transferFinalQuietMs,
      process.env.GP2GP_EMBEDDED_TEMPORAL ? Math.max(30 * 86_400_000, 3 * config.pipeline.transferFinalQuietMs) : undefined,
    );
    // The activities' own Temporal client shares the worker's data converter, so the rows they
    // signal to reporting workflows are encrypted like everything else (GP2GP_ENCRYPTION_KEYS).
    let activityClient: Client | undefined = options.activityDeps?.client;
    if (!activityClient) {
      const own = (activityClient = await connectTemporalClient(config));
      closers.push(() => own.connection.close());
    }
    const activities = createActivities(config, { meter: Runtime.instance().metricMeter, ...options.activityDeps, client: activityClient });
    closers.push(installMeshMetrics(Runtime.instance().metricMeter));
    // Every workflow type is registered on both queues (a run keeps the queue it began on); what
    // differs is what each worker's cache holds: the many transfers, or one reporting workflow per
    // practice that every hand-over of its rows wakes.
    const WorkerClass = configuredWorkerClass(config.pipeline);
    const bundle = options.workflowBundle ?? (await bundleWorkflowCode({
      workflowsPath: WORKFLOWS_PATH,
      workflowInterceptorModules: WORKFLOW_INTERCEPTOR_MODULES,
      ...(options.shareModules === false ? {} : { preloadModules: WORKFLOW_PRELOAD_MODULES }),
      logger: new PinoTemporalLogger(log.pino),
    }));
    const converter = dataConverter(config);
    // A transfers' worker's part (createTransferWorkers) or the reporting worker's cache: WorkerOptions as they are.
    const createWorker = (taskQueue: string, part: Pick<TransferWorkerPart, 'maxCachedWorkflows'> & Partial<TransferWorkerPart>) =>
      WorkerClass.create({
        connection,
        namespace: config.temporal.namespace,
        taskQueue,
        workflowBundle: bundle,
        activities,
        dataConverter: converter,
        interceptors: { activity: [activityInterceptors()] },
        // Each cached workflow (maxCachedWorkflows) costs memory (npm run bench -- memory) and CPU: the
        // SDK's core walks its worker's whole cache on every input of every workflow task, so a national
        // day ran faster with 2,000 than with every open workflow cached. An evicted workflow replays
        // from history at its next task.
        ...part,
      });
    const transferWorkers = await createTransferWorkers(config, connection, closers, (part) => createWorker(config.temporal.taskQueue, part));
    const reportingWorker =
      config.temporal.reportingTaskQueue === config.temporal.taskQueue
        ? undefined
        : await createWorker(config.temporal.reportingTaskQueue, { maxCachedWorkflows: config.pipeline.reportingCachedWorkflows });
    const serve = async () => {
      await ensureLongLivedWorkflows(config);
      const meter = Runtime.instance().metricMeter;
      meter.createGauge(METRICS.practices, 'int', 'practices', 'practices the worker reports for').set(loadPractices(config.practicesFile).length);
      meter.createGauge(METRICS.workerReady, 'float', 's', 'when the worker became ready').set(Date.now() / 1000);
      log.info('worker ready', {
        taskQueue: config.temporal.taskQueue,
        reportingTaskQueue: config.temporal.reportingTaskQueue,
        namespace: config.temporal.namespace,
        encryption: config.encryption ? `on (current key ${config.encryption.currentKeyId})` : 'off',
        metrics: config.metrics ? `http://${config.metrics.host}:${config.metrics.port}/metrics` : 'off',
      });
      options.onReady?.();
      await new Promise<void>((resolve) => {
        if (signal?.aborted) resolve();
        signal?.addEventListener('abort', () => resolve(), { once: true });
      });
    };
    // The reporting worker failing ends `serving`, which stops the transfers' workers (runUntil shuts
    // its worker down when what it waits for ends). A transfers' worker failing does not end
    // `serving`, so the others and the reporting worker are stopped here, before the connections close.
    const serving = reportingWorker ? reportingWorker.runUntil(serve) : serve();
    const runs = transferWorkers.map((w) => w.runUntil(serving));
    try {
      await Promise.all(runs);
    } finally {
      for (const w of [...transferWorkers, ...(reportingWorker ? [reportingWorker] : [])]) if (w.getState() === 'RUNNING') w.shutdown();
      await Promise.allSettled([serving, ...runs]);
    }
  } finally {
    for (const close of closers.reverse()) await Promise.resolve(close()).catch(() => undefined);
    // A worker created but never run keeps its connection: saying so would hide why start-up failed.
    await connection.close().catch((err: unknown) => log.warn('Temporal connection not closed', { error: err instanceof Error ? err.message : String(err) }));
  }
}

if (require.main === module) {
  const controller = new AbortController();
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      log.info('worker stopping', { signal: sig });
      controller.abort();
    });
  }
  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    console.error(`gp2gp-mi worker: ${(err as Error).message}`);
    process.exit(2);
  }
  Runtime.install(workerRuntimeOptions(config));
  // A measuring switch for bench/memory.ts, not a setting: sharing the modules is always right.
  const shareModules = process.env.GP2GP_WORKER_SHARE_MODULES !== 'off';
  runWorker(config, { signal: controller.signal, shareModules }).then(
    () => process.exit(0),
    (err: unknown) => {
      log.error('worker failed', { error: err instanceof Error ? err.message : String(err) });
      process.exit(1);
    },
  );
}
