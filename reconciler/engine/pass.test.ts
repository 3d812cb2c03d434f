import { describe, expect, it } from 'vitest';
import { KeelsonError } from '../../providers/sdk/index.ts';
import { EngineFixture, thing } from '../../test/support/engine-fixture.ts';

const actions = (r: { plan: { changes: readonly { key: string; action: string }[] } }) =>
  Object.fromEntries(r.plan.changes.map((c) => [c.key, c.action]));

describe('runPass with the in-memory provider', () => {
  it('creates from scratch, then a second pass makes no write at all', async () => {
    const f = new EngineFixture().write({ 'a.yaml': thing('a', 'size: 1') + thing('b', 'size: 2') });
    const first = await f.pass();
    expect(actions(first)).toEqual({ 'mem.Thing/a': 'create', 'mem.Thing/b': 'create' });
    expect(first.outcome).toBe('changed');
    const writes = f.world.writes;
    const second = await f.pass();
    expect(second.outcome).toBe('no-op');
    expect(actions(second)).toEqual({ 'mem.Thing/a': 'no-op', 'mem.Thing/b': 'no-op' });
    expect(f.world.writes).toBe(writes);
  });

  it('resolves a reference to an output of a resource created in an earlier wave', async () => {
    const f = new EngineFixture().write({
      'a.yaml': `${thing('a', 'size: 1')}kind: mem.Link\nname: l\nspec:\n  target: { ref: mem.Thing/a, output: address }\n`,
    });
    const plan = await f.pass('plan');
    const link = plan.plan.changes.find((c) => c.key === 'mem.Link/l');
    expect(link?.wave).toBe(1);
    expect(link?.fields[0]?.unknown).toBe(true);
    await f.pass();
    const stored = f.world.items.get('mem.Link/l');
    expect(stored?.spec.target).toBe(`10.0.0.${f.world.items.get('mem.Thing/a')?.id.replace(/\D/g, '')}`);
    expect((await f.pass()).outcome).toBe('no-op');
  });

  it('updates in place, and replaces when a replace-on-change field changes', async () => {
    const f = new EngineFixture().write({ 'a.yaml': thing('a', 'size: 1') });
    await f.pass();
    const id = f.world.items.get('mem.Thing/a')?.id;
    f.write({ 'a.yaml': thing('a', 'size: 3') });
    const update = await f.pass();
    expect(actions(update)['mem.Thing/a']).toBe('update');
    expect(update.plan.changes[0]?.fields).toMatchObject([
      { path: 'size', before: 1, after: 3, forcesReplacement: false },
    ]);
    expect(f.world.items.get('mem.Thing/a')?.id).toBe(id);
    f.write({ 'a.yaml': thing('a', 'size: 3\nzone: z2') });
    const replace = await f.pass();
    expect(actions(replace)['mem.Thing/a']).toBe('replace');
    expect(f.world.items.get('mem.Thing/a')?.id).not.toBe(id);
  });

  it('refuses to replace a stateful resource unless allowReplace is set', async () => {
    const f = new EngineFixture().write({ 'v.yaml': 'kind: mem.Vault\nname: v\nspec:\n  region: r1\n' });
    await f.pass();
    f.write({ 'v.yaml': 'kind: mem.Vault\nname: v\nspec:\n  region: r2\n' });
    const refused = await f.pass();
    expect(refused.plan.changes[0]).toMatchObject({ action: 'skip', reason: 'replace-refused' });
    expect(refused.errors.map((e) => e.code)).toContain('REPLACE_REFUSED');
    f.write({ 'v.yaml': 'kind: mem.Vault\nname: v\nallowReplace: true\nspec:\n  region: r2\n' });
    expect(actions(await f.pass())['mem.Vault/v']).toBe('replace');
  });

  it('tells drift (a change made by hand) from a change in Git, heals it under enforce and only reports it under observe', async () => {
    const f = new EngineFixture().write({ 'a.yaml': thing('a', 'size: 1') + thing('b', 'size: 1') });
    await f.pass();
    f.write({ 'a.yaml': thing('a', 'size: 1') + thing('b', 'size: 1', 'policy: observe\n') });
    (f.world.items.get('mem.Thing/a') as { spec: Record<string, unknown> }).spec.size = 9;
    (f.world.items.get('mem.Thing/b') as { spec: Record<string, unknown> }).spec.size = 9;
    const pass = await f.pass();
    expect(pass.plan.drift.map((d) => [d.key, d.policy, d.type])).toEqual([
      ['mem.Thing/a', 'enforce', 'changed'],
      ['mem.Thing/b', 'observe', 'changed'],
    ]);
    expect(pass.plan.drift[0]?.fingerprint).toMatch(/^[0-9a-f]{64}$/);
    expect(pass.plan.changes.find((c) => c.key === 'mem.Thing/a')).toMatchObject({ action: 'update', cause: 'drift' });
    expect(pass.plan.changes.find((c) => c.key === 'mem.Thing/b')).toMatchObject({
      action: 'skip',
      reason: 'observe-policy',
    });
    expect(f.world.items.get('mem.Thing/a')?.spec.size).toBe(1);
    expect(f.world.items.get('mem.Thing/b')?.spec.size).toBe(9);
    // the same drift gives the same fingerprint on the next pass
    const again = await f.pass();
    expect(again.plan.drift.map((d) => d.fingerprint)).toEqual([pass.plan.drift[1]?.fingerprint]);
  });

  it('prunes what left Git, keeps what was protected, and never touches what it does not own', async () => {
    const f = new EngineFixture().write({ 'a.yaml': thing('a', 'size: 1') + thing('p', 'size: 1', 'protect: true\n') });
    await f.pass();
    f.world.items.set('mem.Thing/foreign', {
      id: 'x',
      kind: 'mem.Thing',
      name: 'foreign',
      spec: { size: 1 },
      labels: {},
    });
    f.write({ 'a.yaml': thing('other', 'size: 1') });
    const pass = await f.pass();
    expect(actions(pass)).toEqual({ 'mem.Thing/other': 'create', 'mem.Thing/a': 'delete', 'mem.Thing/p': 'skip' });
    expect(pass.plan.changes.find((c) => c.key === 'mem.Thing/p')?.reason).toBe('protected');
    expect(f.world.items.has('mem.Thing/a')).toBe(false);
    expect(f.world.items.has('mem.Thing/p')).toBe(true);
    expect(f.world.items.has('mem.Thing/foreign')).toBe(true);
  });

  it('a scoped pass sees only its kinds: other kinds are neither observed, planned nor forgotten, and nothing is pruned', async () => {
    const link = 'kind: mem.Link\nname: l\nspec:\n  target: plain\n';
    const f = new EngineFixture().write({ 'a.yaml': thing('a', 'size: 1') + thing('b', 'size: 1') + link });
    await f.pass();
    // Git now has only a: a whole pass would delete b and the link.
    f.write({ 'a.yaml': `${thing('a', 'size: 2')}` });
    const scoped = await f.pass('apply', { scope: { kinds: new Set(['mem.Thing']) } });
    // Why: the scope is mem.Thing without pruning, so a is updated, b (owned, gone from Git) stays,
    // and mem.Link is not even looked at.
    expect(actions(scoped)).toEqual({ 'mem.Thing/a': 'update' });
    expect(f.world.items.has('mem.Thing/b')).toBe(true);
    expect(f.world.items.has('mem.Link/l')).toBe(true);
    // The link's record is kept: a later whole pass still knows it applied it, and prunes it as its own.
    const whole = await f.pass();
    expect(actions(whole)).toEqual({ 'mem.Thing/a': 'no-op', 'mem.Thing/b': 'delete', 'mem.Link/l': 'delete' });
  });

  it('a scoped pass with prune deletes owned resources of its kinds that left Git, and only those', async () => {
    const link = 'kind: mem.Link\nname: l\nspec:\n  target: plain\n';
    const f = new EngineFixture().write({ 'a.yaml': thing('a', 'size: 1') + thing('b', 'size: 1') + link });
    await f.pass();
    f.write({ 'a.yaml': thing('a', 'size: 1') });
    const scoped = await f.pass('apply', { scope: { kinds: new Set(['mem.Thing']), prune: true } });
    expect(actions(scoped)).toEqual({ 'mem.Thing/a': 'no-op', 'mem.Thing/b': 'delete' });
    expect(f.world.items.has('mem.Link/l')).toBe(true);
  });

  it('refuses the whole plan when it would delete more than the deletion budget', async () => {
    const docs = Array.from({ length: 7 }, (_, i) => thing(`t${i}`, 'size: 1')).join('');
    const f = new EngineFixture().write({ 'a.yaml': docs });
    await f.pass();
    f.write({ 'empty.yaml': thing('survivor', 'size: 1') });
    const writes = f.world.writes;
    const pass = await f.pass('apply', { deletionBudget: 5 });
    expect(pass.outcome).toBe('refused');
    expect(pass.plan.refused?.message).toMatch(/delete or replace 7 resources, more than the deletion budget of 5/);
    expect(pass.errors.map((e) => e.code)).toEqual(['DELETION_BUDGET']);
    expect(f.world.writes).toBe(writes);
    expect(f.world.items.size).toBe(7);
    expect((await f.pass('apply', { deletionBudget: 7 })).outcome).toBe('changed');
    expect(f.world.items.size).toBe(1);
  });

  it('counts replacements against the deletion budget (7 replacements with a budget of 0 once deleted 7 objects)', async () => {
    const docs = (zone: string) =>
      Array.from({ length: 7 }, (_, i) => thing(`r${i}`, `size: 1\nzone: ${zone}`)).join('');
    const f = new EngineFixture().write({ 'a.yaml': docs('z1') });
    await f.pass();
    const ids = [...f.world.items.values()].map((i) => i.id).sort();
    f.write({ 'a.yaml': docs('z2') });
    const writes = f.world.writes;
    const pass = await f.pass('apply', { deletionBudget: 0 });
    expect(pass.plan.summary.replace).toBe(7);
    expect(pass.outcome).toBe('refused');
    expect(pass.errors.map((e) => e.code)).toEqual(['DELETION_BUDGET']);
    expect(f.world.writes).toBe(writes);
    expect([...f.world.items.values()].map((i) => i.id).sort()).toEqual(ids);
  });

  it('refuses to take over a resource it does not own unless told to adopt it', async () => {
    const f = new EngineFixture().write({ 'a.yaml': thing('a', 'size: 1') });
    f.world.items.set('mem.Thing/a', {
      id: 'x',
      kind: 'mem.Thing',
      name: 'a',
      spec: { size: 5, color: 'blue', zone: 'z1' },
      labels: {},
    });
    const refused = await f.pass();
    expect(refused.plan.changes[0]).toMatchObject({ action: 'skip', reason: 'unowned' });
    expect(refused.errors[0]).toMatchObject({ code: 'CONFLICT_UNOWNED', key: 'mem.Thing/a' });
    expect(f.world.items.get('mem.Thing/a')?.spec.size).toBe(5);
    f.write({ 'a.yaml': thing('a', 'size: 1', 'adopt: true\n') });
    expect(actions(await f.pass())['mem.Thing/a']).toBe('update');
    expect(f.world.items.get('mem.Thing/a')?.labels['keelson.io/owner']).toBe('keelson-test');
  });

  it('passes secrets by reference, compares them by digest, and never shows their values', async () => {
    const f = new EngineFixture().write({ 'a.yaml': thing('a', 'size: 1\npassword: { secretRef: db }') });
    const missing = await f.pass();
    expect(missing.plan.changes[0]).toMatchObject({ action: 'skip', reason: 'missing-secret' });
    expect(missing.errors[0]?.message).toContain('"db"');
    f.secrets = { db: 'hunter2-very-secret' };
    await f.pass();
    expect((await f.pass()).outcome).toBe('no-op');
    f.secrets = { db: 'rotated-secret-value' };
    const rotated = await f.pass();
    expect(rotated.plan.changes[0]).toMatchObject({
      action: 'update',
      fields: [{ path: 'password', sensitive: true }],
    });
    const everything = JSON.stringify(rotated) + JSON.stringify(await f.store.load());
    expect(everything).not.toContain('hunter2');
    expect(everything).not.toContain('rotated-secret-value');
  });

  it('reports a field the provider keeps rewriting once, instead of re-applying it forever', async () => {
    const f = new EngineFixture().write({ 'a.yaml': thing('a', 'size: 1\ncolor: red') });
    f.world.rewrite.set('mem.Thing/a', { color: 'RED' });
    // After the create, a difference is an unfinished create (finished by the next pass)...
    const first = await f.pass();
    expect(first.errors.map((e) => e.code)).toEqual(['CREATE_UNFINISHED']);
    // ...and after a complete, successful update that still does not stick, the field is unstable.
    const second = await f.pass();
    expect(second.unstable).toEqual([{ key: 'mem.Thing/a', fields: ['color'] }]);
    expect(second.errors.filter((e) => e.code === 'UNSTABLE_FIELD')).toHaveLength(1);
    const writes = f.world.writes;
    const third = await f.pass();
    expect(third.plan.changes[0]?.action).toBe('no-op');
    expect(third.errors).toEqual([]);
    expect(f.world.writes).toBe(writes);
  });

  it('does not create twice when the response to a create is lost', async () => {
    const f = new EngineFixture().write({ 'a.yaml': thing('a', 'size: 1') });
    f.world.lostResponse.add('mem.Thing/a');
    const pass = await f.pass();
    expect(pass.results[0]).toMatchObject({ status: 'applied' });
    expect([...f.world.items.keys()]).toEqual(['mem.Thing/a']);
    expect(f.world.writes).toBe(1);
  });

  it('adopts the resource of an interrupted create on the next pass instead of creating it again', async () => {
    const f = new EngineFixture().write({ 'a.yaml': thing('a', 'size: 1') });
    // a crash after the vendor's create, before the journal was resolved
    f.world.items.set('mem.Thing/a', {
      id: 'id-9',
      kind: 'mem.Thing',
      name: 'a',
      spec: { size: 1, color: 'blue', zone: 'z1' },
      labels: { 'keelson.io/owner': 'keelson-test' },
    });
    await f.store.save({
      ...(await f.store.load()),
      journal: {
        'mem.Thing/a': { key: 'mem.Thing/a', kind: 'mem.Thing', name: 'a', state: 'creating', revision: 'r0', at: '' },
      },
    });
    const pass = await f.pass();
    expect(actions(pass)['mem.Thing/a']).toBe('no-op');
    expect(f.world.writes).toBe(0);
    expect((await f.store.load()).journal).toEqual({});
  });

  it('claims what an interrupted create made when ownership could not be recorded on it (no CONFLICT_UNOWNED)', async () => {
    // Why: kinds whose ownership lives in the inventory (R2 buckets, Worker routes, crons) lose it
    // with a lost create answer; the journal entry is the proof the object is keelson's.
    const f = new EngineFixture().write({ 'a.yaml': thing('a', 'size: 1') });
    f.world.items.set('mem.Thing/a', {
      id: 'id-7',
      kind: 'mem.Thing',
      name: 'a',
      spec: { size: 1, color: 'blue', zone: 'z1' },
      labels: {},
    });
    await f.store.save({
      ...(await f.store.load()),
      journal: {
        'mem.Thing/a': { key: 'mem.Thing/a', kind: 'mem.Thing', name: 'a', state: 'creating', revision: 'r0', at: '' },
      },
    });
    const pass = await f.pass();
    expect(pass.errors.map((e) => e.code)).not.toContain('CONFLICT_UNOWNED');
    expect(actions(pass)['mem.Thing/a']).not.toBe('skip');
    const state = await f.store.load();
    expect(state.journal).toEqual({});
    expect(state.inventory['mem.Thing/a']).toMatchObject({ id: 'id-7', kind: 'mem.Thing' });
    expect([...f.world.items.keys()]).toEqual(['mem.Thing/a']);
  });

  it('finishes an unfinished create on the next pass, and never buries it as an unstable field', async () => {
    // Why: a create whose later steps were lost (a server without its network and protection)
    // was once reported as UNSTABLE_FIELD and then never healed.
    const f = new EngineFixture().write({ 'a.yaml': thing('a', 'size: 1\ncolor: red') });
    f.world.partialCreate.set('mem.Thing/a', ['color']);
    const first = await f.pass();
    expect(first.errors.map((e) => e.code)).toEqual(['CREATE_UNFINISHED']);
    expect(first.unstable).toEqual([]);
    expect((await f.store.load()).unstable ?? {}).toEqual({});
    const second = await f.pass();
    expect(second.plan.changes.find((c) => c.key === 'mem.Thing/a')).toMatchObject({ action: 'update', cause: 'git' });
    expect(second.errors).toEqual([]);
    expect(f.world.items.get('mem.Thing/a')?.spec.color).toBe('red');
    const writes = f.world.writes;
    expect(actions(await f.pass())['mem.Thing/a']).toBe('no-op');
    expect(f.world.writes).toBe(writes);
  });

  it('skips the dependents of a failed change and applies the rest', async () => {
    const f = new EngineFixture().write({
      'a.yaml': `${thing('a', 'size: 1') + thing('b', 'size: 1')}kind: mem.Link\nname: l\nspec:\n  target: { ref: mem.Thing/a, output: address }\n`,
    });
    f.world.failNext.set(
      'mem.Thing/a',
      new KeelsonError('cannot create thing a: quota exceeded', { code: 'API_ERROR', class: 'terminal' }),
    );
    const pass = await f.pass();
    expect(pass.outcome).toBe('failed');
    expect(Object.fromEntries(pass.results.map((r) => [r.key, r.status]))).toEqual({
      'mem.Thing/a': 'failed',
      'mem.Thing/b': 'applied',
      'mem.Link/l': 'skipped',
    });
    expect(pass.errors[0]).toMatchObject({ key: 'mem.Thing/a', message: 'cannot create thing a: quota exceeded' });
    expect((await f.pass()).outcome).toBe('changed');
  });

  it('is one ordered list of steps, and the pass is the one writer of the state store', async () => {
    const f = new EngineFixture().write({ 'a.yaml': thing('a', 'size: 1') });
    const saves: string[] = [];
    const store = f.store;
    const counting = {
      load: () => store.load(),
      save: async (d: Parameters<typeof store.save>[0]) => {
        saves.push(JSON.stringify(d.runs.length));
        await store.save(d);
      },
    };
    const first = await f.pass('apply', { store: counting });
    // `settle` is the part of `apply` spent waiting for rollouts, not a step of its own.
    expect(Object.keys(first.timings).filter((k) => k !== 'settle')).toEqual([
      'open',
      'observe',
      'journal',
      'plan',
      'apply',
      'stabilise',
      'record',
    ]);
    expect((await store.load()).runs.map((r) => r.result)).toEqual(['success']);
    // `keelson plan` writes nothing; the daemon's plan-only pass records drift and the run.
    saves.length = 0;
    (f.world.items.get('mem.Thing/a') as { spec: Record<string, unknown> }).spec.size = 9;
    await f.pass('plan', { store: counting });
    expect(saves).toEqual([]);
    const policy = { afterObservations: 1, reminderMs: 60_000 };
    const recorded = await f.pass('plan', { store: counting, record: true, drift: policy });
    expect(saves).toHaveLength(1);
    expect(recorded.drift?.events.map((e) => e.type)).toEqual(['opened']);
    const state = await store.load();
    expect(Object.keys(state.drift)).toEqual(['mem.Thing/a']);
    expect(state.runs.map((r) => r.result)).toEqual(['success', 'success']);
  });

  it('a waiting error (rate limited, locked) asks for the next pass after the time it names', async () => {
    const f = new EngineFixture().write({ 'a.yaml': thing('a', 'size: 1') });
    f.world.failNext.set(
      'mem.Thing/a',
      new KeelsonError('cannot create thing a: locked by a running action', {
        code: 'LOCKED',
        class: 'waiting',
        retryAfterMs: 1200,
      }),
    );
    const pass = await f.pass('apply', { retry: { attempts: 1, baseDelayMs: 1, maxDelayMs: 5 } });
    expect(pass.errors).toMatchObject([{ code: 'LOCKED', class: 'waiting', retryAfterMs: 1200 }]);
    expect(pass.requeueAfterMs).toBe(1200);
    const next = await f.pass();
    expect(next.outcome).toBe('changed');
    expect(next.requeueAfterMs).toBeUndefined();
  });

  it('an update not waited for (keelson’s own service) is recorded only once a later pass finds it ready and as in Git', async () => {
    const f = new EngineFixture().write({ 'a.yaml': thing('a', 'size: 1') });
    await f.pass();
    f.world.unconfirmed.add('mem.Thing/a');
    f.write({ 'a.yaml': thing('a', 'size: 2') });
    // Even if the vendor rewrote a field at once, an update not waited for is judged later, not
    // taken for an unstable field.
    f.world.rewrite.set('mem.Thing/a', { color: 'green' });
    const sent = await f.pass();
    f.world.rewrite.delete('mem.Thing/a');
    (f.world.items.get('mem.Thing/a') as { spec: Record<string, unknown> }).spec.color = 'blue';
    expect(sent.results).toMatchObject([{ key: 'mem.Thing/a', status: 'applied', unconfirmed: true }]);
    expect(sent.unstable).toEqual([]);
    expect(sent.errors).toEqual([]);
    // The replaced task recorded nothing: a rollback must not read as drift to heal.
    expect((await f.store.load()).applied['mem.Thing/a']?.revision).toBe('r1');
    // The next leader: still rolling out, nothing to send (live is as in Git), nothing recorded yet.
    f.world.busy.add('mem.Thing/a');
    const writes = f.world.writes;
    expect(actions(await f.pass())['mem.Thing/a']).toBe('no-op');
    expect((await f.store.load()).applied['mem.Thing/a']?.revision).toBe('r1');
    f.world.busy.delete('mem.Thing/a');
    expect(actions(await f.pass())['mem.Thing/a']).toBe('no-op');
    expect((await f.store.load()).applied['mem.Thing/a']?.revision).toBe('r2');
    expect(f.world.writes).toBe(writes);
  });

  it('does not send again a spec the vendor rolled back, until Git changes the resource', async () => {
    const f = new EngineFixture().write({ 'a.yaml': thing('a', 'size: 1') });
    await f.pass();
    f.world.unconfirmed.add('mem.Thing/a');
    f.write({ 'a.yaml': thing('a', 'size: 2') });
    await f.pass();
    // The vendor undoes it (a Swarm rollback): the old spec is live again.
    const item = f.world.items.get('mem.Thing/a') as { spec: Record<string, unknown> };
    f.world.rolledBack.set('mem.Thing/a', { spec: { ...item.spec }, message: 'task a.1 exited with code 1' });
    item.spec = { ...item.spec, size: 1 };
    const writes = f.world.writes;
    for (const _ of [1, 2]) {
      const held = await f.pass();
      expect(held.plan.changes).toMatchObject([
        { key: 'mem.Thing/a', action: 'skip', reason: 'rolled-back', cause: 'git' },
      ]);
      expect(held.plan.changes[0]?.detail).toMatch(
        /rolled back \(task a\.1 exited with code 1\).*until the resource changes in Git/,
      );
      expect(held.errors).toMatchObject([{ code: 'ROLLBACK', key: 'mem.Thing/a', class: 'terminal' }]);
      // Not drift: keelson never recorded the undone spec as applied.
      expect(held.plan.drift).toEqual([]);
    }
    expect(f.world.writes).toBe(writes);
    // A new spec in Git is sent.
    f.write({ 'a.yaml': thing('a', 'size: 3') });
    expect(actions(await f.pass())['mem.Thing/a']).toBe('update');
    expect(f.world.writes).toBe(writes + 1);
  });
});
