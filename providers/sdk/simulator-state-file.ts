import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * A simulator's state kept in one JSON file: read once at start, written (atomically: a temporary file
 * renamed over the old one) soon after every change and once more on close.
 */
export class StateFile<T> {
  readonly path: string;
  readonly #read: () => T;
  #pending: NodeJS.Immediate | undefined;

  constructor(path: string, read: () => T) {
    this.path = path;
    this.#read = read;
  }

  /** The saved state, or undefined when the file does not exist yet. */
  load(): unknown {
    if (!existsSync(this.path)) return undefined;
    try {
      return JSON.parse(readFileSync(this.path, 'utf8')) as unknown;
    } catch (error) {
      throw new Error(
        `${this.path} is not a simulator state file (${(error as Error).message}); move it away or pick another --state`,
      );
    }
  }

  /** Saves on the next turn of the event loop (many changes in one turn are written once). */
  changed(): void {
    if (this.#pending) return;
    this.#pending = setImmediate(() => {
      this.#pending = undefined;
      this.save();
    });
  }

  save(): void {
    if (this.#pending) clearImmediate(this.#pending);
    this.#pending = undefined;
    mkdirSync(dirname(this.path), { recursive: true });
    const tmp = `${this.path}.tmp-${process.pid}`;
    writeFileSync(tmp, `${JSON.stringify(this.#read())}\n`, { mode: 0o600 });
    renameSync(tmp, this.path);
  }
}
