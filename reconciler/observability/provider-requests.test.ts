import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { KeelsonMetrics } from './metrics.ts';
import { instrumentProviderRequests, providerRoutes } from './provider-requests.ts';

describe('provider request metrics', () => {
  it('counts fetch requests to a provider origin by status and times them; other origins are not counted', async () => {
    const server = createServer((req, res) => {
      res.statusCode = req.url === '/v1/missing' ? 404 : 200;
      res.end('{}');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const metrics = new KeelsonMetrics();
    const stop = instrumentProviderRequests(metrics, providerRoutes({ HCLOUD_ENDPOINT: `${origin}/v1` }));
    try {
      for (const path of ['/v1/servers', '/v1/servers', '/v1/missing'])
        await (await fetch(`${origin}${path}`)).arrayBuffer();
    } finally {
      stop();
    }
    await (await fetch(`${origin}/v1/servers`)).arrayBuffer();
    server.close();
    const text = await metrics.render();
    expect(text).toContain('keelson_provider_api_requests_total{provider="hetzner",status="200"} 2');
    expect(text).toContain('keelson_provider_api_requests_total{provider="hetzner",status="404"} 1');
    expect(text).toContain('keelson_provider_request_duration_seconds_count{provider="hetzner"} 3');
    expect(text).not.toContain('provider="cloudflare",status=');
  });

  it.each([
    { env: {}, expected: { provider: 'swarm', socketPath: '/var/run/docker.sock' } },
    { env: { DOCKER_HOST: 'unix:///tmp/d.sock' }, expected: { provider: 'swarm', socketPath: '/tmp/d.sock' } },
    { env: { DOCKER_HOST: 'tcp://10.0.0.2:2376' }, expected: { provider: 'swarm', origin: 'http://10.0.0.2:2376' } },
  ])('the Docker Engine route follows DOCKER_HOST ($env.DOCKER_HOST)', ({ env, expected }) => {
    expect(providerRoutes(env)).toContainEqual(expected);
  });
});
