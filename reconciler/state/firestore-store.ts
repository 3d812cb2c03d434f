import type { Firestore } from '@google-cloud/firestore';
import { installationKey } from './installation-key.ts';
import { emptyState, type StateData, type StateStore } from './types.ts';
import { checkState } from './validate-state.ts';

/** Firestore documents are limited to 1 MiB; state is stored as JSON in chunks well below that. */
const CHUNK_CHARS = 800_000;

/**
 * The production state store: `StateData` as JSON in Firestore, under `<collection>/<owner>`:
 * a head document (`{ version, chunks, savedAt }`) and `chunks/<i>` documents. Every save writes
 * the head and all chunks in one batch (one atomic commit), so a crash leaves the old state or
 * the new one, never a mix; chunks beyond the new count are deleted in the same batch.
 */
export class FirestoreStateStore implements StateStore {
  readonly #db: Firestore;
  readonly #collection: string;
  readonly #id: string;
  #chunks = 0;
  readonly #keyFile: string | undefined;
  #key: Buffer | undefined;

  /**
   * `db` is a configured client (emulator or production); `id` is the owner. `keyFile`: the
   * installation key's file (`KEELSON_INSTALLATION_KEY_FILE`, e.g. a mounted secret); without it
   * digests in the state are bare sha256 (there is no local disk beside this state to keep one on).
   */
  constructor(db: Firestore, collection: string, id: string, keyFile?: string) {
    this.#db = db;
    this.#collection = collection;
    this.#id = id;
    this.#keyFile = keyFile;
  }

  digestKey(): Buffer | undefined {
    if (this.#keyFile === undefined) return undefined;
    this.#key ??= installationKey(this.#keyFile, { KEELSON_INSTALLATION_KEY_FILE: this.#keyFile });
    return this.#key;
  }

  #head() {
    return this.#db.collection(this.#collection).doc(this.#id);
  }

  async load(): Promise<StateData> {
    const head = await this.#head().get();
    if (!head.exists) return emptyState();
    const meta = head.data() as { version?: unknown; chunks?: unknown };
    if (meta.version !== 1 || typeof meta.chunks !== 'number') {
      throw new Error(
        `cannot read state ${this.#collection}/${this.#id} from Firestore: unknown format (expected version 1)`,
      );
    }
    const parts: string[] = [];
    for (let i = 0; i < meta.chunks; i++) {
      const chunk = await this.#head().collection('chunks').doc(String(i)).get();
      const text = chunk.get('json');
      if (typeof text !== 'string') {
        throw new Error(
          `cannot read state ${this.#collection}/${this.#id} from Firestore: chunk ${i} is missing; restore it from a backup`,
        );
      }
      parts.push(text);
    }
    this.#chunks = meta.chunks;
    let data: unknown;
    try {
      data = JSON.parse(parts.join(''));
    } catch (error) {
      throw new Error(
        `cannot read state ${this.#collection}/${this.#id} from Firestore: it is not valid JSON (${(error as Error).message}); restore it from a backup`,
      );
    }
    return checkState(data, `Firestore document ${this.#collection}/${this.#id}`);
  }

  async save(data: StateData): Promise<void> {
    const json = JSON.stringify(data);
    const chunks: string[] = [];
    for (let i = 0; i < json.length; i += CHUNK_CHARS) chunks.push(json.slice(i, i + CHUNK_CHARS));
    const batch = this.#db.batch();
    chunks.forEach((text, i) => {
      batch.set(this.#head().collection('chunks').doc(String(i)), { json: text });
    });
    for (let i = chunks.length; i < this.#chunks; i++) batch.delete(this.#head().collection('chunks').doc(String(i)));
    batch.set(this.#head(), { version: 1, chunks: chunks.length, savedAt: new Date().toISOString() });
    await batch.commit();
    this.#chunks = chunks.length;
  }

  async close(): Promise<void> {
    await this.#db.terminate();
  }
}
