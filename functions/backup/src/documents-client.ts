import type { Firestore, Timestamp } from '@google-cloud/firestore';
import type { DocData, DocumentStore, StoredDoc } from './documents.ts';

/** gRPC status codes Google's client reports for failed preconditions. */
const ALREADY_EXISTS = 6;
const NOT_FOUND = 5;
const FAILED_PRECONDITION = 9;

function code(e: unknown): number | undefined {
  return typeof (e as { code?: unknown }).code === 'number' ? (e as { code: number }).code : undefined;
}

/**
 * The same port through Google's Node client (gRPC). Used when `FIRESTORE_EMULATOR_HOST` is set: the
 * test emulator (`@firestore-emulator/server`) speaks only gRPC. It honours `exists` preconditions;
 * it ignores `updateTime` ones (see ../README.md).
 */
export class ClientDocumentStore implements DocumentStore {
  readonly #db: Firestore;
  readonly #Timestamp: typeof Timestamp;

  private constructor(db: Firestore, timestamp: typeof Timestamp) {
    this.#db = db;
    this.#Timestamp = timestamp;
  }

  /** Loads the client lazily: the REST path never pays for it. */
  static async open(projectId: string): Promise<ClientDocumentStore> {
    const mod = await import('@google-cloud/firestore');
    return new ClientDocumentStore(new mod.Firestore({ projectId }), mod.Timestamp);
  }

  async get(collection: string, id: string): Promise<StoredDoc | undefined> {
    const snap = await this.#db.collection(collection).doc(id).get();
    if (!snap.exists) return undefined;
    const t = snap.updateTime;
    const data: DocData = {};
    // Timestamps read back as ISO strings, as from REST.
    for (const [k, v] of Object.entries(snap.data() ?? {}))
      data[k] = v instanceof this.#Timestamp ? v.toDate().toISOString() : v;
    return { data, version: t ? `${t.seconds}.${t.nanoseconds}` : '' };
  }

  async create(collection: string, id: string, data: DocData): Promise<boolean> {
    try {
      await this.#db.collection(collection).doc(id).create(data);
      return true;
    } catch (e) {
      if (code(e) === ALREADY_EXISTS) return false;
      throw e;
    }
  }

  async update(collection: string, id: string, data: DocData, options: { ifVersion?: string } = {}): Promise<boolean> {
    const ref = this.#db.collection(collection).doc(id);
    try {
      if (options.ifVersion) {
        const [seconds, nanos] = options.ifVersion.split('.').map(Number);
        await ref.update(data, { lastUpdateTime: new this.#Timestamp(seconds ?? 0, nanos ?? 0) });
      } else {
        await ref.update(data);
      }
      return true;
    } catch (e) {
      if (code(e) === NOT_FOUND || code(e) === FAILED_PRECONDITION) return false;
      throw e;
    }
  }

  async delete(collection: string, id: string): Promise<void> {
    await this.#db.collection(collection).doc(id).delete();
  }

  async close(): Promise<void> {
    await this.#db.terminate();
  }
}
