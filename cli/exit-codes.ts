/**
 * The exit codes of every `gp2gp-mi` command (README, "Operations commands"): 0 done, 1 the operation
 * failed (not found, MESH or Temporal refused or unreachable, a check found problems), 2 bad usage or
 * input (a bad option or file, a bad environment variable, a request the service refused).
 */
import { CommanderError } from 'commander';
import { ConfigError } from '../config/errors';

export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;
export type ExitCode = typeof EXIT_OK | typeof EXIT_FAILED | typeof EXIT_USAGE;

/** An error that ends the command with its exit code and one line on stderr. */
export class CommandError extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCode = EXIT_FAILED,
  ) {
    super(message);
  }
}

/** Bad input: exit code 2. */
export class UsageError extends CommandError {
  constructor(message: string) {
    super(message, EXIT_USAGE);
  }
}

/**
 * The exit code an error ends a command with: commander's own (help: 0, a bad option: 2), 2 for a bad
 * environment variable (it names the variable, like a bad option), else the `exitCode` an error
 * carries (CommandError, the client's RequestRefusedError and OperationError), else 1.
 */
export function exitCodeOf(err: unknown): number {
  if (err instanceof CommanderError) return err.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
  if (err instanceof ConfigError) return EXIT_USAGE;
  const carried = (err as { exitCode?: unknown } | undefined)?.exitCode;
  return typeof carried === 'number' ? carried : EXIT_FAILED;
}
