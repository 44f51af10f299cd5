/** A configuration fault: a bad or missing environment variable, or a file it names. Exit code 2. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}
