import { existsSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { type SimpleGit, simpleGit } from 'simple-git';
import { errorMessage, KeelsonError, type Logger } from '../../providers/sdk/index.ts';
import { type GitCredentials, gitEnvironment } from './git-credentials.ts';
import { type DesiredStateSource, redactUrl, type SourceSnapshot } from './source.ts';
import { type SignaturePolicy, verifyCommit } from './verify-signature.ts';

/** A Git remote followed on one branch. Defaults: branch `main`, path `.`. */
export interface GitSourceOptions {
  /** https://, ssh://, scp-like `git@host:path`, or file:// (and plain paths). Never with credentials in it. */
  readonly url: string;
  readonly branch: string;
  /** Sub-path of the repository that holds the desired state. */
  readonly path: string;
  /** Where the working copy lives (created on first sync). */
  readonly checkoutDir: string;
  readonly credentials?: GitCredentials;
  readonly verify?: SignaturePolicy;
  readonly log: Logger;
  /** Per git command. Default 120 s. */
  readonly timeoutMs?: number;
}

/**
 * Clones once, then fetches the branch on every sync. A fetch that finds the revision already
 * checked out is a no-op (`changed: false`). A new commit is verified (when configured) before
 * it is checked out, so an unacceptable commit never reaches the working copy.
 */
export class GitSource implements DesiredStateSource {
  readonly description: string;
  readonly #options: GitSourceOptions;
  #current: string | undefined;

  constructor(options: GitSourceOptions) {
    this.#options = options;
    this.description = `${redactUrl(options.url)}#${options.branch}${options.path === '.' ? '' : `:${options.path}`}`;
  }

  #git(cwd: string, signal?: AbortSignal): SimpleGit {
    return simpleGit({
      baseDir: cwd,
      timeout: { block: this.#options.timeoutMs ?? 120_000 },
      abort: signal,
      unsafe: { allowUnsafeConfigEnvCount: true, allowUnsafeSshCommand: true },
    }).env({ ...stripGitEnv(process.env), ...gitEnvironment(this.#options.credentials ?? {}) });
  }

  async sync(signal?: AbortSignal): Promise<SourceSnapshot> {
    const dir = this.#options.checkoutDir;
    const branch = this.#options.branch;
    try {
      if (!existsSync(join(dir, '.git'))) {
        await rm(dir, { recursive: true, force: true });
        await mkdir(dirname(dir), { recursive: true });
        await this.#git(dirname(dir), signal).clone(this.#options.url, dir, [
          '--no-checkout',
          '--single-branch',
          '--branch',
          branch,
        ]);
        this.#current = undefined;
      }
      const git = this.#git(dir, signal);
      await git.fetch('origin', `+refs/heads/${branch}:refs/remotes/origin/${branch}`, ['--prune']);
      const revision = (await git.revparse([`refs/remotes/origin/${branch}^{commit}`])).trim();
      this.#current ??= await headOf(git);
      if (revision === this.#current) return this.#snapshot(revision, false);
      if (this.#options.verify) {
        const key = await verifyCommit(dir, revision, this.#options.verify);
        this.#options.log.info({ revision, key }, 'commit signature verified');
      }
      await git.raw(['checkout', '--force', '--detach', revision]);
      await git.raw(['clean', '-ffdx']);
      this.#current = revision;
      return this.#snapshot(revision, true);
    } catch (error) {
      if (error instanceof KeelsonError) throw error;
      throw new KeelsonError(
        `cannot fetch ${this.description}: ${redactMessage(errorMessage(error), this.#options.url)}`,
        {
          code: 'UNAVAILABLE',
          class: 'transient',
          cause: error,
        },
      );
    }
  }

  #snapshot(revision: string, changed: boolean): SourceSnapshot {
    const root = this.#options.checkoutDir;
    return { revision, dir: resolve(root, this.#options.path), root, changed };
  }
}

async function headOf(git: SimpleGit): Promise<string | undefined> {
  try {
    return (await git.revparse(['--verify', '--quiet', 'HEAD^{commit}'])).trim() || undefined;
  } catch {
    return undefined;
  }
}

/** git's own messages may echo the URL; take the URL (and any user-info in any URL) out. */
function redactMessage(message: string, url: string): string {
  return message
    .split(url)
    .join(redactUrl(url))
    .replace(/([a-z][a-z0-9+.-]*:\/\/)[^/@\s]*@/gi, '$1');
}

/** The daemon's own environment must not steer git elsewhere (a GIT_DIR from a parent git hook, say). */
function stripGitEnv(env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined && !k.startsWith('GIT_')) out[k] = v;
  return out;
}
