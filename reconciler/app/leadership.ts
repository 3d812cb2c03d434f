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
  /**
   * What this replica itself depends on and another replica may still have (its own Docker
   * Engine): resolves to a sentence saying what is wrong, or undefined when all is well. Run at
   * every claim; one that takes longer than `renewMs` counts as failed. While it fails this
   * replica does not claim the lease, and a leader it has failed for `stepDownMs` steps down.
   */
  readonly health?: () => Promise<string | undefined>;
  /** How long the health check may keep failing before the leader gives the lease up (default `renewMs`). */
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
 * runs its health check (`health`: its own Docker Engine answers): an unhealthy standby does not
 * claim, and a leader that has been unhealthy for `stepDownMs` (two failed checks a renewal apart,
 * by default) releases the lease, so a standby whose engine works takes over at its next claim. Only the leader runs passes,
 * and `check()` (the fence, run before every state write) confirms in the store that the lease is
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
  /** Since when an unhealthy standby has seen the lease free (nobody took it: no healthy replica). */
  #freeSince: number | undefined;
  /** Holding the lease although unhealthy, because no healthy replica took it: no step-down then. */
  #lastResort = false;

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
    let lastResort = false;
    if (problem === undefined) {
      if (this.#unhealthy) this.#o.log.info({ holder: this.#o.holder }, 'this replica is healthy again');
      this.#unhealthy = undefined;
      this.#freeSince = undefined;
      this.#lastResort = false;
    } else {
      const now = this.#now();
      if (!this.#unhealthy) this.#o.log.warn({ holder: this.#o.holder, problem }, 'this replica is unhealthy');
      this.#unhealthy = { problem, since: this.#unhealthy?.since ?? now };
      // A leader rides out a short failure (one slow answer under load) and renews meanwhile.
      const patient =
        was && (this.#lastResort || now - this.#unhealthy.since < (this.#o.stepDownMs ?? this.#o.renewMs));
      if (!patient) {
        if (was) await this.#stepDown(problem);
        // An unhealthy standby does not claim, unless the lease has lain free for a whole
        // `ttlMs`: then no healthy replica is there to take it, and a leader that can reach only
        // some providers is better than none (a single replica whose engine died).
        await this.#look();
        const seen = this.#seen;
        const free = seen === undefined || seen.expiresAt <= now;
        this.#freeSince = free ? (this.#freeSince ?? now) : undefined;
        if (this.#freeSince === undefined || now - this.#freeSince < this.#o.ttlMs) return;
        lastResort = true;
      }
    }
    try {
      const claim = await this.#o.backend.claim(this.#o.holder, this.#now(), this.#o.ttlMs);
      this.#seen = claim.lease;
      this.#mine = claim.acquired ? claim.lease : undefined;
      this.#lastResort = claim.acquired && (lastResort || (was && this.#lastResort));
      if (claim.acquired && lastResort)
        this.#o.log.warn(
          { holder: this.#o.holder, problem },
          `no healthy replica took the lease within ${this.#o.ttlMs} ms: this unhealthy replica leads meanwhile`,
        );
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
      return await Promise.race([check(), late]);
    } catch (error) {
      return errorMessage(error);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Gives the lease up because this replica cannot do a leader's work; a healthy standby takes it. */
  async #stepDown(problem: string): Promise<void> {
    const mine = this.#mine;
    this.#mine = undefined;
    this.#o.log.warn(
      { holder: this.#o.holder, generation: mine?.generation, problem },
      'this replica steps down: it cannot reach what a leader needs; a healthy standby takes over',
    );
    if (mine) {
      try {
        await this.#o.backend.release(mine.holder, mine.generation);
        this.#seen = { ...mine, expiresAt: 0 };
      } catch (error) {
        // Not renewed from now on, it lapses at its expiry all the same.
        this.#o.log.warn({ err: errorMessage(error), lease: this.#o.backend.description }, 'cannot release the lease');
      }
    }
    this.#o.onChange?.(false);
  }

  /** Reads who holds the lease without claiming it (for the status of an unhealthy standby). */
  async #look(): Promise<void> {
    try {
      this.#seen = await this.#o.backend.read();
    } catch (error) {
      this.#o.log.warn({ err: errorMessage(error), lease: this.#o.backend.description }, 'cannot read the lease');
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
