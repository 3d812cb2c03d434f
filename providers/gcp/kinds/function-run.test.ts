import { afterAll, describe, expect, it } from 'vitest';
import type { ObservedResource } from '../../sdk/index.ts';
import { resolvedResource } from '../../sdk/testing.ts';
import { rigContext, startGcpRig } from '../testing.ts';
import { FUNCTION_KIND, functionSchema } from './function.ts';
import { IAM_BINDING_KIND, iamBindingSchema } from './iam-binding.ts';
import { SERVICE_ACCOUNT_KIND, serviceAccountSchema } from './service-account.ts';

// What keelson archives and uploads is what the simulator starts in Google's Functions Framework: the
// deployed function answers at its URL, to the invokers a gcp.IamBinding names, as Cloud Run's front
// door checks them (an ID token for the URL from a member of roles/cloudfunctions.invoker).
const rig = await startGcpRig({ sim: { runFunctions: true } });
const ctx = rigContext();
afterAll(() => rig.close());

describe('a deployed gcp.Function', { timeout: 60_000 }, () => {
  it('runs from the uploaded archive and answers its invokers at its url output', async () => {
    const handler = rig.handler(FUNCTION_KIND);
    const desired = resolvedResource(functionSchema, 'backup', { source: 'functions/backup', entryPoint: 'backup' });
    await handler.create(ctx, desired);
    await rig.sim.settleOperations();
    const [observed] = (await handler.observe(ctx, { kind: FUNCTION_KIND, names: ['backup'], desired: [desired] })) as [
      ObservedResource,
    ];
    expect(observed.ready).toBe(true);
    const url = observed.outputs.url as string;
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+/);
    expect((await fetch(url, { method: 'POST' })).status).toBe(401);
    const account = await rig
      .handler(SERVICE_ACCOUNT_KIND)
      .create(ctx, resolvedResource(serviceAccountSchema, 'invoker', { displayName: 'Invoker' }));
    const invoker = account.outputs.email as string;
    const call = async (email: string) =>
      fetch(url, { method: 'POST', headers: { authorization: `Bearer ${await rig.sim.idToken(email, url)}` } });
    expect((await call(invoker)).status).toBe(403);
    await rig.handler(IAM_BINDING_KIND).create(
      ctx,
      resolvedResource(iamBindingSchema, 'backup-invokers', {
        target: { type: 'function', name: observed.outputs.name },
        role: 'roles/cloudfunctions.invoker',
        members: [account.outputs.member],
      }),
    );
    const answer = await call(invoker);
    // The placeholder's own answer: the framework ran the code keelson uploaded.
    expect(answer.status).toBe(501);
    expect(await answer.json()).toEqual({ error: 'backup is a placeholder; the backup flow issue replaces it' });
  });
});
