/**
 * Durations and byte sizes as users write them (Compose style: `1m30s`, `500ms`, `512M`) and as
 * Docker stores them (nanoseconds, bytes). Every value has one canonical spelling, so a desired
 * `90s` and a live 90_000_000_000 ns compare equal.
 */

const DURATION_UNITS: Record<string, number> = {
  ns: 1,
  us: 1e3,
  µs: 1e3,
  ms: 1e6,
  s: 1e9,
  m: 60e9,
  h: 3600e9,
};

/** `1h2m3.5s`, `500ms`, `10` (seconds) to nanoseconds; throws on anything else. */
export function parseDuration(value: string | number): number {
  if (typeof value === 'number') return Math.round(value * 1e9);
  const text = value.trim();
  if (/^\d+(\.\d+)?$/.test(text)) return Math.round(Number(text) * 1e9);
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/y;
  let total = 0;
  let pos = 0;
  while (pos < text.length) {
    re.lastIndex = pos;
    const match = re.exec(text);
    if (!match) throw new TypeError(`"${value}" is not a duration (write e.g. 30s, 1m30s, 500ms)`);
    total += Number(match[1]) * (DURATION_UNITS[match[2] as string] as number);
    pos = re.lastIndex;
  }
  if (text.length === 0) throw new TypeError('an empty string is not a duration');
  return Math.round(total);
}

/** Nanoseconds to Go's spelling (`1m30s`, `500ms`, `0s`), which is also what `docker service inspect --pretty` shows. */
export function formatDuration(ns: number): string {
  if (!ns) return '0s';
  if (ns < 1e3) return `${ns}ns`;
  if (ns < 1e6) return `${trim(ns / 1e3)}us`;
  if (ns < 1e9) return `${trim(ns / 1e6)}ms`;
  let rest = ns;
  let out = '';
  const hours = Math.floor(rest / 3600e9);
  if (hours) {
    out += `${hours}h`;
    rest -= hours * 3600e9;
  }
  const minutes = Math.floor(rest / 60e9);
  if (hours || minutes) {
    out += `${minutes}m`;
    rest -= minutes * 60e9;
  }
  return `${out}${trim(rest / 1e9)}s`;
}

/** The canonical spelling of a duration the user wrote. */
export function canonicalDuration(value: string | number): string {
  return formatDuration(parseDuration(value));
}

function trim(n: number): string {
  return String(Number(n.toFixed(9)));
}

const BYTE_UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  k: 1024,
  kb: 1024,
  kib: 1024,
  m: 1024 ** 2,
  mb: 1024 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gb: 1024 ** 3,
  gib: 1024 ** 3,
  t: 1024 ** 4,
  tb: 1024 ** 4,
  tib: 1024 ** 4,
};

/** `512M`, `1g`, `1.5GiB`, `1048576` to bytes (binary units, as Docker reads them). */
export function parseBytes(value: string | number): number {
  if (typeof value === 'number') return Math.round(value);
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(value);
  const unit = BYTE_UNITS[(match?.[2] ?? '?').toLowerCase()];
  if (!match || unit === undefined) throw new TypeError(`"${value}" is not a size (write e.g. 512M, 1G)`);
  return Math.round(Number(match[1]) * unit);
}

/** Bytes to the largest exact binary unit: `512M`, `1G`, `1536K`, `100` (bytes), `0`. */
export function formatBytes(bytes: number): string {
  if (!bytes) return '0';
  for (const [suffix, size] of [
    ['T', 1024 ** 4],
    ['G', 1024 ** 3],
    ['M', 1024 ** 2],
    ['K', 1024],
  ] as const) {
    if (bytes % size === 0) return `${bytes / size}${suffix}`;
  }
  return String(bytes);
}

export function canonicalBytes(value: string | number): string {
  return formatBytes(parseBytes(value));
}
