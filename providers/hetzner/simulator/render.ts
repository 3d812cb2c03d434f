import { locations } from './catalog.ts';
import { matchesSelector, parseLabelSelector } from './label-selector.ts';
import type {
  FirewallRecord,
  NetworkRecord,
  PlacementGroupRecord,
  ServerRecord,
  SimulatorState,
  SshKeyRecord,
  VolumeRecord,
} from './state.ts';

/** API shapes of stored records, computed fields filled in the way the vendor reports them. */

export function renderServer(s: ServerRecord, state: SimulatorState) {
  const type = state.serverType(s.serverType)!;
  const image = s.imageId === null ? null : (state.images.get(s.imageId) ?? null);
  const pg = s.placementGroup === null ? undefined : state.placementGroups.get(s.placementGroup);
  return {
    id: s.id,
    name: s.name,
    status: s.status,
    created: s.created,
    public_net: {
      ipv4:
        s.ipv4 === null
          ? null
          : { id: s.id + 100000, ip: s.ipv4, blocked: false, dns_ptr: `static.${s.ipv4}.clients.your-server.de` },
      ipv6: s.ipv6 === null ? null : { id: s.id + 200000, ip: s.ipv6, blocked: false, dns_ptr: [] },
      floating_ips: [],
      firewalls: s.firewalls.map((id) => ({ id, status: 'applied' })),
    },
    private_net: s.privateNet.map((p) => ({
      network: p.network,
      ip: p.ip,
      alias_ips: [...(p.aliasIps ?? [])],
      mac_address: `86:00:00:${hex(p.network)}:${hex(s.id)}:01`,
    })),
    server_type: type,
    datacenter: state.datacenter(s.datacenter),
    location: state.datacenter(s.datacenter).location,
    image,
    iso: null,
    rescue_enabled: s.rescueEnabled === true,
    locked: state.isLocked('server', s.id),
    backup_window: s.backupWindow ?? null,
    outgoing_traffic: 0,
    ingoing_traffic: 0,
    included_traffic: 21990232555520,
    protection: { ...s.protection },
    labels: { ...s.labels },
    volumes: [...state.volumes.values()].filter((v) => v.server === s.id).map((v) => v.id),
    load_balancers: [],
    primary_disk_size: type.disk,
    placement_group: pg ? renderPlacementGroup(pg, state) : null,
  };
}

function hex(n: number): string {
  return (n % 256).toString(16).padStart(2, '0');
}

export function renderNetwork(n: NetworkRecord, state: SimulatorState) {
  return {
    id: n.id,
    name: n.name,
    ip_range: n.ip_range,
    subnets: n.subnets.map((s) => ({ ...s })),
    routes: n.routes.map((r) => ({ ...r })),
    servers: [...state.servers.values()].filter((s) => s.privateNet.some((p) => p.network === n.id)).map((s) => s.id),
    load_balancers: [],
    protection: { ...n.protection },
    labels: { ...n.labels },
    created: n.created,
    expose_routes_to_vswitch: n.expose_routes_to_vswitch,
  };
}

export function renderFirewall(f: FirewallRecord, state: SimulatorState) {
  return {
    id: f.id,
    name: f.name,
    labels: { ...f.labels },
    created: f.created,
    rules: f.rules.map((r) => ({ ...r, source_ips: [...r.source_ips], destination_ips: [...r.destination_ips] })),
    applied_to: f.applied_to.map((t) => {
      if (t.type === 'server') return { type: 'server', server: { id: t.server.id } };
      const terms = parseLabelSelector(t.label_selector.selector);
      const servers = [...state.servers.values()].filter((s) => matchesSelector(terms, s.labels));
      return {
        type: 'label_selector',
        label_selector: { selector: t.label_selector.selector },
        applied_to_resources: servers.map((s) => ({ type: 'server', server: { id: s.id } })),
      };
    }),
  };
}

export function renderSshKey(k: SshKeyRecord) {
  return { ...k, labels: { ...k.labels } };
}

export function renderPlacementGroup(p: PlacementGroupRecord, state: SimulatorState) {
  return {
    id: p.id,
    name: p.name,
    labels: { ...p.labels },
    type: p.type,
    created: p.created,
    servers: [...state.servers.values()].filter((s) => s.placementGroup === p.id).map((s) => s.id),
  };
}

export function renderVolume(v: VolumeRecord) {
  const location = locations.find((l) => l.name === v.location)!;
  return {
    id: v.id,
    name: v.name,
    size: v.size,
    server: v.server,
    location,
    linux_device: `/dev/disk/by-id/scsi-0HC_Volume_${v.id}`,
    protection: { ...v.protection },
    labels: { ...v.labels },
    status: v.status,
    format: v.format,
    created: v.created,
  };
}
