import { afterAll, describe, expect, it } from 'vitest';
import { resolvedResource } from '../../sdk/testing.ts';
import { rigContext, startCloudflareRig } from '../testing.ts';
import { r2BucketSchema } from './r2-bucket.ts';
import { workerRouteSchema } from './worker-route.ts';
import { workerScriptSchema } from './worker-script.ts';

// R2 and service bindings written by keelson work in workerd: the simulator checks they point at
// something that exists, and the deployed Worker uses both through its route.
const rig = await startCloudflareRig({ zones: ['example.com'] });
const ctx = rigContext();
afterAll(() => rig.close());

describe('Worker bindings', { timeout: 60_000 }, () => {
  it('a Worker with an R2 bucket, a service binding and a var answers through its route', async () => {
    await rig
      .handler(r2BucketSchema.kind)
      .create(ctx, resolvedResource(r2BucketSchema, 'binding-bucket', { lifecycle: [] }));
    await rig.handler(workerScriptSchema.kind).create(
      ctx,
      resolvedResource(workerScriptSchema, 'hello', {
        source: 'providers/cloudflare/testdata/hello-worker',
        compatibilityDate: '2024-09-23',
        vars: { GREETING: 'hi from hello' },
      }),
    );
    const spec = {
      source: 'providers/cloudflare/testdata/binding-worker',
      compatibilityDate: '2024-09-23',
      vars: { MODE: 'test' },
      r2Buckets: { BUCKET: 'binding-bucket' },
      services: { HELLO: 'hello' },
    };
    const created = await rig
      .handler(workerScriptSchema.kind)
      .create(ctx, resolvedResource(workerScriptSchema, 'binder', spec));
    expect(created.spec).toMatchObject({ r2Buckets: { BUCKET: 'binding-bucket' }, services: { HELLO: 'hello' } });
    await rig.handler(workerRouteSchema.kind).create(
      ctx,
      resolvedResource(workerRouteSchema, 'binder', {
        zone: 'example.com',
        pattern: 'bind.example.com/*',
        script: 'binder',
      }),
    );
    const put = await rig.sim.fetchRoute('https://bind.example.com/notes', { method: 'PUT', body: 'kept in R2' });
    expect(await put.json()).toEqual({ mode: 'test', stored: 'kept in R2', hello: 'hi from hello' });
    const get = await rig.sim.fetchRoute('https://bind.example.com/notes');
    expect(await get.json()).toMatchObject({ stored: 'kept in R2' });
  });

  it('a binding to a bucket that does not exist is refused by the API, terminally, naming the Worker', async () => {
    const spec = {
      source: 'providers/cloudflare/testdata/binding-worker',
      compatibilityDate: '2024-09-23',
      r2Buckets: { BUCKET: 'no-such-bucket' },
    };
    await expect(
      rig.handler(workerScriptSchema.kind).create(ctx, resolvedResource(workerScriptSchema, 'broken', spec)),
    ).rejects.toMatchObject({
      class: 'terminal',
      resource: 'cloudflare.WorkerScript/broken',
      message: /no-such-bucket/,
    });
  });
});
