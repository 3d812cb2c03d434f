import { ApiError, invalidArgument } from './api-error.ts';
import { compareValues, equalValues, getField, type Value } from './firestore-values.ts';
import type { Json, StoredDocument } from './state.ts';

/** A document as a query sees it: path below `documents/`, fields, times. */
export interface QueryDoc {
  readonly path: string;
  readonly name: string;
  readonly doc: StoredDocument;
}

const EQUALITY = new Set(['EQUAL', 'ARRAY_CONTAINS', 'IN', 'ARRAY_CONTAINS_ANY']);
const INEQUALITY = new Set([
  'LESS_THAN',
  'LESS_THAN_OR_EQUAL',
  'GREATER_THAN',
  'GREATER_THAN_OR_EQUAL',
  'NOT_EQUAL',
  'NOT_IN',
]);

function fieldValue(d: QueryDoc, path: string): Value | undefined {
  if (path === '__name__') return { referenceValue: d.name };
  return getField(d.doc.fields as Record<string, Value>, path);
}

function matches(filter: Json | undefined, d: QueryDoc): boolean {
  if (!filter) return true;
  if (filter.compositeFilter) {
    const c = filter.compositeFilter as Json;
    const list = (c.filters ?? []) as Json[];
    return c.op === 'OR' ? list.some((f) => matches(f, d)) : list.every((f) => matches(f, d));
  }
  if (filter.unaryFilter) {
    const u = filter.unaryFilter as Json;
    const v = fieldValue(d, ((u.field ?? {}) as Json).fieldPath as string);
    const nan = v !== undefined && 'doubleValue' in v && Number.isNaN(Number(v.doubleValue));
    switch (u.op) {
      case 'IS_NULL':
        return v !== undefined && 'nullValue' in v;
      case 'IS_NOT_NULL':
        return v !== undefined && !('nullValue' in v);
      case 'IS_NAN':
        return nan;
      case 'IS_NOT_NAN':
        return v !== undefined && !nan;
      default:
        throw invalidArgument('structured_query.where.unary_filter.op', `unknown operator ${String(u.op)}`);
    }
  }
  const f = filter.fieldFilter as Json | undefined;
  if (!f)
    throw invalidArgument('structured_query.where', 'a filter needs composite_filter, field_filter or unary_filter');
  const v = fieldValue(d, ((f.field ?? {}) as Json).fieldPath as string);
  const want = f.value as Value;
  if (v === undefined) return false;
  const arr = ((v.arrayValue as Json | undefined)?.values ?? []) as Value[];
  const list = ((want?.arrayValue as Json | undefined)?.values ?? []) as Value[];
  const c = compareValues(v, want);
  const comparable = typeKey(v) === typeKey(want);
  switch (f.op) {
    case 'EQUAL':
      return equalValues(v, want);
    case 'NOT_EQUAL':
      return !equalValues(v, want) && !('nullValue' in v);
    case 'LESS_THAN':
      return comparable && c < 0;
    case 'LESS_THAN_OR_EQUAL':
      return comparable && c <= 0;
    case 'GREATER_THAN':
      return comparable && c > 0;
    case 'GREATER_THAN_OR_EQUAL':
      return comparable && c >= 0;
    case 'ARRAY_CONTAINS':
      return arr.some((x) => equalValues(x, want));
    case 'ARRAY_CONTAINS_ANY':
      return arr.some((x) => list.some((y) => equalValues(x, y)));
    case 'IN':
      return list.some((y) => equalValues(v, y));
    case 'NOT_IN':
      return !('nullValue' in v) && !list.some((y) => equalValues(v, y));
    default:
      throw invalidArgument('structured_query.where.field_filter.op', `unknown operator ${String(f.op)}`);
  }
}

function typeKey(v: Value): string {
  if ('integerValue' in v || 'doubleValue' in v) return 'number';
  return Object.keys(v)[0] ?? '';
}

function collectFilters(filter: Json | undefined, out: Json[]): Json[] {
  if (!filter) return out;
  if (filter.compositeFilter)
    for (const f of ((filter.compositeFilter as Json).filters ?? []) as Json[]) collectFilters(f, out);
  else if (filter.fieldFilter) out.push(filter.fieldFilter as Json);
  return out;
}

/** The effective order: explicit orderBy, then inequality fields, then `__name__`. */
function effectiveOrder(q: Json): { field: string; dir: 'ASCENDING' | 'DESCENDING' }[] {
  const order = ((q.orderBy ?? []) as Json[]).map((o) => ({
    field: ((o.field ?? {}) as Json).fieldPath as string,
    dir: (o.direction === 'DESCENDING' ? 'DESCENDING' : 'ASCENDING') as 'ASCENDING' | 'DESCENDING',
  }));
  for (const f of collectFilters(q.where as Json | undefined, [])) {
    const path = ((f.field ?? {}) as Json).fieldPath as string;
    if (INEQUALITY.has(f.op as string) && !order.some((o) => o.field === path))
      order.push({ field: path, dir: 'ASCENDING' });
  }
  if (!order.some((o) => o.field === '__name__'))
    order.push({ field: '__name__', dir: order.at(-1)?.dir ?? 'ASCENDING' });
  return order;
}

/**
 * The composite index a query needs, as `[fieldPath, mode]` pairs (equality fields first), or
 * undefined when single-field indexes serve it (Firestore merges them for equality-only queries).
 */
export function neededIndex(q: Json): { equality: string[]; order: { field: string; dir: string }[] } | undefined {
  const filters = collectFilters(q.where as Json | undefined, []);
  const equality = [
    ...new Set(
      filters.filter((f) => EQUALITY.has(f.op as string)).map((f) => ((f.field ?? {}) as Json).fieldPath as string),
    ),
  ];
  const order = effectiveOrder(q).filter(
    (o) =>
      o.field !== '__name__' &&
      !(
        equality.includes(o.field) &&
        !((q.orderBy ?? []) as Json[]).some((x) => ((x.field ?? {}) as Json).fieldPath === o.field)
      ),
  );
  if (order.length >= 2 || (order.length >= 1 && equality.length >= 1)) return { equality, order };
  return undefined;
}

/** Whether a READY composite index serves the need. */
export function indexServes(
  index: Json,
  need: { equality: string[]; order: { field: string; dir: string }[] },
): boolean {
  if (index.state !== 'READY') return false;
  const fields = ((index.fields ?? []) as Json[]).filter((f) => f.fieldPath !== '__name__');
  if (fields.length !== need.equality.length + need.order.length) return false;
  const head = fields.slice(0, need.equality.length).map((f) => f.fieldPath as string);
  if ([...head].sort().join('\u0000') !== [...need.equality].sort().join('\u0000')) return false;
  const tail = fields.slice(need.equality.length);
  return need.order.every((o, i) => tail[i]?.fieldPath === o.field && tail[i]?.order === o.dir);
}

function cursorCompare(d: QueryDoc, order: { field: string; dir: string }[], values: Value[]): number {
  for (let i = 0; i < Math.min(order.length, values.length); i++) {
    const o = order[i]!;
    let v = fieldValue(d, o.field) ?? { nullValue: null };
    let want = values[i]!;
    if (o.field === '__name__' && 'referenceValue' in want) want = { referenceValue: want.referenceValue };
    if (o.field === '__name__') v = { referenceValue: d.name };
    const c = compareValues(v, want) * (o.dir === 'DESCENDING' ? -1 : 1);
    if (c !== 0) return c;
  }
  return 0;
}

/** Runs a structured query over candidate documents (already limited to the right collection). */
export function runStructuredQuery(q: Json, candidates: QueryDoc[]): QueryDoc[] {
  const order = effectiveOrder(q);
  let docs = candidates.filter((d) => matches(q.where as Json | undefined, d));
  docs = docs.filter((d) => order.every((o) => fieldValue(d, o.field) !== undefined));
  docs.sort((a, b) => {
    for (const o of order) {
      const c = compareValues(fieldValue(a, o.field)!, fieldValue(b, o.field)!) * (o.dir === 'DESCENDING' ? -1 : 1);
      if (c !== 0) return c;
    }
    return 0;
  });
  const start = q.startAt as Json | undefined;
  if (start) {
    const values = (start.values ?? []) as Value[];
    docs = docs.filter((d) => {
      const c = cursorCompare(d, order, values);
      return start.before ? c >= 0 : c > 0;
    });
  }
  const end = q.endAt as Json | undefined;
  if (end) {
    const values = (end.values ?? []) as Value[];
    docs = docs.filter((d) => {
      const c = cursorCompare(d, order, values);
      return end.before ? c < 0 : c <= 0;
    });
  }
  const offset = Number(q.offset ?? 0);
  const rawLimit = q.limit as unknown;
  const limit =
    rawLimit === undefined ? undefined : Number(typeof rawLimit === 'object' ? (rawLimit as Json).value : rawLimit);
  if (limit !== undefined && (!Number.isInteger(limit) || limit < 0))
    throw invalidArgument('structured_query.limit', 'must be a non-negative integer');
  docs = docs.slice(offset, limit === undefined ? undefined : offset + limit);
  return docs;
}

export function indexError(
  projectId: string,
  group: string,
  need: { equality: string[]; order: { field: string; dir: string }[] },
): ApiError {
  const fields = [...need.equality.map((f) => `${f} ASCENDING`), ...need.order.map((o) => `${o.field} ${o.dir}`)].join(
    ', ',
  );
  return new ApiError(
    'FAILED_PRECONDITION',
    `The query requires an index. Create a composite index on collection group "${group}" with fields (${fields}): https://console.firebase.google.com/project/${projectId}/firestore/indexes`,
  );
}
