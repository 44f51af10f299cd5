/**
 * The worker process: runs every gp2gp-mi workflow and activity on one task queue. Configuration comes
 * from the environment (config/); on SIGINT/SIGTERM it stops polling, lets running activities finish
 * and exits, so a restart never loses work (Temporal holds all state).
 */
import * as path from 'node:path';
import { NativeConnection, Runtime, Worker, type WorkflowBundle } from '@temporalio/worker';
import { loadConfig, type Config } from '../config';
import { temporalConnectionOptions } from '../config/temporal-connection';
import { createActivities, type ActivityDeps } from '../activities';
import { registerSearchAttributes } from './search-attributes';
import { ensureLongLivedWorkflows } from './long-lived';
import { log } from './log';

/** The workflows entry: .ts under tsx/vitest, .js once compiled. */
export const WORKFLOWS_PATH = path.join(__dirname, '..', 'workflows', `index${path.extname(__filename)}`);

export interface RunWorkerOptions {
  signal?: AbortSignal;
  /** A pre-built bundle (tests build it once per file). */
  workflowBundle?: WorkflowBundle;
  activityDeps?: ActivityDeps;
  /** Called once the worker polls and the long-lived workflows exist. */
  onReady?: () => void;
}

export async function runWorker(config: Config, options: RunWorkerOptions = {}): Promise<void> {
  const { signal } = options;
  const connection = await NativeConnection.connect(temporalConnectionOptions(config.temporal));
  try {
    await registerSearchAttributes(connection, config.temporal.namespace);
    const activities = createActivities(config, options.activityDeps);
    const worker = await Worker.create({
      connection,
      namespace: config.temporal.namespace,
      taskQueue: config.temporal.taskQueue,
      ...(options.workflowBundle ? { workflowBundle: options.workflowBundle } : { workflowsPath: WORKFLOWS_PATH }),
      activities,
      // Many transfer workflows are open at once; each cached one costs memory (see npm run bench).
      maxCachedWorkflows: 10_000,
    });
    await worker.runUntil(async () => {
      await ensureLongLivedWorkflows(config);
      log.info('worker ready', { taskQueue: config.temporal.taskQueue, namespace: config.temporal.namespace });
      options.onReady?.();
      await new Promise<void>((resolve) => {
        if (signal?.aborted) resolve();
        signal?.addEventListener('abort', () => resolve(), { once: true });
      });
    });
  } finally {
    await connection.close();
  }
}

if (require.main === module) {
  Runtime.install({ shutdownSignals: [] });
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
  runWorker(config, { signal: controller.signal }).then(
    () => process.exit(0),
    (err: unknown) => {
      log.error('worker failed', { error: err instanceof Error ? err.message : String(err) });
      process.exit(1);
    },
  );
}
