import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/** One change: who, which secret, when, which version. Never the value. */
export interface AuditEntry {
  readonly secret: string;
  readonly actor: string;
  readonly action: 'rotate';
  /** `typed` or `generated (32, alphanumeric)`: how the value was made, not what it is. */
  readonly how: string;
  readonly version: string;
  readonly at: string;
  /** What happened when keelson was asked to reconcile. */
  readonly keelson: string;
}

export interface AuditTrail {
  record(entry: AuditEntry): Promise<void>;
  /** Newest first. */
  list(limit: number): Promise<AuditEntry[]>;
  /** True the first time a form id is seen, false on a replay (atomic create). */
  claimForm(id: string): Promise<boolean>;
}

type FirestoreDb = import('@google-cloud/firestore').Firestore;

/** The audit trail in Firestore (`<collection>`), and used form ids in `<collection>-forms`. */
export class FirestoreAuditTrail implements AuditTrail {
  readonly #db: FirestoreDb;
  readonly #collection: string;

  constructor(db: FirestoreDb, collection = 'secrets-ui-audit') {
    this.#db = db;
    this.#collection = collection;
  }

  /** A Firestore client in REST mode; pointed at `GCP_API_ENDPOINT` (the simulator) when that is set. */
  static connect(project: string, env: Readonly<Record<string, string | undefined>>, collection?: string) {
    const { Firestore } = require('@google-cloud/firestore') as typeof import('@google-cloud/firestore');
    let options: Record<string, unknown> = { projectId: project, preferRest: true };
    if (env.GCP_API_ENDPOINT) {
      process.env.METADATA_SERVER_DETECTION ??= 'none';
      const url = new URL(env.GCP_API_ENDPOINT);
      const { OAuth2Client } = require('google-auth-library') as typeof import('google-auth-library');
      const authClient = new OAuth2Client();
      authClient.setCredentials({
        access_token: env.GCP_ACCESS_TOKEN ?? '',
        expiry_date: Date.now() + 365 * 86_400_000,
      });
      options = { ...options, host: url.hostname, port: Number(url.port), ssl: url.protocol === 'https:', authClient };
    }
    return new FirestoreAuditTrail(new Firestore(options), collection);
  }

  async record(entry: AuditEntry): Promise<void> {
    await this.#db.collection(this.#collection).add({ ...entry });
  }

  async list(limit: number): Promise<AuditEntry[]> {
    const snap = await this.#db.collection(this.#collection).orderBy('at', 'desc').limit(limit).get();
    return snap.docs.map((d) => d.data() as AuditEntry);
  }

  async claimForm(id: string): Promise<boolean> {
    try {
      await this.#db.collection(`${this.#collection}-forms`).doc(id).create({ usedAt: new Date().toISOString() });
      return true;
    } catch (error) {
      if ((error as { code?: number }).code === 6) return false;
      throw error;
    }
  }
}

/** In memory: the demo without Google Cloud, and nothing else. */
export class MemoryAuditTrail implements AuditTrail {
  readonly entries: AuditEntry[] = [];
  readonly #forms = new Set<string>();

  async record(entry: AuditEntry): Promise<void> {
    this.entries.unshift(entry);
  }

  async list(limit: number): Promise<AuditEntry[]> {
    return this.entries.slice(0, limit);
  }

  async claimForm(id: string): Promise<boolean> {
    if (this.#forms.has(id)) return false;
    this.#forms.add(id);
    return true;
  }
}
