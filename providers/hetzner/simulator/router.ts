import { ApiFault, invalidInput } from './api-fault.ts';
import { findRef } from './catalog.ts';
import { matchesSelector, parseLabelSelector } from './label-selector.ts';
import type { Labels, SimulatorState } from './state.ts';

export interface RouteRequest {
  readonly params: Readonly<Record<string, string>>;
  readonly query: URLSearchParams;
  readonly body: Record<string, unknown>;
}

export interface RouteResult {
  readonly status: number;
  readonly body?: unknown;
}

export interface Route {
  readonly method: string;
  readonly pattern: RegExp;
  readonly keys: readonly string[];
  readonly handle: (req: RouteRequest, state: SimulatorState) => RouteResult;
}

/** A route for `path` like `/servers/{id}/actions/poweroff` (paths are below `/v1`). */
export function route(method: string, path: string, handle: Route['handle']): Route {
  const keys: string[] = [];
  const source = path.replace(/\{(\w+)\}/g, (_m, key: string) => {
    keys.push(key);
    return '([^/]+)';
  });
  return { method, pattern: new RegExp(`^${source}$`), keys, handle };
}

export function findRoute(
  routes: readonly Route[],
  method: string,
  path: string,
): { route: Route; params: Record<string, string> } | undefined {
  for (const r of routes) {
    if (r.method !== method) continue;
    const m = r.pattern.exec(path);
    if (!m) continue;
    const params: Record<string, string> = {};
    r.keys.forEach((k, i) => {
      params[k] = decodeURIComponent(m[i + 1]!);
    });
    return { route: r, params };
  }
  return undefined;
}

/** A list answer with Hetzner's pagination (`page`, `per_page` default 25 max 50, `meta.pagination`). */
export function paginate<T>(key: string, items: readonly T[], query: URLSearchParams): RouteResult {
  const perPage = Math.min(50, Math.max(1, Number(query.get('per_page') ?? 25) || 25));
  const page = Math.max(1, Number(query.get('page') ?? 1) || 1);
  const lastPage = Math.max(1, Math.ceil(items.length / perPage));
  const slice = items.slice((page - 1) * perPage, page * perPage);
  return {
    status: 200,
    body: {
      [key]: slice,
      meta: {
        pagination: {
          page,
          per_page: perPage,
          previous_page: page > 1 ? page - 1 : null,
          next_page: page < lastPage ? page + 1 : null,
          last_page: lastPage,
          total_entries: items.length,
        },
      },
    },
  };
}

/** Filters by `name` and `label_selector`, sorted by id, as every Hetzner list endpoint does. */
export function filterList<T extends { id: number; name?: string | null; labels: Labels }>(
  items: Iterable<T>,
  query: URLSearchParams,
): T[] {
  let out = [...items].sort((a, b) => a.id - b.id);
  const name = query.get('name');
  if (name !== null) out = out.filter((i) => i.name === name);
  const selector = query.get('label_selector');
  if (selector !== null) {
    let terms: ReturnType<typeof parseLabelSelector>;
    try {
      terms = parseLabelSelector(selector);
    } catch (e) {
      throw invalidInput('label_selector', (e as Error).message);
    }
    out = out.filter((i) => matchesSelector(terms, i.labels));
  }
  return out;
}

export function requireId(params: Readonly<Record<string, string>>): number {
  const id = Number(params.id);
  if (!Number.isInteger(id) || id < 1) throw invalidInput('id', 'must be a positive integer');
  return id;
}

export function requireString(body: Record<string, unknown>, field: string): string {
  const v = body[field];
  if (typeof v !== 'string' || v === '') throw invalidInput(field, 'is required');
  return v;
}

const labelValue = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const labelName =
  /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;

/** Hetzner's label rules: keys may have a DNS prefix and `/`; values may not contain `/`. */
export function validateLabels(labels: unknown): Labels {
  if (labels === undefined || labels === null) return {};
  if (typeof labels !== 'object' || Array.isArray(labels)) throw invalidInput('labels', 'must be an object');
  const out: Labels = {};
  for (const [k, v] of Object.entries(labels as Record<string, unknown>)) {
    if (typeof v !== 'string') throw invalidInput('labels', `label ${k} must be a string`);
    const name = k.includes('/') ? k.slice(k.indexOf('/') + 1) : k;
    if (!labelName.test(k) || name.length > 63) throw invalidInput('labels', `invalid label key "${k}"`);
    if (!labelValue.test(v) || v.length > 63) throw invalidInput('labels', `invalid label value "${v}" for "${k}"`);
    out[k] = v;
  }
  return out;
}

export function assertUniqueName(items: Iterable<{ id: number; name: string | null }>, name: string, self?: number) {
  for (const i of items) {
    if (i.name === name && i.id !== self) {
      throw new ApiFault(409, 'uniqueness_error', 'name is already used', { fields: [{ name: 'name' }] });
    }
  }
}

export function validateName(name: string): void {
  if (!/^[A-Za-z0-9]([-A-Za-z0-9.]*[A-Za-z0-9])?$/.test(name) || name.length > 63) {
    throw invalidInput('name', `"${name}" is not a valid hostname`);
  }
}

/** An object referenced by id (number or numeric string) or by name, as every Hetzner field taking one accepts. */
export function resolveRef<T extends { id: number; name: string | null }>(
  items: Iterable<T>,
  ref: unknown,
  field: string,
): T {
  const found = findRef(items, ref);
  if (!found)
    throw new ApiFault(400, 'invalid_input', `invalid input in field '${field}'`, {
      fields: [{ name: field, messages: [`${String(ref)} not found`] }],
    });
  return found;
}

/** `GET /<kind>/actions` and `GET /<kind>/{id}/actions`: actions on resources of a type, filtered as `/actions` is. */
export function actionList(state: SimulatorState, req: RouteRequest, type: string, id?: number): RouteResult {
  let actions = [...state.actions.values()]
    .filter((a) => a.resources.some((r) => r.type === type && (id === undefined || r.id === id)))
    .sort((a, b) => a.id - b.id);
  const ids = req.query.getAll('id').map(Number);
  if (ids.length > 0) actions = actions.filter((a) => ids.includes(a.id));
  const status = req.query.getAll('status');
  if (status.length > 0) actions = actions.filter((a) => status.includes(a.status));
  return paginate('actions', actions, req.query);
}
