import { ApiFault, invalidInput, notFound } from './api-fault.ts';
import { cidrContains, intToIp, parseCidr } from './ipv4.ts';
import { renderNetwork } from './render.ts';
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
} from './router.ts';
import type { NetworkRecord, SimulatorState } from './state.ts';

function getNetwork(state: SimulatorState, req: RouteRequest): NetworkRecord {
  const n = state.networks.get(requireId(req.params));
  if (!n) throw notFound('network', req.params.id!);
  return n;
}

function subnetOf(network: NetworkRecord, raw: unknown): NetworkRecord['subnets'][number] {
  const s = (raw ?? {}) as Record<string, unknown>;
  const ipRange = requireString(s, 'ip_range');
  const type = typeof s.type === 'string' ? s.type : 'cloud';
  if (!['cloud', 'server', 'vswitch'].includes(type)) throw invalidInput('type', `unknown subnet type ${type}`);
  const zone = requireString(s, 'network_zone');
  if (!parseCidr(ipRange) || !cidrContains(network.ip_range, ipRange)) {
    throw invalidInput('ip_range', `${ipRange} is not inside the network's range ${network.ip_range}`);
  }
  if (network.subnets.some((x) => cidrContains(x.ip_range, ipRange) || cidrContains(ipRange, x.ip_range))) {
    throw new ApiFault(409, 'networks_overlap', `subnet ${ipRange} overlaps an existing subnet`);
  }
  const gateway = intToIp(parseCidr(network.ip_range)!.base + 1);
  return {
    type,
    ip_range: ipRange,
    network_zone: zone,
    gateway,
    vswitch_id: type === 'vswitch' ? Number(s.vswitch_id) : null,
  };
}

function routeOf(network: NetworkRecord, raw: unknown): { destination: string; gateway: string } {
  const r = (raw ?? {}) as Record<string, unknown>;
  const destination = requireString(r, 'destination');
  const gateway = requireString(r, 'gateway');
  if (!parseCidr(destination)) throw invalidInput('destination', `${destination} is not a CIDR range`);
  if (!cidrContains(network.ip_range, gateway)) throw invalidInput('gateway', `${gateway} is not in the network`);
  return { destination, gateway };
}

function networkAction(command: string, handle: (n: NetworkRecord, req: RouteRequest) => void): Route {
  return route('POST', `/networks/{id}/actions/${command}`, (req, state) => {
    const n = getNetwork(state, req);
    state.assertUnlocked('network', n.id);
    handle(n, req);
    const action = state.startAction(command, [{ id: n.id, type: 'network' }]);
    return { status: 201, body: { action } };
  });
}

export const networkRoutes: Route[] = [
  route('GET', '/networks', (req, state) =>
    paginate(
      'networks',
      filterList(state.networks.values(), req.query).map((n) => renderNetwork(n, state)),
      req.query,
    ),
  ),
  route('GET', '/networks/{id}', (req, state) => ({
    status: 200,
    body: { network: renderNetwork(getNetwork(state, req), state) },
  })),
  route('POST', '/networks', (req, state) => {
    const name = requireString(req.body, 'name');
    const ipRange = requireString(req.body, 'ip_range');
    if (!parseCidr(ipRange)) throw invalidInput('ip_range', `${ipRange} is not a CIDR range`);
    const labels = validateLabels(req.body.labels);
    assertUniqueName(state.networks.values(), name);
    const network: NetworkRecord = {
      id: state.nextId(),
      name,
      ip_range: ipRange,
      subnets: [],
      routes: [],
      labels,
      protection: { delete: false },
      created: state.now(),
      expose_routes_to_vswitch: req.body.expose_routes_to_vswitch === true,
    };
    for (const s of Array.isArray(req.body.subnets) ? req.body.subnets : []) network.subnets.push(subnetOf(network, s));
    for (const r of Array.isArray(req.body.routes) ? req.body.routes : []) network.routes.push(routeOf(network, r));
    state.networks.set(network.id, network);
    return { status: 201, body: { network: renderNetwork(network, state) } };
  }),
  route('PUT', '/networks/{id}', (req, state) => {
    const n = getNetwork(state, req);
    if (req.body.name !== undefined) {
      const name = requireString(req.body, 'name');
      assertUniqueName(state.networks.values(), name, n.id);
      n.name = name;
    }
    if (req.body.labels !== undefined) n.labels = validateLabels(req.body.labels);
    if (typeof req.body.expose_routes_to_vswitch === 'boolean')
      n.expose_routes_to_vswitch = req.body.expose_routes_to_vswitch;
    return { status: 200, body: { network: renderNetwork(n, state) } };
  }),
  route('DELETE', '/networks/{id}', (req, state) => {
    const n = getNetwork(state, req);
    if (n.protection.delete) throw new ApiFault(403, 'protected', 'network deletion is protected');
    state.assertUnlocked('network', n.id);
    for (const s of state.servers.values()) s.privateNet = s.privateNet.filter((p) => p.network !== n.id);
    state.networks.delete(n.id);
    return { status: 204 };
  }),
  networkAction('add_subnet', (n, req) => {
    n.subnets.push(subnetOf(n, req.body));
  }),
  networkAction('delete_subnet', (n, req) => {
    const ipRange = requireString(req.body, 'ip_range');
    if (!n.subnets.some((s) => s.ip_range === ipRange)) throw invalidInput('ip_range', `no subnet ${ipRange}`);
    n.subnets = n.subnets.filter((s) => s.ip_range !== ipRange);
  }),
  networkAction('add_route', (n, req) => {
    const r = routeOf(n, req.body);
    if (n.routes.some((x) => x.destination === r.destination)) {
      // Not `conflict`: clients retry that code (it means "changed during the request").
      throw invalidInput('destination', `a route with destination ${r.destination} already exists`);
    }
    n.routes.push(r);
  }),
  networkAction('delete_route', (n, req) => {
    const r = routeOf(n, req.body);
    const before = n.routes.length;
    n.routes = n.routes.filter((x) => x.destination !== r.destination || x.gateway !== r.gateway);
    if (n.routes.length === before) throw invalidInput('destination', `no route to ${r.destination} via ${r.gateway}`);
  }),
  networkAction('change_ip_range', (n, req) => {
    const ipRange = requireString(req.body, 'ip_range');
    if (!parseCidr(ipRange) || !cidrContains(ipRange, n.ip_range)) {
      throw invalidInput('ip_range', `${ipRange} must contain the current range ${n.ip_range}`);
    }
    n.ip_range = ipRange;
  }),
  networkAction('change_protection', (n, req) => {
    if (typeof req.body.delete === 'boolean') n.protection.delete = req.body.delete;
  }),
];
