/**
 * The Swarm provider's `localHealth` (what the leader lease consults, reconciler/app/leadership.ts):
 * the shared test engine is fit to lead; an engine whose socket is gone, or that accepts
 * connections and never answers (hung), is not, and the error says which engine and why.
 * The dead-engine case on a real node (dockerd killed) is test/three-node-keelson-failover.test.ts.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../providers/sdk/testing.ts';
import { SwarmClient, swarmModule } from '../providers/swarm/index.ts';
import { testDockerHost } from '../providers/swarm/test-support.ts';

describe('the Swarm provider’s local health', () => {
  let dir = '';
  let silent: Server;
  const held: Socket[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'keelson-health-'));
    // An engine that accepts connections and never answers them.
    silent = createServer((socket) => void held.push(socket));
    await new Promise<void>((resolve) => silent.listen(join(dir, 'hung.sock'), resolve));
  });
  afterAll(async () => {
    for (const s of held) s.destroy();
    await new Promise((resolve) => silent.close(resolve));
    rmSync(dir, { recursive: true, force: true });
  });

  it('passes on the test engine, through the provider the daemon builds', async () => {
    const made = swarmModule.create({ env: { DOCKER_HOST: testDockerHost() }, log: silentLogger });
    if ('unavailable' in made) throw new Error(made.unavailable);
    await expect(made.localHealth?.(3_000)).resolves.toBeUndefined();
  });

  it('fails when the engine’s socket is gone', async () => {
    const client = new SwarmClient(`unix://${join(dir, 'gone.sock')}`);
    await expect(client.localHealth()).rejects.toThrow(/cannot reach the Docker Engine at unix:\/\/.*gone\.sock/);
  });

  it('fails when the engine does not answer in time', async () => {
    const client = new SwarmClient(`unix://${join(dir, 'hung.sock')}`);
    await expect(client.localHealth(300)).rejects.toThrow(/hung\.sock: no answer within 300 ms/);
  });
});
