import { readFileSync } from 'node:fs';

/** What the function takes for "now". */
export type Clock = () => Date;

/**
 * The system clock, or, when `nowFile` is given (env `BACKUP_NOW_FILE`, tests only), the ISO time written
 * in that file, read on every call: tests move the function's time forward by rewriting the file.
 */
export function makeClock(nowFile?: string): Clock {
  if (!nowFile) return () => new Date();
  return () => {
    const text = readFileSync(nowFile, 'utf8').trim();
    const at = new Date(text);
    if (Number.isNaN(at.getTime())) throw new Error(`BACKUP_NOW_FILE ${nowFile} holds "${text}", not an ISO time`);
    return at;
  };
}
