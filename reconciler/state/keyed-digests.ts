import type { SecretValue } from '../../providers/sdk/index.ts';
import { keyedDigest } from '../plan/keyed-digest.ts';
import type { StateData } from './types.ts';

export { KEYED_PREFIX, keyedDigest } from '../plan/keyed-digest.ts';

/**
 * Providers keep the digest of what they last wrote in their inventory data (a Worker's secrets)
 * and compare it with `SecretValue.digest` (a bare sha256, in memory only). The state on disk holds
 * the keyed form: `seal` maps each bare digest of a secret of the pass to its keyed digest in a
 * copy of the state that is written, `open` maps them back in the state a pass works on. A keyed
 * digest of a secret the pass does not use stays keyed (it differs from every value: the secret
 * changed, which is what it means). A bare digest in an older state is read as it is (no drift, no
 * re-apply) and written keyed by the first save.
 */
export class SecretDigestSeal {
  readonly #toKeyed = new Map<string, string>();
  readonly #toBare = new Map<string, string>();

  constructor(key: Buffer, secrets: Iterable<SecretValue>) {
    for (const s of secrets) {
      const keyed = keyedDigest(key, s.digest);
      this.#toKeyed.set(s.digest, keyed);
      this.#toBare.set(keyed, s.digest);
    }
  }

  /** The state as it is written: inventory data with keyed secret digests (a copy; `data` is left as it is). */
  seal(data: StateData): StateData {
    if (this.#toKeyed.size === 0) return data;
    const inventory: StateData['inventory'] = {};
    for (const [k, e] of Object.entries(data.inventory)) {
      inventory[k] = e.data === undefined ? e : { ...e, data: replaceStrings(e.data, this.#toKeyed) as typeof e.data };
    }
    return { ...data, inventory };
  }

  /** Turns the keyed digests of this pass's secrets back into the bare ones handlers compare (in place). */
  open(data: StateData): void {
    if (this.#toBare.size === 0) return;
    for (const [k, e] of Object.entries(data.inventory)) {
      if (e.data !== undefined)
        data.inventory[k] = { ...e, data: replaceStrings(e.data, this.#toBare) as typeof e.data };
    }
  }
}

function replaceStrings(value: unknown, map: ReadonlyMap<string, string>): unknown {
  if (typeof value === 'string') return map.get(value) ?? value;
  if (Array.isArray(value)) return value.map((v) => replaceStrings(v, map));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, replaceStrings(v, map)]));
  }
  return value;
}
