import type { Clock } from './clock.ts';
import { applyDefaults, diffSpec, type FieldChange } from './diff.ts';
import type { HandlerContext, InventoryAccess, InventoryEntry, Logger, ResourceHandler } from './handler.ts';
import { type ObservedResource, providerOf, type ResolvedResource, resourceKey } from './resource.ts';
import type { KindSchema } from './schema.ts';

/** An in-memory inventory, for tests and for providers that run without a state store. */
export class MemoryInventory implements InventoryAccess {
  readonly #entries = new Map<string, InventoryEntry>();
  get(key: string): InventoryEntry | undefined {
    return this.#entries.get(key);
  }
  list(kind: string): InventoryEntry[] {
    return [...this.#entries.values()].filter((e) => e.kind === kind);
  }
  async set(entry: InventoryEntry): Promise<void> {
    this.#entries.set(entry.key, entry);
  }
  async remove(key: string): Promise<void> {
    this.#entries.delete(key);
  }
}

export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };

/** A handler context for tests: owner `keelson-test` unless told otherwise. */
export function testContext(overrides: Partial<HandlerContext> = {}): HandlerContext {
  return {
    owner: 'keelson-test',
    log: silentLogger,
    signal: new AbortController().signal,
    inventory: new MemoryInventory(),
    ...overrides,
  };
}

/** A resolved desired resource with default flags, for tests. Defaults from the schema are applied. */
export function resolvedResource(
  schema: KindSchema,
  name: string,
  spec: Record<string, unknown>,
  extra: Partial<ResolvedResource> = {},
): ResolvedResource {
  return {
    key: resourceKey(schema.kind, name),
    kind: schema.kind,
    name,
    provider: providerOf(schema.kind),
    spec: applyDefaults(schema.spec, spec),
    policy: 'enforce',
    protect: false,
    allowReplace: false,
    adopt: false,
    dependsOn: [],
    ...extra,
  };
}

/** The diff the engine would compute for a desired resource against what a handler observed. */
export function diffResource(
  schema: KindSchema,
  handler: ResourceHandler,
  desired: ResolvedResource,
  observed: ObservedResource,
): FieldChange[] {
  const want = handler.normalize ? handler.normalize(desired.spec) : desired.spec;
  return diffSpec(schema.spec, want, observed.spec);
}

/** A clock that moves only when something sleeps on it (or the test calls `advance`). */
export interface FakeClock extends Clock {
  /** Every sleep asked for, ms, oldest first. */
  readonly slept: number[];
  advance(ms: number): void;
}

/**
 * A fake clock for tests of time-driven code: `sleep(ms)` returns at once after moving `now` by `ms`
 * and calling `onSleep` (a test refills a simulator's bucket there), so nothing waits for real.
 */
export function fakeClock(start = 0, onSleep?: (ms: number) => void | Promise<void>): FakeClock {
  let now = start;
  const slept: number[] = [];
  return {
    slept,
    now: () => now,
    advance(ms: number) {
      now += ms;
    },
    async sleep(ms: number, signal?: AbortSignal) {
      if (signal?.aborted) throw signal.reason;
      slept.push(ms);
      now += ms;
      await onSleep?.(ms);
    },
  };
}

/**
 * The real clock, except that `sleep` returns at once: the wait is added to `now` and `onSleep` is
 * called. For code that should not really wait in a test that otherwise runs in real time.
 */
export function skippingClock(onSleep?: (ms: number) => void | Promise<void>): Clock {
  let skipped = 0;
  return {
    now: () => Date.now() + skipped,
    async sleep(ms: number, signal?: AbortSignal) {
      if (signal?.aborted) throw signal.reason;
      skipped += ms;
      await onSleep?.(ms);
    },
  };
}
