import { createHash } from 'node:crypto';
import { ApiFault, invalidInput, notFound } from './api-fault.ts';
import { renderPlacementGroup, renderSshKey } from './render.ts';
import {
  assertUniqueName,
  filterList,
  paginate,
  type Route,
  requireId,
  requireString,
  route,
  validateLabels,
} from './router.ts';
import type { PlacementGroupRecord, SshKeyRecord } from './state.ts';

/** The fingerprint Hetzner shows: MD5 of the key's base64 body, as colon-separated hex. */
function fingerprintOf(publicKey: string): string {
  const parts = publicKey.trim().split(/\s+/);
  if (parts.length < 2 || !/^(ssh-(rsa|ed25519|dss)|ecdsa-sha2-nistp\d+)$/.test(parts[0]!)) {
    throw invalidInput('public_key', 'is not a valid SSH public key');
  }
  const md5 = createHash('md5').update(Buffer.from(parts[1]!, 'base64')).digest('hex');
  return md5.match(/../g)!.join(':');
}

/** SSH keys and placement groups: plain named, labelled resources without actions. */
export const smallRoutes: Route[] = [
  route('GET', '/ssh_keys', (req, state) => {
    let keys = filterList(state.sshKeys.values(), req.query);
    const fp = req.query.get('fingerprint');
    if (fp !== null) keys = keys.filter((k) => k.fingerprint === fp);
    return paginate('ssh_keys', keys.map(renderSshKey), req.query);
  }),
  route('GET', '/ssh_keys/{id}', (req, state) => {
    const k = state.sshKeys.get(requireId(req.params));
    if (!k) throw notFound('ssh_key', req.params.id!);
    return { status: 200, body: { ssh_key: renderSshKey(k) } };
  }),
  route('POST', '/ssh_keys', (req, state) => {
    const name = requireString(req.body, 'name');
    const publicKey = requireString(req.body, 'public_key');
    const fingerprint = fingerprintOf(publicKey);
    const labels = validateLabels(req.body.labels);
    assertUniqueName(state.sshKeys.values(), name);
    if ([...state.sshKeys.values()].some((k) => k.fingerprint === fingerprint)) {
      throw new ApiFault(409, 'uniqueness_error', 'SSH key with the same fingerprint already exists', {
        fields: [{ name: 'public_key' }],
      });
    }
    const key: SshKeyRecord = {
      id: state.nextId(),
      name,
      fingerprint,
      public_key: publicKey.trim(),
      labels,
      created: state.now(),
    };
    state.sshKeys.set(key.id, key);
    return { status: 201, body: { ssh_key: renderSshKey(key) } };
  }),
  route('PUT', '/ssh_keys/{id}', (req, state) => {
    const k = state.sshKeys.get(requireId(req.params));
    if (!k) throw notFound('ssh_key', req.params.id!);
    if (req.body.name !== undefined) {
      const name = requireString(req.body, 'name');
      assertUniqueName(state.sshKeys.values(), name, k.id);
      k.name = name;
    }
    if (req.body.labels !== undefined) k.labels = validateLabels(req.body.labels);
    return { status: 200, body: { ssh_key: renderSshKey(k) } };
  }),
  route('DELETE', '/ssh_keys/{id}', (req, state) => {
    const id = requireId(req.params);
    if (!state.sshKeys.delete(id)) throw notFound('ssh_key', id);
    return { status: 204 };
  }),
  route('GET', '/placement_groups', (req, state) => {
    let groups = filterList(state.placementGroups.values(), req.query);
    const type = req.query.get('type');
    if (type !== null) groups = groups.filter((g) => g.type === type);
    return paginate(
      'placement_groups',
      groups.map((g) => renderPlacementGroup(g, state)),
      req.query,
    );
  }),
  route('GET', '/placement_groups/{id}', (req, state) => {
    const g = state.placementGroups.get(requireId(req.params));
    if (!g) throw notFound('placement_group', req.params.id!);
    return { status: 200, body: { placement_group: renderPlacementGroup(g, state) } };
  }),
  route('POST', '/placement_groups', (req, state) => {
    const name = requireString(req.body, 'name');
    const type = requireString(req.body, 'type');
    if (type !== 'spread') throw invalidInput('type', `unknown placement group type ${type}`);
    const labels = validateLabels(req.body.labels);
    assertUniqueName(state.placementGroups.values(), name);
    const group: PlacementGroupRecord = { id: state.nextId(), name, labels, type, created: state.now() };
    state.placementGroups.set(group.id, group);
    return { status: 201, body: { placement_group: renderPlacementGroup(group, state), action: null } };
  }),
  route('PUT', '/placement_groups/{id}', (req, state) => {
    const g = state.placementGroups.get(requireId(req.params));
    if (!g) throw notFound('placement_group', req.params.id!);
    if (req.body.name !== undefined) {
      const name = requireString(req.body, 'name');
      assertUniqueName(state.placementGroups.values(), name, g.id);
      g.name = name;
    }
    if (req.body.labels !== undefined) g.labels = validateLabels(req.body.labels);
    return { status: 200, body: { placement_group: renderPlacementGroup(g, state) } };
  }),
  route('DELETE', '/placement_groups/{id}', (req, state) => {
    const id = requireId(req.params);
    if (!state.placementGroups.has(id)) throw notFound('placement_group', id);
    for (const s of state.servers.values()) if (s.placementGroup === id) s.placementGroup = null;
    state.placementGroups.delete(id);
    return { status: 204 };
  }),
];
