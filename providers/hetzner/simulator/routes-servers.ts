import { ApiFault, invalidInput, notFound } from './api-fault.ts';
import { datacenters, serverTypes } from './catalog.ts';
import { cidrContains, intToIp, parseCidr } from './ipv4.ts';
import { renderServer } from './render.ts';
import {
  assertUniqueName,
  filterList,
  paginate,
  type Route,
  type RouteRequest,
  requireId,
  requireString,
  route,
  validateLabels,
  validateName,
} from './router.ts';
import type { ServerRecord, SimulatorState } from './state.ts';

function getServer(state: SimulatorState, req: RouteRequest): ServerRecord {
  const s = state.servers.get(requireId(req.params));
  if (!s) throw notFound('server', req.params.id!);
  return s;
}

function resolveByNameOrId<T extends { id: number; name: string | null }>(
  items: Iterable<T>,
  ref: unknown,
  field: string,
): T {
  for (const i of items) if (i.id === ref || i.name === ref || String(i.id) === ref) return i;
  throw invalidInput(field, `${String(ref)} does not exist`);
}

/** The next free address of a network for a server, or the requested one when it is free. */
export function allocatePrivateIp(state: SimulatorState, networkId: number, wanted?: string): string {
  const network = state.networks.get(networkId);
  if (!network) throw invalidInput('network', `network ${networkId} does not exist`);
  const used = new Set<string>();
  for (const s of state.servers.values()) for (const p of s.privateNet) if (p.network === networkId) used.add(p.ip);
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
  ) => { done?: () => void; extra?: { id: number; type: string }[] },
): Route {
  return route('POST', `/servers/{id}/actions/${command}`, (req, state) => {
    const s = getServer(state, req);
    state.assertUnlocked('server', s.id);
    // Check every lock before the handler changes anything: a 423 must leave no trace.
    if (req.body.network !== undefined) state.assertUnlocked('network', Number(req.body.network));
    const { done, extra } = handle(s, req, state);
    const action = state.startAction(command, [...ref(s), ...(extra ?? [])], done);
    return { status: 201, body: { action } };
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
  route('GET', '/servers/{id}', (req, state) => ({
    status: 200,
    body: { server: renderServer(getServer(state, req), state) },
  })),
  route('POST', '/servers', (req, state) => {
    const b = req.body;
    const name = requireString(b, 'name');
    validateName(name);
    const typeName = requireString(b, 'server_type');
    const type = serverTypes.find((t) => t.name === typeName || String(t.id) === typeName);
    if (!type) throw invalidInput('server_type', `server type ${typeName} does not exist`);
    const image = resolveByNameOrId(
      [...state.images.values()].filter((i) => i.deleted === null),
      b.image ?? requireString(b, 'image'),
      'image',
    );
    const dc =
      b.location !== undefined
        ? datacenters.find((d) => d.location.name === b.location || d.location.id === b.location)
        : b.datacenter !== undefined
          ? datacenters.find((d) => d.name === b.datacenter || d.id === b.datacenter)
          : datacenters[0];
    if (!dc) throw invalidInput(b.location !== undefined ? 'location' : 'datacenter', 'does not exist');
    const labels = validateLabels(b.labels);
    assertUniqueName(state.servers.values(), name);
    const sshKeys = Array.isArray(b.ssh_keys) ? b.ssh_keys : [];
    for (const k of sshKeys) resolveByNameOrId(state.sshKeys.values(), k, 'ssh_keys');
    const networks = (Array.isArray(b.networks) ? b.networks : []).map(Number);
    for (const n of networks) if (!state.networks.has(n)) throw invalidInput('networks', `network ${n} does not exist`);
    const firewalls = (Array.isArray(b.firewalls) ? b.firewalls : []).map((f) =>
      Number((f as { firewall: unknown }).firewall),
    );
    for (const f of firewalls)
      if (!state.firewalls.has(f)) throw invalidInput('firewalls', `firewall ${f} does not exist`);
    const pg = b.placement_group === undefined || b.placement_group === null ? null : Number(b.placement_group);
    if (pg !== null && !state.placementGroups.has(pg))
      throw invalidInput('placement_group', `placement group ${pg} does not exist`);
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
    if (s.protection.delete) throw new ApiFault(403, 'protected', `server ${s.id} is delete protected`);
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
  serverAction('change_type', (s, req) => {
    const typeName = requireString(req.body, 'server_type');
    if (!serverTypes.some((t) => t.name === typeName)) {
      throw invalidInput('server_type', `server type ${typeName} does not exist`);
    }
    if (s.status !== 'off')
      throw new ApiFault(412, 'server_not_stopped', `server ${s.id} must be stopped to change its type`);
    return {
      done: () => {
        s.serverType = typeName;
      },
    };
  }),
  serverAction('change_protection', (s, req) => {
    const b = req.body as { delete?: boolean; rebuild?: boolean };
    if (typeof b.delete === 'boolean') s.protection.delete = b.delete;
    if (typeof b.rebuild === 'boolean') s.protection.rebuild = b.rebuild;
    return {};
  }),
  serverAction('attach_to_network', (s, req, state) => {
    const network = Number(req.body.network);
    if (!state.networks.has(network)) throw invalidInput('network', `network ${network} does not exist`);
    if (s.privateNet.some((p) => p.network === network)) {
      throw new ApiFault(409, 'server_already_attached', `server ${s.id} is already attached to network ${network}`);
    }
    const ip = allocatePrivateIp(state, network, typeof req.body.ip === 'string' ? req.body.ip : undefined);
    s.privateNet.push({ network, ip });
    return { extra: [{ id: network, type: 'network' }] };
  }),
  serverAction('detach_from_network', (s, req) => {
    const network = Number(req.body.network);
    if (!s.privateNet.some((p) => p.network === network)) {
      throw new ApiFault(409, 'server_not_attached', `server ${s.id} is not attached to network ${network}`);
    }
    s.privateNet = s.privateNet.filter((p) => p.network !== network);
    return { extra: [{ id: network, type: 'network' }] };
  }),
  serverAction('add_to_placement_group', (s, req, state) => {
    const pg = Number(req.body.placement_group);
    if (!state.placementGroups.has(pg)) throw invalidInput('placement_group', `placement group ${pg} does not exist`);
    s.placementGroup = pg;
    return {};
  }),
  serverAction('remove_from_placement_group', (s) => {
    s.placementGroup = null;
    return {};
  }),
];
