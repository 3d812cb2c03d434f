/**
 * What a service's tasks say about its rollout, read from one task list: how many run the
 * current spec out of how many are wanted, and whether Swarm has given up on a slot (its restart
 * policy is spent: no task of the slot will run again) or a one-shot task has completed. Pure,
 * so `settle` can fail the moment Swarm gives up instead of waiting for its time bound.
 */
import { canonicalJson } from '../../sdk/index.ts';
import type { DockerService, DockerTask } from '../client/client.ts';

/** Desired states of a task Swarm still means to run (or start after a restart delay). */
const ALIVE = new Set(['new', 'pending', 'assigned', 'accepted', 'preparing', 'ready', 'starting', 'running']);
const FAILED = new Set(['failed', 'rejected']);

export type TaskProgress =
  /**
   * Every wanted slot runs the current spec (or completed, for a one-shot task). `since`: when
   * the last of the running tasks started running, by the clock of the engine that ran it (ms;
   * undefined when none runs). `exact`: every counted task has the service's whole task template
   * and the service's ports are those of its previous spec (or it has none), so Swarm has no
   * rolling update to start on them.
   */
  | {
      readonly state: 'converged';
      readonly running: number;
      readonly wanted: number;
      readonly since: number | undefined;
      readonly exact: boolean;
    }
  | { readonly state: 'waiting'; readonly running: number; readonly wanted: number; readonly phase: string }
  /** Swarm will not start this slot again: its newest task failed and no task of it is alive. */
  | { readonly state: 'gave-up'; readonly running: number; readonly wanted: number; readonly task: DockerTask };

/** The service's tasks against its spec. `tasks` is the whole task list of the service. */
export function taskProgress(service: DockerService, tasks: readonly DockerTask[]): TaskProgress {
  const spec = service.Spec as {
    Mode?: { Replicated?: { Replicas?: number }; Global?: object };
    TaskTemplate?: { ContainerSpec?: unknown };
  };
  const current = canonicalJson(spec.TaskTemplate?.ContainerSpec);
  const template = templateJson(spec.TaskTemplate);
  const previous = service.PreviousSpec;
  let exact =
    !previous || canonicalJson(previous.EndpointSpec ?? null) === canonicalJson(service.Spec.EndpointSpec ?? null);
  let since: number | undefined;
  const replicas = spec.Mode?.Replicated ? (spec.Mode.Replicated.Replicas ?? 1) : undefined;
  // A slot is a replica number, or a node for a global service.
  const slots = new Map<string, DockerTask[]>();
  for (const t of tasks) {
    if (replicas !== undefined && (t.Slot === undefined || t.Slot > replicas)) continue;
    const slot = replicas !== undefined ? String(t.Slot) : String(t.NodeID ?? t.ID);
    slots.set(slot, [...(slots.get(slot) ?? []), t]);
  }
  const wanted = replicas ?? slots.size;
  let running = 0;
  let done = 0;
  let gaveUp: DockerTask | undefined;
  const phases = new Map<string, number>();
  for (const list of slots.values()) {
    const newest = [...list].sort((a, b) => b.Version.Index - a.Version.Index)[0] as DockerTask;
    const alive = list.filter((t) => ALIVE.has(t.DesiredState));
    const isCurrent = (t: DockerTask) => canonicalJson(t.Spec.ContainerSpec) === current;
    const run = alive.find((t) => t.Status.State === 'running' && t.DesiredState === 'running' && isCurrent(t));
    if (run) {
      running++;
      done++;
      const at = Date.parse(run.Status.Timestamp);
      since = Number.isNaN(at) ? Number.POSITIVE_INFINITY : Math.max(since ?? at, at);
      exact &&= templateJson(run.Spec) === template;
    } else if (alive.length === 0 && newest.Status.State === 'complete' && isCurrent(newest)) {
      // A one-shot task (restart condition none or on-failure) that finished well.
      done++;
      exact &&= templateJson(newest.Spec) === template;
    } else if (alive.length === 0 && FAILED.has(newest.Status.State) && isCurrent(newest)) {
      gaveUp ??= newest;
    } else {
      const phase = (alive[0] ?? newest).Status.State;
      phases.set(phase, (phases.get(phase) ?? 0) + 1);
    }
  }
  if (gaveUp) return { state: 'gave-up', running, wanted, task: gaveUp };
  if (done >= wanted) return { state: 'converged', running, wanted, since, exact };
  const missing = wanted - done - [...phases.values()].reduce((a, b) => a + b, 0);
  if (missing > 0) phases.set('not scheduled yet', missing);
  const phase = [...phases.entries()].map(([p, n]) => `${n} ${p}`).join(', ');
  return { state: 'waiting', running, wanted, phase };
}

/**
 * A task template as Swarm's orchestrator compares it to decide whether a task must be replaced,
 * less what the engine fills in on the service only (`Runtime`) or ignores (`PullOptions`).
 */
function templateJson(template: unknown): string {
  const { Runtime: _r, PullOptions: _p, ...rest } = (template ?? {}) as Record<string, unknown>;
  const c = rest.ContainerSpec as Record<string, unknown> | undefined;
  if (c && 'PullOptions' in c) {
    const { PullOptions: _cp, ...container } = c;
    rest.ContainerSpec = container;
  }
  return canonicalJson(rest);
}

/** One line for a log: "2/3 tasks running (1 starting)". */
export function describeProgress(p: TaskProgress): string {
  const base = `${p.running}/${p.wanted} task${p.wanted === 1 ? '' : 's'} running`;
  return p.state === 'waiting' && p.phase ? `${base} (${p.phase})` : base;
}
