import {
  type HandlerContext,
  isPlainObject,
  KeelsonError,
  type ObservedResource,
  type OperationTracker,
  type ResolvedResource,
  resourceKey,
  UnknownValue,
} from '../../sdk/index.ts';
import type { GapicClient } from '../client/clients.ts';
import type { GcpApi } from '../client/gcp-api.ts';
import type { GcpOperation } from '../client/operation-tracker.ts';
import { isOwnedBy, protectedByLabel } from '../ownership.ts';

/** What every Google Cloud handler shares: one API (one rate budget), one operation tracker, one clock. */
export interface GcpRuntime {
  readonly api: GcpApi;
  readonly operations: OperationTracker<GcpOperation>;
  /** Epoch ms (a test clock in tests). */
  readonly now: () => number;
}

/** The last path segment of a Google resource name (`projects/p/topics/t` → `t`). */
export function shortName(name: string | null | undefined): string {
  const s = name ?? '';
  return s.slice(s.lastIndexOf('/') + 1);
}

export function signalOf(ctx: HandlerContext): { signal?: AbortSignal } {
  return ctx.signal ? { signal: ctx.signal } : {};
}

/** A resource is reported when this instance owns it (by label or inventory) or Git names it. */
export function wanted(
  names: ReadonlySet<string>,
  name: string,
  labels: Readonly<Record<string, string>> | null | undefined,
  owner: string,
): boolean {
  return names.has(name) || isOwnedBy(labels, owner);
}

/** The common part of an observed resource carrying labels. */
export function labelledBase(
  kind: string,
  name: string,
  id: string,
  labels: Readonly<Record<string, string>> | null | undefined,
  ctx: HandlerContext,
  rt: GcpRuntime,
): Pick<ObservedResource, 'key' | 'kind' | 'name' | 'id' | 'owned' | 'protect' | 'ready' | 'message'> {
  const key = resourceKey(kind, name);
  return {
    key,
    kind,
    name,
    id,
    owned: isOwnedBy(labels, ctx.owner),
    protect: protectedByLabel(labels),
    ...readiness(rt, key),
  };
}

/** Not ready while an operation keelson started on it runs; the failure of the last one as message. */
export function readiness(rt: GcpRuntime, key: string, busy = false): { ready: boolean; message?: string } {
  const message = rt.operations.message(key);
  return {
    ready: !busy && !rt.operations.running(key),
    ...(message === undefined ? {} : { message }),
  };
}

/** The common part of an observed resource tracked in the inventory. */
export function inventoryBase(
  kind: string,
  name: string,
  id: string,
  ctx: HandlerContext,
  rt: GcpRuntime,
): Pick<ObservedResource, 'key' | 'kind' | 'name' | 'id' | 'owned' | 'ready' | 'message'> {
  const key = resourceKey(kind, name);
  return { key, kind, name, id, owned: ctx.inventory.get(key)?.id === id, ...readiness(rt, key) };
}

/**
 * A reference whose output is not known yet (a function still deploying has no URL): the resource
 * waits for the next pass instead of being written with a placeholder.
 */
export function requireKnown(desired: ResolvedResource): void {
  if (hasUnknownValue(desired.spec)) {
    throw new KeelsonError(`cannot apply ${desired.key} yet: a value it references is not known yet`, {
      code: 'NOT_READY',
      class: 'waiting',
      resource: desired.key,
      retryAfterMs: 5000,
    });
  }
}

export function unowned(desired: ResolvedResource, what: string, id: string): KeelsonError {
  return new KeelsonError(
    `cannot create ${desired.key}: ${what} ${id} exists and is not owned by keelson; set "adopt: true" to take it over`,
    { code: 'CONFLICT_UNOWNED', class: 'terminal', resource: desired.key },
  );
}

/** Google's long-running operation as the generated clients answer it. */
interface GaxOperation {
  readonly name?: string;
  readonly done?: boolean;
  readonly error?: { message?: string } | null;
}

/**
 * Starts a long-running operation and returns at once: the tracker polls it on the next observe
 * (through the client's operations client), so the resource shows as not ready meanwhile.
 */
export async function startOperation(
  rt: GcpRuntime,
  ctx: HandlerContext,
  key: string,
  what: string,
  client: GapicClient,
  start: (gax: Record<string, unknown>) => Promise<unknown[]>,
  idempotent = false,
): Promise<void> {
  const [operation] = (await rt.api.call(what, key, start, { idempotent, ...signalOf(ctx) })) as [GaxOperation];
  if (!operation?.name) return;
  rt.operations.track(key, what, [
    { name: operation.name, done: operation.done === true, error: operation.error ?? null, client },
  ]);
}

/**
 * The key under which a deletion's operation is tracked: a deletion in progress is not a deploy in
 * progress. With the vendor's id, so a namesake in another region is not hidden by it. It starts with
 * the resource key, so the kind's observe polls it.
 */
export function deleteKey(key: string, id?: string): string {
  return id === undefined ? `${key} (delete)` : `${key} (delete ${id})`;
}

/** Being deleted by keelson: gone as far as the plan is concerned. */
export function deleting(rt: GcpRuntime, key: string, id?: string): boolean {
  return rt.operations.running(deleteKey(key, id));
}

/** Polls the pending operations of one kind before its observe. */
export async function refreshOperations(rt: GcpRuntime, kind: string): Promise<void> {
  await rt.operations.refresh(undefined, (key) => key.startsWith(`${kind}/`));
}

/** `3600s` ↔ seconds, as Google's Duration fields are written in JSON. */
export function durationOf(value: unknown): string | undefined {
  if (value === null || value === undefined) return undefined;
  if (typeof value === 'string') return value;
  const { seconds, nanos } = value as { seconds?: unknown; nanos?: unknown };
  const s = numberOf(seconds) + numberOf(nanos) / 1e9;
  return `${s}s`;
}

/** A number from a protobuf int64 (a Long, a string or a number). */
export function numberOf(value: unknown): number {
  if (value === null || value === undefined) return 0;
  if (typeof value === 'object' && typeof (value as { toNumber?: unknown }).toNumber === 'function') {
    return (value as { toNumber(): number }).toNumber();
  }
  return Number(value);
}

export function toDuration(value: unknown): { seconds: number; nanos: number } | undefined {
  if (typeof value !== 'string') return undefined;
  const m = /^(\d+(?:\.\d+)?)s$/.exec(value);
  if (!m) return undefined;
  const total = Number(m[1]);
  return { seconds: Math.floor(total), nanos: Math.round((total - Math.floor(total)) * 1e9) };
}

/** A copy with the named `"10s"` fields as protobuf Durations, as the clients want them. */
export function durations(value: Record<string, unknown>, keys: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = { ...value };
  for (const k of keys) if (out[k] !== undefined) out[k] = toDuration(out[k]);
  return out;
}

/** Drops undefined fields (so an observed spec only holds what the API reported). */
export function compact<T extends Record<string, unknown>>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

export function fieldChanged(changes: readonly { path: string }[], ...fields: string[]): boolean {
  return changes.some((c) =>
    fields.some((f) => c.path === f || c.path.startsWith(`${f}.`) || c.path.startsWith(`${f}[`)),
  );
}

export function hasUnknownValue(v: unknown): boolean {
  if (v instanceof UnknownValue) return true;
  if (Array.isArray(v)) return v.some(hasUnknownValue);
  if (isPlainObject(v)) return Object.values(v).some(hasUnknownValue);
  return false;
}
