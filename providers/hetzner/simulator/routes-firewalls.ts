import { ApiFault, invalidInput, notFound } from './api-fault.ts';
import { parseLabelSelector } from './label-selector.ts';
import { renderFirewall } from './render.ts';
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
import type { FirewallRecord, FirewallRule, FirewallTarget, SimulatorState } from './state.ts';

function getFirewall(state: SimulatorState, req: RouteRequest): FirewallRecord {
  const f = state.firewalls.get(requireId(req.params));
  if (!f) throw notFound('firewall', req.params.id!);
  return f;
}

function rulesOf(raw: unknown): FirewallRule[] {
  if (raw === undefined) return [];
  if (!Array.isArray(raw)) throw invalidInput('rules', 'must be an array');
  return raw.map((r: Record<string, unknown>) => {
    const direction = r.direction;
    if (direction !== 'in' && direction !== 'out') throw invalidInput('rules', 'direction must be in or out');
    const protocol = String(r.protocol ?? '');
    if (!['tcp', 'udp', 'icmp', 'esp', 'gre'].includes(protocol))
      throw invalidInput('rules', `unknown protocol ${protocol}`);
    const port = typeof r.port === 'string' ? r.port : null;
    if ((protocol === 'tcp' || protocol === 'udp') && port === null)
      throw invalidInput('rules', `${protocol} needs a port`);
    if (port !== null && !/^(\d+(-\d+)?|any)$/.test(port)) throw invalidInput('rules', `invalid port ${port}`);
    const sourceIps = Array.isArray(r.source_ips) ? r.source_ips.map(String) : [];
    const destinationIps = Array.isArray(r.destination_ips) ? r.destination_ips.map(String) : [];
    if (direction === 'in' && sourceIps.length === 0)
      throw invalidInput('rules', 'source_ips is required for in rules');
    if (direction === 'out' && destinationIps.length === 0) {
      throw invalidInput('rules', 'destination_ips is required for out rules');
    }
    return {
      description: typeof r.description === 'string' ? r.description : null,
      direction,
      protocol,
      port,
      source_ips: direction === 'in' ? sourceIps : [],
      destination_ips: direction === 'out' ? destinationIps : [],
    };
  });
}

function targetsOf(raw: unknown, state: SimulatorState, field: string): FirewallTarget[] {
  if (raw === undefined) return [];
  if (!Array.isArray(raw)) throw invalidInput(field, 'must be an array');
  return raw.map((t: Record<string, unknown>) => {
    if (t.type === 'server') {
      const id = Number((t.server as { id?: unknown } | undefined)?.id);
      if (!state.servers.has(id)) throw invalidInput(field, `server ${id} does not exist`);
      return { type: 'server', server: { id } };
    }
    if (t.type === 'label_selector') {
      const selector = String((t.label_selector as { selector?: unknown } | undefined)?.selector ?? '');
      try {
        parseLabelSelector(selector);
      } catch (e) {
        throw invalidInput(field, (e as Error).message);
      }
      return { type: 'label_selector', label_selector: { selector } };
    }
    throw invalidInput(field, `unknown type ${String(t.type)}`);
  });
}

const sameTarget = (a: FirewallTarget, b: FirewallTarget): boolean =>
  a.type === 'server' && b.type === 'server'
    ? a.server.id === b.server.id
    : a.type === 'label_selector' &&
      b.type === 'label_selector' &&
      a.label_selector.selector === b.label_selector.selector;

function firewallAction(
  command: string,
  handle: (f: FirewallRecord, req: RouteRequest, state: SimulatorState) => void,
): Route {
  return route('POST', `/firewalls/{id}/actions/${command}`, (req, state) => {
    const f = getFirewall(state, req);
    state.assertUnlocked('firewall', f.id);
    handle(f, req, state);
    const action = state.startAction(command, [{ id: f.id, type: 'firewall' }]);
    return { status: 201, body: { actions: [action] } };
  });
}

export const firewallRoutes: Route[] = [
  route('GET', '/firewalls', (req, state) =>
    paginate(
      'firewalls',
      filterList(state.firewalls.values(), req.query).map((f) => renderFirewall(f, state)),
      req.query,
    ),
  ),
  route('GET', '/firewalls/{id}', (req, state) => ({
    status: 200,
    body: { firewall: renderFirewall(getFirewall(state, req), state) },
  })),
  route('POST', '/firewalls', (req, state) => {
    const name = requireString(req.body, 'name');
    const labels = validateLabels(req.body.labels);
    const rules = rulesOf(req.body.rules);
    const appliedTo = targetsOf(req.body.apply_to, state, 'apply_to');
    assertUniqueName(state.firewalls.values(), name);
    const firewall: FirewallRecord = {
      id: state.nextId(),
      name,
      labels,
      created: state.now(),
      rules,
      applied_to: appliedTo,
    };
    state.firewalls.set(firewall.id, firewall);
    const actions =
      appliedTo.length > 0 ? [state.startAction('apply_firewall', [{ id: firewall.id, type: 'firewall' }])] : [];
    return { status: 201, body: { firewall: renderFirewall(firewall, state), actions } };
  }),
  route('PUT', '/firewalls/{id}', (req, state) => {
    const f = getFirewall(state, req);
    if (req.body.name !== undefined) {
      const name = requireString(req.body, 'name');
      assertUniqueName(state.firewalls.values(), name, f.id);
      f.name = name;
    }
    if (req.body.labels !== undefined) f.labels = validateLabels(req.body.labels);
    return { status: 200, body: { firewall: renderFirewall(f, state) } };
  }),
  route('DELETE', '/firewalls/{id}', (req, state) => {
    const f = getFirewall(state, req);
    if (f.applied_to.length > 0)
      throw new ApiFault(409, 'resource_in_use', `firewall ${f.id} is still applied to resources`);
    state.assertUnlocked('firewall', f.id);
    state.firewalls.delete(f.id);
    return { status: 204 };
  }),
  firewallAction('set_rules', (f, req) => {
    f.rules = rulesOf(req.body.rules ?? []);
  }),
  firewallAction('apply_to_resources', (f, req, state) => {
    for (const t of targetsOf(req.body.apply_to, state, 'apply_to')) {
      if (f.applied_to.some((x) => sameTarget(x, t))) {
        throw new ApiFault(409, 'firewall_already_applied', `firewall ${f.id} is already applied to that resource`);
      }
      f.applied_to.push(t);
      if (t.type === 'server') state.servers.get(t.server.id)?.firewalls.push(f.id);
    }
  }),
  firewallAction('remove_from_resources', (f, req, state) => {
    for (const t of targetsOf(req.body.remove_from, state, 'remove_from')) {
      if (!f.applied_to.some((x) => sameTarget(x, t))) {
        throw new ApiFault(409, 'firewall_resource_not_found', `firewall ${f.id} is not applied to that resource`);
      }
      f.applied_to = f.applied_to.filter((x) => !sameTarget(x, t));
      if (t.type === 'server') {
        const s = state.servers.get(t.server.id);
        if (s) s.firewalls = s.firewalls.filter((id) => id !== f.id);
      }
    }
  }),
];
