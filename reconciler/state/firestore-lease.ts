import type { Firestore } from '@google-cloud/firestore';
import { type LeaseBackend, type LeaseClaim, type LeaseRecord, nextLease, parseLease } from './lease.ts';

/**
 * The Firestore store's lease: the document `<collection>/<owner>.lease` (holder, generation,
 * expiresAt, unhealthy), read and changed in one transaction, so two replicas claiming at once cannot both
 * win (Firestore retries the loser's transaction, which then sees the winner's lease).
 */
export class FirestoreLease implements LeaseBackend {
  readonly #db: Firestore;
  readonly #collection: string;
  readonly #id: string;

  constructor(db: Firestore, collection: string, owner: string) {
    this.#db = db;
    this.#collection = collection;
    this.#id = `${owner}.lease`;
  }

  get description(): string {
    return `Firestore document ${this.#collection}/${this.#id}`;
  }

  #doc() {
    return this.#db.collection(this.#collection).doc(this.#id);
  }

  async read(): Promise<LeaseRecord | undefined> {
    const snap = await this.#doc().get();
    return snap.exists ? parseLease(snap.data(), this.description) : undefined;
  }

  claim(holder: string, now: number, ttlMs: number, healthy = true): Promise<LeaseClaim> {
    return this.#db.runTransaction(async (tx) => {
      const snap = await tx.get(this.#doc());
      const current = snap.exists ? parseLease(snap.data(), this.description) : undefined;
      const next = nextLease(current, holder, now, ttlMs, healthy);
      // The first lease is created with an "must not exist" precondition, so two first claims
      // cannot both win even where transactions are not isolated (the emulator's are not).
      if (next.changed && next.lease) {
        // `unhealthy` always written, false too: a set must clear the mark wherever set merges
        // fields (the emulator the tests use does, inside transactions).
        const doc = { ...next.lease, unhealthy: next.lease.unhealthy === true };
        if (snap.exists) tx.set(this.#doc(), doc);
        else tx.create(this.#doc(), doc);
      }
      return { acquired: next.acquired, lease: next.lease };
    });
  }

  async release(holder: string, generation: number): Promise<void> {
    await this.#db.runTransaction(async (tx) => {
      const snap = await tx.get(this.#doc());
      const current = snap.exists ? parseLease(snap.data(), this.description) : undefined;
      if (current?.holder === holder && current.generation === generation)
        tx.set(this.#doc(), { ...current, expiresAt: 0 });
    });
  }
}
