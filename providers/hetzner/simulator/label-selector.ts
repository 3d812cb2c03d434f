/**
 * Hetzner's label selector grammar: `k=v`, `k==v`, `k!=v`, `k`, `!k`, `k in (a,b)`, `k notin (a,b)`;
 * a comma between terms means AND (commas inside parentheses belong to the set).
 */
export type SelectorTerm =
  | { readonly op: 'eq' | 'neq'; readonly key: string; readonly value: string }
  | { readonly op: 'exists' | 'absent'; readonly key: string }
  | { readonly op: 'in' | 'notin'; readonly key: string; readonly values: readonly string[] };

/** Parses a selector; throws a `SyntaxError` naming the bad term (the simulator answers 400 `invalid_input`). */
export function parseLabelSelector(selector: string): SelectorTerm[] {
  const terms: SelectorTerm[] = [];
  for (const raw of splitTerms(selector)) {
    const term = raw.trim();
    if (term === '') throw new SyntaxError(`empty term in label selector "${selector}"`);
    const set = /^([^\s!=(),]+)\s+(in|notin)\s+\(([^)]*)\)$/.exec(term);
    if (set) {
      const values = set[3]!.split(',').map((v) => v.trim());
      terms.push({ op: set[2] === 'in' ? 'in' : 'notin', key: set[1]!, values });
      continue;
    }
    const neq = /^([^\s!=(),]+)\s*!=\s*([^\s=(),]*)$/.exec(term);
    if (neq) {
      terms.push({ op: 'neq', key: neq[1]!, value: neq[2]! });
      continue;
    }
    const eq = /^([^\s!=(),]+)\s*==?\s*([^\s=(),]*)$/.exec(term);
    if (eq) {
      terms.push({ op: 'eq', key: eq[1]!, value: eq[2]! });
      continue;
    }
    const absent = /^!\s*([^\s!=(),]+)$/.exec(term);
    if (absent) {
      terms.push({ op: 'absent', key: absent[1]! });
      continue;
    }
    if (/^[^\s!=(),]+$/.test(term)) {
      terms.push({ op: 'exists', key: term });
      continue;
    }
    throw new SyntaxError(`cannot parse label selector term "${term}"`);
  }
  return terms;
}

function splitTerms(selector: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let current = '';
  for (const ch of selector) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      out.push(current);
      current = '';
    } else current += ch;
  }
  out.push(current);
  return out;
}

export function matchesSelector(terms: readonly SelectorTerm[], labels: Readonly<Record<string, string>>): boolean {
  return terms.every((t) => {
    const has = Object.hasOwn(labels, t.key);
    const value = labels[t.key];
    switch (t.op) {
      case 'eq':
        return has && value === t.value;
      case 'neq':
        return !has || value !== t.value;
      case 'exists':
        return has;
      case 'absent':
        return !has;
      case 'in':
        return has && t.values.includes(value as string);
      case 'notin':
        return !has || !t.values.includes(value as string);
    }
    return false;
  });
}
