import { KEELSON_LABELS, KEY_LABEL, OWNER_LABEL, PROTECT_LABEL, userLabels } from '../sdk/index.ts';
import type { Filters } from './client/client.ts';

/**
 * Marks which version of a secret or config is the current one (ms since the epoch, written when
 * a version is created or made current again), since Swarm objects cannot be renamed.
 */
export const ACTIVATED_LABEL = 'keelson.io/activated';

const SWARM_LABELS = [...KEELSON_LABELS, ACTIVATED_LABEL];

/** Labels keelson writes on what it creates: owner, resource key, and protection when asked. */
export function ownerLabels(owner: string, key: string, protect: boolean): Record<string, string> {
  return { [OWNER_LABEL]: owner, [KEY_LABEL]: key, ...(protect ? { [PROTECT_LABEL]: 'true' } : {}) };
}

export function isOwned(labels: Readonly<Record<string, string>> | null | undefined, owner: string): boolean {
  return labels?.[OWNER_LABEL] === owner;
}

export function isProtected(labels: Readonly<Record<string, string>> | null | undefined): boolean {
  return labels?.[PROTECT_LABEL] === 'true';
}

/** The user's labels of a live object: keelson's bookkeeping labels removed. */
export function liveUserLabels(labels: Readonly<Record<string, string>> | null | undefined): Record<string, string> {
  const out = userLabels(labels ?? {});
  for (const k of SWARM_LABELS) delete out[k];
  return out;
}

/** List filter for what this keelson instance owns. */
export function ownedFilter(owner: string): Filters {
  return { label: [`${OWNER_LABEL}=${owner}`] };
}

/**
 * The lists observe makes for a kind: one for owned objects (label filter), and, when Git names
 * some, one for those names (Docker's name filter matches by prefix or substring: callers keep
 * exact matches). Never one call per resource.
 */
export async function listOwnedAndNamed<T>(
  list: (filters: Filters) => Promise<T[]>,
  owner: string,
  names: readonly string[],
  id: (item: T) => string,
): Promise<T[]> {
  const calls = [list(ownedFilter(owner))];
  for (let i = 0; i < names.length; i += 100) calls.push(list({ name: names.slice(i, i + 100) }));
  const seen = new Map<string, T>();
  for (const batch of await Promise.all(calls)) for (const item of batch) seen.set(id(item), item);
  return [...seen.values()];
}

/** Sorted copy of a label map, so specs sent to Docker are stable. */
export function sortedRecord(map: Readonly<Record<string, string>> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of Object.keys(map ?? {}).sort()) out[k] = (map as Record<string, string>)[k] as string;
  return out;
}
