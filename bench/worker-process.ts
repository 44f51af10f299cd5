/**
 * The process shell of the benches' own workers (bench/noop/, bench/without-hand-over/): runs the
 * worker until SIGTERM or SIGINT, says "worker ready" for the bench to wait on, and exits non-zero
 * with the error if it fails.
 */
import type { NativeConnection, Worker } from '@temporalio/worker';

export function runBenchWorker(create: () => Promise<{ worker: Worker; connection: NativeConnection }>): void {
  const main = async () => {
    const { worker, connection } = await create();
    const stop = () => worker.shutdown();
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
    console.log('worker ready');
    await worker.run();
    await connection.close();
  };
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
