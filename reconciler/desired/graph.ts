import type { DesiredResource } from '../../providers/sdk/index.ts';

export interface DependencyGraph {
  /** Resource keys by wave: every resource comes after all it depends on. */
  readonly waves: readonly (readonly string[])[];
  /** key -> wave index. */
  readonly waveOf: ReadonlyMap<string, number>;
  /** Each cycle as the keys along it, first key repeated at the end. */
  readonly cycles: readonly (readonly string[])[];
}

/**
 * Orders resources into waves (Kahn's algorithm, by layers). Edges to keys outside the set are
 * ignored here (the loader reports them as dangling references). Resources caught in a cycle get
 * no wave; each cycle is returned once, named along its path.
 */
export function buildGraph(resources: readonly DesiredResource[]): DependencyGraph {
  const keys = new Set(resources.map((r) => r.key));
  const deps = new Map<string, string[]>();
  const dependents = new Map<string, string[]>();
  for (const r of resources) {
    // A resource that depends on itself is a cycle of one: it could never be applied.
    const own = [...new Set(r.dependsOn)].filter((d) => keys.has(d));
    deps.set(r.key, own);
    for (const d of own) dependents.set(d, [...(dependents.get(d) ?? []), r.key]);
  }
  const remaining = new Map([...deps].map(([k, v]) => [k, v.length]));
  const waves: string[][] = [];
  const waveOf = new Map<string, number>();
  let current = [...remaining].filter(([, n]) => n === 0).map(([k]) => k);
  while (current.length > 0) {
    current.sort();
    waves.push(current);
    const next: string[] = [];
    for (const k of current) {
      waveOf.set(k, waves.length - 1);
      remaining.delete(k);
      for (const dep of dependents.get(k) ?? []) {
        const left = (remaining.get(dep) ?? 0) - 1;
        remaining.set(dep, left);
        if (left === 0) next.push(dep);
      }
    }
    current = next;
  }
  return { waves, waveOf, cycles: findCycles([...remaining.keys()], deps) };
}

function findCycles(stuck: readonly string[], deps: ReadonlyMap<string, readonly string[]>): string[][] {
  const stuckSet = new Set(stuck);
  const reported = new Set<string>();
  const cycles: string[][] = [];
  for (const start of [...stuck].sort()) {
    if (reported.has(start)) continue;
    // Walk dependencies inside the stuck set until a key repeats: that stretch is a cycle.
    const path: string[] = [];
    const seenAt = new Map<string, number>();
    let at: string | undefined = start;
    while (at !== undefined && !seenAt.has(at)) {
      seenAt.set(at, path.length);
      path.push(at);
      at = (deps.get(at) ?? []).filter((d) => stuckSet.has(d)).sort()[0];
    }
    if (at === undefined) continue;
    const cycle = path.slice(seenAt.get(at));
    if (cycle.some((k) => reported.has(k))) continue;
    for (const k of cycle) reported.add(k);
    cycles.push([...cycle, at]);
  }
  return cycles;
}
