import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { startRelay } from '../../scripts/tcp-relay.ts';
import { imageFingerprint, simulatorPorts } from './demo-service.ts';

describe("the demo's keelson service: relays and the image fingerprint", () => {
  it('finds the simulator ports in keelson environment', () => {
    expect(
      simulatorPorts({
        HCLOUD_ENDPOINT: 'http://127.0.0.1:4101/v1',
        GCP_API_ENDPOINT: 'http://127.0.0.1:4102',
        GCP_OIDC_JWKS_URL: 'http://127.0.0.1:4102/oauth2/v3/certs',
        CLOUDFLARE_API_BASE_URL: 'http://localhost:4103/client/v4',
        HCLOUD_TOKEN: 'demo-token',
        KEELSON_SOURCE_URL: 'file:///tmp/x/infra.git',
      }),
    ).toEqual([4101, 4102, 4103]);
  });

  it('a relay passes requests and answers through, and closes with its connections', async () => {
    const server = createServer((req, res) => res.end(`${req.method} ${req.url}`));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const target = (server.address() as AddressInfo).port;
    // Port 0 is not offered by startRelay: find a free one by listening and closing.
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', () => r()));
    const port = (probe.address() as AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));
    const relay = await startRelay('127.0.0.1', port, '127.0.0.1', target);
    try {
      expect(await (await fetch(`http://127.0.0.1:${port}/v1/servers?page=2`)).text()).toBe('GET /v1/servers?page=2');
      const posted = await fetch(`http://127.0.0.1:${port}/upload`, { method: 'PUT', body: 'x'.repeat(200_000) });
      expect(await posted.text()).toBe('PUT /upload');
    } finally {
      await relay.close();
      server.close();
    }
    await expect(fetch(`http://127.0.0.1:${port}/`)).rejects.toThrow();
  });

  it('the image fingerprint is stable and names 16 hex digits', () => {
    const root = new URL('../..', import.meta.url).pathname;
    expect(imageFingerprint(root)).toMatch(/^[0-9a-f]{16}$/);
    expect(imageFingerprint(root)).toBe(imageFingerprint(root));
  });
});
