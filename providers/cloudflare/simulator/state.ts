import { randomBytes } from 'node:crypto';

/** A zone of the simulated account. */
export interface SimZone {
  readonly id: string;
  readonly name: string;
}

/** A DNS record as the simulator stores it (and answers it). */
export interface SimRecord {
  id: string;
  zone_id: string;
  zone_name: string;
  name: string;
  type: string;
  content: string;
  ttl: number;
  proxied: boolean;
  proxiable: boolean;
  priority?: number;
  data?: Record<string, unknown>;
  comment: string | null;
  tags: string[];
  created_on: string;
  modified_on: string;
}

/** One R2 lifecycle rule, stored as sent. */
export type SimLifecycleRule = Record<string, unknown>;

export interface SimBucket {
  readonly name: string;
  readonly location: string;
  readonly creation_date: string;
  lifecycle: SimLifecycleRule[];
  /** Object keys and their sizes: enough to refuse deleting a non-empty bucket. */
  readonly objects: Map<string, number>;
}

/** A Worker binding as uploaded (secret text included: the simulator runs the Worker with it). */
export interface SimBinding {
  readonly name: string;
  readonly type: string;
  readonly text?: string;
  readonly bucket_name?: string;
  readonly service?: string;
}

export interface SimModule {
  readonly name: string;
  readonly type: string;
  readonly content: string;
}

export interface SimScript {
  readonly id: string;
  etag: string;
  created_on: string;
  modified_on: string;
  compatibility_date: string;
  compatibility_flags: string[];
  tags: string[];
  bindings: SimBinding[];
  modules: SimModule[];
  main_module: string;
  handlers: string[];
  schedules: { cron: string; created_on: string; modified_on: string }[];
  /** Every upload and secret change makes a version; the newest is deployed at 100 %. */
  versions?: SimVersion[];
  deployments?: SimDeployment[];
  /** `<script>.<account subdomain>.workers.dev` enabled, as wrangler's `workers_dev` sets it. */
  subdomain?: { enabled: boolean; previews_enabled: boolean };
}

export interface SimVersion {
  readonly id: string;
  readonly number: number;
  readonly created_on: string;
  /** What made it: `upload`, `secret`, `wrangler`… */
  readonly source: string;
  readonly message?: string;
  readonly tag?: string;
  /** The code and configuration of this version (what a deployment of it runs). */
  readonly content?: Pick<
    SimScript,
    'etag' | 'compatibility_date' | 'compatibility_flags' | 'tags' | 'bindings' | 'modules' | 'main_module' | 'handlers'
  >;
}

export interface SimDeployment {
  readonly id: string;
  readonly created_on: string;
  readonly source: string;
  readonly strategy: 'percentage';
  readonly versions: readonly { version_id: string; percentage: number }[];
  readonly annotations?: Record<string, string>;
}

export interface SimRoute {
  readonly id: string;
  readonly zone_id: string;
  pattern: string;
  script: string;
}

/** Everything the simulated account holds. Plain maps: tests may read and edit them directly. */
export class SimState {
  readonly accountId: string;
  readonly zones = new Map<string, SimZone>();
  readonly records = new Map<string, SimRecord>();
  readonly buckets = new Map<string, SimBucket>();
  readonly scripts = new Map<string, SimScript>();
  readonly routes = new Map<string, SimRoute>();
  /** Bumped on every change to scripts or routes, so the Workers runtime knows to reload. */
  workersVersion = 0;
  /** The account's `workers.dev` subdomain. */
  workersSubdomain = 'keelson-sim';

  /** Everything the account holds, as JSON. */
  serialize(): SerializedCloudflareState {
    return {
      provider: 'cloudflare',
      version: 1,
      accountId: this.accountId,
      workersSubdomain: this.workersSubdomain,
      zones: [...this.zones.values()],
      records: [...this.records.values()],
      buckets: [...this.buckets.values()].map((b) => ({ ...b, objects: [...b.objects.entries()] })),
      scripts: [...this.scripts.values()],
      routes: [...this.routes.values()],
    };
  }

  /** Loads what `serialize()` wrote, replacing everything (the account id must match). */
  restore(data: SerializedCloudflareState): void {
    if (data.provider !== 'cloudflare')
      throw new Error(`this is not a Cloudflare simulator state (provider: ${String(data.provider)})`);
    if (data.version !== 1) throw new Error(`unsupported Cloudflare simulator state version ${String(data.version)}`);
    if (data.accountId !== this.accountId) {
      throw new Error(`the state file is for account ${data.accountId}, this simulator runs ${this.accountId}`);
    }
    this.workersSubdomain = data.workersSubdomain;
    const fill = <T extends { id: string }>(map: Map<string, T>, items: readonly T[]) => {
      map.clear();
      for (const i of items) map.set(i.id, structuredClone(i));
    };
    fill(this.zones, data.zones);
    fill(this.records, data.records);
    fill(this.scripts, data.scripts);
    fill(this.routes, data.routes);
    this.buckets.clear();
    for (const b of data.buckets) this.buckets.set(b.name, { ...structuredClone(b), objects: new Map(b.objects) });
    this.workersVersion++;
  }

  constructor(accountId: string) {
    this.accountId = accountId;
  }

  addZone(name: string): SimZone {
    const existing = this.zoneByName(name);
    if (existing) return existing;
    const zone = { id: newId(), name: name.toLowerCase() };
    this.zones.set(zone.id, zone);
    return zone;
  }

  zoneByName(name: string): SimZone | undefined {
    for (const zone of this.zones.values()) if (zone.name === name.toLowerCase()) return zone;
    return undefined;
  }
}

/** A 32-hex-character id, like Cloudflare's. */
export function newId(): string {
  return randomBytes(16).toString('hex');
}

export function now(): string {
  return new Date().toISOString();
}

/** The JSON form of a simulated account (what `keelson simulate cloudflare --state FILE` keeps). */
export interface SerializedCloudflareState {
  readonly provider: 'cloudflare';
  readonly version: 1;
  readonly accountId: string;
  readonly workersSubdomain: string;
  readonly zones: SimZone[];
  readonly records: SimRecord[];
  readonly buckets: (Omit<SimBucket, 'objects'> & { objects: [string, number][] })[];
  readonly scripts: SimScript[];
  readonly routes: SimRoute[];
}
