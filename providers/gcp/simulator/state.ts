import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';

/** A JSON object as the APIs exchange it (camelCase fields, enums as strings). */
export type Json = Record<string, unknown>;

/** A long-running operation and what finishing it does (`kind` names a completer, see operations.ts). */
export interface OperationRecord {
  name: string;
  kind: string;
  /** The resource the operation works on. */
  target: string;
  done: boolean;
  metadata: Json;
  response?: Json;
  error?: { code: number; message: string; details: unknown[] };
  /** GETs answered so far. */
  polls: number;
  /** Clock time after which the operation may finish. */
  dueAt: number;
  /** Extra input for the completer. */
  input?: Json;
}

/** A Pub/Sub message as stored on a subscription's backlog. */
export interface StoredMessage {
  messageId: string;
  data: string;
  attributes: Record<string, string>;
  publishTime: string;
  orderingKey: string;
}

/** One message waiting on (or leased from) a subscription. */
export interface PendingDelivery {
  message: StoredMessage;
  /** Deliveries so far (1 after the first). */
  attempts: number;
  /** Clock time at which it may be delivered (again). */
  availableAt: number;
  /** The current lease, when a pull or push holds it. */
  ackId?: string;
  leaseUntil?: number;
}

export interface StoredDocument {
  fields: Json;
  createTime: string;
  updateTime: string;
}

export interface StateData {
  version: 1;
  seq: number;
  services: Record<string, string>;
  serviceAccounts: Record<string, Json>;
  policies: Record<string, Json>;
  secrets: Record<string, Json>;
  secretVersions: Record<string, Json>;
  secretPayloads: Record<string, string>;
  databases: Record<string, Json>;
  indexes: Record<string, Json>;
  fields: Record<string, Json>;
  topics: Record<string, Json>;
  subscriptions: Record<string, Json>;
  backlog: Record<string, PendingDelivery[]>;
  jobs: Record<string, Json>;
  functions: Record<string, Json>;
  runServices: Record<string, Json>;
  /** Uploaded function archives by object name, base64. */
  uploads: Record<string, string>;
  operations: Record<string, OperationRecord>;
  /** Subscriptions that Eventarc made for Pub/Sub-triggered functions: subscription name → function name. */
  eventarc: Record<string, string>;
  /** Documents by database name, then by document path below `documents/`. */
  documents: Record<string, Record<string, StoredDocument>>;
  /** The URL the simulator last listened on (URLs in the state that start with it move with the port). */
  baseUrl?: string;
  /** The simulator's OIDC signing key (a private JWK), kept so tokens verify across restarts. */
  signingKey?: Json;
}

export function emptyState(): StateData {
  return {
    version: 1,
    seq: 0,
    services: {},
    serviceAccounts: {},
    policies: {},
    secrets: {},
    secretVersions: {},
    secretPayloads: {},
    databases: {},
    indexes: {},
    fields: {},
    topics: {},
    subscriptions: {},
    backlog: {},
    jobs: {},
    functions: {},
    runServices: {},
    uploads: {},
    operations: {},
    eventarc: {},
    documents: {},
  };
}

/** The simulator's state: plain JSON, saved atomically to `statePath` (when given) after each change. */
export class GcpState {
  readonly data: StateData;
  readonly #path: string | undefined;
  #scheduled = false;

  constructor(path?: string) {
    this.#path = path;
    this.data = path && existsSync(path) ? load(path) : emptyState();
  }

  /** A fresh number for ids, ack ids and names. */
  next(): number {
    this.data.seq += 1;
    return this.data.seq;
  }

  /**
   * Schedules a save. Saves are coalesced over 50 ms: each writes the whole state, so a burst of
   * requests costs one write, not one per request. `flush()` (and `close()`) write at once.
   */
  changed(): void {
    if (!this.#path || this.#scheduled) return;
    this.#scheduled = true;
    setTimeout(() => {
      if (!this.#scheduled) return;
      this.#scheduled = false;
      this.flush();
    }, 50).unref();
  }

  /** Writes the state now: to a temporary file, then renamed over the old one. */
  flush(): void {
    this.#scheduled = false;
    if (!this.#path) return;
    const tmp = `${this.#path}.${process.pid}.tmp`;
    // Owner-only: the state holds the simulated Secret Manager's payloads.
    writeFileSync(tmp, JSON.stringify(this.data), { mode: 0o600 });
    renameSync(tmp, this.#path);
  }
}

function load(path: string): StateData {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new Error(
      `cannot load the GCP simulator state from ${path}: ${(e as Error).message} (delete the file to start empty)`,
    );
  }
  const data = parsed as Partial<StateData>;
  if (data.version !== 1) {
    throw new Error(`cannot load the GCP simulator state from ${path}: unknown version ${String(data.version)}`);
  }
  return { ...emptyState(), ...data } as StateData;
}
