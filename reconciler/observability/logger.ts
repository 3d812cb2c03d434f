import { posix } from 'node:path';
import { pino } from 'pino';
import type { Logger } from '../../providers/sdk/index.ts';

/** Log levels keelson accepts (`log.level`, default `info`). */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';

/** `json`: one JSON object a line (pino); `pretty`: a readable line for a person at a terminal. */
export type LogFormat = 'json' | 'pretty';

export interface LoggerOptions {
  /**
   * Default: `KEELSON_LOG_FORMAT` (`json` or `pretty`) when set, else `pretty` when the
   * destination is a terminal and `json` when it is not (a file, a pipe, a log collector).
   */
  readonly format?: LogFormat;
  /** Where the desired state sits in the repository (`desired-state`): diagnostics then name repository paths. */
  readonly sourcePath?: string;
  /** Colours in the pretty format. Default: when the destination is a terminal. */
  readonly color?: boolean;
}

type Destination = NodeJS.WritableStream & { isTTY?: boolean };

/**
 * Structured logs (pino) on stdout: JSON, or readable lines on a terminal. Fields that could
 * carry a credential are censored by pino's redaction as a second line of defence: callers
 * already never pass secret values.
 */
export function createLogger(
  level: LogLevel = 'info',
  destination?: Destination,
  options: LoggerOptions = {},
): Logger & pino.Logger {
  const out = destination ?? (process.stdout as Destination);
  const asked = process.env.KEELSON_LOG_FORMAT;
  const format =
    options.format ?? (asked === 'json' || asked === 'pretty' ? asked : out.isTTY === true ? 'pretty' : 'json');
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
    format === 'pretty'
      ? prettyStream(out, { color: options.color ?? out.isTTY === true, sourcePath: options.sourcePath })
      : out,
  );
}

const LEVELS: Record<number, { name: string; color: string }> = {
  10: { name: 'TRACE', color: '90' },
  20: { name: 'DEBUG', color: '90' },
  30: { name: 'INFO ', color: '32' },
  40: { name: 'WARN ', color: '33' },
  50: { name: 'ERROR', color: '31' },
  60: { name: 'FATAL', color: '31' },
};
/** Fields every line has, or that the line's text already says. */
const QUIET = new Set(['level', 'time', 'msg', 'service', 'pid', 'hostname']);

/**
 * pino's JSON lines turned into `12:04:05 INFO  message key=value ...` (pino-pretty's idea, in a
 * few lines). A diagnostic's file (relative to the desired state) is shown from the repository
 * root, the path a user opens.
 */
export function prettyStream(
  out: NodeJS.WritableStream,
  options: { color?: boolean; sourcePath?: string } = {},
): { write(line: string): void } {
  const paint = (code: string, text: string) => (options.color ? `\u001b[${code}m${text}\u001b[0m` : text);
  return {
    write(line: string) {
      let entry: Record<string, unknown>;
      try {
        entry = JSON.parse(line) as Record<string, unknown>;
      } catch {
        out.write(line);
        return;
      }
      const level = LEVELS[Number(entry.level)] ?? { name: String(entry.level), color: '0' };
      const time = typeof entry.time === 'string' ? entry.time.slice(11, 19) : '';
      let msg = String(entry.msg ?? '');
      const file = typeof entry.file === 'string' ? entry.file : undefined;
      if (file && options.sourcePath && !posix.isAbsolute(file) && msg.startsWith(`${file}:`)) {
        const shown = posix.normalize(posix.join(options.sourcePath, file));
        msg = `${shown}${msg.slice(file.length)}`;
        entry.file = shown;
      }
      // A commit's first 12 characters name it well enough on a terminal.
      for (const [k, v] of Object.entries(entry))
        if (typeof v === 'string' && /^[0-9a-f]{40}$/.test(v)) entry[k] = v.slice(0, 12);
      const fields = Object.entries(entry)
        .filter(([k, v]) => !QUIET.has(k) && v !== undefined && !(k === 'file' && msg.startsWith(String(v))))
        .map(([k, v]) => `${k}=${show(v)}`);
      out.write(
        `${paint('90', time)} ${paint(level.color, level.name)} ${msg}${fields.length ? ` ${paint('90', fields.join(' '))}` : ''}\n`,
      );
    },
  };
}

function show(v: unknown): string {
  if (typeof v === 'string') return /^[^\s"=]+$/.test(v) ? v : JSON.stringify(v);
  if (v !== null && typeof v === 'object' && 'message' in v) return JSON.stringify((v as { message: unknown }).message);
  return JSON.stringify(v);
}
