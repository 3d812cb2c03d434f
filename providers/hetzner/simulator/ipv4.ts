/** IPv4 arithmetic for the simulated private networks. */
export function ipToInt(ip: string): number {
  const parts = ip.split('.').map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) return Number.NaN;
  return ((parts[0]! << 24) | (parts[1]! << 16) | (parts[2]! << 8) | parts[3]!) >>> 0;
}

export function intToIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

export function parseCidr(cidr: string): { base: number; size: number } | undefined {
  const [ip, bits] = cidr.split('/');
  const b = Number(bits);
  const base = ipToInt(ip ?? '');
  if (Number.isNaN(base) || !Number.isInteger(b) || b < 0 || b > 32) return undefined;
  const size = 2 ** (32 - b);
  if (base % size !== 0) return undefined;
  return { base, size };
}

export function cidrContains(outer: string, inner: string): boolean {
  const o = parseCidr(outer);
  const i = inner.includes('/') ? parseCidr(inner) : { base: ipToInt(inner), size: 1 };
  if (!o || !i || Number.isNaN(i.base)) return false;
  return i.base >= o.base && i.base + i.size <= o.base + o.size;
}
