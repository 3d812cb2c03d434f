/**
 * The leader lease kept beside the state: which replica may run passes and write the state.
 * A claim is a compare-and-set done under the backend's own exclusion (a lock file for the file
 * store, a transaction for Firestore). The fencing generation goes up whenever the lease changes
 * hands (or is taken again after it expired), so a replica can tell that the lease it holds is
 * still the one it was granted.
 */

export interface LeaseRecord {
  readonly holder: string;
  /** Fencing generation: a new holder (or a lease taken again after expiry) gets a higher one. */
  readonly generation: number;
  /** Unix time in milliseconds. */
  readonly expiresAt: number;
  /**
   * Set by a holder whose own health check fails (its Docker Engine is gone): any healthy replica
   * may take the lease at once, without waiting for the expiry.
   */
  readonly unhealthy?: boolean;
}

export interface LeaseClaim {
  /** True when `holder` holds the lease after the claim. */
  readonly acquired: boolean;
  /** The lease as it is after the claim (someone else's when not acquired). */
  readonly lease: LeaseRecord | undefined;
}

/** Where the lease lives. */
export interface LeaseBackend {
  /**
   * Takes or renews the lease for `holder` when it is free, expired or already `holder`'s (or, for
   * a `healthy` claimant, held by an unhealthy replica); it then expires at `now + ttlMs`, marked
   * `unhealthy` when the claimant is not healthy. Atomic with respect to every other claim on the
   * same backend.
   */
  claim(holder: string, now: number, ttlMs: number, healthy?: boolean): Promise<LeaseClaim>;
  read(): Promise<LeaseRecord | undefined>;
  /** Gives the lease up at once (shutdown), when `holder` still holds `generation`. */
  release(holder: string, generation: number): Promise<void>;
  /** Where it is, for logs and errors. */
  readonly description: string;
}

/** The claim rule, shared by the backends: what the lease becomes when `holder` claims it. */
export function nextLease(
  current: LeaseRecord | undefined,
  holder: string,
  now: number,
  ttlMs: number,
  healthy = true,
): LeaseClaim & { readonly changed: boolean } {
  // A healthy replica takes a lease whose holder said it is unhealthy; nobody else takes a live one.
  if (current && current.holder !== holder && current.expiresAt > now && !(current.unhealthy && healthy))
    return { acquired: false, lease: current, changed: false };
  const keeps = current !== undefined && current.holder === holder && current.expiresAt > now;
  const generation = keeps ? current.generation : (current?.generation ?? 0) + 1;
  const lease = { holder, generation, expiresAt: now + ttlMs, ...(healthy ? {} : { unhealthy: true }) };
  return { acquired: true, lease, changed: true };
}

/** Checks a lease read back from a store (file or document) and names what is wrong. */
export function parseLease(value: unknown, where: string): LeaseRecord | undefined {
  if (value === undefined || value === null) return undefined;
  const v = value as Partial<LeaseRecord>;
  if (
    typeof v !== 'object' ||
    typeof v.holder !== 'string' ||
    typeof v.generation !== 'number' ||
    typeof v.expiresAt !== 'number' ||
    (v.unhealthy !== undefined && typeof v.unhealthy !== 'boolean')
  ) {
    throw new Error(
      `lease ${where} is damaged (expected holder, generation and expiresAt); remove it and the replicas elect a leader again`,
    );
  }
  return {
    holder: v.holder,
    generation: v.generation,
    expiresAt: v.expiresAt,
    ...(v.unhealthy === true ? { unhealthy: true } : {}),
  };
}
