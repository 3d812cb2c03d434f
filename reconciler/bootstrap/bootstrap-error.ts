/** The steps of `keelson bootstrap`, in order. */
export type BootstrapStep = 'source' | 'hetzner' | 'docker' | 'swarm' | 'labels' | 'keelson';

/**
 * A failed bootstrap step: which step, which node or resource, what happened and what to do. The
 * message never holds a secret (tokens, join tokens): callers pass engine and API messages only.
 */
export class BootstrapError extends Error {
  readonly step: BootstrapStep;
  /** The node or resource the failure is about (`swarm-2`, `hetzner.Server/swarm-1`), or the step's input. */
  readonly subject: string;
  /** What to do about it. */
  readonly hint: string;

  constructor(step: BootstrapStep, subject: string, message: string, hint: string) {
    super(`step ${step}, ${subject}: ${message}; ${hint}`);
    this.step = step;
    this.subject = subject;
    this.hint = hint;
  }
}
