import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket, connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHetznerProvider } from '../providers/hetzner/index.ts';
import { type HetznerSimulator, startHetznerSimulator } from '../providers/hetzner/simulator/index.ts';
import { SecretValue } from '../providers/sdk/index.ts';
import { DEFAULT_RETRY } from '../reconciler/apply/retry.ts';
import { loadDesiredState } from '../reconciler/desired/load.ts';
import { type PassResult, runPass } from '../reconciler/engine/pass.ts';
import { envSecretSource } from '../reconciler/engine/secrets.ts';
import { builtinModules } from '../reconciler/providers/builtin.ts';
import { ProviderRegistry } from '../reconciler/providers/registry.ts';
import { FileStateStore } from '../reconciler/state/file-store.ts';
import { REPO_ROOT, RecordingLogger } from './support/engine-rig.ts';
import { type MemoryWorld, memoryModule, memoryProvider, memoryWorld } from './support/memory-provider.ts';

/**
 * A loopback TCP gate in front of the Hetzner simulator: open, it forwards; shut, nothing listens on
 * its port (connections are refused) and every connection it carried is cut, so the provider's
 * endpoint is dead as a vendor API that is down. Opened again, on the same port.
 */
class Gate {
  readonly #server: Server = createServer((socket) => this.#forward(socket));
  readonly #sockets = new Set<Socket>();
  port = 0;

  readonly target: number;

  constructor(target: number) {
    this.target = target;
  }

  #forward(socket: Socket): void {
    const upstream = tcpConnect(this.target, '127.0.0.1');
    for (const s of [socket, upstream]) {
      this.#sockets.add(s);
      s.on('error', () => {});
      s.on('close', () => {
        this.#sockets.delete(s);
        socket.destroy();
        upstream.destroy();
      });
    }
    socket.pipe(upstream).pipe(socket);
  }

  open(): Promise<void> {
    return new Promise((resolve) =>
      this.#server.listen(this.port, '127.0.0.1', () => {
        this.port = (this.#server.address() as { port: number }).port;
        resolve();
      }),
    );
  }

  async shut(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    for (const s of this.#sockets) s.destroy();
    await closed;
  }
}

const THING = 'kind: mem.Thing\nname: NAME\nspec:\n  size: 1\n';

describe('a provider whose endpoint refuses connections', { timeout: 240_000 }, () => {
  let sim: HetznerSimulator;
  let gate: Gate;
  let world: MemoryWorld;
  let hetzner: ReturnType<typeof createHetznerProvider>;
  let registry: ProviderRegistry;
  const dir = mkdtempSync(join(tmpdir(), 'keelson-unreachable-'));
  const desired = join(dir, 'desired');
  const store = new FileStateStore(join(dir, 'state.json'));
  const log = new RecordingLogger();
  let revision = 0;

  // The defaults a daemon runs with (the client's retries and backoff, the pass's retry policy).
  const pass = async (): Promise<PassResult> => {
    const loaded = loadDesiredState(desired, registry, { root: REPO_ROOT });
    const invalid = loaded.diagnostics.filter((d) => d.severity === 'error');
    if (invalid.length > 0) throw new Error(invalid.map((d) => d.message).join('; '));
    return runPass({
      resources: loaded.resources,
      revision: `r${++revision}`,
      registry,
      store,
      owner: 'keelson-test',
      mode: 'apply',
      deletionBudget: 50,
      secrets: envSecretSource({}),
      log,
      retry: DEFAULT_RETRY,
    });
  };

  beforeAll(async () => {
    sim = await startHetznerSimulator({ actionDurationMs: 15 });
    sim.state.addSnapshot('backup server', { role: 'backup-server' });
    gate = new Gate(Number(new URL(sim.endpoint).port));
    await gate.open();
    world = memoryWorld();
    cpSync(join(REPO_ROOT, 'desired-state', 'hetzner'), join(desired, 'hetzner'), { recursive: true });
    writeFileSync(join(desired, 'thing-a.yaml'), THING.replace('NAME', 'a'));
  });
  afterAll(async () => {
    await gate?.shut().catch(() => {});
    await sim?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('with the endpoint up, a first pass creates both providers’ resources', async () => {
    hetzner = createHetznerProvider({
      endpoint: `http://127.0.0.1:${gate.port}${new URL(sim.endpoint).pathname}`,
      token: new SecretValue('sim-token', 'test'),
    });
    registry = new ProviderRegistry([...builtinModules, memoryModule(world)], [hetzner, memoryProvider(world)], {});
    const result = await pass();
    expect(result.errors).toEqual([]);
    expect(sim.state.servers.size).toBe(3);
    expect(world.items.has('mem.Thing/a')).toBe(true);
  });

  let down: PassResult;
  let attempts = 0;
  let serversBefore = 0;

  it('with the endpoint down, the other provider’s change is applied in the same pass', async () => {
    serversBefore = sim.state.servers.size;
    await gate.shut();
    writeFileSync(join(desired, 'thing-b.yaml'), THING.replace('NAME', 'b'));
    const before = hetzner.client.requestCount;
    down = await pass();
    attempts = hetzner.client.requestCount - before;
    console.log(
      `pass with hetzner refusing connections: ${down.durationMs} ms, ${attempts} connection attempts to the dead endpoint ` +
        `(observe ${Math.round(down.timings?.observe ?? 0)} ms)`,
    );
    expect(world.items.has('mem.Thing/b')).toBe(true);
    expect(down.results.filter((r) => r.provider === 'mem').map((r) => `${r.action} ${r.key} ${r.status}`)).toEqual([
      'create mem.Thing/b applied',
    ]);
  });

  it('the unreachable provider is reported once, naming it, its endpoint and what to check', () => {
    const errors = down.errors.filter((e) => e.severity === 'error');
    expect(errors).toHaveLength(1);
    const [error] = errors;
    console.log(`the error of the pass: ${error?.message}`);
    expect(error).toMatchObject({ code: 'UNAVAILABLE', provider: 'hetzner', class: 'transient' });
    expect(error?.message).toContain(`127.0.0.1:${gate.port}`);
    expect(error?.message).toContain('connection refused');
    expect(error?.message).toContain('HCLOUD_ENDPOINT');
    expect(error?.message).not.toContain('sim-token');
    // every Hetzner kind is unobservable for the same reason; its resources are skipped
    const kinds = hetzner.kinds.map((k) => k.schema.kind);
    for (const kind of kinds) expect(down.unobservable[kind]).toContain('cannot be reached');
    const hetznerChanges = down.plan.changes.filter((c) => c.provider === 'hetzner');
    expect(hetznerChanges.length).toBeGreaterThan(0);
    expect(hetznerChanges.every((c) => c.action === 'skip' && c.reason === 'provider-unavailable')).toBe(true);
  });

  it('the dead endpoint is tried a few times per pass, not once per kind and retry', () => {
    // one observe call, retried by the client (4 retries); not the 7 kinds x 4 pass retries x 5 tries
    expect(attempts).toBeGreaterThan(0);
    expect(attempts).toBeLessThanOrEqual(5);
  });

  it('nothing of the unreachable provider is deleted or forgotten', async () => {
    expect(down.plan.changes.filter((c) => c.action === 'delete')).toEqual([]);
    expect(down.results.filter((r) => r.action === 'delete')).toEqual([]);
    const state = await store.load();
    const applied = Object.keys(state.applied).filter((k) => k.startsWith('hetzner.'));
    expect(applied.length).toBeGreaterThanOrEqual(serversBefore);
  });

  it('with the endpoint back, the next pass converges without creating anything twice', async () => {
    await gate.open();
    const result = await pass();
    console.log(`pass with hetzner back: ${result.durationMs} ms`);
    expect(result.errors).toEqual([]);
    expect(result.outcome).toBe('no-op');
    expect(sim.state.servers.size).toBe(serversBefore);
  });
});
