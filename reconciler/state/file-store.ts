import { mkdir, open, readFile, rename } from 'node:fs/promises';
import { dirname } from 'node:path';
import { emptyState, type StateData, type StateStore } from './types.ts';

/**
 * The embedded state store: one JSON file on a volume. Writes go to a temporary file that is
 * fsynced and renamed over the old one (then the directory is fsynced), so a crash leaves either
 * the old or the new state, never a torn file.
 */
export class FileStateStore implements StateStore {
  readonly path: string;

  constructor(path: string) {
    this.path = path;
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
    if (typeof data !== 'object' || data === null || (data as { version?: unknown }).version !== 1) {
      throw new Error(`cannot read state file ${this.path}: unknown format (expected "version": 1)`);
    }
    return { ...emptyState(), ...(data as StateData) };
  }

  async save(data: StateData): Promise<void> {
    await mkdir(dirname(this.path), { recursive: true });
    const tmp = `${this.path}.${process.pid}.tmp`;
    const handle = await open(tmp, 'w', 0o600);
    try {
      await handle.writeFile(`${JSON.stringify(data, null, 1)}\n`);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, this.path);
    const dir = await open(dirname(this.path), 'r');
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  }
}
