import { describe, expect, it } from 'vitest';
import type { HandlerContext, ProviderKind, ResourceHandler } from './handler.ts';
import type { ObservedResource, ResolvedResource } from './resource.ts';
import { diffResource, resolvedResource, testContext } from './testing.ts';

/**
 * The contract every handler passes (ARCHITECTURE §4). Register it from a provider's test file:
 *
 *   describeHandlerContract({ kind: serviceKind, name: 'contract-web', spec: {...},
 *     inPlace: (s) => ({ ...s, replicas: 2 }), replace: (s) => ({ ...s, image: 'other' }),
 *     writes: () => apiWriteCount })
 */
export interface HandlerContractOptions {
  readonly kind: ProviderKind;
  /** A name no other test uses. */
  readonly name: string;
  /** A valid spec for a fresh resource. */
  readonly spec: Record<string, unknown>;
  /** The spec with a change that can be made in place. */
  readonly inPlace: (spec: Record<string, unknown>) => Record<string, unknown>;
  /** The spec with a change of a replace-on-change field; omit when the kind has none. */
  readonly replace?: (spec: Record<string, unknown>) => Record<string, unknown>;
  /** Number of write calls (POST/PUT/PATCH/DELETE) the vendor API has received so far. */
  readonly writes: () => number;
  /** Context to use (a fresh test context by default). */
  readonly context?: () => HandlerContext;
  /** Handlers whose creates settle asynchronously: wait until observe says ready. */
  readonly settle?: (ctx: HandlerContext, observed: ObservedResource) => Promise<void>;
  /** Per-test timeout, ms (default 60 s: real engines are slow). */
  readonly timeoutMs?: number;
}

export function describeHandlerContract(options: HandlerContractOptions): void {
  const { kind, name } = options;
  const handler = kind.handler as ResourceHandler;
  const schema = kind.schema;
  const timeout = options.timeoutMs ?? 60_000;
  const ctx = options.context ? options.context() : testContext();
  const desired = (spec: Record<string, unknown>): ResolvedResource => resolvedResource(schema, name, spec);

  async function observeOne(): Promise<ObservedResource | undefined> {
    const found = await handler.observe(ctx, { kind: schema.kind, names: [name], desired: [desired(options.spec)] });
    return found.find((o) => o.name === name);
  }

  async function observeWithoutWrites(): Promise<ObservedResource | undefined> {
    const before = options.writes();
    const found = await observeOne();
    // observe must never write: the vendor saw no write call while it ran
    expect(options.writes() - before).toBe(0);
    return found;
  }

  async function settled(observed: ObservedResource): Promise<ObservedResource> {
    if (options.settle) await options.settle(ctx, observed);
    else if (handler.settle) await handler.settle(ctx, observed);
    return (await observeOne()) ?? observed;
  }

  describe(`${schema.kind} handler contract`, { timeout }, () => {
    it('observe of a resource that does not exist finds nothing and writes nothing', async () => {
      expect(await observeWithoutWrites()).toBeUndefined();
    });

    it('create makes an owned resource; a second pass plans no change', async () => {
      const created = await settled(await handler.create(ctx, desired(options.spec)));
      expect(created.owned).toBe(true);
      const observed = await observeWithoutWrites();
      expect(observed?.id).toBe(created.id);
      expect(diffResource(schema, handler, desired(options.spec), observed as ObservedResource)).toEqual([]);
    });

    it('create of something that already exists and is ours returns it (idempotent)', async () => {
      const first = await observeOne();
      const again = await handler.create(ctx, desired(options.spec));
      expect(again.id).toBe(first?.id);
    });

    it('an in-place change updates without replacing, then plans no change', async () => {
      const before = (await observeOne()) as ObservedResource;
      const next = desired(options.inPlace(options.spec));
      const changes = diffResource(schema, handler, next, before);
      expect(changes.length).toBeGreaterThan(0);
      expect(changes.some((c) => c.forcesReplacement)).toBe(false);
      await settled(await handler.update(ctx, next, before, changes));
      const after = (await observeWithoutWrites()) as ObservedResource;
      expect(after.id).toBe(before.id);
      expect(diffResource(schema, handler, next, after)).toEqual([]);
    });

    if (options.replace) {
      const replace = options.replace;
      it('a replace-on-change field forces a replacement, which converges', async () => {
        const before = (await observeOne()) as ObservedResource;
        const next = desired(replace(options.inPlace(options.spec)));
        const changes = diffResource(schema, handler, next, before);
        expect(changes.some((c) => c.forcesReplacement)).toBe(true);
        await handler.delete(ctx, before);
        await settled(await handler.create(ctx, next));
        const after = (await observeWithoutWrites()) as ObservedResource;
        expect(after).toBeDefined();
        expect(diffResource(schema, handler, next, after)).toEqual([]);
      });
    }

    it('delete removes it, and delete of a missing resource succeeds', async () => {
      const before = (await observeOne()) as ObservedResource;
      await handler.delete(ctx, before);
      expect(await observeWithoutWrites()).toBeUndefined();
      await expect(handler.delete(ctx, before)).resolves.toBeUndefined();
    });
  });
}
