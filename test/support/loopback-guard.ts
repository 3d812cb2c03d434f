/**
 * Loaded into every test file (vitest `setupFiles`): no test may send traffic anywhere but
 * loopback (or the network namespaces a test makes itself, listed in KEELSON_TEST_ALLOWED_HOSTS).
 * Every outgoing TCP connection of the test process goes through `net.Socket#connect` (node:http,
 * undici's fetch, TLS, gRPC): a connection to any other address is refused before it is made, and
 * the test file fails, naming the address. Child processes (git, dockerd, workerd) are outside it:
 * they are given loopback addresses by the tests that start them.
 */
import net from 'node:net';
import { afterAll } from 'vitest';

process.env.METADATA_SERVER_DETECTION = 'none';

const extra = new Set(
  (process.env.KEELSON_TEST_ALLOWED_HOSTS ?? '')
    .split(',')
    .map((h) => h.trim())
    .filter(Boolean),
);

/** Loopback (127.0.0.0/8, ::1, localhost), the unspecified address (which means this host), or allowed by the test. */
export function isLocalHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost' || h.endsWith('.localhost') || h === '::1' || h === '0.0.0.0' || h === '::') return true;
  if (/^127\.\d+\.\d+\.\d+$/.test(h) || /^::ffff:127\.\d+\.\d+\.\d+$/.test(h)) return true;
  return extra.has(h);
}

const refused: string[] = [];

/** Where a `connect` call goes: undefined for a unix socket or a pipe. */
function target(args: unknown[]): string | undefined {
  let first = args[0];
  if (Array.isArray(first)) first = first[0]; // net.connect() passes its normalised [options, callback]
  if (typeof first === 'object' && first !== null) {
    const o = first as { path?: unknown; host?: unknown; port?: unknown };
    if (typeof o.path === 'string') return undefined;
    return `${typeof o.host === 'string' ? o.host : 'localhost'}:${String(o.port)}`;
  }
  if (typeof first === 'string' && Number.isNaN(Number(first))) return undefined; // a unix path
  const host = typeof args[1] === 'string' ? args[1] : 'localhost';
  return `${host}:${String(first)}`;
}

/** The refused targets so far, cleared (for the guard's own test). */
export function takeRefused(): string[] {
  return refused.splice(0);
}

const original = net.Socket.prototype.connect;
net.Socket.prototype.connect = function guardedConnect(this: net.Socket, ...args: unknown[]) {
  const to = target(args);
  if (to !== undefined) {
    const host = to.slice(0, to.lastIndexOf(':'));
    if (!isLocalHost(host)) {
      refused.push(to);
      const error = new Error(`loopback guard: a test tried to connect to ${to}; tests may only reach loopback`);
      process.nextTick(() => this.destroy(error));
      return this;
    }
  }
  return (original as (...a: unknown[]) => net.Socket).apply(this, args);
} as typeof net.Socket.prototype.connect;

afterAll(() => {
  if (refused.length > 0) {
    throw new Error(
      `loopback guard: connections outside loopback were attempted (and refused): ${[...new Set(refused)].join(', ')}`,
    );
  }
});
