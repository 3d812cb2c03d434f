import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { type SimpleGit, simpleGit } from 'simple-git';
import { errorMessage, KeelsonError, type Logger } from '../../providers/sdk/index.ts';
import { type GitCredentials, gitEnvironment } from './git-credentials.ts';
import { type DesiredStateSource, RevisionRefusedError, redactUrl, type SourceSnapshot } from './source.ts';
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
 * checked out is a no-op (`changed: false`). Every revision is verified (when configured) before
 * its first use by this process, the one found checked out on disk at start included, so an
 * unacceptable commit is never used, whatever an earlier configuration let through.
 */
export class GitSource implements DesiredStateSource {
  readonly description: string;
  readonly #options: GitSourceOptions;
  #current: string | undefined;
  /** Revisions whose signature this process verified, with the signing key. */
  readonly #verified = new Map<string, string>();

  constructor(options: GitSourceOptions) {
    this.#options = options;
    this.description = `${redactUrl(options.url)}#${options.branch}${options.path === '.' ? '' : `:${options.path}`}`;
  }

  #git(cwd: string, signal?: AbortSignal): SimpleGit {
    const env = { ...stripGitEnv(process.env), ...gitEnvironment(this.#options.credentials ?? {}) };
    return simpleGit({
      baseDir: cwd,
      timeout: { block: this.#options.timeoutMs ?? 120_000 },
      abort: signal,
      unsafe: { allowUnsafeConfigEnvCount: true, allowUnsafeSshCommand: true },
      // These are set here, by keelson, on purpose; simple-git's guard refuses GIT_* variables unless listed.
      allowEnvironment: Object.keys(env).filter((k) => k.startsWith('GIT_')),
    }).env(env);
  }

  async sync(signal?: AbortSignal): Promise<SourceSnapshot> {
    const branch = this.#options.branch;
    try {
      await this.#ensureClone(signal);
      const git = this.#git(this.#options.checkoutDir, signal);
      await git.fetch('origin', `+refs/heads/${branch}:refs/remotes/origin/${branch}`, ['--prune']);
      // The ref fetch just wrote, read as a file (one git process less per pass); rev-parse when packed.
      const dir = this.#options.checkoutDir;
      const revision =
        (await looseRef(dir, `refs/remotes/origin/${branch}`)) ??
        (await git.revparse([`refs/remotes/origin/${branch}^{commit}`])).trim();
      this.#current ??= await readMarker(dir);
      const key = await this.#verify(revision);
      if (revision === this.#current) return this.#snapshot(revision, false, key);
      await this.#checkout(revision, signal);
      return this.#snapshot(revision, true, key);
    } catch (error) {
      throw this.#wrap(error);
    }
  }

  async restore(revision: string, signal?: AbortSignal): Promise<SourceSnapshot> {
    try {
      await this.#ensureClone(signal);
      this.#current ??= await readMarker(this.#options.checkoutDir);
      const key = await this.#verify(revision);
      if (revision !== this.#current) await this.#checkout(revision, signal);
      return this.#snapshot(revision, true, key);
    } catch (error) {
      throw this.#wrap(error);
    }
  }

  async #ensureClone(signal?: AbortSignal): Promise<void> {
    const dir = this.#options.checkoutDir;
    if (existsSync(join(dir, '.git'))) return;
    await rm(dir, { recursive: true, force: true });
    await mkdir(dirname(dir), { recursive: true });
    await this.#git(dirname(dir), signal).clone(this.#options.url, dir, [
      '--no-checkout',
      '--single-branch',
      '--branch',
      this.#options.branch,
    ]);
    this.#current = undefined;
  }

  /** Checks the signature once per revision per process; a refusal names the revision. */
  async #verify(revision: string): Promise<string | undefined> {
    const policy = this.#options.verify;
    if (!policy) return undefined;
    const known = this.#verified.get(revision);
    if (known) return known;
    try {
      const key = await verifyCommit(this.#options.checkoutDir, revision, policy);
      this.#verified.set(revision, key);
      this.#options.log.info({ revision, key }, 'commit signature verified');
      return key;
    } catch (error) {
      if (error instanceof KeelsonError) throw new RevisionRefusedError(revision, error);
      throw error;
    }
  }

  async #checkout(revision: string, signal?: AbortSignal): Promise<void> {
    const dir = this.#options.checkoutDir;
    const git = this.#git(dir, signal);
    await git.raw(['checkout', '--force', '--detach', revision]);
    await git.raw(['clean', '-ffdx']);
    await writeFile(join(dir, '.git', MARKER), `${revision}\n`);
    this.#current = revision;
  }

  #wrap(error: unknown): KeelsonError {
    if (error instanceof KeelsonError) return error;
    return new KeelsonError(
      `cannot fetch ${this.description}: ${redactMessage(errorMessage(error), this.#options.url)}`,
      { code: 'UNAVAILABLE', class: 'transient', cause: error },
    );
  }

  #snapshot(revision: string, changed: boolean, verifiedKey: string | undefined): SourceSnapshot {
    const root = this.#options.checkoutDir;
    return { revision, dir: resolve(root, this.#options.path), root, changed, ...(verifiedKey ? { verifiedKey } : {}) };
  }
}

/**
 * Written after a checkout is complete, so a restarted daemon knows which revision the working
 * copy holds (a fresh `clone --no-checkout` has a HEAD but no files).
 */
const MARKER = 'keelson-revision';

async function readMarker(dir: string): Promise<string | undefined> {
  try {
    return (await readFile(join(dir, '.git', MARKER), 'utf8')).trim() || undefined;
  } catch {
    return undefined;
  }
}

/** A loose ref's object id, or undefined (packed, symbolic, or missing: ask git). */
async function looseRef(dir: string, ref: string): Promise<string | undefined> {
  try {
    const id = (await readFile(join(dir, '.git', ref), 'utf8')).trim();
    return /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/.test(id) ? id : undefined;
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

/** Only what git needs from the daemon's environment: nothing else (a GIT_DIR, an EDITOR) may steer it. */
const PASSED_ENV = [
  'PATH',
  'HOME',
  'LANG',
  'LC_ALL',
  'TMPDIR',
  'SSH_AUTH_SOCK',
  'HTTPS_PROXY',
  'HTTP_PROXY',
  'NO_PROXY',
];
function stripGitEnv(env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of PASSED_ENV) {
    const v = env[k];
    if (v !== undefined) out[k] = v;
  }
  return out;
}
