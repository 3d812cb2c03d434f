import { ApiFault, invalidInput, notFound } from './api-fault.ts';
import { type Datacenter, datacenters, locations, type ServerType, serverTypes } from './catalog.ts';
import { cidrContains, intToIp, parseCidr } from './ipv4.ts';
import { renderServer } from './render.ts';
import {
  actionList,
  assertUniqueName,
  filterList,
  paginate,
  type Route,
  type RouteRequest,
  requireId,
  requireString,
  resolveRef,
  route,
  validateLabels,
  validateName,
} from './router.ts';
import type { ImageRecord, ServerRecord, SimulatorState } from './state.ts';

function getServer(state: SimulatorState, req: RouteRequest): ServerRecord {
  const s = state.servers.get(requireId(req.params));
  if (!s) throw notFound('server', req.params.id!);
  return s;
}

/** An image by id or name; a name picks the image of the server type's architecture, as the API does. */
export function resolveImage(state: SimulatorState, ref: unknown, architecture: string, field = 'image'): ImageRecord {
  const live = [...state.images.values()].filter((i) => i.deleted === null);
  if (typeof ref === 'string' && !/^\d+$/.test(ref)) {
    const named = live.filter((i) => i.name === ref);
    const image = named.find((i) => i.architecture === architecture) ?? named[0];
    if (image) return image;
  }
  return resolveRef(live, ref, field);
}

function ids(raw: unknown): unknown[] {
  return Array.isArray(raw) ? raw : [];
}

/** The next free address of a network for a server, or the requested one when it is free. */
export function allocatePrivateIp(state: SimulatorState, networkId: number, wanted?: string): string {
  const network = state.networks.get(networkId);
  if (!network) throw invalidInput('network', `network ${networkId} does not exist`);
  const used = new Set<string>();
  for (const s of state.servers.values()) {
    for (const p of s.privateNet) {
      if (p.network !== networkId) continue;
      used.add(p.ip);
      for (const a of p.aliasIps ?? []) used.add(a);
    }
  }
  const subnets = network.subnets.filter((s) => s.type !== 'vswitch');
  if (subnets.length === 0) throw new ApiFault(412, 'no_subnet_available', `network ${networkId} has no subnet`);
  if (wanted !== undefined) {
    if (!subnets.some((s) => cidrContains(s.ip_range, wanted))) {
      throw invalidInput('ip', `${wanted} is not in a subnet of network ${networkId}`);
    }
    if (used.has(wanted)) throw new ApiFault(409, 'ip_not_available', `IP ${wanted} is already in use`);
    return wanted;
  }
  for (const subnet of subnets) {
    const c = parseCidr(subnet.ip_range)!;
    for (let n = c.base + 2; n < c.base + c.size - 1; n++) {
      const ip = intToIp(n);
      if (!used.has(ip)) return ip;
    }
  }
  throw new ApiFault(409, 'ip_not_available', `network ${networkId} has no free IP`);
}

const ref = (s: ServerRecord) => [{ id: s.id, type: 'server' }];

function serverAction(
  command: string,
  handle: (
    s: ServerRecord,
    req: RouteRequest,
    state: SimulatorState,
  ) => { done?: () => void; extra?: { id: number; type: string }[]; reply?: Record<string, unknown> },
): Route {
  return route('POST', `/servers/{id}/actions/${command}`, (req, state) => {
    const s = getServer(state, req);
    state.assertUnlocked('server', s.id);
    // Check every lock before the handler changes anything: a 423 must leave no trace.
    if (req.body.network !== undefined) {
      const n = resolveRef(state.networks.values(), req.body.network, 'network');
      state.assertUnlocked('network', n.id);
    }
    const { done, extra, reply } = handle(s, req, state);
    const action = state.startAction(command, [...ref(s), ...(extra ?? [])], done);
    return { status: 201, body: { ...(reply ?? {}), action } };
  });
}

export const serverRoutes: Route[] = [
  route('GET', '/servers', (req, state) => {
    let servers = filterList(state.servers.values(), req.query);
    const status = req.query.getAll('status');
    if (status.length > 0) servers = servers.filter((s) => status.includes(s.status));
    return paginate(
      'servers',
      servers.map((s) => renderServer(s, state)),
      req.query,
    );
  }),
  route('GET', '/servers/actions', (req, state) => actionList(state, req, 'server')),
  route('GET', '/servers/{id}/actions', (req, state) => actionList(state, req, 'server', getServer(state, req).id)),
  route('GET', '/servers/{id}/actions/{action_id}', (req, state) => {
    const s = getServer(state, req);
    const action = state.actions.get(Number(req.params.action_id));
    if (!action?.resources.some((r) => r.type === 'server' && r.id === s.id))
      throw notFound('action', req.params.action_id!);
    return { status: 200, body: { action } };
  }),
  route('GET', '/servers/{id}', (req, state) => ({
    status: 200,
    body: { server: renderServer(getServer(state, req), state) },
  })),
  route('POST', '/servers', (req, state) => {
    const b = req.body;
    const name = requireString(b, 'name');
    validateName(name);
    if (b.server_type === undefined) requireString(b, 'server_type');
    const type = resolveRef(serverTypes, b.server_type, 'server_type');
    if (b.image === undefined) requireString(b, 'image');
    const image = resolveImage(state, b.image, type.architecture);
    if (image.architecture !== type.architecture) {
      throw invalidInput(
        'image',
        `image ${image.id} is for ${image.architecture}, server type ${type.name} is ${type.architecture}`,
      );
    }
    let dc: Datacenter;
    if (b.location !== undefined && b.location !== null) {
      const l = resolveRef(locations, b.location, 'location');
      dc = datacenters.find((d) => d.location.id === l.id)!;
    } else if (b.datacenter !== undefined && b.datacenter !== null)
      dc = resolveRef(datacenters, b.datacenter, 'datacenter');
    else dc = datacenters[0]!;
    if (!dc.server_types.available.includes(type.id)) {
      throw new ApiFault(
        412,
        'unsupported_location_for_server_type',
        `server type ${type.name} is not available in ${dc.location.name}`,
      );
    }
    const labels = validateLabels(b.labels);
    assertUniqueName(state.servers.values(), name);
    for (const k of ids(b.ssh_keys)) resolveRef(state.sshKeys.values(), k, 'ssh_keys');
    const networks = ids(b.networks).map((n) => resolveRef(state.networks.values(), n, 'networks').id);
    const firewalls = ids(b.firewalls).map(
      (f) => resolveRef(state.firewalls.values(), (f as { firewall?: unknown } | null)?.firewall ?? f, 'firewalls').id,
    );
    const pg =
      b.placement_group === undefined || b.placement_group === null
        ? null
        : resolveRef(state.placementGroups.values(), b.placement_group, 'placement_group').id;
    const volumes = ids(b.volumes).map((v) => resolveRef(state.volumes.values(), v, 'volumes'));
    for (const v of volumes) {
      if (v.server !== null) throw new ApiFault(409, 'volume_already_attached', `volume ${v.id} is already attached`);
      if (v.location !== dc.location.name) throw invalidInput('volumes', `volume ${v.id} is in another location`);
    }
    const publicNet = (b.public_net ?? {}) as { enable_ipv4?: boolean; enable_ipv6?: boolean };
    const id = state.nextId();
    const server: ServerRecord = {
      id,
      name,
      status: 'initializing',
      created: state.now(),
      serverType: type.name,
      datacenter: dc.id,
      imageId: image.id,
      ipv4: publicNet.enable_ipv4 === false ? null : `203.0.113.${(id % 250) + 1}`,
      ipv6: publicNet.enable_ipv6 === false ? null : `2001:db8:${id.toString(16)}::/64`,
      firewalls,
      privateNet: [],
      labels,
      protection: { delete: false, rebuild: false },
      placementGroup: pg,
      userData: typeof b.user_data === 'string' ? b.user_data : null,
    };
    for (const n of networks) server.privateNet.push({ network: n, ip: allocatePrivateIp(state, n) });
    state.servers.set(id, server);
    for (const v of volumes) v.server = id;
    for (const f of firewalls) state.firewalls.get(f)?.applied_to.push({ type: 'server', server: { id } });
    const startAfter = b.start_after_create !== false;
    const action = state.startAction(
      'create_server',
      ref(server),
      () => {
        server.status = startAfter ? 'running' : 'off';
      },
      () => {
        server.status = 'off';
      },
    );
    return {
      status: 201,
      body: { server: renderServer(server, state), action, next_actions: [], root_password: null },
    };
  }),
  route('PUT', '/servers/{id}', (req, state) => {
    const s = getServer(state, req);
    if (req.body.name !== undefined) {
      const name = requireString(req.body, 'name');
      validateName(name);
      assertUniqueName(state.servers.values(), name, s.id);
      s.name = name;
    }
    if (req.body.labels !== undefined) s.labels = validateLabels(req.body.labels);
    return { status: 200, body: { server: renderServer(s, state) } };
  }),
  route('DELETE', '/servers/{id}', (req, state) => {
    const s = getServer(state, req);
    if (s.protection.delete) throw new ApiFault(403, 'protected', 'server deletion is protected');
    state.assertUnlocked('server', s.id);
    s.status = 'deleting';
    const action = state.startAction('delete_server', ref(s), () => {
      state.servers.delete(s.id);
      for (const v of state.volumes.values()) if (v.server === s.id) v.server = null;
      for (const f of state.firewalls.values()) {
        f.applied_to = f.applied_to.filter((t) => t.type !== 'server' || t.server.id !== s.id);
      }
    });
    return { status: 200, body: { action } };
  }),
  serverAction('poweroff', (s) => ({
    done: () => {
      s.status = 'off';
    },
  })),
  serverAction('shutdown', (s) => ({
    done: () => {
      s.status = 'off';
    },
  })),
  serverAction('poweron', (s) => ({
    done: () => {
      s.status = 'running';
    },
  })),
  serverAction('change_type', (s, req, state) => {
    if (req.body.server_type === undefined) requireString(req.body, 'server_type');
    const type: ServerType = resolveRef(serverTypes, req.body.server_type, 'server_type');
    if (s.status !== 'off')
      throw new ApiFault(412, 'server_not_stopped', `server ${s.id} must be stopped to change its type`);
    const current = state.serverType(s.serverType)!;
    if (type.architecture !== current.architecture) {
      throw invalidInput('server_type', `cannot change from ${current.architecture} to ${type.architecture}`);
    }
    return {
      done: () => {
        s.serverType = type.name;
      },
    };
  }),
  serverAction('change_protection', (s, req) => {
    const b = req.body as { delete?: unknown; rebuild?: unknown };
    const del = typeof b.delete === 'boolean' ? b.delete : s.protection.delete;
    const rebuild = typeof b.rebuild === 'boolean' ? b.rebuild : s.protection.rebuild;
    if (del !== rebuild) {
      throw new ApiFault(400, 'invalid_input', 'delete and rebuild protection must have the same value', {
        fields: [
          { name: 'delete', messages: ['delete and rebuild protection must have the same value'] },
          { name: 'rebuild', messages: ['delete and rebuild protection must have the same value'] },
        ],
      });
    }
    s.protection = { delete: del, rebuild };
    return {};
  }),
  serverAction('attach_to_network', (s, req, state) => {
    const network = resolveRef(state.networks.values(), req.body.network, 'network').id;
    if (s.privateNet.some((p) => p.network === network)) {
      throw new ApiFault(409, 'server_already_attached', `server ${s.id} is already attached to network ${network}`);
    }
    const ip = allocatePrivateIp(state, network, typeof req.body.ip === 'string' ? req.body.ip : undefined);
    const aliasIps = aliasIpsOf(state, network, req.body.alias_ips, s.id, ip);
    s.privateNet.push({ network, ip, aliasIps });
    return { extra: [{ id: network, type: 'network' }] };
  }),
  serverAction('detach_from_network', (s, req, state) => {
    const network = resolveRef(state.networks.values(), req.body.network, 'network').id;
    if (!s.privateNet.some((p) => p.network === network)) {
      throw new ApiFault(409, 'server_not_attached', `server ${s.id} is not attached to network ${network}`);
    }
    s.privateNet = s.privateNet.filter((p) => p.network !== network);
    return { extra: [{ id: network, type: 'network' }] };
  }),
  serverAction('add_to_placement_group', (s, req, state) => {
    const pg = resolveRef(state.placementGroups.values(), req.body.placement_group, 'placement_group').id;
    if (s.status !== 'off') {
      throw new ApiFault(412, 'server_not_stopped', 'server must be stopped before adding it to a placement group');
    }
    if (s.placementGroup !== null) {
      throw new ApiFault(
        409,
        'server_already_added',
        `server ${s.id} is already in placement group ${s.placementGroup}`,
      );
    }
    s.placementGroup = pg;
    return {};
  }),
  serverAction('remove_from_placement_group', (s) => {
    if (s.placementGroup === null) {
      throw new ApiFault(409, 'server_not_in_placement_group', `server ${s.id} is not in a placement group`);
    }
    s.placementGroup = null;
    return {};
  }),
  serverAction('reboot', (s) => running(s, 'starting')),
  serverAction('reset', (s) => running(s, 'starting')),
  serverAction('enable_backup', (s) => ({
    done: () => {
      s.backupWindow = '22-02';
    },
  })),
  serverAction('disable_backup', (s) => ({
    done: () => {
      s.backupWindow = null;
    },
  })),
  serverAction('enable_rescue', (s, req, state) => {
    if (req.body.type !== undefined && req.body.type !== null && req.body.type !== 'linux64')
      throw invalidInput('type', 'must be linux64');
    for (const k of ids(req.body.ssh_keys)) resolveRef(state.sshKeys.values(), k, 'ssh_keys');
    return {
      done: () => {
        s.rescueEnabled = true;
      },
      reply: { root_password: rootPassword(s.id) },
    };
  }),
  serverAction('disable_rescue', (s) => ({
    done: () => {
      s.rescueEnabled = false;
    },
  })),
  serverAction('rebuild', (s, req, state) => {
    if (s.protection.rebuild) throw new ApiFault(403, 'protected', 'server rebuild is protected');
    if (req.body.image === undefined) requireString(req.body, 'image');
    const arch = state.serverType(s.serverType)!.architecture;
    const image = resolveImage(state, req.body.image, arch);
    if (image.architecture !== arch) throw invalidInput('image', `image ${image.id} is for ${image.architecture}`);
    const wasOff = s.status === 'off';
    s.status = 'rebuilding';
    return {
      done: () => {
        s.imageId = image.id;
        if (typeof req.body.user_data === 'string') s.userData = req.body.user_data;
        s.status = wasOff ? 'off' : 'running';
      },
      reply: { root_password: null },
    };
  }),
  serverAction('change_alias_ips', (s, req, state) => {
    const network = resolveRef(state.networks.values(), req.body.network, 'network').id;
    const attached = s.privateNet.find((p) => p.network === network);
    if (!attached)
      throw new ApiFault(409, 'server_not_attached', `server ${s.id} is not attached to network ${network}`);
    if (!Array.isArray(req.body.alias_ips)) throw invalidInput('alias_ips', 'is required');
    const aliasIps = aliasIpsOf(state, network, req.body.alias_ips, s.id, attached.ip);
    return {
      done: () => {
        attached.aliasIps = aliasIps;
      },
      extra: [{ id: network, type: 'network' }],
    };
  }),
];

/** The server goes through `via` while the action runs and is `running` after it. */
function running(s: ServerRecord, via: ServerRecord['status']) {
  s.status = via;
  return {
    done: () => {
      s.status = 'running';
    },
  };
}

function rootPassword(id: number): string {
  return `sim${id.toString(36)}Rescue${(id * 7919).toString(36)}`;
}

/** Alias IPs for a server in a network: in a subnet, not the server's own or another server's address. */
function aliasIpsOf(state: SimulatorState, network: number, raw: unknown, self: number, own: string): string[] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) throw invalidInput('alias_ips', 'must be an array of IPs');
  const n = state.networks.get(network)!;
  const taken = new Set<string>();
  for (const s of state.servers.values()) {
    if (s.id === self) continue;
    for (const p of s.privateNet) {
      if (p.network !== network) continue;
      taken.add(p.ip);
      for (const a of p.aliasIps ?? []) taken.add(a);
    }
  }
  return raw.map((ip) => {
    if (typeof ip !== 'string' || !n.subnets.some((x) => cidrContains(x.ip_range, ip))) {
      throw invalidInput('alias_ips', `${String(ip)} is not in a subnet of network ${network}`);
    }
    if (ip === own || taken.has(ip)) throw new ApiFault(409, 'ip_not_available', `IP ${ip} is already in use`);
    return ip;
  });
}
