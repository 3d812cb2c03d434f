import { KeelsonError } from './errors.ts';
import type { ResolvedResource } from './resource.ts';

/** How a handler finds, creates and takes over one resource (see `findOrClaim`). */
export interface FindOrClaimOptions<T> {
  readonly desired: ResolvedResource;
  /** Looks the resource up by its deterministic name or ownership marker; undefined when it does not exist. */
  readonly find: () => Promise<T | undefined>;
  /** Whether a found resource carries this keelson instance's ownership marker. */
  readonly owned: (found: T) => boolean;
  readonly create: () => Promise<T>;
  /** Writes the ownership marker on a found resource that is not ours; called only with `adopt: true`. */
  readonly claim: (found: T) => Promise<T>;
  /**
   * True when the create failed because the resource exists after all (an earlier attempt whose
   * answer was lost, or a race): it is looked up again instead of failing. Default: never.
   */
  readonly alreadyExists?: (error: unknown) => boolean;
  /** Names what was found, for the conflict error: "hetzner.Server swarm-1 (id 42)". Default kind and name. */
  readonly describe?: (found: T) => string;
}

/** What `findOrClaim` did. */
export type FindOrClaimOutcome = 'found' | 'claimed' | 'created';

/**
 * Create with a lookup first, for creates whose answer can be lost: a resource that is already
 * ours is returned as it is, one that is not ours is taken over only when the desired state says
 * `adopt: true` (else a terminal `CONFLICT_UNOWNED`), and only when nothing is found is it created.
 */
export async function findOrClaim<T>(
  options: FindOrClaimOptions<T>,
): Promise<{ item: T; outcome: FindOrClaimOutcome }> {
  const { desired } = options;
  const existing = async (): Promise<{ item: T; outcome: FindOrClaimOutcome } | undefined> => {
    const found = await options.find();
    if (found === undefined) return undefined;
    if (options.owned(found)) return { item: found, outcome: 'found' };
    if (desired.adopt) return { item: await options.claim(found), outcome: 'claimed' };
    throw unownedConflict(desired, options.describe?.(found));
  };
  const before = await existing();
  if (before) return before;
  try {
    return { item: await options.create(), outcome: 'created' };
  } catch (error) {
    if (options.alreadyExists?.(error)) {
      const after = await existing();
      if (after) return after;
    }
    throw error;
  }
}

/**
 * The terminal error for a resource in the way that keelson does not own:
 * "cannot create hetzner.Server/a: hetzner.Server a (id 42) exists and keelson does not own it; set
 * `adopt: true` to take it over". `verb` is what was refused (default create).
 */
export function unownedConflict(desired: ResolvedResource, what?: string, verb = 'create'): KeelsonError {
  return new KeelsonError(
    `cannot ${verb} ${desired.key}: ${what ?? `${desired.kind} ${desired.name}`} exists and keelson does not own it; set "adopt: true" to take it over`,
    { code: 'CONFLICT_UNOWNED', class: 'terminal', resource: desired.key },
  );
}
