/**
 * `gp2gp-mi` — one command line for operators and GP system hooks. Each concern registers its own
 * sub-commands (records/CSV, MESH, hooks, operations); this file only wires them together.
 * Exit codes: cli/exit-codes.ts.
 */
import { Command, CommanderError } from 'commander';
import { exitCodeOf } from './exit-codes';
import { registerPipelineCommands } from './pipeline';
import { registerOperationsCommands } from './operations';
import { registerOutcomesCommands } from './outcomes';
import { registerApiCommands } from './api';
import { registerMeshCommands } from './mesh';
import { registerRecordCommands } from './records';

const program = new Command()
  .name('gp2gp-mi')
  .description('GP2GP Management Information: record GP2GP stages, render and check MI files, deliver them over MESH')
  .showHelpAfterError()
  .exitOverride();

// Sub-command groups are added here, one line each.
registerPipelineCommands(program);
registerOperationsCommands(program);
registerOutcomesCommands(program);
registerApiCommands(program);
registerMeshCommands(program);
registerRecordCommands(program);

program.parseAsync(process.argv).catch((err: unknown) => {
  if (!(err instanceof CommanderError)) console.error(`gp2gp-mi: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(exitCodeOf(err));
});
