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
