import type { DesiredResource } from '../providers/sdk/index.ts';
import { isPlainObject, isSecretReference } from '../providers/sdk/index.ts';
import { loadDesiredState } from '../reconciler/desired/load.ts';
import { builtinModules } from '../reconciler/providers/builtin.ts';
import { ProviderRegistry } from '../reconciler/providers/registry.ts';

/** One place a secret's value ends up. */
export interface Consumer {
  /** `kind/name` of the resource keelson applies the value to. */
  readonly key: string;
  /** What a person calls it: "Worker aircall-webhook, binding FIRESTORE_TOKEN". */
  readonly label: string;
  /** Keys whose errors also stop this consumer (a Swarm service waits for its swarm.Secret). */
  readonly via: readonly string[];
}

/** A secret the desired state references, with every consumer. */
export interface SecretEntry {
  readonly name: string;
  readonly consumers: readonly Consumer[];
}

export interface Inventory {
  readonly secrets: readonly SecretEntry[];
  /** Loader problems (file:line: message), shown so a broken tree is not an empty list. */
  readonly problems: readonly string[];
}

/**
 * Reads the desired state with keelson's own loader and schema-only registry (no provider is
 * connected) and lists, per `secretRef` name, who consumes it. A `swarm.Secret` or
 * `gcp.SecretManagerSecret` is followed to the resources that refer to it, because the people rotating think in services, not secret objects.
 */
export function readInventory(dir: string, root?: string): Inventory {
  const loaded = loadDesiredState(dir, new ProviderRegistry(builtinModules), root ? { root } : {});
  const problems = loaded.diagnostics
    .filter((d) => d.severity === 'error')
    .map((d) => `${d.file ?? ''}${d.line ? `:${d.line}` : ''} ${d.message}`.trim());
  return { secrets: consumersBySecret(loaded.resources), problems };
}

export function consumersBySecret(resources: readonly DesiredResource[]): SecretEntry[] {
  const bySecret = new Map<string, Consumer[]>();
  const add = (name: string, c: Consumer) => {
    const list = bySecret.get(name) ?? [];
    if (!list.some((x) => x.key === c.key && x.label === c.label)) list.push(c);
    bySecret.set(name, list);
  };
  for (const r of resources) {
    for (const { name, path } of secretRefs(r.spec)) {
      add(name, { key: r.key, label: label(r, path), via: [] });
      // A value held by a secret object (swarm.Secret, gcp.SecretManagerSecret) reaches the
      // services and functions that refer to that object.
      if (r.kind !== 'swarm.Secret' && r.kind !== 'gcp.SecretManagerSecret') continue;
      for (const user of resources) {
        if (refersTo(user.spec, r.key)) add(name, { key: user.key, label: label(user, []), via: [r.key] });
      }
    }
  }
  return [...bySecret].map(([name, consumers]) => ({ name, consumers })).sort((a, b) => a.name.localeCompare(b.name));
}

function label(r: DesiredResource, path: readonly string[]): string {
  const field = path.at(-1);
  switch (r.kind) {
    case 'cloudflare.WorkerScript':
      return `Worker ${r.name}${field ? `, binding ${field}` : ''}`;
    case 'swarm.Service':
      return `Swarm service ${r.name}`;
    case 'swarm.Secret':
      return `Swarm secret ${r.name}`;
    case 'gcp.Function':
      return `Function ${r.name}${field ? `, variable ${field}` : ''}`;
    case 'gcp.RunService':
      return `Run service ${r.name}${field ? `, variable ${field}` : ''}`;
    case 'gcp.SecretManagerSecret':
      return `Secret Manager secret ${r.name}`;
    default:
      return `${r.kind} ${r.name}${path.length ? ` (${path.join('.')})` : ''}`;
  }
}

function secretRefs(spec: unknown): { name: string; path: string[] }[] {
  const out: { name: string; path: string[] }[] = [];
  const walk = (v: unknown, path: string[]): void => {
    if (isSecretReference(v)) out.push({ name: v.secretRef, path });
    else if (Array.isArray(v)) {
      for (const [i, x] of v.entries()) walk(x, [...path, String(i)]);
    } else if (isPlainObject(v)) for (const [k, x] of Object.entries(v)) walk(x, [...path, k]);
  };
  walk(spec, []);
  return out;
}

function refersTo(spec: unknown, key: string): boolean {
  if (Array.isArray(spec)) return spec.some((x) => refersTo(x, key));
  if (!isPlainObject(spec)) return false;
  if (spec.ref === key) return true;
  return Object.values(spec).some((x) => refersTo(x, key));
}
