import type { HandlerContext } from '../sdk/index.ts';

/**
 * How keelson marks what it owns at Cloudflare. DNS records carry a marker at the end of their
 * comment; Worker scripts carry tags. Routes, crons and buckets cannot carry either and are tracked
 * in the state store's inventory (`ownedInInventory`).
 */

const COMMENT_MARKER = /\s*\[keelson owner=([^\s\]]+) name=([^\s\]]+)\]$/;

/** A comment with keelson's marker appended to the user's own comment. */
export function markComment(userComment: string | undefined, owner: string, name: string): string {
  const base = (userComment ?? '').trim();
  const marker = `[keelson owner=${owner} name=${name}]`;
  return base === '' ? marker : `${base} ${marker}`;
}

/** Splits a live comment into the user's part and keelson's marker (if any). */
export function parseComment(comment: string | null | undefined): {
  readonly user: string;
  readonly owner?: string;
  readonly name?: string;
} {
  const text = comment ?? '';
  const match = COMMENT_MARKER.exec(text);
  if (!match) return { user: text };
  return { user: text.slice(0, match.index), owner: match[1] as string, name: match[2] as string };
}

const OWNER_TAG = 'keelson-owner=';
const BUNDLE_TAG = 'keelson-bundle=';

/** Tags for a Worker script keelson uploads: its owner and the hash of what it uploaded. */
export function scriptTags(owner: string, bundleHash: string): string[] {
  return [`${OWNER_TAG}${owner}`, `${BUNDLE_TAG}${bundleHash}`];
}

export function parseScriptTags(tags: readonly string[] | null | undefined): { owner?: string; bundleHash?: string } {
  const out: { owner?: string; bundleHash?: string } = {};
  for (const tag of tags ?? []) {
    if (tag.startsWith(OWNER_TAG)) out.owner = tag.slice(OWNER_TAG.length);
    else if (tag.startsWith(BUNDLE_TAG)) out.bundleHash = tag.slice(BUNDLE_TAG.length);
  }
  return out;
}

/** Whether the inventory records the vendor object `id` as this resource's (routes, crons, buckets). */
export function ownedInInventory(ctx: HandlerContext, key: string, id: string): boolean {
  return ctx.inventory.get(key)?.id === id;
}
