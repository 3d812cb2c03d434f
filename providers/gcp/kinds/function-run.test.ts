import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
// A checkout with one small HTTP function (the repository's real ones need their vendors).
const root = mkdtempSync(join(tmpdir(), 'keelson-gcf-run-'));
mkdirSync(join(root, 'functions/hello'), { recursive: true });
writeFileSync(
  join(root, 'functions/hello/package.json'),
  JSON.stringify({ name: 'hello', type: 'module', main: 'index.js', private: true }),
);
writeFileSync(
  join(root, 'functions/hello/index.js'),
  "export const hello = (req, res) => res.status(200).json({ hello: 'from the uploaded archive' });\n",
);
const rig = await startGcpRig({ sim: { runFunctions: true }, root });
const ctx = rigContext();
afterAll(() => rig.close());

describe('a deployed gcp.Function', { timeout: 60_000 }, () => {
  it('runs from the uploaded archive and answers its invokers at its url output', async () => {
    const handler = rig.handler(FUNCTION_KIND);
    const desired = resolvedResource(functionSchema, 'hello', { source: 'functions/hello', entryPoint: 'hello' });
    await handler.create(ctx, desired);
    await rig.sim.settleOperations();
    const [observed] = (await handler.observe(ctx, { kind: FUNCTION_KIND, names: ['hello'], desired: [desired] })) as [
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
      resolvedResource(iamBindingSchema, 'hello-invokers', {
        target: { type: 'function', name: observed.outputs.name },
        role: 'roles/cloudfunctions.invoker',
        members: [account.outputs.member],
      }),
    );
    const answer = await call(invoker);
    // The function's own answer: the framework ran the code keelson uploaded.
    expect(answer.status).toBe(200);
    expect(await answer.json()).toEqual({ hello: 'from the uploaded archive' });
  });
});
