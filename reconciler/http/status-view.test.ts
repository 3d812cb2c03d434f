import { describe, expect, it } from 'vitest';
import { DaemonStatus } from '../loop/daemon-status.ts';
import type { Plan, ResourceChange } from '../plan/types.ts';
import { renderStatusPage } from './status-page.ts';
import { repositoryPath, statusView } from './status-view.ts';

const change = (key: string, action: ResourceChange['action'], extra: Partial<ResourceChange> = {}): ResourceChange =>
  ({
    key,
    kind: key.split('/')[0],
    name: key.split('/')[1],
    provider: 'swarm',
    action,
    cause: 'git',
    wave: 0,
    fields: [],
    ...extra,
  }) as ResourceChange;

const plan = (revision: string, changes: ResourceChange[], drift: Plan['drift'] = []): Plan => ({
  revision,
  changes,
  drift,
  summary: {
    create: changes.filter((c) => c.action === 'create').length,
    update: changes.filter((c) => c.action === 'update').length,
    replace: 0,
    delete: 0,
    noop: changes.filter((c) => c.action === 'no-op').length,
    skip: changes.filter((c) => c.action === 'skip').length,
  },
});

describe('the status of a revision', () => {
  it('is applying from the moment a revision is loaded until a pass over it succeeds', () => {
    const status = new DaemonStatus('apply');
    expect(statusView(status.data).revisionState).toBe('none');
    status.update({ revision: 'r1' });
    expect(statusView(status.data)).toMatchObject({ revision: 'r1', revisionState: 'applying', appliedRevision: null });
    status.update({ lastPlan: plan('r1', [change('swarm.Service/web', 'create')]) });
    expect(statusView(status.data).revisionState).toBe('applying');
    status.update({ lastSuccessAt: 't1' });
    expect(statusView(status.data)).toMatchObject({ revisionState: 'applied', appliedRevision: 'r1' });
    // the next revision is applying while the last one stays in effect
    status.update({ revision: 'r2' });
    expect(statusView(status.data)).toMatchObject({ revisionState: 'applying', appliedRevision: 'r1' });
  });

  it('stays applying while a change is held back for a moment (a resource still busy)', () => {
    const status = new DaemonStatus('apply');
    status.update({ revision: 'r1' });
    status.update({ lastPlan: plan('r1', [change('swarm.Service/web', 'skip', { reason: 'not-ready' })]) });
    status.update({ lastSuccessAt: 't1' });
    expect(statusView(status.data).revisionState).toBe('applying');
  });
});

describe('managed resources and the last change', () => {
  const status = new DaemonStatus('apply');
  status.update({ revision: 'r1' });
  status.update({
    lastObserveAt: '2026-01-01T00:00:00Z',
    lastPlan: plan(
      'r1',
      [
        change('swarm.Network/net', 'create'),
        change('swarm.Service/web', 'update', {
          cause: 'drift',
          fields: [
            {
              path: 'env.DEBUG',
              before: '1',
              after: undefined,
              sensitive: false,
              forcesReplacement: false,
              unknown: false,
            },
          ],
        }),
        change('swarm.Service/api', 'update'),
        change('swarm.Service/db', 'no-op'),
      ],
      [
        {
          key: 'swarm.Service/web',
          kind: 'swarm.Service',
          name: 'web',
          provider: 'swarm',
          policy: 'enforce',
          type: 'changed',
          fingerprint: 'f',
          fields: [],
        },
      ],
    ),
  });
  status.setErrors([
    { at: 't', code: 'ROLLBACK', class: 'terminal', message: 'rolled back', resource: 'swarm.Service/api' },
  ]);

  it('lists every resource with what the last pass made of it: created, healed (drift undone), failed, in sync', () => {
    expect(statusView(status.data).resources).toEqual([
      { key: 'swarm.Network/net', state: 'created', action: 'create' },
      { key: 'swarm.Service/web', state: 'healed', action: 'update' },
      { key: 'swarm.Service/api', state: 'failed', action: 'update', error: 'rolled back' },
      { key: 'swarm.Service/db', state: 'in sync', action: 'no-op' },
    ]);
  });

  it('keeps the last pass that changed something through the no-op passes after it', () => {
    status.update({
      lastObserveAt: '2026-01-01T00:01:00Z',
      lastPlan: plan('r1', [change('swarm.Network/net', 'no-op'), change('swarm.Service/web', 'no-op')]),
    });
    const view = statusView(status.data);
    expect(view.resources.map((r) => r.state)).toEqual(['in sync', 'in sync']);
    expect(view.lastChange).toMatchObject({ revision: 'r1', at: '2026-01-01T00:00:00Z' });
    expect(view.lastChange?.changes.map((c) => [c.key, c.state, c.healedDrift])).toEqual([
      ['swarm.Network/net', 'created', false],
      ['swarm.Service/web', 'healed', true],
      ['swarm.Service/api', 'updated', false],
    ]);
    const html = renderStatusPage(view);
    expect(html).toContain('Last change');
    expect(html).toMatch(/swarm\.Service\/web<\/code><\/td><td>healed/);
    expect(html).toContain('Managed resources (2)');
  });
});

describe('diagnostic paths', () => {
  it.each([
    ['a desired-state file', 'swarm/demo.yaml', 'desired-state/swarm/demo.yaml'],
    ['a chart beside the desired state', '../charts/web/docker-compose.yml', 'charts/web/docker-compose.yml'],
    ['an absolute path is left alone', '/tmp/x.yaml', '/tmp/x.yaml'],
  ])('%s is named from the repository root', (_why, file, shown) => {
    expect(repositoryPath(file, 'desired-state')).toBe(shown);
  });

  it('shows them so on /status', () => {
    const status = new DaemonStatus('apply');
    status.update({
      sourcePath: 'desired-state',
      diagnostics: [
        { severity: 'error', code: 'yaml-syntax', message: 'bad', file: 'swarm/demo.yaml', line: 10, column: 15 },
      ],
    });
    expect(statusView(status.data).diagnostics[0]?.file).toBe('desired-state/swarm/demo.yaml');
  });
});
