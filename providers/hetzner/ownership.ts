import { createHash } from 'node:crypto';
import { OWNER_LABEL, PROTECT_LABEL } from '../sdk/index.ts';

/**
 * Hetzner label values cannot contain `/`, so the SDK's `keelson.io/key: kind/name` is written as
 * two labels, `keelson.io/kind` and `keelson.io/name`.
 */
export const KIND_LABEL = 'keelson.io/kind';
export const NAME_LABEL = 'keelson.io/name';
/** Digest of write-only inputs the API never returns (server user data and SSH keys). */
export const INPUT_HASH_LABEL = 'keelson.io/inputs';

/** A label-safe value: kept as is when Hetzner accepts it, else `h-` and a hash. */
export function labelValue(value: string): string {
  if (value.length <= 63 && /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/.test(value)) return value;
  return `h-${createHash('sha256').update(value).digest('hex').slice(0, 40)}`;
}

export function ownershipLabels(owner: string, kind: string, name: string, protect: boolean): Record<string, string> {
  return {
    [OWNER_LABEL]: labelValue(owner),
    [KIND_LABEL]: labelValue(kind),
    [NAME_LABEL]: labelValue(name),
    ...(protect ? { [PROTECT_LABEL]: 'true' } : {}),
  };
}

/** The selector that finds what this keelson instance owns of one kind. */
export function ownerSelector(owner: string, kind: string): string {
  return `${OWNER_LABEL}=${labelValue(owner)},${KIND_LABEL}=${labelValue(kind)}`;
}

export function isOwnedBy(labels: Readonly<Record<string, string>>, owner: string, kind: string): boolean {
  return labels[OWNER_LABEL] === labelValue(owner) && labels[KIND_LABEL] === labelValue(kind);
}

/** The user's labels: every `keelson.io/` label is keelson's own and is never reported as drift. */
export function userLabelsOf(labels: Readonly<Record<string, string>> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(labels ?? {})) if (!k.startsWith('keelson.io/')) out[k] = v;
  return out;
}

export function protectedByLabel(labels: Readonly<Record<string, string>>): boolean {
  return labels[PROTECT_LABEL] === 'true';
}

export function inputHash(values: unknown): string {
  return createHash('sha256').update(JSON.stringify(values)).digest('hex').slice(0, 40);
}
