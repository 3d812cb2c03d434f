import { mkdir, open, readFile, rename, stat, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { type LeaseBackend, type LeaseClaim, type LeaseRecord, nextLease, parseLease } from './lease.ts';

/** A lock file older than this is left by a process that died inside a claim: it is removed. */
const STALE_LOCK_MS = 10_000;

/**
 * The file store's lease: `<state>.lease` (JSON: holder, generation, expiresAt), changed only
 * while holding `<state>.lease.lock`, a lock file created exclusively (O_CREAT|O_EXCL) and removed
 * right after. Replicas must share the state file's folder (one host, or a shared volume whose
 * file system honours O_EXCL, such as NFSv3+ or a local bind mount).
 */
export class FileLease implements LeaseBackend {
  readonly path: string;
  readonly #lock: string;

  constructor(statePath: string) {
    this.path = `${statePath}.lease`;
    this.#lock = `${this.path}.lock`;
  }

  get description(): string {
    return this.path;
  }

  async read(): Promise<LeaseRecord | undefined> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
    try {
      return parseLease(JSON.parse(text), this.path);
    } catch (error) {
      if (error instanceof SyntaxError) return parseLease({}, this.path);
      throw error;
    }
  }

  claim(holder: string, now: number, ttlMs: number, healthy = true): Promise<LeaseClaim> {
    return this.#locked(async () => {
      const next = nextLease(await this.read(), holder, now, ttlMs, healthy);
      if (next.changed && next.lease) await this.#write(next.lease);
      return { acquired: next.acquired, lease: next.lease };
    });
  }

  release(holder: string, generation: number): Promise<void> {
    return this.#locked(async () => {
      const current = await this.read();
      if (current?.holder === holder && current.generation === generation)
        await this.#write({ ...current, expiresAt: 0 });
    });
  }

  async #write(lease: LeaseRecord): Promise<void> {
    const tmp = `${this.path}.${process.pid}.tmp`;
    const handle = await open(tmp, 'w', 0o600);
    try {
      await handle.writeFile(`${JSON.stringify(lease)}\n`);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, this.path);
  }

  async #locked<T>(body: () => Promise<T>): Promise<T> {
    await mkdir(dirname(this.path), { recursive: true });
    for (let attempt = 0; ; attempt++) {
      try {
        const handle = await open(this.#lock, 'wx', 0o600);
        await handle.close();
        break;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
        const age = await stat(this.#lock).then(
          (s) => Date.now() - s.mtimeMs,
          () => 0,
        );
        if (age > STALE_LOCK_MS) await unlink(this.#lock).catch(() => undefined);
        else if (attempt > 200)
          throw new Error(`cannot take the lease lock ${this.#lock}: another replica holds it; it is retried`);
        else await sleep(10);
      }
    }
    try {
      return await body();
    } finally {
      await unlink(this.#lock).catch(() => undefined);
    }
  }
}
