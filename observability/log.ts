/**
 * Structured JSON logs (pino) for the worker, the HTTP API and the codec server. Never log event contents beyond ids:
 * free text could carry patient data, and secrets never reach a log line.
 */
import pino from 'pino';

const logger = pino({
  level: process.env.LOG_LEVEL ?? 'info',
  base: { service: 'gp2gp-mi' },
  timestamp: pino.stdTimeFunctions.isoTime,
  redact: { paths: ['password', 'sharedKey', 'authorization', '*.password', '*.sharedKey', '*.authorization'], censor: '[secret]' },
});

type Fields = Record<string, unknown>;

export const log = {
  debug: (msg: string, fields: Fields = {}) => logger.debug(fields, msg),
  info: (msg: string, fields: Fields = {}) => logger.info(fields, msg),
  warn: (msg: string, fields: Fields = {}) => logger.warn(fields, msg),
  error: (msg: string, fields: Fields = {}) => logger.error(fields, msg),
  child: (bindings: Fields) => logger.child(bindings),
  pino: logger,
};
