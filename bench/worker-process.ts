/**
 * The process shell of the benches' own workers (bench/noop/, bench/without-hand-over/): runs the
 * worker until SIGTERM or SIGINT, says "worker ready" for the bench to wait on, and exits non-zero
 * with the error if it fails.
 */
import type { NativeConnection, Worker } from '@temporalio/worker';

export function runBenchWorker(create: () => Promise<{ workers: Worker[]; connection: NativeConnection; closers?: (() => unknown)[] }>): void {
  const main = async () => {
    const { workers, connection, closers = [] } = await create();
    const stop = () => {
      for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
    console.log('worker ready');
    const runs = workers.map((w) => w.run());
    try {
      await Promise.all(runs);
    } finally {
      // One failing stops the others, and their connections close only once they have stopped.
      stop();
      await Promise.allSettled(runs);
    }
    for (const close of closers.reverse()) await close();
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
