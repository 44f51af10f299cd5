/**
 * The GP Registrations MI API commands: failed posts, and replaying them once the cause is fixed.
 *
 *   gp2gp-mi api failed [--practice ODS] [--json]
 *   gp2gp-mi api replay <workflowId> [--json]
 *   gp2gp-mi api replay --practice ODS [--json]
 *
 * A post the API refused (a 4xx other than 429, e.g. a bad API key) stays failed on its transfer with
 * the API's message, and the transfer's later posts wait behind it (order is kept per transfer).
 * `replay` clears the failure; the transfer then posts it and those behind it again. The logic lives in
 * client/operations.ts; exit codes: 0 ok, 1 the operation failed, 2 bad usage or input.
 */
import type { Command } from 'commander';
import { assertOds, listFailedApiPosts, OperationError, replayApiPosts, replayFailedApiPosts, visibility, type ApiReplayOutcome } from '../client/operations';
import { EXIT_FAILED } from './exit-codes';
import { withClient } from './with-client';

const json = (value: unknown) => console.log(JSON.stringify(value, null, 2));

function printReplays(outcomes: ApiReplayOutcome[]): void {
  for (const o of outcomes) {
    if (o.error) console.log(`${o.workflowId}: not replayed: ${o.error}`);
    else if (o.result?.replayed) console.log(`${o.workflowId}: replaying ${o.result.replayed.endpoint} (failed: ${o.result.replayed.reason}); ${o.result.pending} to post`);
    else console.log(`${o.workflowId}: no failed post; ${o.result?.pending ?? 0} to post`);
  }
}

export function registerApiCommands(program: Command): void {
  const api = program.command('api').description('posts to the GP Registrations MI API: failed ones, replay');

  api
    .command('failed')
    .description('transfers whose API post failed, with the reason (visibility: GP2GP_ApiDelivery = "failed")')
    .option('--practice <ods>', 'only this practice')
    .option('--json', 'machine-readable output')
    .action(async (opts: { practice?: string; json?: boolean }) => {
      const practiceOds = opts.practice ? assertOds(opts.practice) : undefined;
      const failed = await withClient((c) => listFailedApiPosts(c.temporal, practiceOds ? { practiceOds } : {}));
      if (opts.json) return json({ query: visibility.failedApiPosts(practiceOds), failed });
      if (failed.length === 0) return console.log('no failed API posts');
      for (const f of failed) {
        console.log(`${f.workflowId}  ${f.side} of ${f.practiceOds}, key ${f.key || '?'}`);
        if (f.failed) console.log(`  ${f.failed.endpoint} failed at ${f.failed.at}: ${f.failed.reason}`);
        if (f.error) console.log(`  cannot be asked: ${f.error}`);
        if (f.pending !== undefined) console.log(`  ${f.pending} API event(s) waiting`);
      }
    });

  api
    .command('replay')
    .description('clear failed API posts so they (and the posts behind them) are tried again, after the cause is fixed')
    .argument('[workflowId]', 'the transfer workflow (gp2gp-rr-… / gp2gp-sr-…)')
    .option('--practice <ods>', 'every failed transfer of this practice')
    .option('--json', 'machine-readable output')
    .action(async (workflowId: string | undefined, opts: { practice?: string; json?: boolean }) => {
      if (Boolean(workflowId) === Boolean(opts.practice)) throw new OperationError('api replay: give a transfer workflow id or --practice (not both)', 2);
      const outcomes = await withClient(async (c) =>
        workflowId ? [await replayApiPosts(c.temporal, workflowId)] : await replayFailedApiPosts(c.temporal, { practiceOds: assertOds(opts.practice!) }),
      );
      if (outcomes.some((o) => o.error)) process.exitCode = EXIT_FAILED;
      if (opts.json) return json({ replays: outcomes });
      if (outcomes.length === 0) return console.log('no failed API posts');
      printReplays(outcomes);
    });
}
