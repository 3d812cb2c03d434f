/**
 * The mapping between keelson's `swarm.Service` spec (Compose-like, what the user writes) and
 * Docker's ServiceSpec, both ways, and the normaliser that gives both sides one canonical shape:
 * every field present (so a removed env var or mount shows as a change), Swarm's defaults filled
 * in, durations and sizes in one spelling, maps sorted.
 */
import { isPlainObject, SecretValue, UnknownValue } from '../../sdk/index.ts';
import type { DockerServiceSpec } from '../client/client.ts';
import {
  canonicalBytes,
  canonicalDuration,
  formatBytes,
  formatDuration,
  parseBytes,
  parseDuration,
} from '../compose/units.ts';

type Spec = Record<string, unknown>;

export interface FileRef {
  source: unknown;
  target: string;
  uid: string;
  gid: string;
  mode: number;
}

export interface RolloutConfig {
  parallelism: number;
  delay: string;
  failureAction: string;
  monitor: string;
  maxFailureRatio: number;
  order: string;
}

/** The canonical service spec. `source`/`name` values may still be unresolved references. */
export interface ServiceSpec {
  image: string;
  command: string[];
  args: string[];
  env: Record<string, string>;
  workdir: string;
  user: string;
  hostname: string;
  init: boolean;
  stopGracePeriod: string;
  labels: Record<string, string>;
  containerLabels: Record<string, string>;
  mounts: { type: string; source: string; target: string; readOnly: boolean }[];
  networks: { name: unknown; aliases: string[] }[];
  secrets: FileRef[];
  configs: FileRef[];
  ports: { target: number; published: number; protocol: string; mode: string }[];
  endpointMode: string;
  healthcheck: { test: string[]; interval: string; timeout: string; retries: number; startPeriod: string } | undefined;
  deploy: {
    mode: string;
    replicas: number | undefined;
    placement: { constraints: string[]; preferences: string[]; maxReplicas: number };
    resources: {
      limits: { cpus: number; memory: string; pids: number };
      reservations: { cpus: number; memory: string };
    };
    restartPolicy: { condition: string; delay: string; maxAttempts: number; window: string };
    updateConfig: RolloutConfig;
    rollbackConfig: RolloutConfig;
  };
}

const obj = (v: unknown): Spec => (isPlainObject(v) ? v : {});
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const text = (v: unknown, dflt = ''): string =>
  typeof v === 'string' ? v : v === undefined || v === null ? dflt : String(v);
const num = (v: unknown, dflt = 0): number =>
  typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v)) ? Number(v) : dflt;
const strs = (v: unknown): string[] => arr(v).map((x) => text(x));
const sortedMap = (v: unknown): Record<string, string> => {
  const m = obj(v);
  const out: Record<string, string> = {};
  for (const k of Object.keys(m).sort()) out[k] = text(m[k]);
  return out;
};
/** A value that stands for something not known yet (a reference) passes through untouched. */
const opaque = (v: unknown): unknown => (v instanceof UnknownValue || v instanceof SecretValue ? v : text(v));
const dur = (v: unknown, dflt: string): string =>
  v === undefined || v === null || v === '' ? dflt : safe(() => canonicalDuration(v as string), text(v));
const bytes = (v: unknown): string =>
  v === undefined || v === null || v === '' ? '0' : safe(() => canonicalBytes(v as string), text(v));

function safe<T>(fn: () => T, fallback: T): T {
  try {
    return fn();
  } catch {
    return fallback;
  }
}

function rollout(v: unknown, failureAction: string): RolloutConfig {
  const c = obj(v);
  return {
    parallelism: num(c.parallelism, 1),
    delay: dur(c.delay, '0s'),
    failureAction: text(c.failureAction, failureAction) || failureAction,
    monitor: dur(c.monitor, '5s'),
    maxFailureRatio: num(c.maxFailureRatio, 0),
    order: text(c.order, 'stop-first') || 'stop-first',
  };
}

function fileRefs(v: unknown): FileRef[] {
  return arr(v).map((x) => {
    const f = obj(x);
    return {
      source: opaque(f.source),
      target: text(f.target),
      uid: text(f.uid, '0') || '0',
      gid: text(f.gid, '0') || '0',
      mode: num(f.mode, 0o444),
    };
  });
}

/** The canonical form of a service spec (desired or observed). Pure and idempotent. */
export function normalizeService(spec: Readonly<Spec>): ServiceSpec {
  const deploy = obj(spec.deploy);
  const placement = obj(deploy.placement);
  const resources = obj(deploy.resources);
  const limits = obj(resources.limits);
  const reservations = obj(resources.reservations);
  const restart = obj(deploy.restartPolicy);
  const mode = text(deploy.mode, 'replicated') || 'replicated';
  const health = spec.healthcheck === undefined || spec.healthcheck === null ? undefined : obj(spec.healthcheck);
  return {
    image: text(spec.image),
    command: strs(spec.command),
    args: strs(spec.args),
    env: sortedMap(spec.env),
    workdir: text(spec.workdir),
    user: text(spec.user),
    hostname: text(spec.hostname),
    init: spec.init === true,
    stopGracePeriod: dur(spec.stopGracePeriod, '10s'),
    labels: sortedMap(spec.labels),
    containerLabels: sortedMap(spec.containerLabels),
    mounts: arr(spec.mounts).map((x) => {
      const m = obj(x);
      return {
        type: text(m.type, 'volume') || 'volume',
        source: text(m.source),
        target: text(m.target),
        readOnly: m.readOnly === true,
      };
    }),
    networks: arr(spec.networks).map((x) => {
      const n = obj(x);
      return { name: opaque(n.name), aliases: strs(n.aliases).sort() };
    }),
    secrets: fileRefs(spec.secrets),
    configs: fileRefs(spec.configs),
    ports: arr(spec.ports).map((x) => {
      const p = obj(x);
      return {
        target: num(p.target),
        published: num(p.published),
        protocol: text(p.protocol, 'tcp') || 'tcp',
        mode: text(p.mode, 'ingress') || 'ingress',
      };
    }),
    endpointMode: text(spec.endpointMode, 'vip') || 'vip',
    healthcheck: health && {
      test: strs(health.test),
      interval: dur(health.interval, '0s'),
      timeout: dur(health.timeout, '0s'),
      retries: num(health.retries, 0),
      startPeriod: dur(health.startPeriod, '0s'),
    },
    deploy: {
      mode,
      replicas: mode === 'global' ? undefined : num(deploy.replicas, 1),
      placement: {
        constraints: strs(placement.constraints)
          .map((c) => c.replace(/\s+/g, ''))
          .sort(),
        preferences: strs(placement.preferences),
        maxReplicas: num(placement.maxReplicas, 0),
      },
      resources: {
        limits: { cpus: num(limits.cpus, 0), memory: bytes(limits.memory), pids: num(limits.pids, 0) },
        reservations: { cpus: num(reservations.cpus, 0), memory: bytes(reservations.memory) },
      },
      restartPolicy: {
        condition: text(restart.condition, 'any') || 'any',
        delay: dur(restart.delay, '5s'),
        maxAttempts: num(restart.maxAttempts, 0),
        window: dur(restart.window, '0s'),
      },
      updateConfig: rollout(deploy.updateConfig, 'rollback'),
      rollbackConfig: rollout(deploy.rollbackConfig, 'pause'),
    },
  };
}

/** Live ids the desired references were resolved to, for building a Docker spec. */
export interface ResolvedRefs {
  /** Network name (or id) -> network id. */
  network(name: string): string;
  secret(source: string): { id: string; name: string };
  config(source: string): { id: string; name: string };
}

const nanos = (d: string): number => parseDuration(d);
const nanoCpus = (cpus: number): number => Math.round(cpus * 1e9);

function dockerRollout(c: RolloutConfig): Spec {
  return {
    Parallelism: c.parallelism,
    Delay: nanos(c.delay),
    FailureAction: c.failureAction,
    Monitor: nanos(c.monitor),
    MaxFailureRatio: c.maxFailureRatio,
    Order: c.order,
  };
}

function without<T extends Spec>(o: T): T {
  for (const k of Object.keys(o)) if (o[k] === undefined) delete o[k];
  return o;
}

/**
 * Docker's ServiceSpec for a canonical spec. `labels` are the service's labels, ownership ones
 * included; nothing keelson writes for itself goes into the task template, so bookkeeping never
 * restarts a task. `forceUpdate` carries the live counter over (changing it restarts every task).
 */
export function toDockerSpec(
  name: string,
  s: ServiceSpec,
  image: string,
  labels: Record<string, string>,
  refs: ResolvedRefs,
  forceUpdate: number,
): DockerServiceSpec {
  const file = (f: FileRef) => ({ Name: f.target, UID: f.uid, GID: f.gid, Mode: f.mode });
  const containerSpec = without({
    Image: image,
    Command: s.command.length ? s.command : undefined,
    Args: s.args.length ? s.args : undefined,
    Env: Object.keys(s.env).length ? Object.entries(s.env).map(([k, v]) => `${k}=${v}`) : undefined,
    Dir: s.workdir || undefined,
    User: s.user || undefined,
    Hostname: s.hostname || undefined,
    Init: s.init,
    StopGracePeriod: nanos(s.stopGracePeriod),
    Labels: Object.keys(s.containerLabels).length ? s.containerLabels : undefined,
    Mounts: s.mounts.length
      ? s.mounts.map((m) =>
          without({ Type: m.type, Source: m.source || undefined, Target: m.target, ReadOnly: m.readOnly || undefined }),
        )
      : undefined,
    Secrets: s.secrets.length
      ? s.secrets.map((f) => {
          const r = refs.secret(String(f.source));
          return { File: file(f), SecretID: r.id, SecretName: r.name };
        })
      : undefined,
    Configs: s.configs.length
      ? s.configs.map((f) => {
          const r = refs.config(String(f.source));
          return { File: file(f), ConfigID: r.id, ConfigName: r.name };
        })
      : undefined,
    Healthcheck: s.healthcheck && {
      Test: s.healthcheck.test,
      Interval: nanos(s.healthcheck.interval),
      Timeout: nanos(s.healthcheck.timeout),
      Retries: s.healthcheck.retries,
      StartPeriod: nanos(s.healthcheck.startPeriod),
    },
  });
  const { limits, reservations } = s.deploy.resources;
  const placement = s.deploy.placement;
  return {
    Name: name,
    Labels: labels,
    TaskTemplate: without({
      ContainerSpec: containerSpec,
      Resources: {
        Limits: without({
          NanoCPUs: limits.cpus ? nanoCpus(limits.cpus) : undefined,
          MemoryBytes: parseBytes(limits.memory) || undefined,
          Pids: limits.pids || undefined,
        }),
        Reservations: without({
          NanoCPUs: reservations.cpus ? nanoCpus(reservations.cpus) : undefined,
          MemoryBytes: parseBytes(reservations.memory) || undefined,
        }),
      },
      RestartPolicy: {
        Condition: s.deploy.restartPolicy.condition,
        Delay: nanos(s.deploy.restartPolicy.delay),
        MaxAttempts: s.deploy.restartPolicy.maxAttempts,
        Window: nanos(s.deploy.restartPolicy.window),
      },
      Placement: without({
        Constraints: placement.constraints.length ? placement.constraints : undefined,
        Preferences: placement.preferences.length
          ? placement.preferences.map((p) => ({ Spread: { SpreadDescriptor: p } }))
          : undefined,
        MaxReplicas: placement.maxReplicas || undefined,
      }),
      Networks: s.networks.length
        ? s.networks.map((n) =>
            without({ Target: refs.network(String(n.name)), Aliases: n.aliases.length ? n.aliases : undefined }),
          )
        : undefined,
      ForceUpdate: forceUpdate,
    }),
    Mode: s.deploy.mode === 'global' ? { Global: {} } : { Replicated: { Replicas: s.deploy.replicas ?? 1 } },
    UpdateConfig: dockerRollout(s.deploy.updateConfig),
    RollbackConfig: dockerRollout(s.deploy.rollbackConfig),
    EndpointSpec: without({
      Mode: s.endpointMode,
      Ports: s.ports.length
        ? s.ports.map((p) => ({
            Protocol: p.protocol,
            TargetPort: p.target,
            PublishedPort: p.published,
            PublishMode: p.mode,
          }))
        : undefined,
    }),
  };
}

/** How observe names the live objects a service uses, in the same terms the desired spec uses. */
export interface LiveNames {
  /** Network id -> what to call it (the desired's spelling when it names the same network). */
  network(id: string): string;
  secret(ref: { SecretID: string; SecretName: string }, target: string): string;
  config(ref: { ConfigID: string; ConfigName: string }, target: string): string;
  /** The image as the desired spec writes it (a digest pinned by keelson is not the user's). */
  image(live: string): string;
}

function fromRollout(c: unknown, failureAction: string): Spec {
  const r = obj(c);
  return {
    parallelism: num(r.Parallelism, 0),
    delay: formatDuration(num(r.Delay)),
    failureAction: text(r.FailureAction, failureAction),
    monitor: formatDuration(num(r.Monitor, 5e9)),
    maxFailureRatio: num(r.MaxFailureRatio),
    order: text(r.Order, 'stop-first'),
  };
}

/** keelson's canonical spec for a live Docker ServiceSpec. */
export function fromDockerSpec(spec: DockerServiceSpec, labels: Record<string, string>, names: LiveNames): ServiceSpec {
  const task = obj(spec.TaskTemplate);
  const c = obj(task.ContainerSpec);
  const resources = obj(task.Resources);
  const limits = obj(resources.Limits);
  const reservations = obj(resources.Reservations);
  const restart = obj(task.RestartPolicy);
  const placement = obj(task.Placement);
  const mode = obj(spec.Mode);
  const endpoint = obj(spec.EndpointSpec);
  const health = isPlainObject(c.Healthcheck) ? c.Healthcheck : undefined;
  const env: Record<string, string> = {};
  for (const e of strs(c.Env)) {
    const eq = e.indexOf('=');
    if (eq < 0) env[e] = '';
    else env[e.slice(0, eq)] = e.slice(eq + 1);
  }
  const file = (f: unknown) => {
    const x = obj(f);
    return { target: text(x.Name), uid: text(x.UID, '0'), gid: text(x.GID, '0'), mode: num(x.Mode, 0o444) };
  };
  // Older engines kept networks on the service instead of the task template.
  const networks = arr(task.Networks).length ? arr(task.Networks) : arr(spec.Networks);
  return normalizeService({
    image: names.image(text(c.Image)),
    command: strs(c.Command),
    args: strs(c.Args),
    env,
    workdir: text(c.Dir),
    user: text(c.User),
    hostname: text(c.Hostname),
    init: c.Init === true,
    stopGracePeriod: formatDuration(num(c.StopGracePeriod, 10e9)),
    labels,
    containerLabels: obj(c.Labels),
    mounts: arr(c.Mounts).map((m) => {
      const x = obj(m);
      return {
        type: text(x.Type, 'volume'),
        source: text(x.Source),
        target: text(x.Target),
        readOnly: x.ReadOnly === true,
      };
    }),
    networks: networks.map((n) => {
      const x = obj(n);
      return { name: names.network(text(x.Target)), aliases: strs(x.Aliases) };
    }),
    secrets: arr(c.Secrets).map((s) => {
      const x = obj(s);
      const f = file(x.File);
      return { source: names.secret({ SecretID: text(x.SecretID), SecretName: text(x.SecretName) }, f.target), ...f };
    }),
    configs: arr(c.Configs).map((s) => {
      const x = obj(s);
      const f = file(x.File);
      return { source: names.config({ ConfigID: text(x.ConfigID), ConfigName: text(x.ConfigName) }, f.target), ...f };
    }),
    ports: arr(endpoint.Ports).map((p) => {
      const x = obj(p);
      return {
        target: num(x.TargetPort),
        published: num(x.PublishedPort),
        protocol: text(x.Protocol, 'tcp'),
        mode: text(x.PublishMode, 'ingress'),
      };
    }),
    endpointMode: text(endpoint.Mode, 'vip'),
    healthcheck: health && {
      test: strs(health.Test),
      interval: formatDuration(num(health.Interval)),
      timeout: formatDuration(num(health.Timeout)),
      retries: num(health.Retries),
      startPeriod: formatDuration(num(health.StartPeriod)),
    },
    deploy: {
      mode: isPlainObject(mode.Global) ? 'global' : 'replicated',
      replicas: num(obj(mode.Replicated).Replicas, 1),
      placement: {
        constraints: strs(placement.Constraints),
        preferences: arr(placement.Preferences).map((p) => text(obj(obj(p).Spread).SpreadDescriptor)),
        maxReplicas: num(placement.MaxReplicas),
      },
      resources: {
        limits: {
          cpus: num(limits.NanoCPUs) / 1e9,
          memory: formatBytes(num(limits.MemoryBytes)),
          pids: num(limits.Pids),
        },
        reservations: { cpus: num(reservations.NanoCPUs) / 1e9, memory: formatBytes(num(reservations.MemoryBytes)) },
      },
      restartPolicy: {
        condition: text(restart.Condition, 'any'),
        delay: formatDuration(num(restart.Delay, 5e9)),
        maxAttempts: num(restart.MaxAttempts),
        window: formatDuration(num(restart.Window)),
      },
      // Swarm fills these when a service is created without them (e.g. by docker service create).
      updateConfig: spec.UpdateConfig
        ? fromRollout(spec.UpdateConfig, 'pause')
        : { failureAction: 'pause', parallelism: 1 },
      rollbackConfig: spec.RollbackConfig
        ? fromRollout(spec.RollbackConfig, 'pause')
        : { failureAction: 'pause', parallelism: 1 },
    },
  });
}
