import { link, lstat, mkdir, open, readFile, rename, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { installationKey } from './installation-key.ts';
import { emptyState, type StateData, type StateStore } from './types.ts';
import { checkState } from './validate-state.ts';

/** Earlier states kept beside the file (`state.json.1` newest … `.3` oldest). */
export const KEPT_STATES = 3;

/**
 * The embedded state store: one JSON file on a volume. Writes go to a temporary file that is
 * fsynced and renamed over the old one (then the directory is fsynced), so a crash leaves either
 * the old or the new state, never a torn file. What is read is checked against the state's shape;
 * a damaged or unreadable file stops keelson with the file and the problem named, and is never
 * written over. The last few states are kept beside it. A read-only state file is an error: it is
 * not quietly replaced by the rename.
 */
export class FileStateStore implements StateStore {
  readonly path: string;

  #key: Buffer | undefined;

  constructor(path: string) {
    this.path = path;
  }

  /** The installation key: `KEELSON_INSTALLATION_KEY_FILE`, or `installation.key` beside the state file (made once). */
  digestKey(): Buffer {
    this.#key ??= installationKey(this.path, process.env);
    return this.#key;
  }

  async load(): Promise<StateData> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return emptyState();
      throw error;
    }
    let data: unknown;
    try {
      data = JSON.parse(text);
    } catch (error) {
      throw new Error(
        `cannot read state file ${this.path}: it is not valid JSON (${(error as Error).message}); restore it from a backup or move it aside to start with an empty state`,
      );
    }
    return checkState(data, `state file ${this.path}`);
  }

  async save(data: StateData): Promise<void> {
    await mkdir(dirname(this.path), { recursive: true });
    const current = await lstat(this.path).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return undefined;
      throw error;
    });
    if (current && (current.mode & 0o222) === 0) {
      throw new Error(
        `cannot save state file ${this.path}: it is read-only; keelson does not replace it. Make it writable (chmod u+w) or point KEELSON_STATE_PATH elsewhere`,
      );
    }
    const tmp = `${this.path}.${process.pid}.tmp`;
    const handle = await open(tmp, 'w', 0o600);
    try {
      await handle.writeFile(`${JSON.stringify(data, null, 1)}\n`);
      await handle.sync();
    } finally {
      await handle.close();
    }
    if (current) await this.#keepCurrent();
    await rename(tmp, this.path);
    const dir = await open(dirname(this.path), 'r');
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  }

  /** Shifts `.1` → `.2` → `.3` and hard-links the current state as `.1` (the rename then replaces only the name). */
  async #keepCurrent(): Promise<void> {
    for (let i = KEPT_STATES - 1; i >= 1; i--) {
      await rename(`${this.path}.${i}`, `${this.path}.${i + 1}`).catch(ignoreMissing);
    }
    await unlink(`${this.path}.1`).catch(ignoreMissing);
    await link(this.path, `${this.path}.1`);
  }
}

function ignoreMissing(error: NodeJS.ErrnoException): void {
  if (error.code !== 'ENOENT') throw error;
}
