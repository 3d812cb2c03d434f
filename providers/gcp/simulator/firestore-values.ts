import type { Json } from './state.ts';

/** A Firestore REST `Value` (`{stringValue: …}` etc.). */
export type Value = Json;

const typeRank = (v: Value): number => {
  if ('nullValue' in v) return 0;
  if ('booleanValue' in v) return 1;
  if ('integerValue' in v || 'doubleValue' in v) return 2;
  if ('timestampValue' in v) return 3;
  if ('stringValue' in v) return 4;
  if ('bytesValue' in v) return 5;
  if ('referenceValue' in v) return 6;
  if ('geoPointValue' in v) return 7;
  if ('arrayValue' in v) return 8;
  if ('mapValue' in v) return 9;
  return 10;
};

function num(v: Value): number {
  return 'integerValue' in v ? Number(v.integerValue) : Number(v.doubleValue);
}

/** Microseconds of a timestamp string (nanosecond digits are cut). */
export function micros(ts: string): bigint {
  const m = /^(.*?)(?:\.(\d+))?Z$/.exec(ts);
  if (!m) return BigInt(Date.parse(ts)) * 1000n;
  const base = BigInt(Date.parse(`${m[1]}Z`)) * 1000n;
  return base + BigInt((m[2] ?? '').padEnd(6, '0').slice(0, 6));
}

/** Firestore's total order of values (type order first, then within the type). */
export function compareValues(a: Value, b: Value): number {
  const ra = typeRank(a);
  const rb = typeRank(b);
  if (ra !== rb) return ra - rb;
  switch (ra) {
    case 0:
      return 0;
    case 1:
      return Number(a.booleanValue) - Number(b.booleanValue);
    case 2: {
      const x = num(a);
      const y = num(b);
      if (Number.isNaN(x)) return Number.isNaN(y) ? 0 : -1;
      if (Number.isNaN(y)) return 1;
      return x < y ? -1 : x > y ? 1 : 0;
    }
    case 3: {
      const x = micros(a.timestampValue as string);
      const y = micros(b.timestampValue as string);
      return x < y ? -1 : x > y ? 1 : 0;
    }
    case 4:
    case 5:
    case 6: {
      const key = ra === 4 ? 'stringValue' : ra === 5 ? 'bytesValue' : 'referenceValue';
      const x = String(a[key]);
      const y = String(b[key]);
      return x < y ? -1 : x > y ? 1 : 0;
    }
    case 7: {
      const x = a.geoPointValue as Json;
      const y = b.geoPointValue as Json;
      return Number(x.latitude) - Number(y.latitude) || Number(x.longitude) - Number(y.longitude);
    }
    case 8: {
      const x = ((a.arrayValue as Json).values ?? []) as Value[];
      const y = ((b.arrayValue as Json).values ?? []) as Value[];
      for (let i = 0; i < Math.min(x.length, y.length); i++) {
        const c = compareValues(x[i]!, y[i]!);
        if (c !== 0) return c;
      }
      return x.length - y.length;
    }
    case 9: {
      const x = ((a.mapValue as Json).fields ?? {}) as Record<string, Value>;
      const y = ((b.mapValue as Json).fields ?? {}) as Record<string, Value>;
      const kx = Object.keys(x).sort();
      const ky = Object.keys(y).sort();
      for (let i = 0; i < Math.min(kx.length, ky.length); i++) {
        if (kx[i] !== ky[i]) return kx[i]! < ky[i]! ? -1 : 1;
        const c = compareValues(x[kx[i]!]!, y[ky[i]!]!);
        if (c !== 0) return c;
      }
      return kx.length - ky.length;
    }
    default:
      return 0;
  }
}

export function equalValues(a: Value, b: Value): boolean {
  return typeRank(a) === typeRank(b) && compareValues(a, b) === 0;
}

/** Splits a field path: dots separate segments, backticks quote one. */
export function splitFieldPath(path: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < path.length; i++) {
    const c = path[i]!;
    if (c === '`') quoted = !quoted;
    else if (c === '\\' && quoted) cur += path[++i] ?? '';
    else if (c === '.' && !quoted) {
      out.push(cur);
      cur = '';
    } else cur += c;
  }
  out.push(cur);
  return out;
}

export function getField(fields: Record<string, Value>, path: string): Value | undefined {
  let cur: Record<string, Value> | undefined = fields;
  const parts = splitFieldPath(path);
  for (let i = 0; i < parts.length; i++) {
    const v: Value | undefined = cur?.[parts[i]!];
    if (v === undefined) return undefined;
    if (i === parts.length - 1) return v;
    const map = v.mapValue as Json | undefined;
    if (!map) return undefined;
    cur = (map.fields ?? {}) as Record<string, Value>;
  }
  return undefined;
}

export function setField(fields: Record<string, Value>, path: string, value: Value | undefined): void {
  const parts = splitFieldPath(path);
  let cur = fields;
  for (const part of parts.slice(0, -1)) {
    let v = cur[part];
    if (!v?.mapValue) {
      if (value === undefined) return;
      v = { mapValue: { fields: {} } };
      cur[part] = v;
    }
    const map = v.mapValue as Json;
    map.fields ??= {};
    cur = map.fields as Record<string, Value>;
  }
  const last = parts.at(-1)!;
  if (value === undefined) delete cur[last];
  else cur[last] = value;
}
