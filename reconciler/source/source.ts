import { KeelsonError } from '../../providers/sdk/index.ts';

/** A fetched revision of the desired state. */
export interface SourceSnapshot {
  /** Commit sha (Git) or `dir-<sha256 of the files>` (directory mode). */
  readonly revision: string;
  /** Directory holding the desired-state YAML for this revision (sub-path applied). */
  readonly dir: string;
  /** Repository root of the checkout (where `charts/` lives). */
  readonly root: string;
  /** False when the fetch found the revision already checked out: nothing to reload. */
  readonly changed: boolean;
  /** The signing key's fingerprint, when signatures are verified. */
  readonly verifiedKey?: string;
}

/** A fetched revision that must not be used (its signature did not verify). */
export class RevisionRefusedError extends KeelsonError {
  readonly revision: string;

  constructor(revision: string, cause: KeelsonError) {
    super(cause.message, { code: cause.code, class: 'terminal', cause });
    this.revision = revision;
  }
}

/** Where desired state comes from: a Git remote, or a local directory in development. */
export interface DesiredStateSource {
  /** Fetches the newest revision; throws a `KeelsonError` when it cannot, or when the commit is not acceptable. */
  sync(signal?: AbortSignal): Promise<SourceSnapshot>;
  /**
   * Puts a revision that was in effect before back in place (the last good one, after a restart),
   * verifying it again under the current configuration. Sources that cannot go back in history
   * (a plain directory) do not have it.
   */
  restore?(revision: string, signal?: AbortSignal): Promise<SourceSnapshot>;
  /** Calls `onChange` when the source changes by itself (directory mode); Git sources rely on polling and webhooks. */
  watch?(onChange: () => void): void;
  close?(): Promise<void>;
  /** Where it reads from, with any credential removed, for logs and `/status`. */
  readonly description: string;
}

/** A URL with its user-info removed, so a token that slipped into one never reaches a log. */
export function redactUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/@]*@/i, '$1');
}
