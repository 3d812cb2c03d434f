import { describe, expect, it } from 'vitest';
import { type DesiredResource, KeelsonError } from '../../providers/sdk/index.ts';
import { silentLogger } from '../../providers/sdk/testing.ts';
import { AlertDispatcher } from '../alerts/alert-dispatcher.ts';
import type { Diagnostic } from '../desired/diagnostic.ts';
import { KeelsonMetrics } from '../observability/metrics.ts';
import type { Plan } from '../plan/types.ts';
import type { DesiredStateSource, SourceSnapshot } from '../source/source.ts';
import { emptyState, type StateData, type StateStore } from '../state/types.ts';
import { DaemonStatus } from './daemon-status.ts';
import type { EnginePassOutcome, EnginePort } from './engine-port.ts';
import { ReconcileStep } from './reconcile-step.ts';

const resource: DesiredResource = {
  key: 'fake.Thing/a',
  kind: 'fake.Thing',
  name: 'a',
  provider: 'fake',
  spec: {},
  policy: 'enforce',
  protect: false,
  allowReplace: false,
  adopt: false,
  dependsOn: [],
};
const plan = (revision: string): Plan => ({
  revision,
  changes: [],
  drift: [],
  summary: { create: 0, update: 0, replace: 0, delete: 0, noop: 1, skip: 0 },
});

/** Plain-object fakes: a source that plays a script, an engine that records what it ran. */
function harness() {
  const fetches: (SourceSnapshot | Error)[] = [];
  const source: DesiredStateSource = {
    description: 'fake',
    async sync() {
      const next = fetches.shift();
      if (!next) throw new Error('script ran out');
      if (next instanceof Error) throw next;
      return next;
    },
  };
  const diagnostics = new Map<string, Diagnostic[]>();
  const ran: string[] = [];
  let outcome: (revision: string) => EnginePassOutcome | Error = (revision) => ({
    plan: plan(revision),
    applied: [],
    errors: [],
    unobservableKinds: new Set(),
  });
  const engine: EnginePort = {
    load: (dir) => ({ resources: diagnostics.has(dir) ? [] : [resource], diagnostics: diagnostics.get(dir) ?? [] }),
    async runPass({ revision }) {
      ran.push(revision);
      const o = outcome(revision);
      if (o instanceof Error) throw o;
      return o;
    },
    kinds: () => [{ provider: 'fake', kind: 'fake.Thing' }],
    rateBudgets: () => ({ fake: 42 }),
    unavailableProviders: () => ({}),
  };
  let state: StateData = emptyState();
  const store: StateStore = {
    load: async () => structuredClone(state),
    save: async (d) => {
      state = structuredClone(d);
    },
  };
  const status = new DaemonStatus('apply');
  const metrics = new KeelsonMetrics({ kinds: engine.kinds(), channels: [] });
  const step = new ReconcileStep({
    source,
    engine,
    store,
    status,
    metrics,
    alerts: new AlertDispatcher({ channels: [], log: silentLogger }),
    alertPolicy: { afterObservations: 2, reminderMs: 3_600_000 },
    mode: 'apply',
    statusUrl: 'http://x/status',
    log: silentLogger,
  });
  const snap = (revision: string, changed = true): SourceSnapshot => ({
    revision,
    dir: revision,
    root: revision,
    changed,
  });
  const run = () => step.run(new AbortController().signal, 'manual');
  const condition = (type: string) => status.data.conditions.find((c) => c.type === type)?.status;
  return {
    fetches,
    diagnostics,
    ran,
    status,
    metrics,
    snap,
    run,
    condition,
    setOutcome: (f: typeof outcome) => {
      outcome = f;
    },
    state: () => state,
  };
}

describe('ReconcileStep', () => {
  it('a failed fetch keeps the last good revision in effect and still observes it (drift detection goes on)', async () => {
    const h = harness();
    h.fetches.push(
      h.snap('r1'),
      new KeelsonError('cannot fetch x: connection refused', { code: 'UNAVAILABLE', class: 'transient' }),
    );
    expect(await h.run()).toEqual({ type: 'done' });
    expect(await h.run()).toEqual({ type: 'retry' });
    expect(h.ran).toEqual(['r1', 'r1']);
    expect(h.condition('Fetched')).toBe('False');
    expect(h.status.data.lastErrors[0]).toMatchObject({ code: 'UNAVAILABLE', class: 'transient' });
    expect(await h.metrics.render()).toContain('keelson_source_fetches_total{result="failed"} 1');
  });

  it('a commit refused by signature checking is counted as rejected and waits for a new commit (no backoff)', async () => {
    const h = harness();
    h.fetches.push(
      h.snap('r1'),
      new KeelsonError('cannot use commit r2: it is not signed', { code: 'INVALID_SPEC', class: 'terminal' }),
    );
    await h.run();
    expect(await h.run()).toEqual({ type: 'done' });
    expect(h.status.data.revision).toBe('r1');
    expect(await h.metrics.render()).toContain('keelson_source_fetches_total{result="rejected"} 1');
  });

  it('an invalid first revision applies nothing and is stalled until a good one arrives', async () => {
    const h = harness();
    h.diagnostics.set('bad', [{ severity: 'error', code: 'yaml-syntax', message: 'x', file: 'a.yaml', line: 2 }]);
    h.fetches.push(h.snap('bad'), h.snap('bad', false), h.snap('good'));
    await h.run();
    await h.run();
    expect(h.ran).toEqual([]);
    expect(h.status.data.stalled).toBe(true);
    expect(h.condition('Ready')).toBe('False');
    expect(h.state().runs.map((r) => r.result)).toEqual(['invalid', 'invalid']);
    await h.run();
    expect(h.ran).toEqual(['good']);
    expect(h.status.data).toMatchObject({ revision: 'good', stalled: false, diagnostics: [] });
    expect(h.condition('Ready')).toBe('True');
  });

  it('a pass that throws is failed and retried; three in a row mark the daemon stalled, one success clears it', async () => {
    const h = harness();
    h.fetches.push(...['r1', 'r1', 'r1', 'r1'].map((r, i) => h.snap(r, i === 0)));
    h.setOutcome(() => new Error('socket hang up'));
    for (let i = 0; i < 3; i++) expect(await h.run()).toEqual({ type: 'retry' });
    expect(h.status.data.stalled).toBe(true);
    expect(await h.metrics.render()).toContain('keelson_stalled 1');
    h.setOutcome((revision) => ({ plan: plan(revision), applied: [], errors: [], unobservableKinds: new Set() }));
    expect(await h.run()).toEqual({ type: 'done' });
    // The three crashed passes are recorded by the step; a pass the engine ran is the engine's to record.
    expect(h.state().runs.map((r) => r.result)).toEqual(['failed', 'failed', 'failed']);
    expect(h.status.data.stalled).toBe(false);
    expect(await h.metrics.render()).toContain('keelson_provider_rate_budget_remaining{provider="fake"} 42');
  });

  it.each([
    { why: 'a transient provider error is retried with backoff', cls: 'transient', next: 'retry' },
    { why: 'a terminal provider error waits for the next interval or revision', cls: 'terminal', next: 'done' },
  ] as const)('$why', async ({ cls, next }) => {
    const h = harness();
    h.fetches.push(h.snap('r1'));
    h.setOutcome((revision) => ({
      plan: plan(revision),
      applied: [{ key: 'fake.Thing/a', kind: 'fake.Thing', provider: 'fake', action: 'update', status: 'failed' }],
      errors: [{ code: 'API_ERROR', class: cls, message: 'cannot update fake.Thing/a: 500', resource: 'fake.Thing/a' }],
      unobservableKinds: new Set(),
    }));
    expect((await h.run()).type).toBe(next);
    expect(h.condition('Reconciled')).toBe('False');
    expect(await h.metrics.render()).toContain(
      'keelson_apply_actions_total{provider="fake",kind="fake.Thing",action="update",result="failed"} 1',
    );
  });

  it('a pass that waits on something (not ready, locked) is requeued after the time it names, not a whole interval', async () => {
    const h = harness();
    h.fetches.push(h.snap('r1'));
    h.setOutcome((revision) => ({
      plan: plan(revision),
      applied: [],
      errors: [],
      unobservableKinds: new Set(),
      requeueAfterMs: 1500,
    }));
    expect(await h.run()).toEqual({ type: 'requeue', afterMs: 1500 });
  });
});
