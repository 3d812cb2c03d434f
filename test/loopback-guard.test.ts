import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { isLocalHost, takeRefused } from './support/loopback-guard.ts';

describe('the loopback guard every test file runs under', () => {
  it.each([
    ['127.0.0.1', true],
    ['127.8.9.10', true],
    ['localhost', true],
    ['[::1]', true],
    ['::ffff:127.0.0.1', true],
    ['169.254.169.254', false],
    ['metadata.google.internal', false],
    ['10.0.0.2', false],
    ['api.hetzner.cloud', false],
  ])('%s is loopback: %s', (host, expected) => {
    expect(isLocalHost(host)).toBe(expected);
  });

  it('lets loopback traffic through', async () => {
    const server = createServer((_req, res) => res.end('ok'));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
    expect(await res.text()).toBe('ok');
    await new Promise((r) => server.close(r));
  });

  it('refuses any other destination before a packet leaves (no DNS lookup either), and names it', async () => {
    // `.invalid` never resolves; the guard stops the connection before the lookup would be made.
    await expect(fetch('http://keelson-guard-test.invalid:8080/')).rejects.toThrow();
    expect(takeRefused()).toEqual(['keelson-guard-test.invalid:8080']);
  });
});
