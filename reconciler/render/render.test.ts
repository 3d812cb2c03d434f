import { describe, expect, it } from 'vitest';
import { EngineFixture, thing } from '../../test/support/engine-fixture.ts';
import { renderPlan } from './human.ts';
import { PLAN_FORMAT_VERSION, planToJson } from './json.ts';

async function rotatedSecretPlan() {
  const f = new EngineFixture().write({
    'a.yaml': thing('a', 'size: 1\npassword: { secretRef: db }') + thing('gone', 'size: 1'),
  });
  f.secrets = { db: 'first-secret-value' };
  await f.pass();
  (f.world.items.get('mem.Thing/a') as { spec: Record<string, unknown> }).spec.size = 7;
  f.secrets = { db: 'second-secret-value' };
  f.write({
    'a.yaml': thing('a', 'size: 1\npassword: { secretRef: db }') + thing('new', 'size: 2\npassword: { secretRef: db }'),
  });
  return (await f.pass('plan')).plan;
}

describe('plan renderers', () => {
  it('human diff: one block per change with field before/after, secrets as (sensitive), and a summary', async () => {
    const text = renderPlan(await rotatedSecretPlan(), { color: false });
    expect(text).toContain('~ mem.Thing/a');
    expect(text).toContain('~ size: 7 -> 1');
    expect(text).toContain('~ password: (sensitive) -> (sensitive)');
    expect(text).toContain('+ mem.Thing/new');
    expect(text).toContain('+ password = (sensitive)');
    expect(text).toContain('- mem.Thing/gone');
    expect(text).toContain('Plan: 1 to create, 1 to update, 0 to replace, 1 to delete, 0 unchanged, 0 skipped.');
    expect(text).not.toMatch(/first-secret|second-secret/);
    expect(text).not.toContain('\u001b[');
  });

  it('shows drift (a change made outside keelson) apart from the changes', async () => {
    const f = new EngineFixture().write({ 'a.yaml': thing('a', 'size: 1') });
    await f.pass();
    (f.world.items.get('mem.Thing/a') as { spec: Record<string, unknown> }).spec.size = 4;
    const text = renderPlan((await f.pass('plan')).plan, { color: false });
    expect(text).toContain('Drift: live state changed outside keelson');
    expect(text).toContain('~ mem.Thing/a was changed outside keelson (policy enforce)');
    expect(text).toContain('# mem.Thing/a will be updated in place (heals drift)');
  });

  it('sums up the resources of an unavailable provider in one line instead of listing each', () => {
    const skipped = (name: string) => ({
      key: `mem.Thing/${name}`,
      kind: 'mem.Thing',
      name,
      provider: 'mem',
      action: 'skip' as const,
      reason: 'provider-unavailable' as const,
      detail: 'cannot read mem.Thing: MEM_TOKEN is not set',
      fields: [],
      cause: 'git' as const,
      wave: 0,
    });
    const plan = {
      revision: 'r',
      changes: [skipped('a'), skipped('b'), skipped('c')],
      drift: [],
      summary: { create: 0, update: 0, replace: 0, delete: 0, noop: 0, skip: 3 },
    };
    const text = renderPlan(plan, { color: false });
    expect(text).toContain('! 3 mem resources skipped: cannot read mem.Thing: MEM_TOKEN is not set');
    expect(text).not.toContain('mem.Thing/a');
    expect(text).toContain('No changes for the providers that could be read.');
    expect(text).not.toContain('Live state matches');
    expect(renderPlan(plan, { color: false, verbose: true })).toContain('mem.Thing/a');
  });

  it('colours only when asked (a TTY)', async () => {
    expect(renderPlan(await rotatedSecretPlan(), { color: true })).toContain('\u001b[');
  });

  it('JSON: format_version, actions as arrays, drift kept apart from changes, no secret values', async () => {
    const json = planToJson(await rotatedSecretPlan()) as {
      format_version: string;
      changes: { address: string; actions: string[]; cause: string; fields: { path: string; after: unknown }[] }[];
      drift: { address: string; fingerprint: string }[];
    };
    expect(json.format_version).toBe(PLAN_FORMAT_VERSION);
    expect(json.changes.map((c) => [c.address, c.actions])).toEqual([
      ['mem.Thing/a', ['update']],
      ['mem.Thing/new', ['create']],
      ['mem.Thing/gone', ['delete']],
    ]);
    expect(json.drift.map((d) => d.address)).toEqual([]);
    expect(json.changes[0]?.fields.find((f) => f.path === 'password')?.after).toBe('(sensitive)');
    expect(JSON.stringify(json)).not.toMatch(/first-secret|second-secret/);
  });

  it('a replacement shows its order and why: -/+ deletes first, +/- creates first (text and JSON)', () => {
    const base = {
      kind: 'mem.Thing',
      provider: 'mem',
      action: 'replace',
      cause: 'git',
      wave: 0,
      fields: [{ path: 'zone', before: 'a', after: 'b', sensitive: false, forcesReplacement: true, unknown: false }],
    } as const;
    const plan = {
      revision: 'r1',
      drift: [],
      summary: { create: 0, update: 0, replace: 2, delete: 0, noop: 0, skip: 0 },
      changes: [
        { ...base, key: 'mem.Thing/one', name: 'one', replaceOrder: 'create-first', replaceWhy: 'both may exist' },
        { ...base, key: 'mem.Thing/two', name: 'two', replaceOrder: 'delete-first', replaceWhy: 'names are unique' },
      ],
    } as const;
    const text = renderPlan(plan, { color: false });
    expect(text).toContain('# create the new one first, then delete the old one: both may exist\n  +/- mem.Thing/one');
    expect(text).toContain(
      '# delete the old one first, then create the new one: names are unique\n  -/+ mem.Thing/two',
    );
    const json = planToJson(plan) as {
      changes: { actions: string[]; replace_order: string; replace_reason: string }[];
    };
    expect(json.changes.map((c) => [c.actions, c.replace_order, c.replace_reason])).toEqual([
      [['create', 'delete'], 'create-first', 'both may exist'],
      [['delete', 'create'], 'delete-first', 'names are unique'],
    ]);
  });
});
