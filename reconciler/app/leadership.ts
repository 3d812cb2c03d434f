import { errorMessage, type Logger } from '../../providers/sdk/index.ts';
import type { LeaseBackend, LeaseRecord } from '../state/lease.ts';
import type { StateData, StateStore } from '../state/types.ts';

export interface LeadershipOptions {
  readonly backend: LeaseBackend;
  /** This replica's name in the lease (host name and process id by default). */
  readonly holder: string;
  readonly ttlMs: number;
  readonly renewMs: number;
  readonly now?: () => number;
  readonly log: Logger;
  /** Called when this replica becomes leader or stops being it. */
  readonly onChange?: (leader: boolean) => void;
  /** Called after every claim (the view may have changed: who leads, until when, this replica's health). */
  readonly onClaim?: () => void;
  /**
   * What this replica itself depends on and another replica may still have (its own Docker
   * Engine): resolves to a sentence saying what is wrong, or undefined when all is well. Run at
   * every claim with three quarters of `renewMs` (at most 3 s) to answer in; one that takes longer
   * than `renewMs` counts as failed. While it fails this replica claims as unhealthy (a healthy
   * replica may take its lease at once) and never takes the lease from a healthy holder; a leader
   * claims so once it has failed for `stepDownMs`.
   */
  readonly health?: (timeoutMs: number) => Promise<string | undefined>;
  /** How long the health check may keep failing before the leader yields the lease (default `renewMs`). */
  readonly stepDownMs?: number;
}

export interface LeadershipView {
  readonly role: 'leader' | 'standby';
  readonly holder: string;
  /** The current holder as this replica last saw it (undefined: nobody). */
  readonly leader: string | undefined;
  readonly generation: number | undefined;
  /** Unix time (ms) the lease as last seen expires. */
  readonly expiresAt: number | undefined;
  readonly ttlMs: number;
  readonly renewMs: number;
  /** What the health check last said is wrong with this replica (undefined: nothing). */
  readonly unhealthy: string | undefined;
}

/** Raised by the fencing check: this replica no longer holds the lease it was granted. */
export class LeaseLostError extends Error {}

/**
 * One leader at a time among replicas sharing a state store. Every `renewMs` (`start()`), or on
 * `tick()`, the replica claims the lease: the leader renews it, a standby takes it once it has
 * expired (a leader that died is replaced within `ttlMs + renewMs`). Before each claim the replica
 * runs its health check (`health`: its own Docker Engine answers). An unhealthy replica claims as
 * such: the lease it holds is marked `unhealthy`, and any healthy replica takes a marked lease at
 * once. A leader rides out failures shorter than `stepDownMs` (a renewal period by default: it
 * steps down at the second failed check in a row), so a standby whose engine works takes over at
 * its next claim; alone, the unhealthy leader keeps leading (its other providers carry on). Only
 * the leader runs passes, and `check()` (the fence, run before every state write) confirms in the store that the lease is
 * still this replica's, with the same generation and enough time left to finish the write.
 */
export class Leadership {
  readonly #o: LeadershipOptions;
  readonly #now: () => number;
  #mine: LeaseRecord | undefined;
  #seen: LeaseRecord | undefined;
  #timer: NodeJS.Timeout | undefined;
  #ticking: Promise<void> | undefined;
  /** What the health check says is wrong, and since when (this replica's clock). */
  #unhealthy: { readonly problem: string; readonly since: number } | undefined;

  constructor(options: LeadershipOptions) {
    this.#o = options;
    this.#now = options.now ?? Date.now;
  }

  /** True while this replica holds an unexpired lease (as of its last claim). */
  get isLeader(): boolean {
    return this.#mine !== undefined && this.#mine.expiresAt > this.#now();
  }

  get view(): LeadershipView {
    const seen = this.#seen;
    return {
      role: this.isLeader ? 'leader' : 'standby',
      holder: this.#o.holder,
      leader: seen && seen.expiresAt > this.#now() ? seen.holder : undefined,
      generation: seen?.generation,
      expiresAt: seen?.expiresAt,
      ttlMs: this.#o.ttlMs,
      renewMs: this.#o.renewMs,
      unhealthy: this.#unhealthy?.problem,
    };
  }

  /** One claim (renewal for the leader). Never throws: a store that cannot be reached costs the lease. */
  tick(): Promise<void> {
    this.#ticking ??= this.#claim().finally(() => {
      this.#ticking = undefined;
    });
    return this.#ticking;
  }

  async #claim(): Promise<void> {
    const was = this.isLeader;
    const problem = await this.#health();
    const now = this.#now();
    if (problem === undefined) {
      if (this.#unhealthy) this.#o.log.info({ holder: this.#o.holder }, 'this replica is healthy again');
      this.#unhealthy = undefined;
    } else {
      if (!this.#unhealthy) this.#o.log.warn({ holder: this.#o.holder, problem }, 'this replica is unhealthy');
      this.#unhealthy = { problem, since: this.#unhealthy?.since ?? now };
    }
    // A leader rides out a short failure (one slow answer under load); after `stepDownMs` it
    // claims as unhealthy, which marks its lease so that a healthy standby takes it at once.
    const unhealthy = this.#unhealthy;
    const healthy = !unhealthy || (was && now - unhealthy.since < (this.#o.stepDownMs ?? this.#o.renewMs));
    try {
      const claim = await this.#o.backend.claim(this.#o.holder, now, this.#o.ttlMs, healthy);
      if (claim.acquired && !healthy && !this.#mine?.unhealthy)
        this.#o.log.warn(
          { holder: this.#o.holder, generation: claim.lease?.generation, problem },
          was
            ? 'this replica steps down: its own engine is gone; it marks the lease for a healthy standby to take'
            : 'this unhealthy replica took a free lease, marked: any healthy replica takes it over',
        );
      this.#seen = claim.lease;
      this.#mine = claim.acquired ? claim.lease : undefined;
    } catch (error) {
      this.#o.log.warn({ err: errorMessage(error), lease: this.#o.backend.description }, 'cannot claim the lease');
      // Keep what was granted: it lapses by itself at its expiry, and the fence checks the store.
    }
    const is = this.isLeader;
    if (is !== was) {
      this.#o.log.info(
        { holder: this.#o.holder, generation: this.#seen?.generation, leader: this.#seen?.holder },
        is ? 'this replica is the leader' : 'this replica is a standby',
      );
      this.#o.onChange?.(is);
    }
    this.#o.onClaim?.();
  }

  /** The health check's answer, bounded by `renewMs` (a check that hangs counts as failed). */
  async #health(): Promise<string | undefined> {
    const check = this.#o.health;
    if (!check) return undefined;
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<string>((resolve) => {
      timer = setTimeout(
        () => resolve(`the health check gave no answer within ${this.#o.renewMs} ms`),
        this.#o.renewMs,
      );
    });
    try {
      return await Promise.race([check(Math.min(3_000, (this.#o.renewMs * 3) / 4)), late]);
    } catch (error) {
      return errorMessage(error);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * The fence: throws `LeaseLostError` unless the store still shows this replica's lease, same
   * generation, with more than `renewMs` left (so the write ends before any standby may take over).
   */
  async check(): Promise<void> {
    const mine = this.#mine;
    if (!mine) throw new LeaseLostError(`${this.#o.holder} is not the leader; only the leader writes the state`);
    const current = await this.#o.backend.read();
    const left = (current?.expiresAt ?? 0) - this.#now();
    if (current?.holder !== mine.holder || current.generation !== mine.generation || left <= this.#o.renewMs) {
      this.#mine = undefined;
      this.#seen = current;
      this.#o.onChange?.(false);
      throw new LeaseLostError(
        `${this.#o.holder} lost the lease (generation ${mine.generation}; the store shows ${current ? `${current.holder} generation ${current.generation}` : 'none'}); nothing written`,
      );
    }
  }

  /** Claims at once, then every `renewMs`. */
  async start(): Promise<void> {
    await this.tick();
    this.#timer = setInterval(() => void this.tick(), this.#o.renewMs);
  }

  /** Stops renewing and gives the lease up, so a standby takes over without waiting for expiry. */
  async stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#ticking;
    const mine = this.#mine;
    this.#mine = undefined;
    if (mine) await this.#o.backend.release(mine.holder, mine.generation).catch(() => undefined);
  }
}

/** A state store whose writes pass the fence first: a replica that lost the lease writes nothing. */
export function fencedStore(store: StateStore, leadership: Leadership): StateStore {
  return {
    load: () => store.load(),
    save: async (data: StateData) => {
      await leadership.check();
      await store.save(data);
    },
    ...(store.close ? { close: () => store.close?.() ?? Promise.resolve() } : {}),
    ...(store.digestKey ? { digestKey: () => store.digestKey?.() } : {}),
  };
}
