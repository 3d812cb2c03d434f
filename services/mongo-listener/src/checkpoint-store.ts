import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';

/**
 * Where the listener is in the change stream: the resume token of the last event whose publish
 * Pub/Sub acknowledged, and that event's wall time (to catch up by `_updatedAt` when the token has
 * fallen out of the oplog).
 */
export interface Checkpoint {
  readonly token?: { _data: string };
  /** ISO time of the last processed change. */
  readonly wallTime: string;
}

export interface CheckpointStore {
  load(): Promise<Checkpoint | undefined>;
  save(checkpoint: Checkpoint): Promise<void>;
}

/** A JSON file on the service's volume, replaced atomically (write, then rename). */
export class FileCheckpointStore implements CheckpointStore {
  readonly #path: string;

  constructor(path: string) {
    this.#path = path;
  }

  async load(): Promise<Checkpoint | undefined> {
    let text: string;
    try {
      text = await readFile(this.#path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    const parsed = JSON.parse(text) as Partial<Checkpoint>;
    if (typeof parsed.wallTime !== 'string')
      throw new Error(`${this.#path}: not a checkpoint (wallTime is missing); delete it to start from now`);
    return parsed as Checkpoint;
  }

  async save(checkpoint: Checkpoint): Promise<void> {
    await mkdir(dirname(this.#path), { recursive: true });
    const tmp = `${this.#path}.tmp`;
    await writeFile(tmp, JSON.stringify(checkpoint));
    await rename(tmp, this.#path);
  }
}
