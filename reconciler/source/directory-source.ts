import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { type FSWatcher, watch } from 'chokidar';
import { errorMessage, KeelsonError } from '../../providers/sdk/index.ts';
import { findRoot } from '../desired/load.ts';
import type { DesiredStateSource, SourceSnapshot } from './source.ts';

/**
 * Development mode: a local directory is the desired state. Its revision is a hash of the files'
 * paths and contents, so an unchanged directory is a no-op like an unchanged commit. Changes are
 * watched with chokidar and debounced into one trigger.
 */
export class DirectorySource implements DesiredStateSource {
  readonly description: string;
  readonly #dir: string;
  readonly #debounceMs: number;
  #watcher: FSWatcher | undefined;
  #timer: NodeJS.Timeout | undefined;
  #last: string | undefined;
  #ready: Promise<void> = Promise.resolve();

  constructor(dir: string, debounceMs = 300) {
    this.#dir = resolve(dir);
    this.#debounceMs = debounceMs;
    this.description = `directory ${this.#dir}`;
  }

  async sync(): Promise<SourceSnapshot> {
    let revision: string;
    try {
      revision = `dir-${hashTree(this.#dir).slice(0, 16)}`;
    } catch (error) {
      throw new KeelsonError(`cannot read ${this.description}: ${errorMessage(error)}`, {
        code: 'UNAVAILABLE',
        class: 'transient',
      });
    }
    const changed = revision !== this.#last;
    this.#last = revision;
    return { revision, dir: this.#dir, root: findRoot(this.#dir), changed };
  }

  watch(onChange: () => void): void {
    this.#watcher = watch(this.#dir, {
      ignoreInitial: true,
      ignored: (p) => /(^|\/)(\.git|node_modules)(\/|$)/.test(p),
    });
    const watcher = this.#watcher;
    this.#ready = new Promise<void>((r) => watcher.once('ready', () => r()));
    this.#watcher.on('all', () => {
      clearTimeout(this.#timer);
      this.#timer = setTimeout(onChange, this.#debounceMs);
    });
  }

  /** Resolves once the watcher has scanned the directory (changes after this are seen). */
  ready(): Promise<void> {
    return this.#ready;
  }

  async close(): Promise<void> {
    clearTimeout(this.#timer);
    await this.#watcher?.close();
  }
}

function hashTree(root: string): string {
  const hash = createHash('sha256');
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir).sort()) {
      if (name === '.git' || name === 'node_modules') continue;
      const path = join(dir, name);
      const stat = statSync(path);
      if (stat.isDirectory()) walk(path);
      else if (stat.isFile()) {
        hash.update(relative(root, path));
        hash.update('\0');
        hash.update(readFileSync(path));
        hash.update('\0');
      }
    }
  };
  walk(root);
  return hash.digest('hex');
}
