import { afterAll, describe, expect, it } from 'vitest';
import type { ObservedResource } from '../../sdk/index.ts';
import { resolvedResource } from '../../sdk/testing.ts';
import { rigContext, startGcpRig } from '../testing.ts';
import { IAM_BINDING_KIND, iamBindingSchema } from './iam-binding.ts';
import { SERVICE_ACCOUNT_KIND, serviceAccountSchema } from './service-account.ts';

// IAM bindings are read-modify-write on one policy per resource: concurrent writers and a refused
// etag must not lose a role, and a binding owns its one role only.
const rig = await startGcpRig();
const ctx = rigContext();
const handler = rig.handler(IAM_BINDING_KIND);
afterAll(() => rig.close());

const members: string[] = [];
for (const name of ['alpha-sa', 'beta-sa', 'gamma-sa']) {
  const sa = await rig
    .handler(SERVICE_ACCOUNT_KIND)
    .create(ctx, resolvedResource(serviceAccountSchema, name, { displayName: name }));
  members.push(sa.outputs.member as string);
}

async function projectPolicy(): Promise<{ role: string; members: string[] }[]> {
  const answer = await fetch(`${rig.sim.url}/v3/projects/${rig.sim.projectId}:getIamPolicy`, {
    method: 'POST',
    headers: { authorization: `Bearer ${rig.sim.env.GCP_ACCESS_TOKEN}`, 'content-type': 'application/json' },
    body: '{}',
  });
  return ((await answer.json()) as { bindings?: { role: string; members: string[] }[] }).bindings ?? [];
}

async function observed(name: string, desired: ReturnType<typeof binding>): Promise<ObservedResource> {
  const all = await handler.observe(ctx, { kind: IAM_BINDING_KIND, names: [name], desired: [desired] });
  return all.find((o) => o.name === name) as ObservedResource;
}

const binding = (name: string, role: string, who: string[]) =>
  resolvedResource(iamBindingSchema, name, { target: { type: 'project' }, role, members: who });

describe('gcp.IamBinding on one policy', () => {
  it('three bindings written at once on the project all land (etag conflicts are read again)', async () => {
    await Promise.all([
      handler.create(ctx, binding('a', 'roles/datastore.user', [members[0] as string])),
      handler.create(ctx, binding('b', 'roles/datastore.viewer', [members[1] as string])),
      handler.create(ctx, binding('c', 'roles/pubsub.publisher', [members[2] as string])),
    ]);
    const policy = await projectPolicy();
    expect(policy.find((b) => b.role === 'roles/datastore.user')?.members).toEqual([members[0]]);
    expect(policy.find((b) => b.role === 'roles/datastore.viewer')?.members).toEqual([members[1]]);
    expect(policy.find((b) => b.role === 'roles/pubsub.publisher')?.members).toEqual([members[2]]);
  });

  it('a write refused for its etag is read again and retried', async () => {
    rig.sim.faults.inject({ type: 'status', status: 409, match: { path: ':setIamPolicy' } });
    const desired = binding('a', 'roles/datastore.user', [members[0] as string, members[1] as string]);
    const before = await observed('a', desired);
    await handler.update(ctx, desired, before, [{ path: 'members' } as never]);
    expect(rig.sim.faults.remaining()).toBe(0);
    expect((await projectPolicy()).find((b) => b.role === 'roles/datastore.user')?.members).toEqual(
      [members[0], members[1]].sort(),
    );
  });

  it('deleting a binding removes its role only', async () => {
    const b = await observed('b', binding('b', 'roles/datastore.viewer', [members[1] as string]));
    expect(b.spec.members).toEqual([members[1]]);
    await handler.delete(ctx, b);
    const roles = (await projectPolicy()).map((b) => b.role);
    expect(roles).not.toContain('roles/datastore.viewer');
    expect(roles).toEqual(expect.arrayContaining(['roles/datastore.user', 'roles/pubsub.publisher']));
  });
});
