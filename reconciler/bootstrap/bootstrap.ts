import { join } from 'node:path';
import {
  type DesiredResource,
  errorMessage,
  type HandlerContext,
  type Logger,
  type ObservedResource,
  type Provider,
  type ProviderModule,
} from '../../providers/sdk/index.ts';
import { createSwarmProvider, type SshAccess } from '../../providers/swarm/index.ts';
import { formatDiagnostic } from '../desired/diagnostic.ts';
import { listYamlFiles, loadDesiredState } from '../desired/load.ts';
import { type PassResult, runPass } from '../engine/pass.ts';
import { type SecretSource, secretNames } from '../engine/secrets.ts';
import { loadProviderModules, providersUsedBy } from '../providers/catalogue.ts';
import { ProviderRegistry } from '../providers/registry.ts';
import type { DesiredStateSource, SourceSnapshot } from '../source/source.ts';
import type { StateStore } from '../state/types.ts';
import { BootstrapError, type BootstrapStep } from './bootstrap-error.ts';
import { type NodeAccess, NodeEngine, type ReadyzAnswer } from './node-engine.ts';
import { formSwarm } from './swarm-formation.ts';

/** One line of the report: what a step did to one node or resource. */
export interface BootstrapLine {
  readonly step: BootstrapStep;
  /** A resource key (`hetzner.Server/swarm-1`) or a node (`swarm-1`). */
  readonly subject: string;
  /** `created`, `updated`, `set`, `already there`, `initialised`, `joined`, `reachable`, `running`, `fetched`, `left alone`. */
  readonly status: string;
  readonly detail?: string;
}

/** Where a node's engine is, when not `ssh://root@<public ip>` with the server's private address. */
export interface NodeOverride {
  readonly dockerHost: string;
  readonly advertiseAddr?: string;
}

export interface BootstrapOptions {
  /** The desired-state repository (as `keelson serve` follows it). */
  readonly source: DesiredStateSource;
  /** HCLOUD_TOKEN / HCLOUD_TOKEN_FILE / HCLOUD_ENDPOINT, as the hetzner provider reads them. */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Where bootstrap records what it applied (the inventory, the create journal). */
  readonly store: StateStore;
  /** Owner id in ownership labels: the one keelson on the Swarm runs with. */
  readonly owner: string;
  /** Secret values (keelson's own Swarm secrets come from here). */
  readonly secrets: SecretSource;
  readonly log: Logger;
  /** Per-node engine address and advertised address (tests, a bastion), by server name. */
  readonly nodes?: ReadonlyMap<string, NodeOverride>;
  /** Login for `ssh://` engines (default: the SSH agent). */
  readonly ssh?: SshAccess;
  /** The swarm.Stack that runs keelson. Default `keelson`. */
  readonly stack?: string;
  /** How long one step may wait for the world (servers starting, Docker answering, a task running). Default 15 min. */
  readonly stepTimeoutMs?: number;
  readonly onLine: (line: BootstrapLine) => void;
  /** Waits between looks (default: setTimeout). */
  readonly pause?: (ms: number) => Promise<void>;
}

export interface BootstrapResult {
  readonly revision: string;
  /** The first manager (the Swarm's entry point keelson was deployed through). */
  readonly manager: { readonly name: string; readonly endpoint: string };
  /** keelson's services and what their /readyz said. */
  readonly services: readonly { readonly name: string; readonly node: string; readonly readyz?: ReadyzAnswer }[];
}

const SERVER = 'hetzner.Server';
const NODE = 'swarm.Node';

/**
 * `keelson bootstrap`: from an empty Hetzner project and the desired-state repository to keelson
 * running on a formed Swarm, in six steps, each safe to run again:
 *   source   fetch the repository and load the desired state (nothing is done with an invalid one);
 *   hetzner  apply the hetzner.* part through the engine, wait until the servers run;
 *   docker   wait until each node's Docker Engine answers (over SSH by default);
 *   swarm    init on the first node, join the others as managers (nodes already in it: left alone);
 *   labels   apply the swarm.Node part (labels the charts place by);
 *   keelson  apply keelson's own stack (and what it depends on) through the swarm provider, its
 *            secrets from the local secret source; wait for a running task and its /readyz.
 * Passes are scoped to their kinds and never prune: deleting is keelson's job once it runs.
 */
export async function runBootstrap(o: BootstrapOptions): Promise<BootstrapResult> {
  const timeoutMs = o.stepTimeoutMs ?? 15 * 60_000;
  const pause = o.pause ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const deadline = () => Date.now() + timeoutMs;

  // --- source ----------------------------------------------------------------------------
  let snap: SourceSnapshot;
  try {
    snap = await o.source.sync();
  } catch (error) {
    throw new BootstrapError(
      'source',
      o.source.description,
      `cannot fetch the desired state: ${errorMessage(error)}`,
      'check the repository URL, branch and credentials (KEELSON_SOURCE_URL, KEELSON_SOURCE_BRANCH, KEELSON_GIT_TOKEN_FILE or source.* in --config)',
    );
  }
  const used = providersUsedBy(listYamlFiles(snap.dir, snap.root)) ?? new Set<string>();
  const modules = await loadProviderModules(new Set([...used, 'hetzner', 'swarm']));
  const loaded = loadDesiredState(snap.dir, new ProviderRegistry(modules), { root: snap.root });
  const problems = loaded.diagnostics.filter((d) => d.severity === 'error');
  if (problems.length > 0) {
    const first = problems[0];
    throw new BootstrapError(
      'source',
      `${o.source.description} at ${snap.revision}`,
      `the desired state has ${problems.length} error(s), nothing is applied; the first: ${first ? formatDiagnostic({ ...first, file: first.file ? join(snap.dir, first.file) : first.file }) : ''}`,
      'fix them ("keelson validate DIR" lists them all), push, and run keelson bootstrap again',
    );
  }
  const resources = loaded.resources;
  o.onLine({
    step: 'source',
    subject: o.source.description,
    status: 'fetched',
    detail: `revision ${snap.revision.slice(0, 12)}, ${resources.length} resources`,
  });
  const pass = (registry: ProviderRegistry) => passRunner(o, registry, snap.revision);

  // --- hetzner ---------------------------------------------------------------------------
  const hetzner = createProvider(modules, 'hetzner', o);
  const hetznerResources = resources.filter((r) => r.provider === 'hetzner');
  const servers = hetznerResources.filter((r) => r.kind === SERVER);
  if (servers.length === 0) {
    throw new BootstrapError(
      'hetzner',
      snap.dir,
      'the desired state declares no hetzner.Server',
      'declare the Swarm nodes (see desired-state/hetzner) and run keelson bootstrap again',
    );
  }
  const hetznerOnly = new ProviderRegistry(modules, [hetzner]);
  await converge('hetzner', pass(hetznerOnly), hetznerResources, deadline(), pause, o.onLine);
  const nodeNames = swarmNodeNames(resources, servers);
  const live = await waitForServers(o, hetzner, nodeNames, deadline(), pause);

  // --- docker ----------------------------------------------------------------------------
  const engines = nodeNames.map((name) => new NodeEngine(accessFor(name, live.get(name), o.nodes), o.ssh));
  for (const name of o.nodes?.keys() ?? []) {
    if (!nodeNames.includes(name))
      throw new BootstrapError(
        'docker',
        `node ${name}`,
        `--node names a server that is not a Swarm node of the desired state (nodes: ${nodeNames.join(', ')})`,
        'use the names of the hetzner.Server resources that have a swarm.Node of the same name',
      );
  }
  // Waited for together, reported in node order.
  const reachable = await Promise.all(engines.map((e) => waitForEngine(e, deadline(), pause)));
  const unchecked = o.ssh?.knownHosts === undefined;
  for (const line of reachable)
    o.onLine(
      unchecked && line.detail?.includes(' at ssh://')
        ? { ...line, detail: `${line.detail}; its SSH host key was not checked (--known-hosts FILE)` }
        : line,
    );

  // --- swarm -----------------------------------------------------------------------------
  const formed = await formSwarm(engines, { deadline: deadline(), pause });
  for (const l of formed.lines) o.onLine({ step: 'swarm', subject: l.node, status: l.status, detail: l.detail });
  const via = formed.via;

  // --- labels ----------------------------------------------------------------------------
  const swarm = createSwarmProvider({ dockerHost: via.endpoint, ...(o.ssh ? { ssh: o.ssh } : {}) });
  const both = new ProviderRegistry(modules, [hetzner, swarm]);
  const nodes = resources.filter((r) => r.kind === NODE);
  if (nodes.length > 0) await converge('labels', pass(both), nodes, deadline(), pause, o.onLine);

  // --- keelson ---------------------------------------------------------------------------
  const stackKey = `swarm.Stack/${o.stack ?? 'keelson'}`;
  const own = resources.filter((r) => r.parent === stackKey);
  if (own.length === 0) {
    throw new BootstrapError(
      'keelson',
      stackKey,
      `the desired state at ${snap.dir} has no such stack`,
      "declare keelson's own stack (kind: swarm.Stack, spec.chart: keelson; see desired-state/swarm/stacks.yaml), or name yours with --stack",
    );
  }
  const closure = withDependencies(own, resources);
  const services = own.filter((r) => r.kind === 'swarm.Service');
  await converge('keelson', pass(both), await creatable(pass(both), closure), deadline(), pause, o.onLine);
  const byName = new Map(engines.map((e) => [e.name, e]));
  const running: { name: string; node: string; readyz?: ReadyzAnswer }[] = [];
  for (const s of services) {
    const found = await waitForRunningTask(via, s, byName, deadline(), pause);
    running.push(found);
    o.onLine({
      step: 'keelson',
      subject: s.name,
      status: 'running',
      detail: `task on ${found.node}${found.readyz ? `; /readyz ${describeReadyz(found.readyz)}` : ''}`,
    });
  }
  return { revision: snap.revision, manager: { name: via.name, endpoint: via.endpoint }, services: running };
}

/** The provider `name` made from the environment, or a step error saying what is missing. */
function createProvider(modules: readonly ProviderModule[], name: string, o: BootstrapOptions): Provider {
  const module = modules.find((m) => m.name === name);
  const made = module?.create({ env: o.env, log: o.log });
  if (!made || 'unavailable' in made) {
    throw new BootstrapError(
      'hetzner',
      'the Hetzner project',
      made ? made.unavailable : `provider ${name} is not in this build`,
      'set HCLOUD_TOKEN (a Read & Write API token of the project, or HCLOUD_TOKEN_FILE) and, for another API endpoint, HCLOUD_ENDPOINT',
    );
  }
  return made;
}

type PassRun = (resources: readonly DesiredResource[], mode: 'plan' | 'apply') => Promise<PassResult>;

function passRunner(o: BootstrapOptions, registry: ProviderRegistry, revision: string): PassRun {
  return async (resources, mode) => {
    await o.secrets.prepare?.(secretNames(resources));
    const result = await runPass({
      resources,
      revision,
      registry,
      store: o.store,
      owner: o.owner,
      mode,
      scope: { kinds: new Set(resources.map((r) => r.kind)) },
      secrets: o.secrets,
      log: o.log,
    });
    o.secrets.completed?.();
    return result;
  };
}

const STATUS: Record<BootstrapStep, { create: string; update: string }> = {
  source: { create: 'created', update: 'updated' },
  hetzner: { create: 'created', update: 'updated' },
  docker: { create: 'created', update: 'updated' },
  swarm: { create: 'created', update: 'updated' },
  labels: { create: 'set', update: 'set' },
  keelson: { create: 'created', update: 'updated' },
};

/**
 * Applies `resources` (one scoped pass after another) until a pass has nothing left to do and
 * nothing waits; reports each resource once: what the first pass that touched it did, or
 * "already there". A failure that waiting cannot fix stops the step, naming the resource.
 */
async function converge(
  step: BootstrapStep,
  run: PassRun,
  resources: readonly DesiredResource[],
  deadline: number,
  pause: (ms: number) => Promise<void>,
  onLine: (line: BootstrapLine) => void,
): Promise<void> {
  const status = new Map<string, { status: string; detail?: string }>();
  for (;;) {
    const result = await run(resources, 'apply');
    for (const r of result.results) {
      if (r.status !== 'applied' || status.has(r.key)) continue;
      status.set(r.key, { status: r.action === 'create' ? STATUS[step].create : STATUS[step].update });
    }
    const failed = hardFailure(result);
    if (failed) throw new BootstrapError(step, failed.subject, failed.message, hintFor(step, failed.code));
    const open = result.plan.changes.filter(
      (c) => (c.action !== 'no-op' && c.action !== 'skip') || c.reason === 'not-ready',
    );
    const waiting = result.errors.filter((e) => e.severity === 'error');
    if (open.length === 0 && waiting.length === 0) {
      for (const c of result.plan.changes) {
        if (status.has(c.key)) continue;
        if (c.action === 'no-op') status.set(c.key, { status: 'already there' });
        else if (c.action === 'skip') status.set(c.key, { status: 'left alone', detail: c.detail ?? c.reason ?? '' });
      }
      break;
    }
    if (Date.now() >= deadline) {
      const what = [...open.map((c) => `${c.key} (${c.detail ?? c.action})`), ...waiting.map((e) => e.message)];
      throw new BootstrapError(
        step,
        open.map((c) => c.key).join(', ') || 'the pass',
        `still not done when the step's time ran out: ${what.join('; ')}`,
        'run keelson bootstrap again (it goes on from where it is), or raise --timeout',
      );
    }
    await pause(Math.min(Math.max(result.requeueAfterMs ?? 1_000, 250), 5_000));
  }
  for (const r of resources) {
    const s = status.get(r.key);
    if (s) onLine({ step, subject: r.key, status: s.status, ...(s.detail ? { detail: s.detail } : {}) });
  }
}

/** A failure of the pass that waiting does not fix (anything but "not ready yet" and "waiting"). */
function hardFailure(result: PassResult): { subject: string; message: string; code: string } | undefined {
  if (result.plan.refused) return { subject: 'the plan', message: result.plan.refused.message, code: 'REFUSED' };
  const failed = result.results.find((r) => r.status === 'failed' && r.error?.class !== 'waiting');
  if (failed?.error) return { subject: failed.key, message: failed.error.message, code: failed.error.code };
  const error = result.errors.find(
    (e) => e.severity === 'error' && e.class !== 'waiting' && e.code !== 'NOT_READY' && e.code !== 'JOURNAL_UNRESOLVED',
  );
  if (error)
    return {
      subject: error.key ?? error.kind ?? error.provider ?? 'the pass',
      message: error.message,
      code: error.code,
    };
  return undefined;
}

function hintFor(step: BootstrapStep, code: string): string {
  if (step === 'hetzner' && code === 'UNAVAILABLE')
    return 'check HCLOUD_TOKEN (a Read & Write API token of this project) and HCLOUD_ENDPOINT, then run keelson bootstrap again';
  if (code === 'INVALID_SPEC')
    return 'fix the desired state, or give the missing secret (KEELSON_SECRET_<NAME> or a file in the secrets directory), then run keelson bootstrap again';
  if (code === 'CONFLICT_UNOWNED')
    return "something of that name exists and is not keelson's: remove or rename it, or set adopt: true on the resource";
  return 'fix the cause and run keelson bootstrap again (what is done stays done)';
}

/**
 * The servers that are Swarm nodes: those with a swarm.Node of the same name (its hostname), in
 * name order (the first one initialises the Swarm). Without any swarm.Node, every server.
 */
function swarmNodeNames(resources: readonly DesiredResource[], servers: readonly DesiredResource[]): string[] {
  const declared = new Set(resources.filter((r) => r.kind === NODE).map((r) => r.name));
  const names = servers.map((s) => s.name).filter((n) => declared.size === 0 || declared.has(n));
  if (names.length === 0) {
    throw new BootstrapError(
      'hetzner',
      'the Swarm nodes',
      `no hetzner.Server has a swarm.Node of the same name (servers: ${servers.map((s) => s.name).join(', ')})`,
      'name each swarm.Node after its server (Hetzner makes the server name the hostname)',
    );
  }
  return names.sort(new Intl.Collator(undefined, { numeric: true }).compare);
}

/** Waits until every node's server runs; returns each one's live state (addresses). */
async function waitForServers(
  o: BootstrapOptions,
  hetzner: Provider,
  names: readonly string[],
  deadline: number,
  pause: (ms: number) => Promise<void>,
): Promise<Map<string, ObservedResource>> {
  const handler = hetzner.kinds.find((k) => k.schema.kind === SERVER)?.handler;
  if (!handler)
    throw new BootstrapError('hetzner', SERVER, 'the hetzner provider has no server handler', 'report this');
  const ctx: HandlerContext = {
    owner: o.owner,
    log: o.log,
    signal: new AbortController().signal,
    inventory: { get: () => undefined, list: () => [], set: async () => {}, remove: async () => {} },
  };
  for (;;) {
    const seen = new Map(
      (await handler.observe(ctx, { kind: SERVER, names: [...names], desired: [] })).map((s) => [s.name, s]),
    );
    const notReady = names.filter((n) => !seen.get(n)?.ready);
    if (notReady.length === 0) return seen;
    if (Date.now() >= deadline) {
      throw new BootstrapError(
        'hetzner',
        notReady.map((n) => `${SERVER}/${n}`).join(', '),
        `not running when the step's time ran out (${notReady.map((n) => `${n}: ${seen.get(n)?.message ?? 'not found'}`).join('; ')})`,
        'look at the server in the Hetzner console, then run keelson bootstrap again',
      );
    }
    await pause(2_000);
  }
}

/** The engine address and advertised address of a node: its override, else SSH to its public IPv4 and its private address. */
function accessFor(
  name: string,
  server: ObservedResource | undefined,
  overrides: ReadonlyMap<string, NodeOverride> | undefined,
): NodeAccess {
  const override = overrides?.get(name);
  const privateIp = typeof server?.outputs?.privateIp === 'string' ? server.outputs.privateIp : undefined;
  const ipv4 = typeof server?.outputs?.ipv4 === 'string' ? server.outputs.ipv4 : undefined;
  const advertiseAddr = override?.advertiseAddr ?? privateIp;
  if (!advertiseAddr) {
    throw new BootstrapError(
      'docker',
      `node ${name}`,
      'the server has no private network address to advertise in the Swarm',
      `attach it to the private network (spec.networks), or name the address with --node ${name}=DOCKER_HOST,advertise=ADDR`,
    );
  }
  if (override) return { name, dockerHost: override.dockerHost, advertiseAddr };
  if (!ipv4) {
    throw new BootstrapError(
      'docker',
      `node ${name}`,
      'the server has no public IPv4 address to reach its Docker Engine over SSH',
      `reach it another way with --node ${name}=ssh://root@ADDRESS (e.g. through a bastion's forwarded port)`,
    );
  }
  return { name, dockerHost: `ssh://root@${ipv4}`, advertiseAddr };
}

/** Waits until a node's Docker Engine answers (cloud-init installs it after the first boot). */
async function waitForEngine(
  engine: NodeEngine,
  deadline: number,
  pause: (ms: number) => Promise<void>,
): Promise<BootstrapLine> {
  for (;;) {
    try {
      const version = await engine.version();
      return {
        step: 'docker',
        subject: engine.name,
        status: 'reachable',
        detail: `Docker ${version} at ${engine.endpoint}`,
      };
    } catch (error) {
      if (Date.now() >= deadline) {
        throw new BootstrapError(
          'docker',
          `node ${engine.name} (${engine.endpoint})`,
          `no Docker Engine answered: ${errorMessage(error)}`,
          engine.endpoint.startsWith('ssh://')
            ? `check that cloud-init has finished (ssh ${engine.endpoint.slice(6)} cloud-init status --wait), that your SSH agent (SSH_AUTH_SOCK) or --ssh-key holds a key the server accepts, and, with --known-hosts, that the file lists the server's host key`
            : 'check that the engine runs and that --node gives its address',
        );
      }
      await pause(2_000);
    }
  }
}

/**
 * The closure of `own` under dependsOn (references included: the loader lists them there), in
 * the desired state's order: keelson's stack and what it cannot run without (its networks, in
 * production Traefik's and Netdata's stacks).
 */
function withDependencies(own: readonly DesiredResource[], all: readonly DesiredResource[]): DesiredResource[] {
  const byKey = new Map(all.map((r) => [r.key, r]));
  const keys = new Set<string>();
  const visit = (key: string): void => {
    if (keys.has(key)) return;
    const r = byKey.get(key);
    if (!r) return;
    keys.add(key);
    for (const d of r.dependsOn) visit(d);
  };
  for (const r of own) visit(r.key);
  return all.filter((r) => keys.has(r.key));
}

/**
 * What bootstrap may create of keelson's stack: everything missing, whatever its policy (the
 * company tree keeps its own stack under `policy: observe`, so a bad commit cannot take the
 * reconciler down; bootstrap is the one deploy that policy leaves to a person). What exists keeps
 * its policy: an `observe` resource that differs from Git is reported, not changed.
 */
async function creatable(run: PassRun, closure: readonly DesiredResource[]): Promise<DesiredResource[]> {
  const asEnforced = closure.map((r) => (r.policy === 'observe' ? { ...r, policy: 'enforce' as const } : r));
  const planned = await run(asEnforced, 'plan');
  const failed = hardFailure(planned);
  if (failed) throw new BootstrapError('keelson', failed.subject, failed.message, hintFor('keelson', failed.code));
  const missing = new Set(planned.plan.changes.filter((c) => c.action === 'create').map((c) => c.key));
  return closure.map((r) => (r.policy === 'observe' && missing.has(r.key) ? { ...r, policy: 'enforce' as const } : r));
}

interface TaskView {
  readonly NodeID?: string;
  readonly Status: {
    readonly State: string;
    readonly Err?: string;
    readonly ContainerStatus?: { readonly ContainerID?: string };
  };
}

/**
 * Waits until the service has a running task, then asks that task's /readyz from inside its
 * container on its node's engine (when bootstrap reaches that engine). Any HTTP answer counts:
 * 200 is a leader in step, 503 says why not yet (printed for the person).
 */
async function waitForRunningTask(
  via: NodeEngine,
  service: DesiredResource,
  engines: ReadonlyMap<string, NodeEngine>,
  deadline: number,
  pause: (ms: number) => Promise<void>,
): Promise<{ name: string; node: string; readyz?: ReadyzAnswer }> {
  const env = (service.spec.env ?? {}) as Record<string, unknown>;
  const port = Number(env.KEELSON_HTTP_PORT ?? 8080) || 8080;
  let last = 'no task yet';
  let lastAnswer: ReadyzAnswer | undefined;
  for (;;) {
    const tasks = (await via.client.listTasks({ service: [service.name] })) as unknown as TaskView[];
    const runningTasks = tasks.filter((t) => t.Status.State === 'running');
    const latest = tasks[tasks.length - 1];
    if (latest) last = `${latest.Status.State}${latest.Status.Err ? `: ${latest.Status.Err}` : ''}`;
    if (runningTasks.length > 0) {
      const hostnames = new Map((await via.swarmNodes()).map((n) => [n.id, n.hostname]));
      for (const t of runningTasks) {
        const node = hostnames.get(t.NodeID ?? '') ?? t.NodeID ?? 'unknown';
        const engine = engines.get(node);
        const container = t.Status.ContainerStatus?.ContainerID;
        // A node bootstrap cannot reach: the running task is what can be known.
        if (!engine || !container) return { name: service.name, node };
        lastAnswer = await engine.readyz(container, port);
        if (lastAnswer.type === 'answer') return { name: service.name, node, readyz: lastAnswer };
      }
    }
    if (Date.now() >= deadline) {
      throw new BootstrapError(
        'keelson',
        `service ${service.name}`,
        runningTasks.length > 0
          ? `a task runs but its /readyz on port ${port} did not answer (${lastAnswer?.type === 'no-answer' ? lastAnswer.why : 'no answer'})`
          : `no running task when the step's time ran out (last task: ${last})`,
        `look at "docker service ps --no-trunc ${service.name}" and "docker service logs ${service.name}" on ${via.name}`,
      );
    }
    await pause(1_000);
  }
}

export function describeReadyz(a: ReadyzAnswer): string {
  if (a.type === 'no-answer') return `no answer (${a.why})`;
  let extra = '';
  try {
    const body = JSON.parse(a.body) as { role?: string; reasons?: string[] };
    extra = [body.role, ...(a.status === 200 ? [] : (body.reasons ?? []))].filter(Boolean).join('; ');
  } catch {
    extra = a.body.slice(0, 200);
  }
  return `answered ${a.status}${a.status === 200 ? ' (ready)' : ' (not ready yet)'}${extra ? `: ${extra}` : ''}`;
}
