import type { InventoryAccess, InventoryEntry } from '../../providers/sdk/index.ts';
import type { StateData, StateStore } from '../state/types.ts';

/**
 * Holds the state for one pass and saves it through the store one write at a time, so that
 * concurrent handlers never interleave two saves (the last write always carries every change).
 */
export class StateKeeper {
  readonly data: StateData;
  readonly #store: StateStore;
  #chain: Promise<void> = Promise.resolve();

  constructor(store: StateStore, data: StateData) {
    this.#store = store;
    this.data = data;
  }

  /** Durable when it resolves. */
  save(): Promise<void> {
    const next = this.#chain.then(() => this.#store.save(this.data));
    this.#chain = next.catch(() => {});
    return next;
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
