import {
  deleteIgnoringMissing,
  type FindOrClaimOutcome,
  findOrClaim,
  type HandlerContext,
  type ObservedResource,
  type ObserveQuery,
  type ResolvedResource,
  resourceKey,
  UnknownValue,
} from '../../sdk/index.ts';
import type { ActionTracker } from '../client/actions.ts';
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
 * Create with Hetzner's unique names as the idempotency key (the SDK's `findOrClaim`): a resource
 * of that name that is ours is returned, one that is not ours is taken over only when the desired
 * state says `adopt`; a `uniqueness_error` on create (an earlier answer was lost) looks again.
 */
export function findOrClaimNamed<T extends Named>(
  rt: HetznerRuntime,
  ctx: HandlerContext,
  desired: ResolvedResource,
  collection: string,
  verbs: { readonly create: () => Promise<T>; readonly claim: (found: T) => Promise<T> },
): Promise<{ item: T; outcome: FindOrClaimOutcome }> {
  return findOrClaim<T>({
    desired,
    find: async () =>
      (
        await rt.client.list<T>(`/${collection}`, collection, {
          query: { name: desired.name },
          what: `find ${desired.kind} ${desired.name}`,
          ...signalOf(ctx),
        })
      )[0],
    owned: (found) => isOwnedBy(found.labels, ctx.owner, desired.kind),
    create: verbs.create,
    claim: verbs.claim,
    alreadyExists: (e) => e instanceof HcloudApiError && e.vendorCode === 'uniqueness_error',
    describe: (found) => `a ${desired.kind} named ${desired.name} (id ${found.id})`,
  });
}

/** `DELETE /<collection>/<id>`, succeeding when it is already gone; resolves with the answer (an action). */
export function deleteById<T>(
  rt: HetznerRuntime,
  ctx: HandlerContext,
  collection: string,
  id: string | number,
  key: string,
): Promise<T | undefined> {
  return deleteIgnoringMissing(() =>
    rt.client.request<T>('DELETE', `/${collection}/${id}`, { what: `delete ${key}`, resource: key, ...signalOf(ctx) }),
  );
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
  if (wait) await rt.actions.wait(key, actions, what, rt.actionTimeoutMs, ctx.signal);
  else rt.actions.track(key, what, actions);
}
