import { describe, expect, it } from 'vitest';
import type { DockerService, DockerTask } from '../client/client.ts';
import { settleBound } from './service.ts';
import { describeProgress, taskProgress } from './task-progress.ts';

const containerSpec = { Image: 'busybox:1' };
const service = (replicas: number | undefined): DockerService =>
  ({
    ID: 's',
    Version: { Index: 1 },
    Spec: {
      Name: 'web',
      TaskTemplate: { ContainerSpec: containerSpec },
      Mode: replicas === undefined ? { Global: {} } : { Replicated: { Replicas: replicas } },
    },
  }) as unknown as DockerService;
let version = 0;
const task = (slot: number, desired: string, state: string, spec: object = containerSpec): DockerTask =>
  ({
    ID: `t${++version}`,
    Version: { Index: version },
    Slot: slot,
    NodeID: `n${slot}`,
    DesiredState: desired,
    Spec: { ContainerSpec: spec },
    Status: { State: state, Timestamp: '2026-01-01T00:00:00Z', ContainerStatus: { ExitCode: 1 } },
  }) as unknown as DockerTask;

describe('taskProgress', () => {
  it.each([
    [
      'every slot runs the current spec',
      2,
      [task(1, 'running', 'running'), task(2, 'running', 'running')],
      'converged',
    ],
    ['a task of the old spec still runs', 1, [task(1, 'running', 'running', { Image: 'busybox:0' })], 'waiting'],
    ['a slot has no task yet', 2, [task(1, 'running', 'running')], 'waiting'],
    [
      'a failed task is being restarted (the new task waits out the restart delay)',
      1,
      [task(1, 'shutdown', 'failed'), task(1, 'ready', 'ready')],
      'waiting',
    ],
    [
      'the restart policy is spent: every task of the slot failed',
      1,
      [task(1, 'shutdown', 'failed'), task(1, 'shutdown', 'failed')],
      'gave-up',
    ],
    ['a one-shot task completed', 1, [task(1, 'shutdown', 'complete')], 'converged'],
    ['scaled to zero', 0, [], 'converged'],
    [
      'slots above the replica count are on their way out',
      1,
      [task(1, 'running', 'running'), task(2, 'shutdown', 'failed')],
      'converged',
    ],
    [
      'a global service on two nodes, one starting',
      undefined,
      [task(1, 'running', 'running'), task(2, 'running', 'starting')],
      'waiting',
    ],
  ])('%s', (_why, replicas, tasks, state) => {
    expect(taskProgress(service(replicas), tasks).state).toBe(state);
  });

  it('says when the last running task started running, by the engine clock of its timestamps', () => {
    const later = {
      ...task(2, 'running', 'running'),
      Status: { State: 'running', Timestamp: '2026-01-01T00:00:05.123456789Z' },
    };
    const p = taskProgress(service(2), [task(1, 'running', 'running'), later as DockerTask]);
    expect(p).toMatchObject({ state: 'converged', since: Date.parse('2026-01-01T00:00:05.123Z'), exact: true });
    // a one-shot task that completed has not "started running": nothing to wait for
    expect(taskProgress(service(1), [task(1, 'shutdown', 'complete')])).toMatchObject({
      since: undefined,
      exact: true,
    });
  });

  it('is not exact when a task lacks part of the task template, or the ports changed (a rolling update is coming)', () => {
    const resized = {
      ...service(1),
      Spec: {
        ...service(1).Spec,
        TaskTemplate: { ContainerSpec: containerSpec, Resources: { Limits: { MemoryBytes: 1 } } },
      },
    } as DockerService;
    expect(taskProgress(resized, [task(1, 'running', 'running')])).toMatchObject({ state: 'converged', exact: false });
    const ported = {
      ...service(1),
      Spec: { ...service(1).Spec, EndpointSpec: { Ports: [{ TargetPort: 80 }] } },
      PreviousSpec: service(1).Spec,
    } as DockerService;
    expect(taskProgress(ported, [task(1, 'running', 'running')])).toMatchObject({ state: 'converged', exact: false });
    // what only the service carries (Runtime) does not count
    const runtime = {
      ...service(1),
      Spec: { ...service(1).Spec, TaskTemplate: { ContainerSpec: containerSpec, Runtime: 'container' } },
    } as DockerService;
    expect(taskProgress(runtime, [task(1, 'running', 'running')])).toMatchObject({ exact: true });
  });

  it('describes what it waits for', () => {
    const p = taskProgress(service(3), [task(1, 'running', 'running'), task(2, 'running', 'starting')]);
    expect(describeProgress(p)).toBe('1/3 tasks running (1 starting, 1 not scheduled yet)');
  });
});

describe('settleBound', () => {
  const spec = (health?: object) => ({
    Mode: { Replicated: { Replicas: 1 } },
    UpdateConfig: { Parallelism: 1, Monitor: 5e9 },
    TaskTemplate: { ContainerSpec: { StopGracePeriod: 10e9, ...(health ? { Healthcheck: health } : {}) } },
  });

  it('leaves room for the first health check: a 5-minute interval is waited for', () => {
    const without = settleBound(spec(), 60_000);
    const withHealth = settleBound(spec({ Test: ['CMD', 'true'], Interval: 300e9, Timeout: 10e9 }), 60_000);
    // twice (a rollback has the same shape) the interval and timeout of the first check
    expect(withHealth - without).toBe(2 * 310_000);
  });

  it('adds nothing for a disabled health check', () => {
    expect(settleBound(spec({ Test: ['NONE'] }), 60_000)).toBe(settleBound(spec(), 60_000));
  });
});
