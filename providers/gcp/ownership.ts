import { createHash } from 'node:crypto';

/**
 * How keelson marks what it owns in Google Cloud. GCP label keys and values allow only lowercase
 * letters, digits, `_` and `-` (at most 63 characters), so the SDK's `keelson.io/owner` cannot be
 * used: keelson writes `keelson-owner` (and `keelson-protect`, `keelson-source` for a function's
 * archive hash). Kinds whose API has no labels (service accounts, IAM bindings, enabled APIs,
 * Firestore databases, indexes and TTL policies, Scheduler jobs) are recorded in the state store's
 * inventory instead, as Cloudflare's R2 buckets are.
 */
export const GCP_OWNER_LABEL = 'keelson-owner';
export const GCP_PROTECT_LABEL = 'keelson-protect';
/** sha256 (first 40 hex) of a function's source archive, as uploaded. */
export const GCP_SOURCE_LABEL = 'keelson-source';
/** Secret Manager: the version keelson last added (its number). */
export const GCP_VERSION_LABEL = 'keelson-version';

const KEELSON_PREFIX = 'keelson-';

/** A value GCP accepts as a label: kept when already valid, else `h-` and a hash of it. */
export function gcpLabelValue(value: string): string {
  if (value.length <= 63 && /^[a-z0-9_-]*$/.test(value)) return value;
  return `h-${createHash('sha256').update(value).digest('hex').slice(0, 40)}`;
}

/** True when a label key (or value) is one GCP would accept. */
export function isValidLabelKey(key: string): boolean {
  return /^[a-z][a-z0-9_-]{0,62}$/.test(key);
}

export function isValidLabelValue(value: string): boolean {
  return /^[a-z0-9_-]{0,63}$/.test(value);
}

/** Labels for a resource keelson writes: the user's plus the owner (and protect) marker. */
export function ownershipLabels(
  user: Readonly<Record<string, string>> | undefined,
  owner: string,
  protect: boolean,
  extra: Readonly<Record<string, string>> = {},
): Record<string, string> {
  return {
    ...userLabels(user),
    ...extra,
    [GCP_OWNER_LABEL]: gcpLabelValue(owner),
    ...(protect ? { [GCP_PROTECT_LABEL]: 'true' } : {}),
  };
}

export function isOwnedBy(labels: Readonly<Record<string, string>> | null | undefined, owner: string): boolean {
  return labels?.[GCP_OWNER_LABEL] === gcpLabelValue(owner);
}

export function protectedByLabel(labels: Readonly<Record<string, string>> | null | undefined): boolean {
  return labels?.[GCP_PROTECT_LABEL] === 'true';
}

/** The user's labels: every `keelson-` label is keelson's own and is never reported as drift. */
export function userLabels(labels: Readonly<Record<string, string>> | null | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(labels ?? {})) if (!k.startsWith(KEELSON_PREFIX)) out[k] = v;
  return out;
}
