/** Plain data as stored in a document: strings, numbers, booleans, null, Dates (timestamps), arrays and maps of them. Timestamps read back as ISO strings. */
export type DocData = Record<string, unknown>;

/** A document as read, with the version a conditional update can name. */
export interface StoredDoc {
  readonly data: DocData;
  /** Opaque: Firestore's `updateTime`, handed back in `update(…, { ifVersion })`. */
  readonly version: string;
}

/**
 * The few Firestore operations the backup flow needs, behind one port so that the REST data plane
 * (production, the GCP simulator) and Google's client (against `@firestore-emulator/server`) both fit.
 * `create` and `update` carry preconditions: they are what makes the lease and the one-run-per-day safe.
 */
export interface DocumentStore {
  get(collection: string, id: string): Promise<StoredDoc | undefined>;
  /** Creates the document only if it does not exist (precondition `exists: false`); false when it did. */
  create(collection: string, id: string, data: DocData): Promise<boolean>;
  /**
   * Sets the given top-level fields of an existing document; with `ifVersion`, only if it is unchanged
   * since it was read. False when the document is gone or changed.
   */
  update(collection: string, id: string, data: DocData, options?: { ifVersion?: string }): Promise<boolean>;
  /** Deletes the document; a missing one is fine. */
  delete(collection: string, id: string): Promise<void>;
  close?(): Promise<void>;
}
