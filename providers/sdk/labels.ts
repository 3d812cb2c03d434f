/**
 * Ownership metadata written on everything keelson creates (where the API allows labels).
 * `keelson.io/owner` names the keelson instance; `keelson.io/key` the resource key it came from.
 * Handlers strip these from the `labels` they report in observed specs so they never show as drift.
 */
export const OWNER_LABEL = 'keelson.io/owner';
export const KEY_LABEL = 'keelson.io/key';
/** sha256 of content that the API never returns (secret data), to compare without reading it. */
export const HASH_LABEL = 'keelson.io/hash';
/** Set when a resource is marked `protect: true`, so protection survives its removal from Git. */
export const PROTECT_LABEL = 'keelson.io/protect';

export const KEELSON_LABELS: readonly string[] = [OWNER_LABEL, KEY_LABEL, HASH_LABEL, PROTECT_LABEL];

/** Labels for a resource keelson creates. Values are kept label-safe for every vendor. */
export function ownershipLabels(owner: string, key: string): Record<string, string> {
  return { [OWNER_LABEL]: owner, [KEY_LABEL]: key };
}

/** The user's labels from a live label set: keelson's own are removed. */
export function userLabels(labels: Readonly<Record<string, string>> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(labels ?? {})) if (!KEELSON_LABELS.includes(k)) out[k] = v;
  return out;
}
