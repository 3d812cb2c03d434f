/**
 * `swarm.Node` on the test Swarm's one node, which every helper's tests share: only labels
 * prefixed `kno-` are set, availability goes to pause for one step (and back in the same test),
 * never to drain. The shared handler contract (enroll = create, release = delete), the safety
 * refusals (pausing the node keelson runs on, demoting the last manager) without a write, and
 * a drain shown as a planned field change.
 */
import { hostname } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeHandlerContract } from '../providers/sdk/contract-kit.ts';
import type { ObservedResource } from '../providers/sdk/index.ts';
import { diffResource, resolvedResource, testContext } from '../providers/sdk/testing.ts';
import { NodeHandler, nodeSchema } from '../providers/swarm/kinds/node.ts';
import { testClient } from '../providers/swarm/test-support.ts';

const client = testClient();
const handler = new NodeHandler(client);
const NAME = hostname();

/** Puts the node back as it was: no kno- label, no keelson label, active. */
async function restore(): Promise<void> {
  for (const n of await client.listNodes()) {
    const labels = Object.fromEntries(
      Object.entries(n.Spec.Labels ?? {}).filter(([k]) => !k.startsWith('kno-') && !k.startsWith('keelson.io/')),
    );
    const dirty = Object.keys(labels).length !== Object.keys(n.Spec.Labels ?? {}).length;
    if (dirty || n.Spec.Availability !== 'active')
      await client.updateNode(n.ID, n.Version.Index, { ...n.Spec, Labels: labels, Availability: 'active' });
  }
}

beforeAll(restore);
afterAll(restore);

describeHandlerContract({
  kind: { schema: nodeSchema, handler },
  name: NAME,
  spec: { labels: { 'kno-zone': 'a', 'kno-mongo': '1' } },
  inPlace: (s) => ({ ...s, labels: { 'kno-zone': 'b' } }),
  writes: () => client.writeCount(),
  context: () => testContext({ owner: 'keelson-node-contract' }),
});

describe('swarm.Node safety', () => {
  const ctx = testContext({ owner: 'keelson-node-safety' });
  const desired = (spec: Record<string, unknown>) => resolvedResource(nodeSchema, NAME, spec);
  let enrolled: ObservedResource;

  beforeAll(async () => {
    enrolled = await handler.create(ctx, desired({ labels: { 'kno-role': 'db' } }));
  });
  afterAll(restore);

  it('shows a drain as a planned change of availability, like any other field', () => {
    const changes = diffResource(
      nodeSchema,
      handler,
      desired({ labels: { 'kno-role': 'db' }, availability: 'drain' }),
      enrolled,
    );
    expect(changes.map((c) => [c.path, c.before, c.after])).toEqual([['availability', 'active', 'drain']]);
  });

  it.each([
    ['pausing the node keelson runs on', { availability: 'pause' }, /cannot pause node .*: keelson runs on it/],
    ['draining the node keelson runs on', { availability: 'drain' }, /cannot drain node .*: keelson runs on it/],
    ['demoting the last manager', { role: 'worker' }, /cannot demote node .*: it is the last manager/],
  ])('refuses %s without allowDisruption, and writes nothing', async (_what, spec, message) => {
    const writes = client.writeCount();
    const error = await handler.update(ctx, desired({ labels: { 'kno-role': 'db' }, ...spec }), enrolled, []).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toMatchObject({ code: 'PROTECTED', class: 'terminal' });
    expect((error as Error).message).toMatch(message);
    expect((error as Error).message).toContain('set allowDisruption: true');
    expect(client.writeCount() - writes).toBe(0);
  });

  it('pauses it with allowDisruption, then makes it active again', async () => {
    try {
      const paused = await handler.update(
        ctx,
        desired({ labels: { 'kno-role': 'db' }, availability: 'pause', allowDisruption: true }),
        enrolled,
        [],
      );
      expect(paused.spec.availability).toBe('pause');
    } finally {
      const active = await handler.update(
        ctx,
        desired({ labels: { 'kno-role': 'db' }, availability: 'active' }),
        enrolled,
        [],
      );
      expect(active.spec.availability).toBe('active');
    }
  });

  it('says which nodes there are when the hostname is not one of them', async () => {
    await expect(
      handler.create(ctx, resolvedResource(nodeSchema, 'kno-no-such-host', { labels: {} })),
    ).rejects.toMatchObject({ code: 'NOT_READY', message: expect.stringContaining(`nodes: ${NAME}`) });
  });
});
