/**
 * The ingest bench's baseline worker process: the no-op workflow (bench/noop/workflow.ts) on its own
 * task queue, with the same worker settings as the product's worker (cache size), nothing else.
 */
import * as path from 'node:path';
import { NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { runBenchWorker } from '../worker-process';

runBenchWorker(async () => {
  Runtime.install({ shutdownSignals: [] });
  const connection = await NativeConnection.connect({ address: process.env.TEMPORAL_ADDRESS! });
  const worker = await Worker.create({
    connection,
    namespace: process.env.TEMPORAL_NAMESPACE ?? 'default',
    taskQueue: process.env.BENCH_NOOP_TASK_QUEUE ?? 'bench-noop',
    workflowsPath: path.join(__dirname, `workflow${path.extname(__filename)}`),
    // The product worker's setting where the bench gives one (the memory bench does), else the ingest bench's.
    maxCachedWorkflows: Number(process.env.GP2GP_WORKER_CACHED_WORKFLOWS ?? 10_000),
  });
  return { workers: [worker], connection };
});
