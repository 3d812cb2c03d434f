import { describe, expect, it } from 'vitest';
import { KeelsonError } from './errors.ts';
import { type OperationAdapter, OperationTracker } from './operation-tracker.ts';
import { fakeClock } from './testing.ts';

/** A vendor whose operations end when the test says so; reads are counted. */
interface Op {
  readonly id: string;
  readonly done: boolean;
  readonly error?: string;
}

function vendor() {
  const live = new Map<string, Op>();
  const reads: string[][] = [];
  const adapter: OperationAdapter<Op> = {
    id: (op) => op.id,
    status: (op) => (!op.done ? 'running' : op.error ? 'failed' : 'succeeded'),
    describe: (op) => `operation ${op.id}`,
    reason: (op) => op.error ?? 'unknown error',
    read: async (ops) => {
      reads.push(ops.map((o) => o.id));
      return ops.map((o) => live.get(o.id) ?? o);
    },
    failure: (op, what, resource) =>
      new KeelsonError(`cannot ${what}: ${op.error}`, { code: 'API_ERROR', class: 'terminal', resource }),
  };
  const start = (id: string): Op => {
    const op = { id, done: false };
    live.set(id, op);
    return op;
  };
  const finish = (id: string, error?: string) => live.set(id, { id, done: true, ...(error ? { error } : {}) });
  return { adapter, reads, start, finish };
}

describe('OperationTracker', () => {
  it('a running operation shows the resource as not ready until a refresh sees it end', async () => {
    const v = vendor();
    const tracker = new OperationTracker(v.adapter, { clock: fakeClock() });
    tracker.track('k/a', 'create k/a', [v.start('op-1')]);
    expect(tracker.running('k/a')).toBe(true);
    await tracker.refresh();
    expect(tracker.running('k/a')).toBe(true);
    v.finish('op-1');
    await tracker.refresh();
    expect(tracker.running('k/a')).toBe(false);
    expect(tracker.failure('k/a')).toBeUndefined();
  });

  it('one refresh reads the running operations of every resource in one call, and none when nothing runs', async () => {
    const v = vendor();
    const tracker = new OperationTracker(v.adapter, { clock: fakeClock() });
    tracker.track('k/a', 'create k/a', [v.start('op-1'), null]);
    tracker.track('k/b', 'create k/b', [v.start('op-2')]);
    await tracker.refresh();
    expect(v.reads).toEqual([['op-1', 'op-2']]);
    v.finish('op-1');
    v.finish('op-2');
    await tracker.refresh();
    await tracker.refresh();
    expect(v.reads).toHaveLength(2);
  });

  it("a failed operation is reported with the vendor's reason until something new starts", async () => {
    const v = vendor();
    const tracker = new OperationTracker(v.adapter, { clock: fakeClock() });
    tracker.track('k/a', 'create k/a', [v.start('op-1')]);
    v.finish('op-1', 'no capacity');
    await tracker.refresh();
    expect(tracker.failure('k/a')).toBe('operation op-1 failed: no capacity');
    await expect(tracker.settle('k/a', 1000)).rejects.toThrow(/no capacity/);
    tracker.track('k/a', 'retry k/a', [v.start('op-2')]);
    expect(tracker.failure('k/a')).toBeUndefined();
  });

  it('settle polls until the operations end, on the injected clock', async () => {
    const v = vendor();
    const clock = fakeClock(0, () => {
      if (clock.now() >= 200) v.finish('op-1');
    });
    const tracker = new OperationTracker(v.adapter, { clock });
    tracker.track('k/a', 'create k/a', [v.start('op-1')]);
    await tracker.settle('k/a', 10_000);
    expect(tracker.running('k/a')).toBe(false);
    // backoff doubles from 50 ms
    expect(clock.slept).toEqual([50, 100, 200]);
  });

  it('wait gives up with a TIMEOUT waiting error; settle keeps the operation tracked for the next observe', async () => {
    const v = vendor();
    const tracker = new OperationTracker(v.adapter, { clock: fakeClock() });
    tracker.track('k/a', 'create k/a', [v.start('op-1')]);
    const error = await tracker.settle('k/a', 1000).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'TIMEOUT', class: 'waiting', resource: 'k/a' });
    expect(tracker.running('k/a')).toBe(true);
  });

  it('an operation that came back finished is not tracked; one that came back failed is the failure', () => {
    const v = vendor();
    const tracker = new OperationTracker(v.adapter, { clock: fakeClock() });
    tracker.track('k/a', 'create k/a', [{ id: 'op-1', done: true }]);
    expect(tracker.running('k/a')).toBe(false);
    expect(tracker.message('k/a')).toBeUndefined();
    tracker.track('k/b', 'create k/b', [{ id: 'op-2', done: true, error: 'quota exceeded' }]);
    expect(tracker.message('k/b')).toBe('operation op-2 failed: quota exceeded');
  });

  it('refresh can be limited to some resources, when each read costs a call (Google operations)', async () => {
    const v = vendor();
    const tracker = new OperationTracker(v.adapter, { clock: fakeClock() });
    tracker.track('gcp.Function/a', 'deploy gcp.Function/a', [v.start('op-1')]);
    tracker.track('gcp.RunService/b', 'deploy gcp.RunService/b', [v.start('op-2')]);
    expect(tracker.message('gcp.Function/a')).toBe('deploy gcp.Function/a: operation op-1 is running');
    await tracker.refresh(undefined, (key) => key.startsWith('gcp.Function/'));
    expect(v.reads).toEqual([['op-1']]);
  });
});
