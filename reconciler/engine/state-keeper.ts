import type { InventoryAccess, InventoryEntry } from '../../providers/sdk/index.ts';
import type { SecretDigestSeal } from '../state/keyed-digests.ts';
import type { RunRecord, StateData, StateStore } from '../state/types.ts';

/** How many passes the state store remembers (`StateData.runs`). The one place this is decided. */
export const RUN_HISTORY = 20;

/**
 * The one writer of the state store during a pass. It holds the state for the pass and saves it
 * one write at a time, so that concurrent handlers never interleave two saves (the last write
 * always carries every change).
 */
export class StateKeeper {
  readonly data: StateData;
  readonly #store: StateStore;
  #chain: Promise<void> = Promise.resolve();
  #seal: SecretDigestSeal | undefined;

  constructor(store: StateStore, data: StateData) {
    this.#store = store;
    this.data = data;
  }

  static async open(store: StateStore): Promise<StateKeeper> {
    return new StateKeeper(store, await store.load());
  }

  /**
   * From now on, secret digests in inventory data are written keyed (`SecretDigestSeal`); the
   * keyed digests of these secrets already in the state are turned back into the bare ones
   * handlers compare.
   */
  sealSecretDigests(seal: SecretDigestSeal): void {
    this.#seal = seal;
    seal.open(this.data);
  }

  /** Durable when it resolves. */
  save(): Promise<void> {
    const next = this.#chain.then(() => this.#store.save(this.#seal ? this.#seal.seal(this.data) : this.data));
    this.#chain = next.catch(() => {});
    return next;
  }

  /** Appends a pass to the run history (the last `RUN_HISTORY` are kept). Not saved until `save()`. */
  addRun(run: RunRecord): void {
    this.data.runs = [...this.data.runs, run].slice(-RUN_HISTORY);
  }

  /** The inventory view handlers get (`HandlerContext.inventory`). */
  inventory(): InventoryAccess {
    const data = this.data;
    return {
      get: (key) => data.inventory[key],
      list: (kind) => Object.values(data.inventory).filter((e) => e.kind === kind),
      set: async (entry: InventoryEntry) => {
        data.inventory[entry.key] = entry;
        await this.save();
      },
      remove: async (key) => {
        delete data.inventory[key];
        await this.save();
      },
    };
  }
}

/** Records a pass that never reached the engine (invalid revision, fetch failed, engine crashed). */
export async function recordRun(store: StateStore, run: RunRecord): Promise<void> {
  const keeper = await StateKeeper.open(store);
  keeper.addRun(run);
  await keeper.save();
}
