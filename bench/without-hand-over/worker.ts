/**
 * The ingest bench's attribution worker: the product's own workflows, interceptors and worker
 * settings (stack depth, calls into workflow code) on a task queue of their own, with one
 * difference — forwardRows answers at once without signalling any reporting workflow. Whatever our
 * ingest costs beyond this is the hand-over of rows to the reporting workflows; whatever this costs
 * beyond the no-op baseline is the transfer workflow itself. Bench only: never a way to run the
 * product (its rows reach no submission).
 */
import { bundleWorkflowCode, NativeConnection, Runtime } from '@temporalio/worker';
import { runBenchWorker } from '../worker-process';
import { createActivities } from '../../activities';
import { loadConfig } from '../../config';
import { dataConverter, temporalConnectionOptions } from '../../config/temporal';
import { activityInterceptors } from '../../observability/activity-interceptor';
import { configuredWorkerClass, createTransferWorkers, WORKFLOW_INTERCEPTOR_MODULES, WORKFLOW_PRELOAD_MODULES, WORKFLOWS_PATH, workerRuntimeOptions } from '../../worker/main';

runBenchWorker(async () => {
  const config = loadConfig(process.env);
  Runtime.install(workerRuntimeOptions(config));
  const connection = await NativeConnection.connect(temporalConnectionOptions(config.temporal));
  const closers: (() => unknown)[] = [];
  const WorkerClass = configuredWorkerClass(config.pipeline);
  const activities = { ...createActivities(config), forwardRows: async () => {} };
  const workflowBundle = await bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, workflowInterceptorModules: WORKFLOW_INTERCEPTOR_MODULES, preloadModules: WORKFLOW_PRELOAD_MODULES });
  // Split as the product's worker splits the transfers' cache (GP2GP_TRANSFER_WORKERS).
  const workers = await createTransferWorkers(config, connection, closers, (part) =>
    WorkerClass.create({
      namespace: config.temporal.namespace,
      taskQueue: config.temporal.taskQueue,
      workflowBundle,
      activities,
      dataConverter: dataConverter(config),
      interceptors: { activity: [activityInterceptors()] },
      ...part,
    }),
  );
  return { workers, connection, closers };
});
