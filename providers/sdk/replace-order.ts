import { hash } from 'node:crypto';
import type { ObservedResource } from './resource.ts';
import type { KindSchema, ReplaceOrderDecision } from './schema.ts';

/**
 * Replacement order. A change to a replace-on-change field replaces the object: one step deletes
 * the old object, the other creates the new one. `delete-first` (the default) leaves a gap: for a
 * while neither exists (a DNS name that does not resolve, a role nobody holds). `create-first`
 * closes it, where the vendor lets both exist at once: the new object is created (and recorded),
 * then the old one is deleted.
 *
 * Between the two steps of a `create-first` replacement, two owned objects answer to one resource.
 * The old one is then a leftover: it is reported under a key of its own (`leftoverOf`), which no
 * desired resource can have (`~` is not allowed in a name), so the plan deletes it as an owned
 * object that left Git, whether the replacement goes on in the same pass or keelson died between
 * the two steps and the next pass finds both.
 */

/** What a kind that declares nothing gets: the safe order, and why. */
export const DEFAULT_REPLACE_ORDER: ReplaceOrderDecision = {
  order: 'delete-first',
  why: 'the provider does not declare that the old and the new object can exist at once',
};

/** The order of a replacement of a resource of this kind, from its live spec to its desired spec. */
export function replaceOrderOf(
  schema: KindSchema | undefined,
  before: Readonly<Record<string, unknown>>,
  after: Readonly<Record<string, unknown>>,
): ReplaceOrderDecision {
  const rule = schema?.replaceOrder;
  if (rule === undefined) return DEFAULT_REPLACE_ORDER;
  return typeof rule === 'function' ? rule(before, after) : rule;
}

/** Marks the name of a leftover: `~` cannot appear in a resource name, so no desired key is ever one. */
export const LEFTOVER_MARK = '~replaced-';

/** The name a leftover is reported under: the resource's name and a short digest of the old object's id. */
export function leftoverName(name: string, id: string): string {
  return `${name}${LEFTOVER_MARK}${hash('sha256', id, 'hex').slice(0, 10)}`;
}

/** Whether a resource key or name is a leftover of a replacement. */
export function isLeftover(keyOrName: string): boolean {
  return keyOrName.includes(LEFTOVER_MARK);
}

/** The resource's name a leftover belongs to (`www~replaced-1a2b…` -> `www`). */
export function leftoverOwner(name: string): string {
  const at = name.indexOf(LEFTOVER_MARK);
  return at < 0 ? name : name.slice(0, at);
}

/** An owned object a replacement left behind, as observe reports it: under its own key, to be deleted. */
export function leftoverOf(observed: ObservedResource): ObservedResource {
  const name = leftoverName(observed.name, observed.id);
  return {
    ...observed,
    name,
    key: `${observed.kind}/${name}`,
    message: `left over from a replacement of ${observed.key} (id ${observed.id})`,
  };
}
