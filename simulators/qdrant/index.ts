import { BadJson, type SimRequest, type SimResponse, startJsonServer } from '../shared/json-server.ts';
import { embedText, INFERENCE_MODELS } from './embedding.ts';

/**
 * A stateful simulator of Qdrant's REST API (the subset keelson's flows use), checked against
 * `@qdrant/js-client-rest`: collections, payload indexes, points upsert / retrieve / delete /
 * query / scroll / count, Qdrant Cloud Inference documents (`{text, model}`) embedded server-side,
 * strict mode as Qdrant Cloud sets it (filtering on a field without a payload index is refused),
 * the API key, and Qdrant's error bodies.
 */

export type Distance = 'Cosine' | 'Dot' | 'Euclid' | 'Manhattan';
export type PointId = number | string;

export interface StoredPoint {
  readonly id: PointId;
  vector: number[];
  payload: Record<string, unknown>;
  /** Which inference model made the vector, when it came from a document. */
  model: string | undefined;
}

export interface Collection {
  readonly name: string;
  readonly size: number;
  readonly distance: Distance;
  strict: boolean;
  readonly points: Map<string, StoredPoint>;
  /** Payload indexes: field name to schema type (`keyword`, `integer`, ...). */
  readonly indexes: Map<string, string>;
}

export interface QdrantSimulatorState {
  readonly collections: Map<string, Collection>;
  /** While true every request answers 503, as a cluster that is down or restarting. */
  unavailable: boolean;
  /** Every request, in order (method and path): tests count writes with it. */
  readonly requests: { method: string; path: string }[];
}

export interface QdrantSimulatorOptions {
  /** Default 0: any free port. */
  readonly port?: number;
  /** When set, every request needs it in `api-key` (or `Authorization: Bearer`). */
  readonly apiKey?: string;
  /** Strict mode for new collections, as Qdrant Cloud creates them. Default true. */
  readonly strictMode?: boolean;
}

export interface QdrantSimulator {
  readonly url: string;
  readonly state: QdrantSimulatorState;
  close(): Promise<void>;
}

export const QDRANT_VERSION = '1.19.0';

class QdrantError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

const UUID = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;

/** A point id as Qdrant keeps it: an unsigned integer, or a UUID in lower-case hyphenated form. */
function pointId(raw: unknown): PointId {
  if (typeof raw === 'number' && Number.isSafeInteger(raw) && raw >= 0) return raw;
  if (typeof raw === 'string' && UUID.test(raw)) {
    const hex = raw.replace(/-/g, '').toLowerCase();
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  }
  throw new QdrantError(
    400,
    `Format error in JSON body: value ${JSON.stringify(raw)} is not a valid point ID, valid values are either an unsigned integer or a UUID`,
  );
}

const key = (id: PointId) => (typeof id === 'number' ? `n:${String(id).padStart(20, '0')}` : `u:${id}`);

function normalise(vector: number[]): number[] {
  const norm = Math.hypot(...vector);
  return norm === 0 ? vector : vector.map((v) => v / norm);
}

function score(distance: Distance, a: number[], b: number[]): number {
  let dot = 0;
  let euclid = 0;
  let manhattan = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i] ?? 0;
    const y = b[i] ?? 0;
    dot += x * y;
    euclid += (x - y) ** 2;
    manhattan += Math.abs(x - y);
  }
  if (distance === 'Euclid') return Math.sqrt(euclid);
  if (distance === 'Manhattan') return manhattan;
  return dot;
}

/** Turns a vector or an inference document into a vector of the collection's size. */
function toVector(collection: Collection, raw: unknown, where: string): { vector: number[]; model?: string } {
  if (Array.isArray(raw)) {
    if (!raw.every((v) => typeof v === 'number'))
      throw new QdrantError(400, `Format error in JSON body: ${where}: expected numbers`);
    if (raw.length !== collection.size)
      throw new QdrantError(
        400,
        `Wrong input: Vector dimension error: expected dim: ${collection.size}, got ${raw.length}`,
      );
    const vector = raw as number[];
    return { vector: collection.distance === 'Cosine' ? normalise(vector) : vector };
  }
  if (typeof raw === 'object' && raw !== null && 'text' in raw) {
    const doc = raw as { text?: unknown; model?: unknown };
    if (typeof doc.text !== 'string' || typeof doc.model !== 'string')
      throw new QdrantError(400, `Format error in JSON body: ${where}: a document needs text and model strings`);
    const size = INFERENCE_MODELS[doc.model];
    if (size === undefined)
      throw new QdrantError(400, `Wrong input: Model ${doc.model} is not supported for inference`);
    if (size !== collection.size)
      throw new QdrantError(400, `Wrong input: Vector dimension error: expected dim: ${collection.size}, got ${size}`);
    return { vector: embedText(doc.text, doc.model, size), model: doc.model };
  }
  throw new QdrantError(400, `Format error in JSON body: ${where}: expected a vector or a document {text, model}`);
}

function valuesAt(payload: unknown, path: string): unknown[] {
  let current: unknown[] = [payload];
  for (const part of path.split('.')) {
    const next: unknown[] = [];
    for (const value of current) {
      const items = Array.isArray(value) ? value : [value];
      for (const item of items) {
        if (typeof item === 'object' && item !== null && part in item)
          next.push((item as Record<string, unknown>)[part]);
      }
    }
    current = next;
  }
  return current.flatMap((v) => (Array.isArray(v) ? v : [v]));
}

interface Filter {
  must?: unknown;
  should?: unknown;
  must_not?: unknown;
}

const asList = (v: unknown): unknown[] => (v === undefined || v === null ? [] : Array.isArray(v) ? v : [v]);

/** The payload keys a filter reads (strict mode checks each has an index). */
function filterKeys(filter: Filter | undefined): string[] {
  if (!filter) return [];
  const keys: string[] = [];
  for (const c of [...asList(filter.must), ...asList(filter.should), ...asList(filter.must_not)]) {
    const cond = c as Record<string, unknown>;
    if (typeof cond.key === 'string' && ('match' in cond || 'range' in cond)) keys.push(cond.key);
    if ('must' in cond || 'should' in cond || 'must_not' in cond) keys.push(...filterKeys(cond as Filter));
  }
  return keys;
}

function matches(point: StoredPoint, filter: Filter | undefined): boolean {
  if (!filter) return true;
  const test = (c: unknown): boolean => {
    const cond = c as Record<string, unknown>;
    if ('must' in cond || 'should' in cond || 'must_not' in cond) return matches(point, cond as Filter);
    if ('has_id' in cond) return asList(cond.has_id).some((id) => key(pointId(id)) === key(point.id));
    if (typeof cond.is_empty === 'object' && cond.is_empty !== null) {
      const values = valuesAt(point.payload, String((cond.is_empty as { key: unknown }).key));
      return values.length === 0 || values.every((v) => v === null);
    }
    if (typeof cond.is_null === 'object' && cond.is_null !== null) {
      return valuesAt(point.payload, String((cond.is_null as { key: unknown }).key)).some((v) => v === null);
    }
    if (typeof cond.key !== 'string')
      throw new QdrantError(400, `Format error in JSON body: unknown condition ${JSON.stringify(c)}`);
    const values = valuesAt(point.payload, cond.key);
    if (cond.match !== undefined) {
      const m = cond.match as { value?: unknown; any?: unknown[]; except?: unknown[]; text?: string };
      if ('value' in m) return values.some((v) => v === m.value);
      if (Array.isArray(m.any)) return values.some((v) => m.any?.includes(v));
      if (Array.isArray(m.except)) return values.every((v) => !m.except?.includes(v));
      if (typeof m.text === 'string') return values.some((v) => typeof v === 'string' && v.includes(m.text as string));
    }
    if (cond.range !== undefined) {
      const r = cond.range as { gt?: number; gte?: number; lt?: number; lte?: number };
      return values.some(
        (v) =>
          typeof v === 'number' &&
          (r.gt === undefined || v > r.gt) &&
          (r.gte === undefined || v >= r.gte) &&
          (r.lt === undefined || v < r.lt) &&
          (r.lte === undefined || v <= r.lte),
      );
    }
    throw new QdrantError(400, `Format error in JSON body: unknown condition ${JSON.stringify(c)}`);
  };
  const must = asList(filter.must);
  const should = asList(filter.should);
  const mustNot = asList(filter.must_not);
  return must.every(test) && (should.length === 0 || should.some(test)) && !mustNot.some(test);
}

function selectPayload(payload: Record<string, unknown>, selector: unknown): Record<string, unknown> | undefined {
  if (selector === false || selector === undefined || selector === null) return undefined;
  if (selector === true) return payload;
  const include = Array.isArray(selector) ? selector : (selector as { include?: string[] }).include;
  const exclude = (selector as { exclude?: string[] }).exclude;
  if (Array.isArray(include)) return Object.fromEntries(Object.entries(payload).filter(([k]) => include.includes(k)));
  if (Array.isArray(exclude)) return Object.fromEntries(Object.entries(payload).filter(([k]) => !exclude.includes(k)));
  return payload;
}

const INDEX_TYPES = ['keyword', 'integer', 'float', 'bool', 'geo', 'datetime', 'text', 'uuid'];

export async function startQdrantSimulator(options: QdrantSimulatorOptions = {}): Promise<QdrantSimulator> {
  const state: QdrantSimulatorState = { collections: new Map(), unavailable: false, requests: [] };
  let operationId = 0;
  const started = process.hrtime.bigint();

  const ok = (result: unknown, status = 200): SimResponse => ({
    status,
    body: { result, status: 'ok', time: Number(process.hrtime.bigint() - started) / 1e9 / 1e6 },
  });
  const written = (req: SimRequest) =>
    ok({ operation_id: ++operationId, status: req.query.get('wait') === 'true' ? 'completed' : 'acknowledged' });

  const collectionOf = (name: string): Collection => {
    const collection = state.collections.get(name);
    if (!collection) throw new QdrantError(404, `Not found: Collection \`${name}\` doesn't exist!`);
    return collection;
  };

  const checkStrict = (collection: Collection, filter: Filter | undefined) => {
    if (!collection.strict) return;
    for (const field of filterKeys(filter)) {
      if (!collection.indexes.has(field))
        throw new QdrantError(
          400,
          `Bad request: Index required but not found for "${field}" of one of the following types: [keyword, integer, uuid]. Help: Create an index for this key or use a different filter.`,
        );
    }
  };

  const ordered = (collection: Collection) =>
    [...collection.points.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, p]) => p);

  const render = (p: StoredPoint, withPayload: unknown, withVector: unknown, extra: Record<string, unknown> = {}) => ({
    id: p.id,
    version: 0,
    ...extra,
    payload: selectPayload(p.payload, withPayload) ?? null,
    vector: withVector === true ? p.vector : null,
    shard_key: null,
    order_value: null,
  });

  function collectionInfo(c: Collection) {
    const payload_schema: Record<string, unknown> = {};
    for (const [field, type] of c.indexes) {
      let points = 0;
      for (const p of c.points.values()) if (valuesAt(p.payload, field).length > 0) points++;
      payload_schema[field] = { data_type: type, points };
    }
    return {
      status: 'green',
      optimizer_status: 'ok',
      indexed_vectors_count: 0,
      points_count: c.points.size,
      segments_count: 1,
      config: {
        params: {
          vectors: { size: c.size, distance: c.distance },
          shard_number: 1,
          replication_factor: 1,
          write_consistency_factor: 1,
          on_disk_payload: true,
        },
        hnsw_config: { m: 16, ef_construct: 100, full_scan_threshold: 10000, max_indexing_threads: 0, on_disk: false },
        optimizer_config: {
          deleted_threshold: 0.2,
          vacuum_min_vector_number: 1000,
          default_segment_number: 0,
          max_segment_size: null,
          memmap_threshold: null,
          indexing_threshold: 10000,
          flush_interval_sec: 5,
          max_optimization_threads: null,
        },
        wal_config: { wal_capacity_mb: 32, wal_segments_ahead: 0 },
        quantization_config: null,
        strict_mode_config: {
          enabled: c.strict,
          unindexed_filtering_retrieve: !c.strict,
          unindexed_filtering_update: !c.strict,
        },
      },
      payload_schema,
    };
  }

  function route(req: SimRequest): SimResponse {
    state.requests.push({ method: req.method, path: req.path });
    if (state.unavailable) return { status: 503, body: { status: { error: 'Service Unavailable' }, time: 0 } };
    if (options.apiKey !== undefined) {
      const given = req.headers['api-key'] ?? req.headers.authorization?.replace(/^Bearer /, '');
      if (given === undefined) throw new QdrantError(401, 'Must provide an API key or an Authorization bearer token');
      if (given !== options.apiKey) throw new QdrantError(403, 'Invalid API key or JWT');
    }
    const parts = req.path.split('/').filter(Boolean).map(decodeURIComponent);
    const body = (req.json() ?? {}) as Record<string, unknown>;
    const m = `${req.method} /${parts.map((p, i) => (i === 1 && parts[0] === 'collections' ? ':c' : p)).join('/')}`;
    const name = parts[1] ?? '';

    switch (m) {
      case 'GET /':
        return {
          status: 200,
          body: { title: 'qdrant - vector search engine', version: QDRANT_VERSION, commit: 'simulator' },
        };
      case 'GET /healthz':
      case 'GET /readyz':
        return { status: 200, body: 'healthz check passed' };
      case 'GET /collections':
        return ok({ collections: [...state.collections.keys()].map((n) => ({ name: n })) });
      case 'GET /collections/:c':
        return ok(collectionInfo(collectionOf(name)));
      case 'GET /collections/:c/exists':
        return ok({ exists: state.collections.has(name) });
      case 'PUT /collections/:c': {
        if (!/^[A-Za-z0-9_.-]{1,255}$/.test(name))
          throw new QdrantError(
            422,
            `Validation error in path parameters: [name: collection name ${name} is not valid]`,
          );
        if (state.collections.has(name))
          throw new QdrantError(409, `Wrong input: Collection \`${name}\` already exists!`);
        const vectors = body.vectors as { size?: unknown; distance?: unknown } | undefined;
        if (!vectors || typeof vectors.size !== 'number' || !Number.isInteger(vectors.size) || vectors.size < 1)
          throw new QdrantError(
            400,
            'Format error in JSON body: vectors: expected {size, distance} (named vectors are not simulated)',
          );
        if (!['Cosine', 'Dot', 'Euclid', 'Manhattan'].includes(String(vectors.distance)))
          throw new QdrantError(
            400,
            `Format error in JSON body: vectors.distance: unknown variant \`${String(vectors.distance)}\`, expected one of \`Cosine\`, \`Euclid\`, \`Dot\`, \`Manhattan\``,
          );
        const strictConfig = body.strict_mode_config as { enabled?: boolean } | undefined;
        state.collections.set(name, {
          name,
          size: vectors.size,
          distance: vectors.distance as Distance,
          strict: strictConfig?.enabled ?? options.strictMode ?? true,
          points: new Map(),
          indexes: new Map(),
        });
        return ok(true);
      }
      case 'DELETE /collections/:c':
        return ok(state.collections.delete(name));
      case 'PUT /collections/:c/index': {
        const c = collectionOf(name);
        const schema =
          typeof body.field_schema === 'string' ? body.field_schema : (body.field_schema as { type?: string })?.type;
        if (typeof body.field_name !== 'string' || !INDEX_TYPES.includes(String(schema)))
          throw new QdrantError(
            400,
            `Format error in JSON body: field_schema must be one of ${INDEX_TYPES.join(', ')}`,
          );
        c.indexes.set(body.field_name, String(schema));
        return written(req);
      }
      case 'PUT /collections/:c/points': {
        const c = collectionOf(name);
        const batch = body.batch as { ids?: unknown[]; vectors?: unknown[]; payloads?: unknown[] } | undefined;
        const incoming = Array.isArray(body.points)
          ? (body.points as { id?: unknown; vector?: unknown; payload?: unknown }[])
          : batch && Array.isArray(batch.ids)
            ? batch.ids.map((id, i) => ({ id, vector: batch.vectors?.[i], payload: batch.payloads?.[i] }))
            : undefined;
        if (!incoming) throw new QdrantError(400, 'Format error in JSON body: expected `points` or `batch`');
        // Validate everything first: Qdrant applies a batch whole or not at all.
        const points = incoming.map((p, i) => {
          const { vector, model } = toVector(c, p.vector, `points[${i}].vector`);
          const payload = (p.payload ?? {}) as Record<string, unknown>;
          return { id: pointId(p.id), vector, payload, model };
        });
        for (const p of points) c.points.set(key(p.id), p);
        return written(req);
      }
      case 'POST /collections/:c/points': {
        const c = collectionOf(name);
        const ids = asList(body.ids).map(pointId);
        const found = ids.map((id) => c.points.get(key(id))).filter((p): p is StoredPoint => p !== undefined);
        return ok(found.map((p) => render(p, body.with_payload ?? true, body.with_vector)));
      }
      case 'POST /collections/:c/points/delete': {
        const c = collectionOf(name);
        if (Array.isArray(body.points)) for (const id of body.points) c.points.delete(key(pointId(id)));
        else if (body.filter) {
          checkStrict(c, body.filter as Filter);
          for (const [k, p] of c.points) if (matches(p, body.filter as Filter)) c.points.delete(k);
        } else throw new QdrantError(400, 'Format error in JSON body: expected `points` or `filter`');
        return written(req);
      }
      case 'POST /collections/:c/points/payload': {
        const c = collectionOf(name);
        for (const id of asList(body.points)) {
          const p = c.points.get(key(pointId(id)));
          if (p) p.payload = { ...p.payload, ...(body.payload as Record<string, unknown>) };
        }
        return written(req);
      }
      case 'POST /collections/:c/points/count': {
        const c = collectionOf(name);
        checkStrict(c, body.filter as Filter);
        return ok({ count: [...c.points.values()].filter((p) => matches(p, body.filter as Filter)).length });
      }
      case 'POST /collections/:c/points/scroll': {
        const c = collectionOf(name);
        checkStrict(c, body.filter as Filter);
        const limit = typeof body.limit === 'number' ? body.limit : 10;
        let all = ordered(c).filter((p) => matches(p, body.filter as Filter));
        if (body.offset !== undefined && body.offset !== null) {
          const from = key(pointId(body.offset));
          all = all.filter((p) => key(p.id) >= from);
        }
        const page = all.slice(0, limit);
        return ok({
          points: page.map((p) => render(p, body.with_payload ?? true, body.with_vector ?? false)),
          next_page_offset: all[limit]?.id ?? null,
        });
      }
      case 'POST /collections/:c/points/query': {
        const c = collectionOf(name);
        checkStrict(c, body.filter as Filter);
        const limit = typeof body.limit === 'number' ? body.limit : 10;
        const offset = typeof body.offset === 'number' ? body.offset : 0;
        const candidates = ordered(c).filter((p) => matches(p, body.filter as Filter));
        let query = body.query as unknown;
        if (typeof query === 'object' && query !== null && 'nearest' in query)
          query = (query as { nearest: unknown }).nearest;
        if (query === undefined || query === null) {
          return ok({
            points: candidates
              .slice(offset, offset + limit)
              .map((p) => render(p, body.with_payload ?? false, body.with_vector)),
          });
        }
        const { vector } = toVector(c, query, 'query');
        const lowerIsBetter = c.distance === 'Euclid' || c.distance === 'Manhattan';
        let scored = candidates.map((p) => ({ p, s: score(c.distance, vector, p.vector) }));
        if (typeof body.score_threshold === 'number') {
          const t = body.score_threshold;
          scored = scored.filter(({ s }) => (lowerIsBetter ? s <= t : s >= t));
        }
        scored.sort((a, b) => (lowerIsBetter ? a.s - b.s : b.s - a.s));
        return ok({
          points: scored
            .slice(offset, offset + limit)
            .map(({ p, s }) => render(p, body.with_payload ?? false, body.with_vector, { score: s })),
        });
      }
      default:
        throw new QdrantError(404, `Not found: ${req.method} ${req.path}`);
    }
  }

  const server = await startJsonServer((req) => {
    try {
      return route(req);
    } catch (err) {
      if (err instanceof QdrantError) return { status: err.status, body: { status: { error: err.message }, time: 0 } };
      if (err instanceof BadJson)
        return { status: 400, body: { status: { error: `Format error in JSON body: ${err.message}` }, time: 0 } };
      throw err;
    }
  }, options.port ?? 0);
  return { url: server.url, state, close: server.close };
}
