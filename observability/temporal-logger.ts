/**
 * The Temporal Runtime's logger, routed into the worker's pino logger (observability/log.ts): the SDK's own
 * lines, workflow and activity context logs (`log` from @temporalio/workflow / activity, which carry
 * workflowId, runId, workflowType, activityType…) and, forwarded, the Rust core's lines — all as one
 * stream of JSON lines.
 */
import type { LogLevel, LogMetadata, Logger } from '@temporalio/common';
import type { Logger as Pino } from 'pino';

const LEVELS: Record<LogLevel, 'trace' | 'debug' | 'info' | 'warn' | 'error'> = {
  TRACE: 'trace',
  DEBUG: 'debug',
  INFO: 'info',
  WARN: 'warn',
  ERROR: 'error',
};

export class PinoTemporalLogger implements Logger {
  constructor(private readonly pino: Pino) {}

  log(level: LogLevel, message: string, meta?: LogMetadata): void {
    const fields: Record<string, unknown> = { component: 'temporal', ...(meta ?? {}) };
    // Core lines carry their own timestamp in nanoseconds; pino writes its own.
    delete fields.timestamp;
    if (fields.error instanceof Error) fields.error = (fields.error as Error).message;
    this.pino[LEVELS[level] ?? 'info'](fields, message);
  }
  trace(message: string, meta?: LogMetadata): void {
    this.log('TRACE', message, meta);
  }
  debug(message: string, meta?: LogMetadata): void {
    this.log('DEBUG', message, meta);
  }
  info(message: string, meta?: LogMetadata): void {
    this.log('INFO', message, meta);
  }
  warn(message: string, meta?: LogMetadata): void {
    this.log('WARN', message, meta);
  }
  error(message: string, meta?: LogMetadata): void {
    this.log('ERROR', message, meta);
  }
}
