import { ApiFault } from './api-fault.ts';
import { datacenters, serverTypes, systemImages } from './catalog.ts';
import type { FaultInjector } from './faults.ts';

export type Labels = Record<string, string>;

export interface ActionRecord {
  id: number;
  command: string;
  status: 'running' | 'success' | 'error';
  progress: number;
  started: string;
  finished: string | null;
  resources: { id: number; type: string }[];
  error: { code: string; message: string } | null;
}

export interface ServerRecord {
  id: number;
  name: string;
  status: 'running' | 'initializing' | 'starting' | 'stopping' | 'off' | 'deleting' | 'rebuilding';
  created: string;
  serverType: string;
  datacenter: number;
  imageId: number | null;
  ipv4: string | null;
  ipv6: string | null;
  firewalls: number[];
  privateNet: { network: number; ip: string; aliasIps?: string[] }[];
  labels: Labels;
  protection: { delete: boolean; rebuild: boolean };
  placementGroup: number | null;
  userData: string | null;
  /** `22-02` while backups are enabled. */
  backupWindow?: string | null;
  rescueEnabled?: boolean;
}

export interface NetworkRecord {
  id: number;
  name: string;
  ip_range: string;
  subnets: { type: string; ip_range: string; network_zone: string; gateway: string; vswitch_id?: number | null }[];
  routes: { destination: string; gateway: string }[];
  labels: Labels;
  protection: { delete: boolean };
  created: string;
  expose_routes_to_vswitch: boolean;
}

export interface FirewallRule {
  description: string | null;
  direction: 'in' | 'out';
  protocol: string;
  port: string | null;
  source_ips: string[];
  destination_ips: string[];
}

export type FirewallTarget =
  | { type: 'server'; server: { id: number } }
  | { type: 'label_selector'; label_selector: { selector: string } };

export interface FirewallRecord {
  id: number;
  name: string;
  labels: Labels;
  created: string;
  rules: FirewallRule[];
  applied_to: FirewallTarget[];
}

export interface SshKeyRecord {
  id: number;
  name: string;
  fingerprint: string;
  public_key: string;
  labels: Labels;
  created: string;
}

export interface PlacementGroupRecord {
  id: number;
  name: string;
  labels: Labels;
  type: string;
  created: string;
}

export interface VolumeRecord {
  id: number;
  name: string;
  size: number;
  server: number | null;
  location: string;
  labels: Labels;
  protection: { delete: boolean };
  status: 'creating' | 'available';
  format: string | null;
  created: string;
}

export interface ImageRecord {
  id: number;
  type: string;
  status: string;
  name: string | null;
  description: string;
  image_size: number | null;
  disk_size: number;
  created: string;
  created_from: { id: number; name: string } | null;
  bound_to: number | null;
  os_flavor: string;
  os_version: string | null;
  rapid_deploy: boolean;
  protection: { delete: boolean };
  deprecated: string | null;
  deleted: string | null;
  labels: Labels;
  architecture: string;
}

/** Everything the simulated project holds. Tests may read and change it directly ("by hand"). */
export class SimulatorState {
  #nextId = 1000;
  readonly actions = new Map<number, ActionRecord>();
  readonly servers = new Map<number, ServerRecord>();
  readonly networks = new Map<number, NetworkRecord>();
  readonly firewalls = new Map<number, FirewallRecord>();
  readonly sshKeys = new Map<number, SshKeyRecord>();
  readonly placementGroups = new Map<number, PlacementGroupRecord>();
  readonly volumes = new Map<number, VolumeRecord>();
  readonly images = new Map<number, ImageRecord>();
  /** How long an action runs before it ends (ms). */
  actionDurationMs: number;
  /** Called after an action ended (its effects applied): what `--state` uses to save. */
  onChange: () => void = () => {};
  readonly #faults: FaultInjector;
  readonly #timers = new Set<NodeJS.Timeout>();

  constructor(actionDurationMs: number, faults: FaultInjector) {
    this.actionDurationMs = actionDurationMs;
    this.#faults = faults;
    for (const image of systemImages) this.images.set(image.id, structuredClone(image));
  }

  nextId(): number {
    return this.#nextId++;
  }

  now(): string {
    return new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  }

  /**
   * Starts an action on some resources. It runs for `actionDurationMs`, then `onSuccess` runs and it
   * ends in `success`, unless a `fail-action` fault makes it end in `error` (then `onError` runs).
   */
  startAction(
    command: string,
    resources: { id: number; type: string }[],
    onSuccess: () => void = () => {},
    onError: () => void = () => {},
  ): ActionRecord {
    for (const r of resources) this.assertUnlocked(r.type, r.id);
    const action: ActionRecord = {
      id: this.nextId(),
      command,
      status: 'running',
      progress: 0,
      started: this.now(),
      finished: null,
      resources,
      error: null,
    };
    this.actions.set(action.id, action);
    const failure = this.#faults.takeActionFailure(command);
    const finish = (): void => {
      action.finished = this.now();
      action.progress = 100;
      if (failure) {
        action.status = 'error';
        action.error = { code: 'action_failed', message: failure };
        onError();
      } else {
        action.status = 'success';
        onSuccess();
      }
      this.onChange();
    };
    if (this.actionDurationMs <= 0) finish();
    else {
      const timer = setTimeout(() => {
        this.#timers.delete(timer);
        finish();
      }, this.actionDurationMs);
      this.#timers.add(timer);
    }
    return action;
  }

  /** Hetzner answers 423 `locked` while another action runs on the resource. */
  assertUnlocked(type: string, id: number): void {
    for (const a of this.actions.values()) {
      if (a.status === 'running' && a.resources.some((r) => r.type === type && r.id === id)) {
        throw new ApiFault(423, 'locked', `${type} ${id} is locked by a running action (${a.command})`);
      }
    }
  }

  isLocked(type: string, id: number): boolean {
    for (const a of this.actions.values()) {
      if (a.status === 'running' && a.resources.some((r) => r.type === type && r.id === id)) return true;
    }
    return false;
  }

  serverType(name: string) {
    return serverTypes.find((t) => t.name === name || String(t.id) === name);
  }

  /** Everything the project holds, as JSON (system images and the catalog are not included: they are fixed). */
  serialize(): SerializedState {
    return {
      provider: 'hetzner',
      version: 1,
      nextId: this.#nextId,
      actions: [...this.actions.values()],
      servers: [...this.servers.values()],
      networks: [...this.networks.values()],
      firewalls: [...this.firewalls.values()],
      sshKeys: [...this.sshKeys.values()],
      placementGroups: [...this.placementGroups.values()],
      volumes: [...this.volumes.values()],
      images: [...this.images.values()].filter((i) => i.type !== 'system'),
    };
  }

  /**
   * Loads what `serialize()` wrote. Actions that were running when it was written end now, in
   * `success`, and the resources they moved reach the state that action leads to.
   */
  restore(data: SerializedState): void {
    if (data.provider !== 'hetzner')
      throw new Error(`this is not a Hetzner simulator state (provider: ${String(data.provider)})`);
    if (data.version !== 1) throw new Error(`unsupported Hetzner simulator state version ${String(data.version)}`);
    this.#nextId = data.nextId;
    const fill = <T extends { id: number }>(map: Map<number, T>, items: readonly T[]) => {
      map.clear();
      for (const i of items) map.set(i.id, structuredClone(i));
    };
    fill(this.actions, data.actions);
    fill(this.servers, data.servers);
    fill(this.networks, data.networks);
    fill(this.firewalls, data.firewalls);
    fill(this.sshKeys, data.sshKeys);
    fill(this.placementGroups, data.placementGroups);
    fill(this.volumes, data.volumes);
    for (const i of data.images) this.images.set(i.id, structuredClone(i));
    for (const a of this.actions.values()) {
      if (a.status !== 'running') continue;
      a.status = 'success';
      a.progress = 100;
      a.finished = this.now();
    }
    for (const s of [...this.servers.values()]) {
      if (s.status === 'deleting') this.servers.delete(s.id);
      else if (s.status === 'stopping') s.status = 'off';
      else if (s.status === 'initializing' || s.status === 'starting' || s.status === 'rebuilding')
        s.status = 'running';
    }
    for (const v of this.volumes.values()) if (v.status === 'creating') v.status = 'available';
  }

  datacenter(id: number) {
    return datacenters.find((d) => d.id === id) ?? datacenters[0]!;
  }

  /** Adds a snapshot image (as the backup function would have made), for lookups. */
  addSnapshot(description: string, labels: Labels): ImageRecord {
    const image: ImageRecord = {
      ...structuredClone(systemImages[0]!),
      id: this.nextId(),
      type: 'snapshot',
      name: null,
      description,
      image_size: 1.5,
      created: this.now(),
      rapid_deploy: false,
      labels,
    };
    this.images.set(image.id, image);
    return image;
  }

  stop(): void {
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
  }
}

/** The JSON form of a simulated project (what `keelson simulate hetzner --state FILE` keeps). */
export interface SerializedState {
  readonly provider: 'hetzner';
  readonly version: 1;
  readonly nextId: number;
  readonly actions: ActionRecord[];
  readonly servers: ServerRecord[];
  readonly networks: NetworkRecord[];
  readonly firewalls: FirewallRecord[];
  readonly sshKeys: SshKeyRecord[];
  readonly placementGroups: PlacementGroupRecord[];
  readonly volumes: VolumeRecord[];
  readonly images: ImageRecord[];
}
