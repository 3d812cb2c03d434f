import { ApiFault, invalidInput, notFound } from './api-fault.ts';
import { datacenters, locations } from './catalog.ts';
import { renderVolume } from './render.ts';
import {
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
import type { SimulatorState, VolumeRecord } from './state.ts';

function getVolume(state: SimulatorState, req: RouteRequest): VolumeRecord {
  const v = state.volumes.get(requireId(req.params));
  if (!v) throw notFound('volume', req.params.id!);
  return v;
}

function serverLocation(state: SimulatorState, serverId: number): string {
  const s = state.servers.get(serverId);
  if (!s) throw invalidInput('server', `server ${serverId} does not exist`);
  return (datacenters.find((d) => d.id === s.datacenter) ?? datacenters[0]!).location.name;
}

function volumeAction(
  command: string,
  handle: (
    v: VolumeRecord,
    req: RouteRequest,
    state: SimulatorState,
  ) => { done?: () => void; extra?: { id: number; type: string }[] },
): Route {
  return route('POST', `/volumes/{id}/actions/${command}`, (req, state) => {
    const v = getVolume(state, req);
    state.assertUnlocked('volume', v.id);
    if (req.body.server !== undefined) state.assertUnlocked('server', Number(req.body.server));
    if (command === 'detach' && v.server !== null) state.assertUnlocked('server', v.server);
    const { done, extra } = handle(v, req, state);
    const action = state.startAction(command, [{ id: v.id, type: 'volume' }, ...(extra ?? [])], done);
    return { status: 201, body: { action } };
  });
}

export const volumeRoutes: Route[] = [
  route('GET', '/volumes', (req, state) => {
    let volumes = filterList(state.volumes.values(), req.query);
    const status = req.query.getAll('status');
    if (status.length > 0) volumes = volumes.filter((v) => status.includes(v.status));
    return paginate('volumes', volumes.map(renderVolume), req.query);
  }),
  route('GET', '/volumes/{id}', (req, state) => ({
    status: 200,
    body: { volume: renderVolume(getVolume(state, req)) },
  })),
  route('POST', '/volumes', (req, state) => {
    const b = req.body;
    const name = requireString(b, 'name');
    validateName(name);
    const size = Number(b.size);
    if (!Number.isInteger(size) || size < 10 || size > 10240)
      invalidInputThrow('size', 'must be between 10 and 10240 GB');
    const server = b.server === undefined || b.server === null ? null : Number(b.server);
    if (server === null && b.location === undefined) requireString(b, 'location');
    const asked =
      b.location === undefined || b.location === null ? undefined : resolveRef(locations, b.location, 'location').name;
    const location = server !== null ? serverLocation(state, server) : asked!;
    if (asked !== undefined && server !== null && asked !== location) {
      throw invalidInput('location', 'server and volume must be in the same location');
    }
    const format = typeof b.format === 'string' ? b.format : null;
    if (format !== null && !['ext4', 'xfs'].includes(format)) throw invalidInput('format', `unknown format ${format}`);
    const labels = validateLabels(b.labels);
    assertUniqueName(state.volumes.values(), name);
    const volume: VolumeRecord = {
      id: state.nextId(),
      name,
      size,
      server,
      location,
      labels,
      protection: { delete: false },
      status: 'creating',
      format,
      created: state.now(),
    };
    const targets = [{ id: volume.id, type: 'volume' }, ...(server === null ? [] : [{ id: server, type: 'server' }])];
    const action = state.startAction('create_volume', targets, () => {
      volume.status = 'available';
    });
    state.volumes.set(volume.id, volume);
    return { status: 201, body: { volume: renderVolume(volume), action, next_actions: [] } };
  }),
  route('PUT', '/volumes/{id}', (req, state) => {
    const v = getVolume(state, req);
    if (req.body.name !== undefined) {
      const name = requireString(req.body, 'name');
      assertUniqueName(state.volumes.values(), name, v.id);
      v.name = name;
    }
    if (req.body.labels !== undefined) v.labels = validateLabels(req.body.labels);
    return { status: 200, body: { volume: renderVolume(v) } };
  }),
  route('DELETE', '/volumes/{id}', (req, state) => {
    const v = getVolume(state, req);
    if (v.protection.delete) throw new ApiFault(403, 'protected', 'volume deletion is protected');
    if (v.server !== null) throw new ApiFault(409, 'volume_attached', `volume ${v.id} is still attached to a server`);
    state.assertUnlocked('volume', v.id);
    state.volumes.delete(v.id);
    return { status: 204 };
  }),
  volumeAction('resize', (v, req) => {
    const size = Number(req.body.size);
    if (!Number.isInteger(size) || size <= v.size)
      invalidInputThrow('size', `must be larger than the current ${v.size} GB`);
    v.size = size;
    return {};
  }),
  volumeAction('attach', (v, req, state) => {
    const server = resolveRef(state.servers.values(), req.body.server, 'server').id;
    if (serverLocation(state, server) !== v.location) throw invalidInput('server', 'server is in another location');
    if (v.server !== null) throw new ApiFault(409, 'volume_already_attached', `volume ${v.id} is already attached`);
    v.server = server;
    return { extra: [{ id: server, type: 'server' }] };
  }),
  volumeAction('detach', (v) => {
    const server = v.server;
    v.server = null;
    return { extra: server === null ? [] : [{ id: server, type: 'server' }] };
  }),
  volumeAction('change_protection', (v, req) => {
    if (typeof req.body.delete === 'boolean') v.protection.delete = req.body.delete;
    return {};
  }),
];

function invalidInputThrow(field: string, message: string): never {
  throw invalidInput(field, message);
}
