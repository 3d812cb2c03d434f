import { describe, expect, it } from 'vitest';
import {
  DEFAULT_REPLACE_ORDER,
  type DesiredResource,
  defineKind,
  isLeftover,
  type KindSchema,
  leftoverOf,
  leftoverOwner,
  type ObservedResource,
} from '../../providers/sdk/index.ts';
import { type PlanInput, planChanges } from './plan.ts';
import { planDigest } from './plan-digest.ts';

/**
 * The planner decides the order of each replacement from the kind's declaration (pure: the live and
 * the desired spec in, a decision out) and says why; a kind that declares nothing is replaced
 * delete-first, the order that never needs two objects at once. A leftover of a create-first
 * replacement (reported by observe under its own key) is planned as a delete that names it. Why
 * these are right: the applier orders the two steps by what the plan says, so the plan is what the
 * user approves; and a replacement deletes something whatever its order, so it still counts
 * against the deletion budget.
 */
const thing = (kind: string, rule?: KindSchema['replaceOrder']): KindSchema =>
  defineKind({
    kind,
    description: 'test',
    spec: {
      zone: { type: 'string', replaceOnChange: true },
      size: { type: 'integer' },
    },
    ...(rule ? { replaceOrder: rule } : {}),
  });

const desired = (kind: string, name: string, spec: Record<string, unknown>): DesiredResource => ({
  key: `${kind}/${name}`,
  kind,
  name,
  provider: kind.split('.')[0] as string,
  spec,
  policy: 'enforce',
  protect: false,
  allowReplace: false,
  adopt: false,
  dependsOn: [],
});

const live = (kind: string, name: string, id: string, spec: Record<string, unknown>): ObservedResource => ({
  key: `${kind}/${name}`,
  kind,
  name,
  id,
  owned: true,
  spec,
  outputs: {},
  ready: true,
});

function input(
  schemas: readonly KindSchema[],
  want: readonly DesiredResource[],
  seen: readonly ObservedResource[],
): PlanInput {
  return {
    revision: 'r1',
    desired: want,
    waveOf: new Map(),
    observed: new Map(seen.map((o) => [o.key, o])),
    unobservable: new Map(),
    schema: (kind) => schemas.find((s) => s.kind === kind),
    normalize: (_kind, spec) => spec,
    secrets: new Map(),
    applied: {},
  };
}

describe('replacement order in the plan', () => {
  it('a kind that declares nothing is replaced delete-first, and the plan says why', () => {
    const plan = planChanges(
      input(
        [thing('t.Plain')],
        [desired('t.Plain', 'a', { zone: 'b', size: 1 })],
        [live('t.Plain', 'a', '1', { zone: 'a', size: 1 })],
      ),
    );
    expect(plan.changes[0]).toMatchObject({
      action: 'replace',
      replaceOrder: 'delete-first',
      replaceWhy: DEFAULT_REPLACE_ORDER.why,
    });
  });

  it('a fixed declaration is taken as it is; updates carry no order', () => {
    const rule = { order: 'create-first', why: 'both may exist' } as const;
    const plan = planChanges(
      input(
        [thing('t.Both', rule)],
        [desired('t.Both', 'a', { zone: 'b', size: 1 }), desired('t.Both', 'u', { zone: 'a', size: 2 })],
        [live('t.Both', 'a', '1', { zone: 'a', size: 1 }), live('t.Both', 'u', '2', { zone: 'a', size: 1 })],
      ),
    );
    expect(plan.changes.find((c) => c.name === 'a')).toMatchObject({
      action: 'replace',
      replaceOrder: 'create-first',
      replaceWhy: 'both may exist',
    });
    const update = plan.changes.find((c) => c.name === 'u');
    expect(update?.action).toBe('update');
    expect(update?.replaceOrder).toBeUndefined();
  });

  it('a rule is called with the live spec and the desired spec, and decides per replacement', () => {
    const calls: [unknown, unknown][] = [];
    const rule = (before: Readonly<Record<string, unknown>>, after: Readonly<Record<string, unknown>>) => {
      calls.push([before.zone, after.zone]);
      return after.zone === 'shared'
        ? ({ order: 'delete-first', why: 'the zone is shared' } as const)
        : ({ order: 'create-first', why: 'a zone of its own' } as const);
    };
    const plan = planChanges(
      input(
        [thing('t.Rule', rule)],
        [desired('t.Rule', 'a', { zone: 'shared', size: 1 }), desired('t.Rule', 'b', { zone: 'own', size: 1 })],
        [live('t.Rule', 'a', '1', { zone: 'x', size: 1 }), live('t.Rule', 'b', '2', { zone: 'y', size: 1 })],
      ),
    );
    expect(calls.sort()).toEqual([
      ['x', 'shared'],
      ['y', 'own'],
    ]);
    expect(plan.changes.map((c) => [c.name, c.replaceOrder])).toEqual([
      ['a', 'delete-first'],
      ['b', 'create-first'],
    ]);
  });

  it('a create-first replacement still counts against the deletion budget', () => {
    const rule = { order: 'create-first', why: 'both may exist' } as const;
    const plan = planChanges({
      ...input(
        [thing('t.Both', rule)],
        [desired('t.Both', 'a', { zone: 'b' })],
        [live('t.Both', 'a', '1', { zone: 'a' })],
      ),
      deletionBudget: 0,
    });
    expect(plan.refused?.code).toBe('deletion-budget');
  });

  it('a leftover of a create-first replacement is deleted, and the plan names what it is', () => {
    const old = live('t.Both', 'a', 'old-id', { zone: 'a' });
    const leftover = leftoverOf(old);
    expect(isLeftover(leftover.key)).toBe(true);
    expect(leftoverOwner(leftover.name)).toBe('a');
    expect(leftover.key).toMatch(/^t\.Both\/a~replaced-[0-9a-f]{10}$/);
    const plan = planChanges(
      input(
        [thing('t.Both', { order: 'create-first', why: 'x' })],
        [desired('t.Both', 'a', { zone: 'b' })],
        [live('t.Both', 'a', 'new-id', { zone: 'b' }), leftover],
      ),
    );
    expect(plan.changes.map((c) => [c.key, c.action])).toEqual([
      ['t.Both/a', 'no-op'],
      [leftover.key, 'delete'],
    ]);
    expect(plan.changes[1]?.detail).toBe('left over from a replacement of t.Both/a (id old-id)');
  });

  it('a leftover whose replacement is not ready yet is kept (skipped, saying why); once it is ready, deleted', () => {
    const leftover = leftoverOf(live('t.Both', 'a', 'old-id', { zone: 'a' }));
    const plan = (ready: boolean, inGit = true) =>
      planChanges(
        input(
          [thing('t.Both', { order: 'create-first', why: 'x' })],
          inGit ? [desired('t.Both', 'a', { zone: 'b' })] : [],
          [{ ...live('t.Both', 'a', 'new-id', { zone: 'b' }), ready, message: 'building' }, leftover],
        ),
      );
    const building = plan(false);
    expect(building.changes.map((c) => [c.key, c.action, c.reason])).toEqual([
      ['t.Both/a', 'no-op', undefined],
      [leftover.key, 'skip', 'not-ready'],
    ]);
    expect(building.changes[1]?.detail).toBe(
      `${leftover.key} is kept until t.Both/a, which replaces it, is ready (building)`,
    );
    expect(plan(true).changes.map((c) => c.action)).toEqual(['no-op', 'delete']);
    // The resource left Git too: nothing is waited for, both go.
    expect(plan(false, false).changes.map((c) => c.action)).toEqual(['delete', 'delete']);
  });

  it('the order is part of what makes two plans the same plan (a saved plan applies only in its order)', () => {
    const make = (order: 'create-first' | 'delete-first') =>
      planChanges(
        input(
          [thing('t.Both', { order, why: 'x' })],
          [desired('t.Both', 'a', { zone: 'b' })],
          [live('t.Both', 'a', '1', { zone: 'a' })],
        ),
      );
    const key = Buffer.alloc(32, 1);
    expect(planDigest(make('create-first'), key)).not.toBe(planDigest(make('delete-first'), key));
  });
});
