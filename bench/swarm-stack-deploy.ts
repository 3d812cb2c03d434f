/**
 * `docker stack deploy` vs `keelson apply` (through `runPass`, with the default 1 s stability window and
 * with KEELSON_SWARM_STABLE_MS=0) for the same 20-service stack on
 * the local Swarm: wall time from scratch until every task runs (docker: deploy, then wait for
 * the tasks; keelson: one pass, which waits itself), in ROUNDS rounds that alternate which side
 * goes first (a shared, loaded machine drifts), with the median; then a repeated no-op deploy and
 * how many service updates each issues on it (services whose Version.Index or UpdatedAt moved).
 * Figures are printed, never asserted.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../providers/sdk/testing.ts';
import type { SwarmClient } from '../providers/swarm/client/client.ts';
import { createSwarmProvider, swarmModule } from '../providers/swarm/index.ts';
import { sweep } from '../providers/swarm/test-support.ts';
import { loadDesiredState } from '../reconciler/desired/load.ts';
import { runPass } from '../reconciler/engine/pass.ts';
import { envSecretSource } from '../reconciler/engine/secrets.ts';
import { ProviderRegistry } from '../reconciler/providers/registry.ts';
import { FileStateStore } from '../reconciler/state/file-store.ts';

const SERVICES = 20;
const ROUNDS = Number(process.env.KEELSON_BENCH_ROUNDS ?? 3);
const DOCKER_STACK = 'kbd';
const KEELSON_STACK = 'kbk';
/** The same stack applied by a keelson whose services count as converged once running (stableMs 0). */
const QUICK_STACK = 'kbq';

/** 20 small services on one network, with one config, quick to stop and to roll. */
function compose(): string {
  const services = Array.from({ length: SERVICES }, (_, i) => {
    const n = String(i + 1).padStart(2, '0');
    return `  s${n}:
    image: keelson-test/busybox:1
    command: ["sleep", "3600"]
    init: true
    stop_grace_period: 1s
    environment:
      SERVICE: s${n}
      LOG_LEVEL: info
    networks: [backend]
    configs:
      - source: settings
        target: /etc/settings.conf
    deploy:
      replicas: 1
      resources:
        limits: { memory: 32M }
      restart_policy: { condition: any, delay: 1s }
      update_config: { parallelism: 1, monitor: 1s, failure_action: rollback }
`;
  }).join('');
  return `services:\n${services}networks:\n  backend:\n    driver: overlay\nconfigs:\n  settings:\n    file: ./settings.conf\n`;
}

interface Snapshot {
  readonly [service: string]: { version: number; updatedAt: string };
}

async function snapshot(client: SwarmClient, stack: string): Promise<Snapshot> {
  const out: Record<string, { version: number; updatedAt: string }> = {};
  for (const s of await client.listServices({ name: [`${stack}_`] })) {
    out[s.Spec.Name] = { version: s.Version.Index, updatedAt: s.UpdatedAt };
  }
  return out;
}

function updatesBetween(before: Snapshot, after: Snapshot): number {
  return Object.entries(after).filter(
    ([name, s]) => before[name]?.version !== s.version || before[name]?.updatedAt !== s.updatedAt,
  ).length;
}

/** Waits until every service of the stack runs all its replicas. */
async function converged(client: SwarmClient, stack: string, timeoutMs = 180_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const services = await client.listServices({ name: [`${stack}_`] });
    const tasks = await client.listTasks({ 'desired-state': ['running'] });
    const running = new Map<string, number>();
    for (const t of tasks)
      if (t.Status.State === 'running') running.set(t.ServiceID, (running.get(t.ServiceID) ?? 0) + 1);
    const done =
      services.length === SERVICES &&
      services.every((s) => {
        const wanted = (s.Spec.Mode as { Replicated?: { Replicas?: number } } | undefined)?.Replicated?.Replicas ?? 1;
        const state = s.UpdateStatus?.State;
        return (running.get(s.ID) ?? 0) >= wanted && (state === undefined || state === 'completed');
      });
    if (done) return;
    if (Date.now() > deadline) throw new Error(`stack ${stack} did not converge within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/**
 * When, after `since` (epoch ms), the last task of the stack started running, by the tasks' own
 * timestamps (the engine runs on this machine: one clock): the engine's share of a deploy.
 */
async function lastRunning(client: SwarmClient, stack: string, since: number): Promise<number> {
  const ids = new Set((await client.listServices({ name: [`${stack}_`] })).map((s) => s.ID));
  const tasks = await client.listTasks({ 'desired-state': ['running'] });
  const at = tasks
    .filter((t) => ids.has(t.ServiceID) && t.Status.State === 'running')
    .map((t) => Date.parse(t.Status.Timestamp));
  return Math.max(...at) - since;
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const median = (xs: readonly number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;

export async function run(): Promise<void> {
  const { ensureLocalSwarm } = await import('../scripts/local-swarm.ts');
  const swarm = await ensureLocalSwarm();
  const root = mkdtempSync(join(tmpdir(), 'keelson-bench-stack-'));
  const provider = createSwarmProvider({ dockerHost: swarm.dockerHost, taskStartMs: 60_000 });
  const quickProvider = createSwarmProvider({ dockerHost: swarm.dockerHost, taskStartMs: 60_000, stableMs: 0 });
  const client = provider.client;
  const docker = (args: string[]) =>
    execFileSync('docker', args, {
      env: { ...process.env, DOCKER_HOST: swarm.dockerHost },
      stdio: ['ignore', 'pipe', 'pipe'],
    }).toString();
  try {
    // One chart, used by both sides.
    const chart = join(root, 'charts', 'bench');
    mkdirSync(chart, { recursive: true });
    writeFileSync(join(chart, 'docker-compose.yml'), compose());
    writeFileSync(join(chart, 'settings.conf'), 'mode=bench\n');
    const desired = join(root, 'desired-state');
    mkdirSync(desired);
    writeFileSync(join(desired, 'stack.yaml'), `kind: swarm.Stack\nname: ${KEELSON_STACK}\nspec:\n  chart: bench\n`);
    const quickDesired = join(root, 'quick-state');
    mkdirSync(quickDesired);
    writeFileSync(join(quickDesired, 'stack.yaml'), `kind: swarm.Stack\nname: ${QUICK_STACK}\nspec:\n  chart: bench\n`);

    const clean = async () => {
      try {
        docker(['stack', 'rm', DOCKER_STACK]);
      } catch {}
      await sweep(client, `${DOCKER_STACK}_`);
      await sweep(client, `${KEELSON_STACK}_`);
      await sweep(client, `${QUICK_STACK}_`);
      // Swarm removes an overlay network a moment after the call returns: wait until it is gone.
      const mine = (n: { Name: string }) =>
        [DOCKER_STACK, KEELSON_STACK, QUICK_STACK].some((stack) => n.Name.startsWith(`${stack}_`));
      while ((await client.listNetworks({})).some(mine)) await new Promise((r) => setTimeout(r, 100));
      rmSync(join(root, 'state.json'), { force: true });
      rmSync(join(root, 'quick-state.json'), { force: true });
    };
    const composeFile = join(chart, 'docker-compose.yml');
    const registry = new ProviderRegistry([swarmModule], [provider]);
    const quickRegistry = new ProviderRegistry([swarmModule], [quickProvider]);
    const pass = async (quick = false) => {
      const reg = quick ? quickRegistry : registry;
      const loaded = loadDesiredState(quick ? quickDesired : desired, reg, { root });
      if (loaded.diagnostics.length) throw new Error(loaded.diagnostics.map((d) => d.message).join('; '));
      const result = await runPass({
        resources: loaded.resources,
        revision: 'bench',
        registry: reg,
        store: new FileStateStore(join(root, quick ? 'quick-state.json' : 'state.json')),
        owner: 'keelson-bench',
        mode: 'apply',
        secrets: envSecretSource({}),
        log: silentLogger,
      });
      if (result.errors.length) throw new Error(result.errors.map((e) => e.message).join('; '));
      return result;
    };
    // docker stack deploy: the command returns once the specs are sent; "converged" waits for the tasks.
    const dockerDeploy = async () => {
      const t0 = performance.now();
      const epoch = Date.now();
      docker(['stack', 'deploy', '--resolve-image', 'never', '-c', composeFile, DOCKER_STACK]);
      const sent = performance.now() - t0;
      await converged(client, DOCKER_STACK);
      const total = performance.now() - t0;
      return { sent, converged: total, running: await lastRunning(client, DOCKER_STACK, epoch) };
    };
    const keelsonDeploy = async (quick = false) => {
      const t0 = performance.now();
      const epoch = Date.now();
      await pass(quick);
      const total = performance.now() - t0;
      return { converged: total, running: await lastRunning(client, quick ? QUICK_STACK : KEELSON_STACK, epoch) };
    };
    const dockerTimes: number[] = [];
    const keelsonTimes: number[] = [];
    const dockerRunning: number[] = [];
    const keelsonRunning: number[] = [];
    const quickTimes: number[] = [];
    const quickRunning: number[] = [];
    let dockerSent = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const sides = [
        async () => {
          const d = await dockerDeploy();
          dockerSent = d.sent;
          dockerTimes.push(d.converged);
          dockerRunning.push(d.running);
        },
        async () => {
          const k = await keelsonDeploy();
          keelsonTimes.push(k.converged);
          keelsonRunning.push(k.running);
          await converged(client, KEELSON_STACK);
        },
        async () => {
          const k = await keelsonDeploy(true);
          quickTimes.push(k.converged);
          quickRunning.push(k.running);
          await converged(client, QUICK_STACK);
        },
      ];
      // Each side goes first, second and third in turn (a shared, loaded machine drifts).
      for (let i = 0; i < sides.length; i++) {
        await clean();
        await (sides[(i + round) % sides.length] as () => Promise<void>)();
      }
    }
    // The no-op figures below need the docker and keelson stacks deployed, once more, side by side.
    await clean();
    await dockerDeploy();
    await keelsonDeploy();
    const dockerScratch = median(dockerTimes);
    const keelsonScratch = median(keelsonTimes);
    let before = await snapshot(client, DOCKER_STACK);
    let t = performance.now();
    docker(['stack', 'deploy', '--resolve-image', 'never', '-c', composeFile, DOCKER_STACK]);
    const dockerNoopSent = performance.now() - t;
    await converged(client, DOCKER_STACK);
    const dockerNoop = performance.now() - t;
    const dockerUpdates = updatesBetween(before, await snapshot(client, DOCKER_STACK));

    before = await snapshot(client, KEELSON_STACK);
    const writes = client.writeCount();
    const reads = client.readCount();
    t = performance.now();
    const noop = await pass();
    const keelsonNoop = performance.now() - t;
    const keelsonUpdates = updatesBetween(before, await snapshot(client, KEELSON_STACK));

    console.log(`${SERVICES}-service stack (one network, one config) on the local Swarm`);
    console.log('                               docker stack deploy   keelson apply (runPass)');
    console.log(`from scratch, specs sent       ${seconds(dockerSent).padEnd(22)}(one pass includes the wait)`);
    console.log(
      `from scratch, converged        ${seconds(dockerScratch).padEnd(22)}${seconds(keelsonScratch)} (median of ${ROUNDS})`,
    );
    console.log(
      `  each round                   ${dockerTimes.map(seconds).join(', ')} | ${keelsonTimes.map(seconds).join(', ')}`,
    );
    console.log(
      `  with stableMs 0              ${''.padEnd(22)}${seconds(median(quickTimes))} (running is enough: ${quickTimes.map(seconds).join(', ')})`,
    );
    console.log(
      `last task running at          ${seconds(median(dockerRunning)).padEnd(22)}${seconds(median(keelsonRunning))} (by the tasks' timestamps; the rest is waiting: keelson's tasks keep running 1 s; ${seconds(median(quickRunning))} with stableMs 0)`,
    );
    console.log(
      `no-op deploy, wall time        ${seconds(dockerNoopSent).padEnd(22)}${seconds(keelsonNoop)} (${noop.outcome})`,
    );
    console.log(`no-op deploy, until settled    ${seconds(dockerNoop).padEnd(22)}${seconds(keelsonNoop)}`);
    console.log(`no-op deploy, service updates  ${String(dockerUpdates).padEnd(22)}${keelsonUpdates}`);
    console.log(
      `keelson no-op pass: ${client.writeCount() - writes} write calls, ${client.readCount() - reads} read calls to the Docker API`,
    );
  } finally {
    try {
      docker(['stack', 'rm', DOCKER_STACK]);
    } catch {}
    await sweep(client, `${DOCKER_STACK}_`).catch(() => undefined);
    await sweep(client, `${KEELSON_STACK}_`).catch(() => undefined);
    rmSync(root, { recursive: true, force: true });
    await swarm.stop();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await run();
