import { notFound } from './api-fault.ts';
import { datacenters, locations, serverTypes } from './catalog.ts';
import { filterList, paginate, type Route, requireId, route } from './router.ts';

function byName<T extends { id: number; name: string }>(items: readonly T[], query: URLSearchParams): T[] {
  const name = query.get('name');
  return name === null ? [...items] : items.filter((i) => i.name === name);
}

/** Read-only catalog endpoints, images and actions. */
export const catalogRoutes: Route[] = [
  route('GET', '/locations', (req) => paginate('locations', byName(locations, req.query), req.query)),
  route('GET', '/locations/{id}', (req) => {
    const l = locations.find((x) => x.id === requireId(req.params));
    if (!l) throw notFound('location', req.params.id!);
    return { status: 200, body: { location: l } };
  }),
  route('GET', '/datacenters/{id}', (req) => {
    const d = datacenters.find((x) => x.id === requireId(req.params));
    if (!d) throw notFound('datacenter', req.params.id!);
    return { status: 200, body: { datacenter: d } };
  }),
  route('GET', '/datacenters', (req) => {
    const r = paginate('datacenters', byName(datacenters, req.query), req.query);
    return { status: 200, body: { ...(r.body as object), recommendation: datacenters[0]!.id } };
  }),
  route('GET', '/server_types', (req) => paginate('server_types', byName(serverTypes, req.query), req.query)),
  route('GET', '/server_types/{id}', (req) => {
    const t = serverTypes.find((s) => s.id === requireId(req.params));
    if (!t) throw notFound('server_type', req.params.id!);
    return { status: 200, body: { server_type: t } };
  }),
  route('GET', '/images', (req, state) => {
    let images = filterList(state.images.values(), req.query).filter((i) => i.deleted === null);
    const types = req.query.getAll('type');
    if (types.length > 0) images = images.filter((i) => types.includes(i.type));
    const arch = req.query.getAll('architecture');
    if (arch.length > 0) images = images.filter((i) => arch.includes(i.architecture));
    const status = req.query.getAll('status');
    if (status.length > 0) images = images.filter((i) => status.includes(i.status));
    if (req.query.get('include_deprecated') !== 'true') images = images.filter((i) => i.deprecated === null);
    return paginate('images', images, req.query);
  }),
  route('GET', '/images/{id}', (req, state) => {
    const image = state.images.get(requireId(req.params));
    if (!image) throw notFound('image', req.params.id!);
    return { status: 200, body: { image } };
  }),
  route('GET', '/actions', (req, state) => {
    const ids = req.query.getAll('id').map(Number);
    let actions = [...state.actions.values()].sort((a, b) => a.id - b.id);
    if (ids.length > 0) actions = actions.filter((a) => ids.includes(a.id));
    const status = req.query.getAll('status');
    if (status.length > 0) actions = actions.filter((a) => status.includes(a.status));
    return paginate('actions', actions, req.query);
  }),
  route('GET', '/actions/{id}', (req, state) => {
    const action = state.actions.get(requireId(req.params));
    if (!action) throw notFound('action', req.params.id!);
    return { status: 200, body: { action } };
  }),
];
