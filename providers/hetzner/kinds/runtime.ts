import {
  type HandlerContext,
  KeelsonError,
  type ObservedResource,
  type ObserveQuery,
  type ResolvedResource,
  resourceKey,
  UnknownValue,
} from '../../sdk/index.ts';
import type { ActionTracker } from '../client/action-tracker.ts';
import { HcloudApiError } from '../client/api-error.ts';
import type { HcloudAction, HcloudLabels } from '../client/api-types.ts';
import type { HcloudClient } from '../client/hcloud-client.ts';
import { isOwnedBy, ownershipLabels, protectedByLabel, userLabelsOf } from '../ownership.ts';

/** What every Hetzner handler shares: one client (one rate budget) and one action tracker. */
export interface HetznerRuntime {
  readonly client: HcloudClient;
  readonly actions: ActionTracker;
  /** Longest wait for one action inside create/update/settle, ms (default 120 s). */
  readonly actionTimeoutMs: number;
}

interface Named {
  readonly id: number;
  readonly name: string;
  readonly labels: HcloudLabels;
}

/** The resources an observe reports: every one this instance owns of the kind, and any with a wanted name. */
export function relevant<T extends Named>(items: readonly T[], ctx: HandlerContext, query: ObserveQuery): T[] {
  const names = new Set(query.names);
  return items.filter((i) => isOwnedBy(i.labels, ctx.owner, query.kind) || names.has(i.name));
}

export function observedBase(
  kind: string,
  item: Named,
  ctx: HandlerContext,
  extra: { deleteProtection?: boolean },
): Pick<ObservedResource, 'key' | 'kind' | 'name' | 'id' | 'owned' | 'protect'> {
  return {
    key: resourceKey(kind, item.name),
    kind,
    name: item.name,
    id: String(item.id),
    owned: isOwnedBy(item.labels, ctx.owner, kind),
    protect: extra.deleteProtection === true || protectedByLabel(item.labels),
  };
}

/** The labels to write: the user's plus keelson's ownership labels (and any extra keelson label). */
export function labelsFor(
  ctx: HandlerContext,
  desired: ResolvedResource,
  extra: Record<string, string> = {},
): Record<string, string> {
  const user = (desired.spec.labels as Record<string, string> | undefined) ?? {};
  return {
    ...userLabelsOf(user),
    ...extra,
    ...ownershipLabels(ctx.owner, desired.kind, desired.name, desired.protect),
  };
}

/**
 * Create with Hetzner's unique names as the idempotency key: an existing resource of that name that
 * is ours is returned, one that is not ours is taken over only when the desired state says `adopt`.
 */
export async function createNamed<T extends Named>(options: {
  readonly ctx: HandlerContext;
  readonly desired: ResolvedResource;
  readonly find: () => Promise<T | undefined>;
  readonly post: () => Promise<T>;
  readonly claim: (existing: T) => Promise<T>;
}): Promise<{ item: T; created: boolean }> {
  const { ctx, desired } = options;
  const existing = async (): Promise<{ item: T; created: boolean } | undefined> => {
    const found = await options.find();
    if (!found) return undefined;
    if (isOwnedBy(found.labels, ctx.owner, desired.kind)) return { item: found, created: false };
    if (desired.adopt) return { item: await options.claim(found), created: false };
    throw new KeelsonError(
      `cannot create ${desired.key}: a ${desired.kind} named ${desired.name} (id ${found.id}) exists and is not owned by keelson; set "adopt: true" to take it over`,
      { code: 'CONFLICT_UNOWNED', class: 'terminal', resource: desired.key },
    );
  };
  const before = await existing();
  if (before) return before;
  try {
    return { item: await options.post(), created: true };
  } catch (e) {
    if (e instanceof HcloudApiError && e.vendorCode === 'uniqueness_error') {
      const after = await existing();
      if (after) return after;
    }
    throw e;
  }
}

/** A number from a resolved reference (observed ids are strings) or a literal; unknowns pass through. */
export function asId(value: unknown): unknown {
  if (value instanceof UnknownValue) return value;
  if (typeof value === 'string' && /^\d+$/.test(value)) return Number(value);
  return value;
}

export function fieldChanged(changes: readonly { path: string }[], field: string): boolean {
  return changes.some((c) => c.path === field || c.path.startsWith(`${field}.`) || c.path.startsWith(`${field}[`));
}

/** Reads one resource by id (`GET /<collection>/<id>`), unwrapping the vendor's `{ <envelope>: ... }`. */
export async function getOne<T>(
  client: HcloudClient,
  ctx: HandlerContext,
  collection: string,
  envelope: string,
  id: string | number,
  key: string,
): Promise<T> {
  const body = await client.request<Record<string, T>>('GET', `/${collection}/${id}`, {
    what: `read ${key}`,
    resource: key,
    ...signalOf(ctx),
  });
  return body[envelope] as T;
}

export function signalOf(ctx: HandlerContext): { signal?: AbortSignal } {
  return ctx.signal ? { signal: ctx.signal } : {};
}

/**
 * Starts an action (`POST .../actions/<command>`). With `wait`, polls it to the end (the next action
 * on the same resource would get `423 locked`); without, tracks it so the next observe shows the
 * resource as not ready and `settle` reports its outcome.
 */
export async function postAction(
  rt: HetznerRuntime,
  ctx: HandlerContext,
  key: string,
  path: string,
  body: unknown,
  what: string,
  wait: boolean,
): Promise<void> {
  const answer = await rt.client.request<{ action?: HcloudAction; actions?: HcloudAction[] }>('POST', path, {
    body,
    // Actions are not idempotent (a second add_subnet conflicts): never retried blindly.
    idempotent: false,
    what,
    resource: key,
    ...signalOf(ctx),
  });
  const actions = [...(answer.action ? [answer.action] : []), ...(answer.actions ?? [])];
  if (!wait) {
    rt.actions.track(key, what, actions);
    return;
  }
  for (const a of actions) await rt.client.waitForAction(a, what, key, rt.actionTimeoutMs, ctx.signal);
}
