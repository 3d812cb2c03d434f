import type { StateData, StateStore } from './types.ts';

/**
 * Read-modify-write of the state store, one at a time. Parts of the daemon that write the state
 * outside a pass (alert deliveries marking a message delivered) and the pass itself go through
 * the same writer, so neither saves over a change the other made in between.
 */
export class StateWriter {
  readonly store: StateStore;
  #tail: Promise<unknown> = Promise.resolve();

  constructor(store: StateStore) {
    this.store = store;
  }

  /** Loads the state, lets `change` modify it, saves it. Changes run in the order they were asked for. */
  update<T>(change: (state: StateData) => T | Promise<T>): Promise<T> {
    const run = this.#tail.then(async () => {
      const state = await this.store.load();
      const result = await change(state);
      await this.store.save(state);
      return result;
    });
    this.#tail = run.catch(() => undefined);
    return run;
  }

  /** Reads the state after every change asked for so far. */
  read(): Promise<StateData> {
    const run = this.#tail.then(() => this.store.load());
    this.#tail = run.catch(() => undefined);
    return run;
  }
}
