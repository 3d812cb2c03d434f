import { pino } from 'pino';
import type { Logger } from '../../providers/sdk/index.ts';

/** Log levels keelson accepts (`log.level`, default `info`). */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';

/**
 * Structured JSON logs (pino) on stdout. Fields that could carry a credential are censored by
 * pino's redaction as a second line of defence: callers already never pass secret values.
 */
export function createLogger(level: LogLevel = 'info', destination?: NodeJS.WritableStream): Logger & pino.Logger {
  return pino(
    {
      level,
      base: { service: 'keelson' },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: {
        paths: ['token', 'secret', 'password', 'authorization', '*.token', '*.secret', '*.password', '*.authorization'],
        censor: '(sensitive)',
      },
    },
    destination ?? process.stdout,
  );
}
